// CloudWatch metric alarm evaluation as a pure function: datapoints of the evaluation range in, new state and
// reason out. It emulates a service rather than expressing modelgate's domain, so it lives beside the local
// runtime (not in lambdas/core), free of I/O so it can be tested table by table.

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
export type TreatMissingData = 'missing' | 'notBreaching' | 'breaching' | 'ignore';
export type ComparisonOperator = 'GreaterThanOrEqualToThreshold' | 'GreaterThanThreshold' | 'LessThanThreshold' | 'LessThanOrEqualToThreshold';

export const COMPARISON_OPERATORS: readonly ComparisonOperator[] = ['GreaterThanOrEqualToThreshold', 'GreaterThanThreshold', 'LessThanThreshold', 'LessThanOrEqualToThreshold'];
export const TREAT_MISSING_DATA: readonly TreatMissingData[] = ['missing', 'notBreaching', 'breaching', 'ignore'];

export interface AlarmRule {
  readonly comparisonOperator: ComparisonOperator;
  readonly threshold: number;
  /** N: the number of most recent datapoints evaluated. */
  readonly evaluationPeriods: number;
  /** M: how many of those must breach for ALARM (defaults to N in the template). */
  readonly datapointsToAlarm: number;
  readonly treatMissingData: TreatMissingData;
}

/** One period of the evaluation range; `value` undefined when the period has no data. */
export interface PeriodValue {
  /** Start of the period, epoch ms. */
  readonly timestamp: number;
  readonly value: number | undefined;
}

export interface AlarmEvaluation {
  readonly state: AlarmState;
  readonly reason: string;
  /** The datapoints the decision used, most recent first (as CloudWatch's StateReasonData lists them). */
  readonly evaluatedDatapoints: readonly { timestamp: number; value?: number }[];
}

/**
 * How many periods CloudWatch looks back: more than N, so that a few missing periods can be skipped over.
 * CloudWatch does not publish the exact number; its documented examples use N + 2 for N = 3.
 */
export function evaluationRangeLength(evaluationPeriods: number): number {
  return evaluationPeriods + 2;
}

const phrase: Record<ComparisonOperator, string> = {
  GreaterThanOrEqualToThreshold: 'greater than or equal to',
  GreaterThanThreshold: 'greater than',
  LessThanThreshold: 'less than',
  LessThanOrEqualToThreshold: 'less than or equal to',
};

export function breaches(operator: ComparisonOperator, value: number, threshold: number): boolean {
  switch (operator) {
    case 'GreaterThanOrEqualToThreshold':
      return value >= threshold;
    case 'GreaterThanThreshold':
      return value > threshold;
    case 'LessThanThreshold':
      return value < threshold;
    case 'LessThanOrEqualToThreshold':
      return value <= threshold;
  }
}

/**
 * The alarm's next state, following CloudWatch's documented rules for missing data
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html):
 * - at least N datapoints exist in the range: the N most recent existing ones decide (M of them breaching
 *   is ALARM, otherwise OK); TreatMissingData plays no part;
 * - none exist: missing -> INSUFFICIENT_DATA, ignore -> current state, breaching -> ALARM, notBreaching -> OK;
 * - fewer than N exist: the missing ones are filled in as few times as possible (N minus the existing):
 *   breaching / notBreaching fill them as breaching / not breaching; missing decides on the existing
 *   datapoints alone (ALARM when at least min(M, existing) breach); ignore decides only when every way of
 *   filling the gaps gives the same answer, and otherwise keeps the current state.
 * `range` is the evaluation range, oldest first.
 */
export function evaluateAlarm(rule: AlarmRule, range: readonly PeriodValue[], current: AlarmState): AlarmEvaluation {
  const n = rule.evaluationPeriods;
  const m = Math.min(rule.datapointsToAlarm, n);
  const existing = range.filter((p): p is { timestamp: number; value: number } => p.value !== undefined);
  const compare = `${phrase[rule.comparisonOperator]} the threshold (${formatNumber(rule.threshold)})`;

  if (existing.length === 0) {
    const evaluatedDatapoints = range
      .slice(-n)
      .reverse()
      .map((p) => ({ timestamp: p.timestamp }));
    const unknown = `no datapoints were received for ${range.length} period${range.length === 1 ? '' : 's'}`;
    switch (rule.treatMissingData) {
      case 'missing':
        return { state: 'INSUFFICIENT_DATA', reason: `Insufficient Data: ${range.length} datapoint${range.length === 1 ? ' was' : 's were'} unknown.`, evaluatedDatapoints };
      case 'ignore':
        return { state: current, reason: `Missing data ignored: ${unknown}; the alarm keeps its state.`, evaluatedDatapoints };
      case 'breaching':
        return { state: 'ALARM', reason: `Threshold Crossed: ${unknown} and missing data is treated as breaching.`, evaluatedDatapoints };
      case 'notBreaching':
        return { state: 'OK', reason: `Threshold Crossed: ${unknown} and missing data is treated as not breaching.`, evaluatedDatapoints };
    }
  }

  const recent = existing.slice(-n).reverse();
  const breaching = recent.filter((p) => breaches(rule.comparisonOperator, p.value, rule.threshold)).length;
  const evaluatedDatapoints = recent.map((p) => ({ timestamp: p.timestamp, value: p.value }));
  const listed = `[${recent.map((p) => `${formatNumber(p.value)} (${formatTime(p.timestamp)})`).join(', ')}]`;
  const fills = n - recent.length;
  const alarm = (needed: number, note = '') =>
    ({
      state: 'ALARM',
      reason: `Threshold Crossed: ${breaching} out of the last ${recent.length} datapoint${recent.length === 1 ? '' : 's'} ${listed} ${breaching === 1 ? 'was' : 'were'} ${compare}${note} (minimum ${needed} datapoint${needed === 1 ? '' : 's'} for OK -> ALARM transition).`,
      evaluatedDatapoints,
    }) satisfies AlarmEvaluation;
  const ok = (note = '') =>
    ({
      state: 'OK',
      reason: `Threshold Crossed: ${recent.length - breaching} out of the last ${recent.length} datapoint${recent.length === 1 ? '' : 's'} ${listed} ${recent.length - breaching === 1 ? 'was' : 'were'} not ${compare}${note} (minimum ${n - m + 1} datapoint${n - m + 1 === 1 ? '' : 's'} for ALARM -> OK transition).`,
      evaluatedDatapoints,
    }) satisfies AlarmEvaluation;

  if (fills === 0) return breaching >= m ? alarm(m) : ok();
  const filled = ` and ${fills} missing datapoint${fills === 1 ? '' : 's'}`;
  switch (rule.treatMissingData) {
    case 'breaching':
      return breaching + fills >= m ? alarm(m, `${filled} treated as breaching`) : ok(`${filled} treated as breaching`);
    case 'notBreaching':
      return breaching >= m ? alarm(m, `${filled} treated as not breaching`) : ok(`${filled} treated as not breaching`);
    case 'missing': {
      const needed = Math.min(m, recent.length);
      return breaching >= needed ? alarm(needed, `${filled} left out`) : ok(`${filled} left out`);
    }
    case 'ignore':
      if (breaching >= m) return alarm(m, `${filled} ignored`);
      if (breaching + fills < m) return ok(`${filled} ignored`);
      return {
        state: current,
        reason: `Missing data ignored: ${breaching} of ${recent.length} datapoint${recent.length === 1 ? '' : 's'} ${listed} ${compare} with ${fills} missing; the alarm keeps its state.`,
        evaluatedDatapoints,
      };
  }
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? value.toFixed(1) : String(Number(value.toPrecision(6)));
}

/** CloudWatch's reason timestamps: dd/MM/yy HH:mm:ss in UTC. */
function formatTime(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCFullYear() % 100)} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}
