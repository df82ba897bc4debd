// The model registry's records as plain data. One DynamoDB table (lib/model-registry-table.ts) holds, per
// model: one item per registered version (status history, metrics, reasons, lineage), one MODEL item (the
// registration sequence and the routing the pipeline last wrote), and one LOCK item (who may change the
// model's routing now). docs/pipeline.md describes the keys and access patterns.
import type { MlflowLineage, RolloutStrategy } from '../manifest-types';
import type { MetricSet, ReplaySummary } from '../promotion/evaluation';
import type { RejectionReason } from '../promotion/gates';
import type { ModelStatus } from '../promotion/status';

/** Reasons the pipeline gives besides the validation gates' (core/promotion/gates.ts). */
export const PIPELINE_REASONS = [
  /** The same model version was uploaded before; the registered one is left as it is. */
  'DUPLICATE_VERSION',
  /** A file the manifest names is missing from the upload. */
  'BUNDLE_INCOMPLETE',
  /** A version-scoped alarm fired while the candidate took traffic. */
  'ALARM',
  /** An operator rolled the version back (`modelgate rollback`) or promoted another one. */
  'OPERATOR_ROLLBACK',
  'OPERATOR_PROMOTE',
  /** The pipeline itself failed (a task error after its retries); the champion keeps serving. */
  'PIPELINE_ERROR',
  /** Another version took this one's place (a newer candidate replaced an experiment or a shadow). */
  'SUPERSEDED',
  /** The deployment serves declared models only, and this model is not declared (modelgate.config.json). */
  'MODEL_NOT_DECLARED',
  /** The model's CloudFormation stack could not be created or updated; the stack events say why. */
  'PROVISIONING_FAILED',
  /** An operator retired the whole model (`modelgate retire`): its serving is gone, its history kept. */
  'MODEL_RETIRED',
] as const;
export type PipelineReason = (typeof PIPELINE_REASONS)[number];
export type ReasonCode = RejectionReason | PipelineReason;

export interface HistoryEntry {
  readonly status: ModelStatus;
  /** ISO-8601 time of the transition. */
  readonly at: string;
  /** The Step Functions execution that made it. */
  readonly executionId?: string;
  readonly reason?: ReasonCode;
  /** Words for people: the gate results, the alarm names, the operator's request. */
  readonly detail?: string;
}

/** Where a version came from and where it runs: enough to rebuild or audit it. */
export interface Lineage {
  readonly bucket: string;
  readonly candidatePrefix: string;
  /** Set once the bundle is accepted and copied to `models/<model>/<version>/`. */
  readonly modelPrefix?: string;
  readonly sha256?: string;
  /** S3 object version of the uploaded manifest and model file (versioned bucket). */
  readonly manifestObjectVersion?: string;
  readonly modelObjectVersion?: string;
  readonly etag?: string;
  /** The Lambda version published for this model version. */
  readonly lambdaVersion?: string;
  readonly functionName?: string;
  /** The function's memory when this version was published (MB), and why (right-sized or declared). */
  readonly memoryMb?: number;
  readonly memoryReason?: string;
  /** The MLflow model the bundle was packaged from (manifest `lineage.mlflow`), recorded at validation. */
  readonly mlflow?: MlflowLineage;
  /** The execution that registered the version. */
  readonly executionId: string;
  readonly uploadedAt?: string;
  readonly registeredAt: string;
}

/** What the validation measured: the numbers behind the verdict. */
export interface ValidationMetrics {
  readonly candidate?: MetricSet;
  readonly champion?: MetricSet;
  readonly championVersion?: string;
  readonly holdoutRows?: number;
  /** Why the holdout could not be evaluated (the gated metrics are then unavailable). */
  readonly holdoutError?: string;
  readonly initMs?: number;
  readonly p99Ms?: number;
  /** Resident memory the model added to the validating process (session + a first answer), MB: sizes the function. */
  readonly footprintMb?: number;
  readonly replay?: ReplaySummary;
}

/** One rule's outcome, kept in the registry (the full report is in the execution history). */
export interface GateOutcome {
  readonly rule: string;
  readonly passed: boolean;
  readonly reason?: string;
  readonly metric?: string;
  readonly observed?: number | string;
  readonly threshold?: number | string;
  readonly bound?: string;
}

export interface VersionRecord {
  readonly model: string;
  readonly version: string;
  readonly status: ModelStatus;
  readonly history: readonly HistoryEntry[];
  /** Registration order within the model (1, 2, ...): newest first is descending. */
  readonly sequence: number;
  readonly strategy?: RolloutStrategy;
  readonly reasons?: readonly ReasonCode[];
  /** One line for people: why it is in its status. */
  readonly reasonText?: string;
  readonly metrics?: ValidationMetrics;
  readonly gates?: readonly GateOutcome[];
  readonly lineage: Lineage;
  readonly updatedAt: string;
}

/** A version and the Lambda version serving it. */
export interface RoutedVersion {
  readonly version: string;
  readonly lambdaVersion: string;
}

/**
 * The routing of the model's `live` alias as the pipeline last wrote it, and the shadow the inference
 * function mirrors to. The alias itself is the truth for traffic; this copy is what the API, the CLI and the
 * inference function (shadow) read without Lambda permissions.
 */
export interface RoutingState {
  readonly primary: RoutedVersion;
  readonly additional?: RoutedVersion & { readonly weight: number };
  readonly shadow?: RoutedVersion & { readonly sampleRate: number };
  readonly updatedAt: string;
  readonly executionId?: string;
}

export interface ModelRecord {
  readonly model: string;
  /** The last registration number handed out. */
  readonly sequence: number;
  readonly routing?: RoutingState;
  /** Set by `modelgate retire`: the model's serving is gone (its versions and history stay). */
  readonly retired?: { readonly at: string; readonly executionId: string };
}

export interface LockRecord {
  readonly model: string;
  /** The execution that holds the lock. */
  readonly holder: string;
  readonly acquiredAt: string;
  /** After this the lock is free whoever holds it (a holder that died without releasing). */
  readonly expiresAt: string;
  /** An operator's promote/rollback asked the holder to yield at its next bake check. */
  readonly preemptRequestedBy?: string;
}

/** Share of traffic each routed version answers, by model version. */
export function weightsOf(routing: RoutingState | undefined): Record<string, number> {
  if (!routing) return {};
  const extra = routing.additional?.weight ?? 0;
  const weights: Record<string, number> = { [routing.primary.version]: round(1 - extra) };
  if (routing.additional) weights[routing.additional.version] = round(extra);
  return weights;
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
