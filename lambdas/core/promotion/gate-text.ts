// Words for the results of gates.ts and the changes of compatibility.ts, kept apart from the rules.
import { describeBytes, describeIssues } from '../errors';
import type { ChangeKind, SchemaChange } from './compatibility';
import type { RejectionReason, RuleId, RuleResult, SkippedRule, SkipReason, ValidationReport } from './gates';

export const REASON_TEXT: Readonly<Record<RejectionReason, string>> = {
  MANIFEST_INVALID: 'the manifest is invalid',
  MODEL_TOO_LARGE: 'the model file is larger than its size limit',
  CHECKSUM_MISMATCH: "the model file's sha256 differs from the manifest's",
  MODEL_LOAD_FAILED: 'onnxruntime cannot load the model',
  CONTRACT_MISMATCH: "the model does not answer the manifest's contract",
  SCHEMA_INCOMPATIBLE: "the input schema breaks the live version's clients",
  METRIC_UNAVAILABLE: 'a gated metric could not be computed',
  METRIC_BELOW_GATE: 'a holdout metric is below its gate',
  METRIC_ABOVE_GATE: 'a holdout metric is above its gate',
  WORSE_THAN_CHAMPION: 'worse than the live champion on the same holdout',
  INIT_BUDGET: 'cold start exceeds its budget',
  LATENCY_BUDGET: 'p99 latency exceeds its budget',
  REPLAY_ERROR_RATE: 'the candidate failed replayed requests',
  REPLAY_DISAGREEMENT: 'the candidate disagrees with the champion on replayed requests',
};

const RULE_TEXT: Readonly<Record<RuleId, string>> = {
  manifest: 'manifest',
  'model-size': 'model size',
  checksum: 'checksum',
  'model-load': 'model loads',
  contract: 'contract',
  'schema-compatibility': 'schema compatibility',
  'metric-gate': 'holdout gate',
  'non-inferiority': 'non-inferiority',
  'init-time': 'cold start',
  'latency-p99': 'p99 latency',
  'replay-error-rate': 'replay errors',
  'replay-agreement': 'replay agreement',
};

const SKIP_TEXT: Readonly<Record<SkipReason, string>> = {
  EARLIER_STAGE_FAILED: 'an earlier stage failed',
  NO_CHAMPION: 'no live champion',
  NO_GATES: 'the manifest declares no gates (`modelgate package --holdout` writes default ones)',
  CHAMPION_NOT_EVALUATED: 'the champion could not be evaluated on this holdout',
  NOT_MEASURED: 'not measured',
  NO_REPLAY_TRAFFIC: 'no logged requests to replay',
};

/** One line for one rule: what it checked, what it saw, against what. */
export function describeResult(result: RuleResult): string {
  const status = result.passed ? 'pass' : 'FAIL';
  const subject = result.metric ? `${RULE_TEXT[result.rule]} ${result.metric}` : RULE_TEXT[result.rule];
  return `${status}  ${subject}: ${details(result)}`;
}

function details(result: RuleResult): string {
  const { observed, threshold } = result;
  switch (result.rule) {
    case 'manifest':
    case 'contract':
      return result.issues ? `${result.issues.length} problem(s)\n${indent(describeIssues(result.issues))}` : 'ok';
    case 'model-size':
      return `${describeBytes(Number(observed))}, ${result.passed ? 'within' : 'above'} the limit of ${describeBytes(Number(threshold))} (model.maxBytes)`;
    case 'checksum':
      return result.passed ? `sha256 ${observed}` : `sha256 ${observed}, the manifest says ${threshold}`;
    case 'model-load':
      return result.detail ?? 'session created and warmed up';
    case 'schema-compatibility': {
      const changes = result.changes ?? [];
      const breaking = changes.filter((c) => c.breaking).length;
      const summary =
        changes.length === 0
          ? 'same schema as the live version'
          : `${breaking} breaking, ${changes.length - breaking} compatible change(s)` + (result.allowed ? ' (breaking changes allowed by validation.allowBreakingChanges)' : '');
      return changes.length === 0 ? summary : `${summary}\n${indent(changes.map(describeChange).join('\n'))}`;
    }
    case 'non-inferiority':
      if (result.reason === 'METRIC_UNAVAILABLE') return 'the metric is missing for the candidate or the champion (no holdout?)';
      return `${format(observed)} against champion ${format(result.champion)} (must be ${bound(result)}, margin ${result.margin})`;
    case 'metric-gate':
      if (result.reason === 'METRIC_UNAVAILABLE') return `not computed (no holdout, or the holdout lacks a class); gate ${bound(result)}`;
      return `${format(observed)} (gate ${bound(result)})`;
    case 'init-time':
    case 'latency-p99':
      return `${format(observed)} ms (budget ${format(threshold)} ms)`;
    case 'replay-error-rate':
      return `${percent(observed)} of replayed requests failed (at most ${percent(threshold)})`;
    case 'replay-agreement':
      return `${percent(observed)} agree with the champion (at least ${percent(threshold)})`;
  }
}

const CHANGE_TEXT: Readonly<Record<ChangeKind, (change: SchemaChange) => string>> = {
  FEATURE_REMOVED: () => 'feature removed: clients that send it get a 400',
  REQUIRED_FEATURE_ADDED: () => 'new required feature: clients that do not send it get a 400',
  FEATURE_NOW_REQUIRED: () => 'now required: clients that leave it out get a 400',
  TYPE_CHANGED: (c) => `type ${c.before} -> ${c.after}: values of the old type are rejected`,
  CATEGORY_REMOVED: (c) => `categories removed: ${list(c.before)}; clients that send them get a 400`,
  CATEGORIES_INTRODUCED: (c) => `now a closed set (${list(c.after)}); other values are rejected`,
  MIN_RAISED: (c) => `minimum ${c.before ?? 'none'} -> ${c.after}: smaller values are rejected`,
  MAX_LOWERED: (c) => `maximum ${c.before ?? 'none'} -> ${c.after}: larger values are rejected`,
  TASK_CHANGED: (c) => `task ${c.before} -> ${c.after}: the response changes shape`,
  CLASS_LABEL_REMOVED: (c) => `class labels removed: ${list(c.before)}`,
  OUTPUT_REMOVED: () => 'no longer in the response',
  OPTIONAL_FEATURE_ADDED: () => 'new optional feature',
  FEATURE_NOW_OPTIONAL: () => 'now optional',
  TYPE_WIDENED: (c) => `type ${c.before} -> ${c.after}: every old value is still valid`,
  CATEGORY_ADDED: (c) => `categories added: ${list(c.after)}`,
  CATEGORIES_LIFTED: () => 'no longer a closed set',
  MIN_LOWERED: (c) => `minimum ${c.before} -> ${c.after ?? 'none'}`,
  MAX_RAISED: (c) => `maximum ${c.before} -> ${c.after ?? 'none'}`,
  DEFAULT_CHANGED: (c) => `default ${JSON.stringify(c.before) ?? 'none'} -> ${JSON.stringify(c.after) ?? 'none'}: requests without it predict differently`,
  CLASS_LABEL_ADDED: (c) => `class labels added: ${list(c.after)}`,
  OUTPUT_ADDED: () => 'new in the response',
};

/** `features.tenure.min: minimum 0 -> 1: smaller values are rejected (breaking)` */
export function describeChange(change: SchemaChange): string {
  return `${change.field}: ${CHANGE_TEXT[change.kind](change)}${change.breaking ? ' (breaking)' : ''}`;
}

export function describeSkip(skipped: SkippedRule): string {
  return `skip  ${RULE_TEXT[skipped.rule]}: ${SKIP_TEXT[skipped.because]}`;
}

/** The whole report: the verdict with its reasons, then one line per rule. */
export function describeReport(report: ValidationReport): string {
  const verdict = report.verdict === 'accepted' ? 'accepted' : `rejected: ${report.reasons.map((reason) => `${reason} (${REASON_TEXT[reason]})`).join('; ')}`;
  return [verdict, ...report.results.map(describeResult), ...report.skipped.map(describeSkip)].join('\n');
}

function bound(result: RuleResult): string {
  return `${result.bound === 'min' ? '>=' : '<='} ${format(result.threshold)}`;
}

function format(value: unknown): string {
  return typeof value === 'number' ? Number(value.toPrecision(4)).toString() : String(value);
}

function percent(value: unknown): string {
  return typeof value === 'number' ? `${Number((value * 100).toFixed(2))}%` : String(value);
}

function list(values: unknown): string {
  return Array.isArray(values) ? values.map((v) => JSON.stringify(v)).join(', ') : String(values);
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `      ${line}`)
    .join('\n');
}
