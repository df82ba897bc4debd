// Concluding an experiment: what to ask the promotion pipeline for, from the analysis's decision or the
// operator's explicit choice. Pure; the CLI (and any automation) carries it out through PipelineControl.
import type { RoutingState } from '../pipeline/registry-types';
import { DECISION_TEXT } from './decision-text';
import type { ExperimentDefinition } from './definition';
import type { ExperimentReport } from './report';

/**
 * The promotion pipeline's operator operations, as the experiment service needs them. Implemented by
 * cli/commands/experiment.ts on the pipeline's state machine (`{"operation": "promote" | "rollback"}`,
 * through cli/pipeline-client.ts, as `modelgate promote` / `rollback` do).
 */
export interface PipelineControl {
  /** All traffic to `version`; the live version is retired. */
  promote(model: string, version: string): Promise<ControlOutcome>;
  /** The challenger (canary, experiment or shadow) is removed; the live version keeps serving. */
  rollback(model: string): Promise<ControlOutcome>;
}

export interface ControlOutcome {
  readonly succeeded: boolean;
  /** The execution (or other handle) that carried it out. */
  readonly executionArn?: string;
  /** The pipeline's own words: what it did, or why it failed. */
  readonly summary: string;
}

/** `decision`: follow the analysis; `ship` / `keep-control`: the operator decides (and the analysis is recorded beside it). */
export type ConclusionChoice = 'decision' | 'ship' | 'keep-control';

export type ConclusionPlan =
  | { readonly outcome: 'ship-treatment'; readonly action: { readonly kind: 'promote'; readonly version: string } }
  | { readonly outcome: 'keep-control'; readonly action: { readonly kind: 'rollback' } | { readonly kind: 'none'; readonly why: string } };

/** The experiment cannot be concluded as asked: the message says why and what to do instead. */
export class ConclusionError extends Error {
  override readonly name = 'ConclusionError';
}

/**
 * Ship: promote the treatment. Keep control: roll the treatment back if the alias routes it as the
 * challenger; if it does not (a unit-level experiment with all alias traffic on the control), there is
 * nothing to undo in routing — and a pipeline rollback would then roll back the live version itself.
 */
export function planConclusion(definition: ExperimentDefinition, report: ExperimentReport, choice: ConclusionChoice, routing: RoutingState | undefined): ConclusionPlan {
  if (definition.status !== 'running') throw new ConclusionError(`experiment ${definition.id} is ${definition.status}, not running: nothing to conclude`);
  let outcome: 'ship-treatment' | 'keep-control';
  if (choice === 'ship') outcome = 'ship-treatment';
  else if (choice === 'keep-control') outcome = 'keep-control';
  else if (report.decision === 'ship-treatment' || report.decision === 'keep-control') outcome = report.decision;
  else {
    const because = report.reasons.map((r) => r.text).join(' ');
    throw new ConclusionError(`${DECISION_TEXT[report.decision]} ${because} Pass --ship or --keep-control to conclude anyway.`);
  }
  if (outcome === 'ship-treatment') return { outcome, action: { kind: 'promote', version: definition.treatment.version } };
  const challengers = [routing?.additional?.version, routing?.shadow?.version];
  if (challengers.includes(definition.treatment.version)) return { outcome, action: { kind: 'rollback' } };
  return {
    outcome,
    action: { kind: 'none', why: `the live alias does not route ${definition.model} v${definition.treatment.version}: the control keeps serving, nothing to roll back` },
  };
}
