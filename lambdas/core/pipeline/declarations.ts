// Models as data: what a deployment's configuration declares about the models it may serve, as the base
// stack publishes it (`config/models.json` in the model bucket) and the pipeline reads it. A declaration
// fixes a model's settings (memory, reserved concurrency, alarm thresholds, rollout defaults); a model nobody
// declared may still arrive by upload when the deployment allows it (dev: yes; prod: no by default).
import { thresholdProblems, DEFAULT_ALARM_THRESHOLDS, type AlarmThresholds } from '../monitoring/alarms';
import type { RolloutSpec, RolloutStrategy } from '../manifest-types';
import { MODEL_NAME_PATTERN } from './identity';

/** Where the base stack writes the declarations, in the model bucket. */
export const DECLARATIONS_KEY = 'config/models.json';

export interface ModelDeclaration {
  /** Fixes the inference function's memory in MB (otherwise the pipeline sizes it from the measured peak). */
  readonly memorySize?: number;
  /** Concurrency reserved for (and capping) the model's function. */
  readonly reservedConcurrency?: number;
  /** Alarm thresholds of the model's versions, merged over the defaults. */
  readonly alarms?: Partial<AlarmThresholds>;
  /** The rollout used when a bundle's manifest names none (the manifest's own `rollout` wins). */
  readonly rollout?: RolloutSpec;
  /**
   * How the inference function is deployed: a zip on Lambda's Node.js 22 runtime, or a container image built on
   * Lambda's Node.js 22 base image with the same handler, for dependencies beyond the zip's 250 MB unzipped
   * limit (docs/infrastructure.md, "Container images"). Fixed once the model's stack exists: Lambda cannot
   * change the package type of a function.
   *
   * @default 'zip'
   */
  readonly packaging?: Packaging;
}

/** How a model's inference function is packaged. */
export type Packaging = 'zip' | 'image';
export const PACKAGINGS: readonly Packaging[] = ['zip', 'image'];

export interface DeploymentDeclarations {
  /** The deployment (base stack) the declarations belong to. */
  readonly deployment: string;
  /** A push of a model that is not declared: provisioned (true) or rejected with MODEL_NOT_DECLARED (false). */
  readonly allowUndeclaredModels: boolean;
  readonly models: Readonly<Record<string, ModelDeclaration>>;
}

const STRATEGIES: readonly RolloutStrategy[] = ['canary', 'linear', 'ab-test', 'shadow', 'all-at-once'];

/** Lambda's memory range and step: 128 MB to 10,240 MB in 1 MB increments (we size in 128 MB steps). */
export const LAMBDA_MEMORY_RANGE = { min: 128, max: 10_240 } as const;

/**
 * Every problem with one model's declaration, each naming the setting and the bad value (`where` prefixes the
 * path, e.g. `stages.prod.models.fraud`).
 */
export function declarationProblems(where: string, name: string, declaration: unknown): string[] {
  const problems: string[] = [];
  if (!(MODEL_NAME_PATTERN.test(name) && name.length <= 40)) {
    problems.push(`${where}: model name must be 1-40 lower-case letters, digits and single dashes, got: ${JSON.stringify(name)}`);
  }
  if (declaration === null || typeof declaration !== 'object' || Array.isArray(declaration)) {
    return [...problems, `${where} must be an object of settings, got: ${JSON.stringify(declaration)}`];
  }
  const d = declaration as Record<string, unknown>;
  const integer = (key: string, min: number, max: number) => {
    const value = d[key];
    if (value === undefined) return;
    if (!(typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max)) {
      problems.push(`${where}.${key} must be an integer between ${min} and ${max}, got: ${JSON.stringify(value)}`);
    }
  };
  integer('memorySize', LAMBDA_MEMORY_RANGE.min, LAMBDA_MEMORY_RANGE.max);
  integer('reservedConcurrency', 0, 100_000);
  if (d.alarms !== undefined) {
    if (d.alarms === null || typeof d.alarms !== 'object' || Array.isArray(d.alarms))
      problems.push(`${where}.alarms must be an object of alarm thresholds, got: ${JSON.stringify(d.alarms)}`);
    else problems.push(...thresholdProblems({ ...DEFAULT_ALARM_THRESHOLDS, ...(d.alarms as Partial<AlarmThresholds>) }).map((problem) => `${where}.alarms.${problem}`));
  }
  if (d.rollout !== undefined) {
    const strategy = (d.rollout as { strategy?: unknown } | null)?.strategy;
    if (!STRATEGIES.includes(strategy as RolloutStrategy)) {
      problems.push(`${where}.rollout.strategy must be one of ${STRATEGIES.join(', ')}, got: ${JSON.stringify(strategy)}`);
    }
  }
  if (d.packaging !== undefined && !PACKAGINGS.includes(d.packaging as Packaging)) {
    problems.push(`${where}.packaging must be one of ${PACKAGINGS.join(', ')}, got: ${JSON.stringify(d.packaging)}`);
  }
  const known = new Set(['memorySize', 'reservedConcurrency', 'alarms', 'rollout', 'packaging', 'bundle']);
  for (const key of Object.keys(d)) if (!known.has(key)) problems.push(`${where}.${key} is not a model setting (known: ${[...known].join(', ')})`);
  return problems;
}

/** The declarations as the pipeline reads them; a malformed file is a deployment error, reported whole. */
export function parseDeclarations(text: string): DeploymentDeclarations {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DeclarationsError(`${DECLARATIONS_KEY} is not JSON: ${(error as Error).message}`);
  }
  const value = parsed as Partial<DeploymentDeclarations> | null;
  const problems: string[] = [];
  if (typeof value?.deployment !== 'string' || value.deployment === '') problems.push(`deployment must be a name, got: ${JSON.stringify(value?.deployment)}`);
  if (typeof value?.allowUndeclaredModels !== 'boolean') problems.push(`allowUndeclaredModels must be true or false, got: ${JSON.stringify(value?.allowUndeclaredModels)}`);
  const models = value?.models;
  if (models === null || typeof models !== 'object' || Array.isArray(models))
    problems.push(`models must be an object of declarations by model name, got: ${JSON.stringify(models)}`);
  else for (const [name, declaration] of Object.entries(models)) problems.push(...declarationProblems(`models.${name}`, name, declaration));
  if (problems.length > 0) throw new DeclarationsError(`${DECLARATIONS_KEY}: ${problems.join('; ')}`);
  return value as DeploymentDeclarations;
}

export class DeclarationsError extends Error {
  override readonly name = 'DeclarationsError';
}

/**
 * May `model` be served here? A declared model always; another one only where the deployment allows it. The
 * refusal says how to allow it.
 */
export function admission(
  declarations: DeploymentDeclarations,
  model: string,
): { readonly admitted: true; readonly declared: boolean } | { readonly admitted: false; readonly reason: string } {
  if (Object.hasOwn(declarations.models, model)) return { admitted: true, declared: true };
  if (declarations.allowUndeclaredModels) return { admitted: true, declared: false };
  const declared = Object.keys(declarations.models);
  return {
    admitted: false,
    reason:
      `model "${model}" is not declared in ${declarations.deployment}, which serves declared models only ` +
      `(declared: ${declared.length > 0 ? declared.join(', ') : 'none'}). Declare it under stages.<stage>.models in ` +
      'modelgate.config.json and deploy the stack (cdk deploy), or set allowUndeclaredModels: true for the stage.',
  };
}
