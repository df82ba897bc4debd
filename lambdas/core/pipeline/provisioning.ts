// A model's CloudFormation stack, as plain decisions: what to do given the stack's state and the parameters
// it should have, whether an operation is done, and how much memory the model's function gets.
import { FULL_VCPU_MB } from '../cost';
import { LAMBDA_MEMORY_RANGE, type ModelDeclaration } from './declarations';

/** The parts of DescribeStacks the pipeline reads. */
export interface StackState {
  readonly status: string;
  readonly reason?: string;
  readonly parameters: Readonly<Record<string, string>>;
}

export type ProvisionOperation =
  /** No stack yet: create it. */
  | 'create'
  /** The stack exists with other parameters or another template: update it. */
  | 'update'
  /** A first creation failed (ROLLBACK_COMPLETE): such a stack can only be deleted, then created again. */
  | 'recreate'
  /** Another operation is in progress: wait for it, then decide again. */
  | 'wait';

const IN_PROGRESS = /_IN_PROGRESS$/;

/** What to do with a model's stack so it has `desired`; `templateChanged` compares the deployed template. */
export function provisionOperation(current: StackState | undefined, desired: Readonly<Record<string, string>>, templateChanged: boolean): ProvisionOperation | 'none' {
  if (!current || current.status === 'DELETE_COMPLETE') return 'create';
  if (IN_PROGRESS.test(current.status)) return 'wait';
  if (current.status === 'ROLLBACK_COMPLETE' || current.status === 'ROLLBACK_FAILED' || current.status === 'CREATE_FAILED') return 'recreate';
  if (current.status === 'DELETE_FAILED') return 'recreate';
  const changed = Object.keys(desired).some((key) => current.parameters[key] !== desired[key]);
  return changed || templateChanged ? 'update' : 'none';
}

/** Lambda's package type of a model's function: its declaration's `packaging`; an undeclared model's is Zip. */
export function packageType(declaration: ModelDeclaration | undefined): 'Zip' | 'Image' {
  return declaration?.packaging === 'image' ? 'Image' : 'Zip';
}

/**
 * Why an existing stack cannot be updated to `desired` package type, or undefined when it can. Lambda cannot
 * change the package type of a function; CloudFormation would replace it, which fails for a function with a
 * fixed name (and would drop the published versions the `live` alias routes between). A stack created before
 * packaging was a parameter has none: it is Zip.
 */
export function packageTypeSwitch(model: string, current: StackState, desired: 'Zip' | 'Image'): string | undefined {
  const deployed = current.parameters.PackageType ?? 'Zip';
  if (deployed === desired) return undefined;
  const wanted = desired === 'Image' ? 'image' : 'zip';
  return (
    `model "${model}" is served by a ${deployed} function and its declaration now asks for packaging: ${wanted}; Lambda cannot change an existing ` +
    `function's package type. Declare packaging: ${deployed === 'Image' ? 'image' : 'zip'} again, or retire the model (modelgate retire ${model}), deploy, and push it again.`
  );
}

/** Where an operation on a stack stands. */
export type StackProgress = { readonly done: false } | { readonly done: true; readonly ok: true } | { readonly done: true; readonly ok: false; readonly reason: string };

/**
 * Whether the operation the pipeline started is over: `expect` is the operation (create, update, delete). An
 * update that rolled back, or a creation that did, failed; the reason is the first failed resource's.
 */
export function stackProgress(state: StackState | undefined, expect: 'create' | 'update' | 'delete', failureReason?: string): StackProgress {
  if (!state || state.status === 'DELETE_COMPLETE') {
    return expect === 'delete' ? { done: true, ok: true } : { done: true, ok: false, reason: failureReason ?? 'the stack does not exist' };
  }
  if (IN_PROGRESS.test(state.status)) return { done: false };
  const ok = expect === 'create' ? state.status === 'CREATE_COMPLETE' : expect === 'update' ? state.status === 'UPDATE_COMPLETE' : false;
  if (ok) return { done: true, ok: true };
  return { done: true, ok: false, reason: `${state.status}: ${failureReason ?? state.reason ?? 'no reason given'}` };
}

/** The runtime's own footprint on Lambda before any model: Node.js, the bundled SDK clients, onnxruntime's library. */
export const RUNTIME_BASE_MB = 160;
/** Headroom over the measured model footprint: batches, the arena's growth, a second concurrent request. */
export const MEMORY_HEADROOM = 1.5;
/** Below this the function's CPU share is small enough that onnxruntime's own threads would starve. */
export const MEMORY_FLOOR_MB = 256;

export interface MemoryEvidence {
  /** Resident memory the candidate added when loaded and run (validation's measurement). */
  readonly footprintMb: number;
  /** Init and single-row p99 as validation measured them on a full vCPU. */
  readonly initMs?: number;
  readonly p99Ms?: number;
  /** The manifest's budgets (the same the gates use). */
  readonly initBudgetMs?: number;
  readonly latencyBudgetMs?: number;
}

export interface MemoryChoice {
  readonly memoryMb: number;
  /** Why that size, in words (shown by `modelgate models`). */
  readonly reason: string;
}

/**
 * The smallest memory, in Lambda's 128 MB steps, that holds the model with headroom and keeps the init time and
 * the p99 within their budgets once CPU scales down with memory (Lambda allocates CPU in proportion to memory,
 * a full vCPU at 1,769 MB) — the question AWS Lambda Power Tuning answers by trying sizes, answered here from
 * what validation measured on a full vCPU.
 */
export function rightSizeMemory(evidence: MemoryEvidence): MemoryChoice {
  const step = (mb: number) => Math.ceil(mb / 128) * 128;
  const byFootprint = Math.max(MEMORY_FLOOR_MB, step(RUNTIME_BASE_MB + Math.max(0, evidence.footprintMb) * MEMORY_HEADROOM));
  const forBudget = (measured: number | undefined, budget: number | undefined): number => {
    if (measured === undefined || budget === undefined || measured <= 0) return 0;
    // time(M) = measured * FULL_VCPU_MB / M for M below a full vCPU.
    return measured >= budget ? FULL_VCPU_MB : step((measured * FULL_VCPU_MB) / budget);
  };
  const byInit = forBudget(evidence.initMs, evidence.initBudgetMs);
  const byLatency = forBudget(evidence.p99Ms, evidence.latencyBudgetMs);
  const memoryMb = Math.min(LAMBDA_MEMORY_RANGE.max, Math.max(byFootprint, byInit, byLatency));
  const binding =
    memoryMb === byInit && byInit > byFootprint ? 'the init-time budget' : memoryMb === byLatency && byLatency > byFootprint ? 'the p99 latency budget' : 'the model footprint';
  const footprint = `${RUNTIME_BASE_MB} MB runtime + ${approximately(Math.max(0, evidence.footprintMb))} MB model x ${MEMORY_HEADROOM}`;
  const budget = (what: string, measured: number | undefined, budgetMs: number | undefined, needs: number) =>
    needs === 0
      ? ''
      : `; ${what} ${approximately(measured ?? 0)} ms ${needs >= FULL_VCPU_MB ? `is over its ${budgetMs} ms budget even on a full vCPU` : `fits its ${budgetMs} ms budget from ${needs} MB`}`;
  return {
    memoryMb,
    reason:
      `${memoryMb} MB: ${footprint}` +
      `${budget('init', evidence.initMs, evidence.initBudgetMs, byInit)}${budget('p99', evidence.p99Ms, evidence.latencyBudgetMs, byLatency)}; bound by ${binding}`,
  };
}

/** A measurement as people read it: whole numbers from 10 up, one decimal below. */
function approximately(value: number): number {
  return value >= 10 ? Math.round(value) : Math.round(value * 10) / 10;
}
