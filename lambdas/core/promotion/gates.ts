// The promotion gates, like cdk-nag rules: pure predicates over plain data, each returning what it checked,
// what it saw, the bound, and — when it fails — a machine-readable reason. Sentences live in gate-text.ts.
import type { Issue } from '../errors';
import type { Manifest, MetricGate, QualityMetric } from '../manifest-types';
import type { CompatibilityReport, SchemaChange } from './compatibility';
import { compareSchemas } from './compatibility';
import { METRIC_DIRECTION, PROMOTION_DEFAULTS, primaryMetric } from './defaults';
import type { MetricSet, ReplaySummary } from './evaluation';

/** Why a candidate was rejected, in the order of the validation stages. */
export const REJECTION_REASONS = [
  'MANIFEST_INVALID',
  'MODEL_TOO_LARGE',
  'CHECKSUM_MISMATCH',
  'MODEL_LOAD_FAILED',
  'CONTRACT_MISMATCH',
  'SCHEMA_INCOMPATIBLE',
  'METRIC_UNAVAILABLE',
  'METRIC_BELOW_GATE',
  'METRIC_ABOVE_GATE',
  'WORSE_THAN_CHAMPION',
  'INIT_BUDGET',
  'LATENCY_BUDGET',
  'REPLAY_ERROR_RATE',
  'REPLAY_DISAGREEMENT',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export type RuleId =
  | 'manifest'
  | 'model-size'
  | 'checksum'
  | 'model-load'
  | 'contract'
  | 'schema-compatibility'
  | 'metric-gate'
  | 'non-inferiority'
  | 'init-time'
  | 'latency-p99'
  | 'replay-error-rate'
  | 'replay-agreement';

/** The rules in the order validation runs them. */
const RULE_ORDER: readonly RuleId[] = [
  'manifest',
  'model-size',
  'checksum',
  'model-load',
  'contract',
  'schema-compatibility',
  'metric-gate',
  'non-inferiority',
  'init-time',
  'latency-p99',
  'replay-error-rate',
  'replay-agreement',
];

export interface RuleResult {
  readonly rule: RuleId;
  readonly passed: boolean;
  /** Set when the rule failed. */
  readonly reason?: RejectionReason;
  /** The holdout metric the rule is about (metric-gate, non-inferiority). */
  readonly metric?: QualityMetric;
  /** What was measured: a metric, milliseconds, a share, a count of problems, a checksum. */
  readonly observed?: number | string;
  /** What the rule requires of `observed`, with `bound` saying which way (a checksum must equal it). */
  readonly threshold?: number | string;
  readonly bound?: 'min' | 'max' | 'equal';
  /** non-inferiority: the champion's value of the metric and the margin the threshold allows. */
  readonly champion?: number;
  readonly margin?: number;
  /** manifest, contract: every problem found. */
  readonly issues?: readonly Issue[];
  /** schema-compatibility: every difference from the live version, breaking or not. */
  readonly changes?: readonly SchemaChange[];
  /** schema-compatibility: breaking changes were accepted by validation.allowBreakingChanges. */
  readonly allowed?: boolean;
  /** model-load: what the runtime said. */
  readonly detail?: string;
}

/** Metric comparisons allow this much floating-point rounding: a metric exactly at its bound passes. */
const ROUNDING = 1e-9;

function numericResult(rule: RuleId, reason: RejectionReason, observed: number, bound: 'min' | 'max', threshold: number, extra: Partial<RuleResult> = {}): RuleResult {
  const passed = bound === 'min' ? observed >= threshold - ROUNDING : observed <= threshold + ROUNDING;
  return { rule, passed, ...(passed ? {} : { reason }), ...extra, observed, bound, threshold };
}

function issuesResult(rule: RuleId, reason: RejectionReason, issues: readonly Issue[]): RuleResult {
  const passed = issues.length === 0;
  return { rule, passed, ...(passed ? {} : { reason, issues }), observed: issues.length, bound: 'max', threshold: 0 };
}

/** The manifest parsed: `issues` from ManifestError (empty when it parsed). */
export function manifestRule(issues: readonly Issue[]): RuleResult {
  return issuesResult('manifest', 'MANIFEST_INVALID', issues);
}

/** The model file is no larger than the manifest's limit (`model.maxBytes`, or the default), bytes: checked before it is read. */
export function modelSizeRule(bytes: number, limit: number): RuleResult {
  return numericResult('model-size', 'MODEL_TOO_LARGE', bytes, 'max', limit);
}

/** The model file is the one the manifest names: sha256 hex of its bytes equals `model.sha256`. */
export function checksumRule(expected: string, actual: string): RuleResult {
  const passed = expected === actual;
  return { rule: 'checksum', passed, ...(passed ? {} : { reason: 'CHECKSUM_MISMATCH' }), observed: actual, bound: 'equal', threshold: expected };
}

/** onnxruntime created a session and ran a warm-up row: `error` is its message when it did not. */
export function modelLoadRule(error?: string): RuleResult {
  return error === undefined ? { rule: 'model-load', passed: true } : { rule: 'model-load', passed: false, reason: 'MODEL_LOAD_FAILED', detail: error };
}

/** The graph answers the manifest's contract: `issues` from contractIssues or a ContractError. */
export function contractRule(issues: readonly Issue[]): RuleResult {
  return issuesResult('contract', 'CONTRACT_MISMATCH', issues);
}

/** No breaking change to the live version's schema, unless the candidate explicitly allows them. */
export function compatibilityRule(report: CompatibilityReport, allowBreakingChanges = false): RuleResult {
  const breaking = report.changes.filter((c) => c.breaking).length;
  const passed = breaking === 0 || allowBreakingChanges;
  return {
    rule: 'schema-compatibility',
    passed,
    ...(passed ? {} : { reason: 'SCHEMA_INCOMPATIBLE' }),
    observed: breaking,
    bound: 'max',
    threshold: 0,
    changes: report.changes,
    ...(breaking > 0 && allowBreakingChanges ? { allowed: true } : {}),
  };
}

/** One result per bound of each gate: min fails with METRIC_BELOW_GATE, max with METRIC_ABOVE_GATE. */
export function metricGateRules(gates: Readonly<Partial<Record<QualityMetric, MetricGate>>>, metrics: MetricSet | undefined): RuleResult[] {
  const results: RuleResult[] = [];
  for (const [name, gate] of Object.entries(gates) as [QualityMetric, MetricGate][]) {
    const observed = metrics?.[name];
    for (const bound of ['min', 'max'] as const) {
      const threshold = gate[bound];
      if (threshold === undefined) continue;
      if (observed === undefined) {
        results.push({ rule: 'metric-gate', passed: false, reason: 'METRIC_UNAVAILABLE', metric: name, bound, threshold });
      } else {
        results.push(numericResult('metric-gate', bound === 'min' ? 'METRIC_BELOW_GATE' : 'METRIC_ABOVE_GATE', observed, bound, threshold, { metric: name }));
      }
    }
  }
  return results;
}

/**
 * The candidate is not worse than the champion on the same holdout by more than `margin`, in the metric's
 * direction: candidate >= champion - margin when higher is better (ROC AUC), candidate <= champion + margin
 * when lower is better (RMSE, log loss). Exactly at the margin passes.
 */
export function nonInferiorityRule(metric: QualityMetric, candidate: number | undefined, champion: number | undefined, margin: number): RuleResult {
  const higher = METRIC_DIRECTION[metric] === 'higher';
  if (candidate === undefined || champion === undefined) {
    return { rule: 'non-inferiority', passed: false, reason: 'METRIC_UNAVAILABLE', metric, bound: higher ? 'min' : 'max', margin };
  }
  const threshold = higher ? champion - margin : champion + margin;
  return numericResult('non-inferiority', 'WORSE_THAN_CHAMPION', candidate, higher ? 'min' : 'max', threshold, { metric, champion, margin });
}

/** Cold start (fetch, session, warm-up) within the budget, milliseconds. */
export function initTimeRule(initMs: number, budgetMs: number): RuleResult {
  return numericResult('init-time', 'INIT_BUDGET', initMs, 'max', budgetMs);
}

/** p99 of one-row prediction latency within the budget, milliseconds. */
export function latencyRule(p99Ms: number, budgetMs: number): RuleResult {
  return numericResult('latency-p99', 'LATENCY_BUDGET', p99Ms, 'max', budgetMs);
}

export function replayErrorRule(replay: ReplaySummary, maxErrorRate: number): RuleResult {
  return numericResult('replay-error-rate', 'REPLAY_ERROR_RATE', replay.errorRate, 'max', maxErrorRate);
}

/** Share of replayed requests the candidate answers like the champion; needs `replay.agreement`. */
export function replayAgreementRule(replay: ReplaySummary & { readonly agreement: number }, minAgreement: number): RuleResult {
  return numericResult('replay-agreement', 'REPLAY_DISAGREEMENT', replay.agreement, 'min', minAgreement);
}

/** Why a rule did not run: the evidence it needs does not exist (yet). */
export type SkipReason = 'EARLIER_STAGE_FAILED' | 'NO_CHAMPION' | 'NO_GATES' | 'CHAMPION_NOT_EVALUATED' | 'NOT_MEASURED' | 'NO_REPLAY_TRAFFIC';

export interface SkippedRule {
  readonly rule: RuleId;
  readonly because: SkipReason;
}

/**
 * What the validation stages found, in their order. Each stage's evidence is optional: the state machine
 * fills in what it ran, and a failed stage leaves the later ones out.
 */
export interface ValidationEvidence {
  /** Problems found parsing the manifest (ManifestError.issues); empty or absent when `candidate` parsed. */
  readonly manifestIssues?: readonly Issue[];
  /** The candidate's manifest; its `validation` section sets every threshold. */
  readonly candidate?: Manifest;
  /** The model file's size and the manifest's limit on it, bytes (the size as S3 or the file system reports it, before reading). */
  readonly modelSize?: { readonly bytes: number; readonly limit: number };
  /** sha256 the manifest names and sha256 of the model file's bytes. */
  readonly checksum?: { readonly expected: string; readonly actual: string };
  /** Present once the load stage ran; `error` when onnxruntime could not create the session or run the warm-up row. */
  readonly load?: { readonly error?: string };
  /** contractIssues(manifest, describeModel(bytes)), plus a ContractError from the first run. */
  readonly contractIssues?: readonly Issue[];
  /** The live champion's manifest; absent for the first version of a model. */
  readonly champion?: Manifest;
  /** Holdout metrics of the candidate and of the champion on the same (the candidate's) holdout. */
  readonly holdout?: { readonly candidate: MetricSet; readonly champion?: MetricSet };
  /** Cold start and p99 of one-row predictions, milliseconds. */
  readonly timing?: { readonly initMs?: number; readonly p99Ms?: number };
  readonly replay?: ReplaySummary;
}

export interface ValidationReport {
  readonly verdict: 'accepted' | 'rejected';
  /** Every distinct reason of a failed rule, in stage order; empty when accepted. */
  readonly reasons: readonly RejectionReason[];
  readonly results: readonly RuleResult[];
  readonly skipped: readonly SkippedRule[];
}

/**
 * Runs every rule the evidence allows and combines them: accepted when every rule passed. Stages run in
 * order and a failed manifest, model size, checksum, load or contract stage stops there (what follows needs a sound,
 * loadable model). The holdout is required once there is something to hold it to: gates declared, or a
 * champion to compare with (missing metrics fail as METRIC_UNAVAILABLE, so leaving the holdout out of a
 * bundle cannot skip its gates). Timing and replay are skipped when not measured, and replay agreement
 * when there is no champion.
 */
export function validationReport(evidence: ValidationEvidence): ValidationReport {
  const results: RuleResult[] = [];
  const skipped: SkippedRule[] = [];
  const skip = (because: SkipReason, ...rules: RuleId[]) => skipped.push(...rules.map((rule) => ({ rule, because })));
  const stop = (failed: RuleResult) => {
    results.push(failed);
    skip('EARLIER_STAGE_FAILED', ...RULE_ORDER.slice(RULE_ORDER.indexOf(failed.rule) + 1));
    return finish(results, skipped);
  };

  const manifest = manifestRule(evidence.manifestIssues ?? []);
  const candidate = evidence.candidate;
  if (!manifest.passed || !candidate) {
    return stop(manifest.passed ? manifestRule([{ field: '(manifest)', reason: 'no manifest to validate' }]) : manifest);
  }
  results.push(manifest);
  const early: (RuleResult | undefined)[] = [
    evidence.modelSize && modelSizeRule(evidence.modelSize.bytes, evidence.modelSize.limit),
    evidence.checksum && checksumRule(evidence.checksum.expected, evidence.checksum.actual),
    evidence.load && modelLoadRule(evidence.load.error),
    evidence.contractIssues && contractRule(evidence.contractIssues),
  ];
  for (const result of early) {
    if (!result) continue;
    if (!result.passed) return stop(result);
    results.push(result);
  }

  const settings = candidate.validation ?? {};
  const champion = evidence.champion;
  if (champion) results.push(compatibilityRule(compareSchemas(champion, candidate), settings.allowBreakingChanges));
  else skip('NO_CHAMPION', 'schema-compatibility');

  const gates = settings.gates ?? {};
  if (Object.keys(gates).length > 0) results.push(...metricGateRules(gates, evidence.holdout?.candidate));
  else skip('NO_GATES', 'metric-gate');

  if (!champion) skip('NO_CHAMPION', 'non-inferiority');
  else if (evidence.holdout && !evidence.holdout.champion) skip('CHAMPION_NOT_EVALUATED', 'non-inferiority');
  else {
    const metric = primaryMetric(candidate);
    const margin = settings.nonInferiorityMargin ?? PROMOTION_DEFAULTS.nonInferiorityMargin;
    results.push(nonInferiorityRule(metric, evidence.holdout?.candidate[metric], evidence.holdout?.champion?.[metric], margin));
  }

  const { initMs, p99Ms } = evidence.timing ?? {};
  if (initMs === undefined) skip('NOT_MEASURED', 'init-time');
  else results.push(initTimeRule(initMs, settings.latency?.initMs ?? PROMOTION_DEFAULTS.initMs));
  if (p99Ms === undefined) skip('NOT_MEASURED', 'latency-p99');
  else results.push(latencyRule(p99Ms, settings.latency?.p99Ms ?? PROMOTION_DEFAULTS.p99Ms));

  const replay = evidence.replay;
  if (!replay || replay.requests === 0) {
    skip('NO_REPLAY_TRAFFIC', 'replay-error-rate', 'replay-agreement');
  } else {
    results.push(replayErrorRule(replay, settings.replay?.maxErrorRate ?? PROMOTION_DEFAULTS.maxErrorRate));
    const { agreement } = replay;
    if (agreement === undefined) skip(champion ? 'NO_REPLAY_TRAFFIC' : 'NO_CHAMPION', 'replay-agreement');
    else results.push(replayAgreementRule({ ...replay, agreement }, settings.replay?.minAgreement ?? PROMOTION_DEFAULTS.minAgreement));
  }
  return finish(results, skipped);
}

function finish(results: RuleResult[], skipped: SkippedRule[]): ValidationReport {
  const failed = new Set(results.flatMap((r) => (r.reason ? [r.reason] : [])));
  const reasons = REJECTION_REASONS.filter((reason) => failed.has(reason));
  return { verdict: reasons.length === 0 ? 'accepted' : 'rejected', reasons, results, skipped };
}
