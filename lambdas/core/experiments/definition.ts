// An experiment as data: what is compared (two versions of one model), how units are assigned, what is
// measured and what would count as a win. `planExperiment` turns a request (CLI flags, API body) into a
// definition, naming every bad field at once; the sample size comes from sample-size.ts.
import { ValidationError, type Issue } from '../errors';
import { describeJsonValue } from '../json-body';
import { MODEL_NAME_PATTERN, MODEL_VERSION_PATTERN } from '../pipeline/identity';
import { ENGINES, type Engine } from './analysis';
import { EXPERIMENT_DEFAULTS } from './defaults';
import type { Correction } from './multiple-testing';
import { requiredSampleSizePerArm, type Baseline } from './sample-size';
import { ExperimentDataError } from './sufficient-statistics';

/**
 * `request`: every request is assigned on its own, by the `live` alias's weights (Lambda picks the version
 * per invocation); the unit of analysis is the prediction. `unit`: requests carrying a unit id are assigned by
 * a hash of (experiment id, unit id), so one unit always meets the same version; the unit is the unit id.
 */
export type AssignmentMode = 'request' | 'unit';
export const ASSIGNMENT_MODES: readonly AssignmentMode[] = ['request', 'unit'];

/** `proportion`: did the unit have the event at all (conversion, click). `mean`: the sum of its values per unit (revenue). */
export type MetricKind = 'proportion' | 'mean';
/** `event`: outcome events (POST /v1/events). `ground-truth`: labels joined to predictions (POST /v1/feedback). */
export type MetricSource = 'event' | 'ground-truth';
export type MetricDirection = 'increase' | 'decrease';
export type MetricRole = 'primary' | 'secondary' | 'guardrail';

export interface MetricDefinition {
  readonly name: string;
  readonly kind: MetricKind;
  readonly source: MetricSource;
  /** The good direction: a win for the primary, and the opposite of harm for a guardrail. */
  readonly direction: MetricDirection;
}

/**
 * Metrics computed from ground truth rather than events, one value per labelled prediction:
 * accuracy (correct or not), logLoss (-ln P(actual), classification with probabilities),
 * absoluteError and squaredError (regression).
 */
export const GROUND_TRUTH_METRICS: Readonly<Record<string, { kind: MetricKind; direction: MetricDirection }>> = {
  accuracy: { kind: 'proportion', direction: 'increase' },
  logLoss: { kind: 'mean', direction: 'decrease' },
  absoluteError: { kind: 'mean', direction: 'decrease' },
  squaredError: { kind: 'mean', direction: 'decrease' },
};

/** Event and metric names: they become DynamoDB attribute-name parts and CLI words. */
export const METRIC_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
export const EXPERIMENT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{2,79}$/;

export interface ArmDefinition {
  /** The model version (manifest `version`). */
  readonly version: string;
  /** The Lambda version serving it, when known: the unit router invokes it by this qualifier. */
  readonly lambdaVersion?: string;
}

export type ExperimentStatus = 'running' | 'stopped' | 'concluded';

/** A conclusion: what was decided, by whom, and what the pipeline did about it. */
export interface Conclusion {
  readonly at: string;
  /** `ship-treatment`: the treatment was promoted; `keep-control`: the treatment was rolled back. */
  readonly outcome: 'ship-treatment' | 'keep-control';
  /** The analysis's decision when the experiment was concluded (an operator may overrule it). */
  readonly decision: string;
  readonly by: string;
  /** What the pipeline answered (execution id, summary). */
  readonly pipeline?: Readonly<Record<string, unknown>>;
}

export interface ExperimentDefinition {
  readonly id: string;
  readonly model: string;
  readonly hypothesis?: string;
  readonly control: ArmDefinition;
  readonly treatment: ArmDefinition;
  /** Share of units assigned to the treatment, in (0, 1). */
  readonly split: number;
  readonly assignment: AssignmentMode;
  readonly primaryMetric: MetricDefinition;
  readonly secondaryMetrics: readonly MetricDefinition[];
  readonly guardrailMetrics: readonly MetricDefinition[];
  /** Relative minimum detectable effect on the primary metric (0.05: 5% of the baseline). */
  readonly minimumDetectableEffect: number;
  /** The primary metric before the experiment; absent: planned from the control arm as data arrives. */
  readonly baseline?: Baseline;
  readonly alpha: number;
  readonly power: number;
  /** From the baseline at start; null when there is none yet (see `baseline`). */
  readonly requiredSampleSizePerArm: number | null;
  readonly maxDurationDays: number;
  readonly engine: Engine;
  readonly correction: Correction;
  /** Sequential engine: N*, total units at which the confidence sequence is tightest. */
  readonly sequentialTuning: number;
  readonly status: ExperimentStatus;
  readonly createdAt: string;
  /** Predictions from this time on count (createdAt + the start delay). */
  readonly startedAt: string;
  readonly endedAt?: string;
  readonly conclusion?: Conclusion;
  /** Starts at 1; every change of the stored definition adds one (see ExperimentRevision). */
  readonly revision: number;
}

/** What a client asks for: everything but the identity and the derived fields may be left to defaults. */
export interface ExperimentRequest {
  readonly id?: unknown;
  readonly model?: unknown;
  readonly hypothesis?: unknown;
  readonly control?: unknown;
  readonly treatment?: unknown;
  readonly split?: unknown;
  readonly assignment?: unknown;
  /** `name[:proportion|mean][:increase|decrease]`, or {name, kind?, direction?}. */
  readonly metric?: unknown;
  readonly secondary?: unknown;
  readonly guardrails?: unknown;
  readonly mde?: unknown;
  /** A rate for a proportion, {mean, standardDeviation} for a mean. */
  readonly baseline?: unknown;
  readonly alpha?: unknown;
  readonly power?: unknown;
  readonly maxDays?: unknown;
  readonly engine?: unknown;
  readonly correction?: unknown;
  readonly sequentialTuning?: unknown;
  /** Seconds between creating the experiment and its first counted prediction. */
  readonly startDelaySeconds?: unknown;
}

export const EXPERIMENT_PLAN_DEFAULTS = {
  /**
   * Every reader must know the experiment before its first counted prediction: the stream aggregator and
   * the events API query the status index (eventually consistent, typically well under a second) and the
   * unit routers refresh their view every 10 s (ROUTER_REFRESH_SECONDS). Counting starts after the longest.
   */
  startDelaySeconds: 15,
  split: 0.5,
  assignment: 'request' as AssignmentMode,
  minimumDetectableEffect: 0.05,
  maxDurationDays: 14,
  engine: 'frequentist' as Engine,
  correction: 'holm' as Correction,
};

const CORRECTIONS: readonly Correction[] = ['holm', 'benjamini-hochberg'];
const MAX_DURATION_DAYS = 365;

/**
 * Checks a request and fills in the defaults and the plan. Throws ValidationError with one issue per bad
 * field (`split: must be between 0 and 1, got 1.5`), so an API answers 400 and the CLI exits 2.
 * `lambdaVersions` are the Lambda versions serving the arms, when the caller resolved them.
 */
export function planExperiment(
  request: ExperimentRequest,
  now: Date,
  options: { readonly generatedId?: string; readonly lambdaVersions?: { control?: string; treatment?: string } } = {},
): ExperimentDefinition {
  const issues: Issue[] = [];
  const model = text(request.model, 'model', issues, (v) =>
    MODEL_NAME_PATTERN.test(v) && v.length <= 40 ? undefined : 'must be 1-40 lower-case letters, digits and single dashes',
  );
  const version = (field: 'control' | 'treatment') =>
    text(typeof request[field] === 'number' ? String(request[field]) : request[field], field, issues, (v) =>
      MODEL_VERSION_PATTERN.test(v) && v.length <= 40 ? undefined : "must be a model version: letters, digits, '.', '_' or '-'",
    );
  const control = version('control');
  const treatment = version('treatment');
  if (control !== undefined && control === treatment) issues.push({ field: 'treatment', reason: `must differ from control (both are ${control})` });

  const id =
    request.id === undefined
      ? options.generatedId
      : text(request.id, 'id', issues, (v) => (EXPERIMENT_ID_PATTERN.test(v) ? undefined : 'must be 3-80 lower-case letters, digits and dashes, starting with a letter or digit'));
  if (id === undefined && request.id === undefined) issues.push({ field: 'id', reason: 'is required (or let the caller generate one)' });

  const hypothesis =
    request.hypothesis === undefined ? undefined : text(request.hypothesis, 'hypothesis', issues, (v) => (v.length <= 1000 ? undefined : 'must be at most 1000 characters'));
  const split = number(request.split, 'split', EXPERIMENT_PLAN_DEFAULTS.split, issues, (v) => (v > 0 && v < 1 ? undefined : 'must be between 0 and 1 (the treatment share)'));
  const assignment = choice(request.assignment, 'assignment', ASSIGNMENT_MODES, EXPERIMENT_PLAN_DEFAULTS.assignment, issues);
  const engine = choice(request.engine, 'engine', ENGINES, EXPERIMENT_PLAN_DEFAULTS.engine, issues);
  const correction = choice(request.correction, 'correction', CORRECTIONS, EXPERIMENT_PLAN_DEFAULTS.correction, issues);
  const mde = number(request.mde, 'mde', EXPERIMENT_PLAN_DEFAULTS.minimumDetectableEffect, issues, (v) =>
    v > 0 && v <= 10 ? undefined : 'must be a relative effect greater than 0 (0.05 = 5%) and at most 10',
  );
  const alpha = number(request.alpha, 'alpha', EXPERIMENT_DEFAULTS.alpha, issues, (v) => (v > 0 && v < 1 ? undefined : 'must be between 0 and 1'));
  const power = number(request.power, 'power', EXPERIMENT_DEFAULTS.power, issues, (v) => (v > 0 && v < 1 ? undefined : 'must be between 0 and 1'));
  const maxDays = number(request.maxDays, 'maxDays', EXPERIMENT_PLAN_DEFAULTS.maxDurationDays, issues, (v) =>
    v > 0 && v <= MAX_DURATION_DAYS ? undefined : `must be greater than 0 and at most ${MAX_DURATION_DAYS}`,
  );
  const tuning = number(request.sequentialTuning, 'sequentialTuning', EXPERIMENT_DEFAULTS.sequentialTuning, issues, (v) =>
    v >= 1 ? undefined : 'must be at least 1 (total units)',
  );
  if (request.sequentialTuning !== undefined && engine !== 'sequential') issues.push({ field: 'sequentialTuning', reason: 'applies to the sequential engine only' });
  const startDelay = number(request.startDelaySeconds, 'startDelaySeconds', EXPERIMENT_PLAN_DEFAULTS.startDelaySeconds, issues, (v) =>
    v >= 0 && v <= 3600 ? undefined : 'must be between 0 and 3600 seconds',
  );

  if (request.metric === undefined) issues.push({ field: 'metric', reason: 'is required: the primary metric, e.g. "conversion"' });
  const primary = request.metric === undefined ? undefined : readMetric(request.metric, 'metric', issues);
  const secondary = readMetricList(request.secondary, 'secondary', issues);
  const guardrails = readMetricList(request.guardrails, 'guardrails', issues);
  const names = [primary, ...secondary, ...guardrails].filter((m): m is MetricDefinition => m !== undefined).map((m) => m.name);
  const duplicated = [...new Set(names.filter((n, i) => names.indexOf(n) !== i))];
  if (duplicated.length > 0) issues.push({ field: 'metric', reason: `each metric may play one role only, got ${duplicated.join(', ')} twice` });

  const baseline = primary === undefined ? undefined : readBaseline(request.baseline, primary, issues);
  if (issues.length > 0) throw new ValidationError(`invalid experiment: ${issues.map((i) => `${i.field}: ${i.reason}`).join('; ')}`, issues);

  let required: number | null = null;
  if (baseline) {
    try {
      required = requiredSampleSizePerArm(baseline, { relative: mde }, { alpha, power });
    } catch (error) {
      if (!(error instanceof ExperimentDataError)) throw error;
      throw new ValidationError(`invalid experiment: ${error.message}`, error.issues);
    }
  }
  const at = now.toISOString();
  const startedAt = new Date(now.getTime() + Math.round(startDelay * 1000)).toISOString();
  const lambdaVersions = options.lambdaVersions ?? {};
  return {
    id: id as string,
    model: model as string,
    ...(hypothesis === undefined ? {} : { hypothesis }),
    control: { version: control as string, ...(lambdaVersions.control ? { lambdaVersion: lambdaVersions.control } : {}) },
    treatment: { version: treatment as string, ...(lambdaVersions.treatment ? { lambdaVersion: lambdaVersions.treatment } : {}) },
    split,
    assignment,
    primaryMetric: primary as MetricDefinition,
    secondaryMetrics: secondary,
    guardrailMetrics: guardrails,
    minimumDetectableEffect: mde,
    ...(baseline ? { baseline } : {}),
    alpha,
    power,
    requiredSampleSizePerArm: required,
    maxDurationDays: maxDays,
    engine,
    correction,
    sequentialTuning: tuning,
    status: 'running',
    createdAt: at,
    startedAt,
    revision: 1,
  };
}

/** Every metric of a definition with its role, primary first. */
/** An experiment in a list (GET /v1/experiments, `modelgate experiment list --json`): what it compares and where it stands. */
export function experimentSummary(d: ExperimentDefinition) {
  return {
    id: d.id,
    model: d.model,
    status: d.status,
    control: d.control.version,
    treatment: d.treatment.version,
    primaryMetric: d.primaryMetric.name,
    assignment: d.assignment,
    startedAt: d.startedAt,
    endedAt: d.endedAt ?? null,
  };
}

export function metricsOf(definition: Pick<ExperimentDefinition, 'primaryMetric' | 'secondaryMetrics' | 'guardrailMetrics'>): { metric: MetricDefinition; role: MetricRole }[] {
  return [
    { metric: definition.primaryMetric, role: 'primary' as const },
    ...definition.secondaryMetrics.map((metric) => ({ metric, role: 'secondary' as const })),
    ...definition.guardrailMetrics.map((metric) => ({ metric, role: 'guardrail' as const })),
  ];
}

/** Which arm a model version is in this experiment, if any. */
export function armOfVersion(definition: Pick<ExperimentDefinition, 'control' | 'treatment'>, version: string): 'control' | 'treatment' | undefined {
  if (version === definition.control.version) return 'control';
  if (version === definition.treatment.version) return 'treatment';
  return undefined;
}

/** A readable id: `<model>-<control>-vs-<treatment>-<suffix>`, versions reduced to id characters. */
export function experimentId(model: string, control: string, treatment: string, suffix: string): string {
  const clean = (v: string) =>
    v
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'v';
  return `${model}-${clean(control)}-vs-${clean(treatment)}-${suffix}`.slice(0, 80).replace(/-+$/, '');
}

/**
 * A metric from `name[:proportion|mean][:increase|decrease]` or an object {name, kind?, direction?}.
 * Ground-truth names (accuracy, logLoss, absoluteError, squaredError) have a fixed kind and default
 * direction; any other name is an outcome event, a proportion unless `:mean` says otherwise.
 */
export function readMetric(value: unknown, field: string, issues: Issue[]): MetricDefinition | undefined {
  let name: unknown;
  let kind: unknown;
  let direction: unknown;
  if (typeof value === 'string') {
    const parts = value.split(':');
    name = parts[0];
    for (const part of parts.slice(1)) {
      if (part === 'proportion' || part === 'mean') kind = part;
      else if (part === 'increase' || part === 'decrease') direction = part;
      else {
        issues.push({ field, reason: `"${part}" in "${value}" is neither a kind (proportion, mean) nor a direction (increase, decrease)` });
        return undefined;
      }
    }
  } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    ({ name, kind, direction } = value as Record<string, unknown>);
  } else {
    issues.push({ field, reason: `must be a metric name like "conversion" or "revenue:mean", got ${describeJsonValue(value)}` });
    return undefined;
  }
  const before = issues.length;
  if (typeof name !== 'string' || !METRIC_NAME_PATTERN.test(name)) {
    issues.push({ field: `${field}.name`, reason: `must be a letter then up to 63 letters, digits, '_' or '-', got ${describeJsonValue(name)}` });
  }
  if (kind !== undefined && kind !== 'proportion' && kind !== 'mean') issues.push({ field: `${field}.kind`, reason: `must be proportion or mean, got ${describeJsonValue(kind)}` });
  if (direction !== undefined && direction !== 'increase' && direction !== 'decrease')
    issues.push({ field: `${field}.direction`, reason: `must be increase or decrease, got ${describeJsonValue(direction)}` });
  if (issues.length > before) return undefined;
  const groundTruth = GROUND_TRUTH_METRICS[name as string];
  if (groundTruth && kind !== undefined && kind !== groundTruth.kind) {
    issues.push({ field: `${field}.kind`, reason: `${name as string} is a ground-truth metric of kind ${groundTruth.kind}, got ${kind as string}` });
    return undefined;
  }
  return {
    name: name as string,
    kind: groundTruth?.kind ?? (kind as MetricKind | undefined) ?? 'proportion',
    source: groundTruth ? 'ground-truth' : 'event',
    direction: (direction as MetricDirection | undefined) ?? groundTruth?.direction ?? 'increase',
  };
}

function readMetricList(value: unknown, field: string, issues: Issue[]): MetricDefinition[] {
  if (value === undefined) return [];
  const list = typeof value === 'string' ? value.split(',').filter((s) => s !== '') : value;
  if (!Array.isArray(list)) {
    issues.push({ field, reason: 'must be a list of metrics' });
    return [];
  }
  return list.map((item, i) => readMetric(item, `${field}[${i}]`, issues)).filter((m): m is MetricDefinition => m !== undefined);
}

function readBaseline(value: unknown, primary: MetricDefinition, issues: Issue[]): Baseline | undefined {
  if (value === undefined) return undefined;
  if (primary.kind === 'proportion') {
    const rate = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof rate !== 'number' || !(rate > 0 && rate < 1)) {
      issues.push({ field: 'baseline', reason: `the primary metric ${primary.name} is a proportion: the baseline is its rate, between 0 and 1, got ${describeJsonValue(value)}` });
      return undefined;
    }
    return { kind: 'proportion', rate };
  }
  const parsed =
    typeof value === 'string'
      ? Object.fromEntries(
          value
            .split(',')
            .map((part) => part.split('='))
            .map(([k, v]) => [k?.trim(), v === undefined ? NaN : Number(v)]),
        )
      : value;
  const { mean, standardDeviation } = (parsed ?? {}) as { mean?: unknown; standardDeviation?: unknown };
  if (typeof mean !== 'number' || !Number.isFinite(mean) || typeof standardDeviation !== 'number' || !(standardDeviation > 0)) {
    issues.push({
      field: 'baseline',
      reason: `the primary metric ${primary.name} is a mean: the baseline is {mean, standardDeviation > 0} ("mean=12.5,standardDeviation=30"), got ${describeJsonValue(value)}`,
    });
    return undefined;
  }
  if (mean === 0) {
    issues.push({ field: 'baseline', reason: 'a relative MDE needs a baseline mean other than 0' });
    return undefined;
  }
  return { kind: 'mean', mean, standardDeviation };
}

function text(value: unknown, field: string, issues: Issue[], check: (v: string) => string | undefined): string | undefined {
  if (value === undefined) {
    issues.push({ field, reason: 'is required' });
    return undefined;
  }
  if (typeof value !== 'string' || value === '') {
    issues.push({ field, reason: `must be a non-empty string, got ${describeJsonValue(value)}` });
    return undefined;
  }
  const problem = check(value);
  if (problem) {
    issues.push({ field, reason: `${problem}, got ${describeJsonValue(value)}` });
    return undefined;
  }
  return value;
}

/** A number, from JSON or from a CLI string; the default when absent. */
function number(value: unknown, field: string, fallback: number, issues: Issue[], check: (v: number) => string | undefined): number {
  if (value === undefined) return fallback;
  const parsed = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof parsed !== 'number' || !Number.isFinite(parsed)) {
    issues.push({ field, reason: `must be a number, got ${describeJsonValue(value)}` });
    return fallback;
  }
  const problem = check(parsed);
  if (problem) issues.push({ field, reason: `${problem}, got ${parsed}` });
  return parsed;
}

function choice<T extends string>(value: unknown, field: string, allowed: readonly T[], fallback: T, issues: Issue[]): T {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  issues.push({ field, reason: `must be one of ${allowed.join(', ')}, got ${describeJsonValue(value)}` });
  return fallback;
}
