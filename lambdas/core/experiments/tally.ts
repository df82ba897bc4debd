// The running counters of one experiment arm, as flat named numbers so that every change is an atomic
// DynamoDB ADD, and how they become the per-metric sufficient statistics the engines read.
//
//   units, requests, crossovers      exposures: units of analysis, randomised requests, sticky violations
//   e:<metric>:units                 units with a positive event of that name (proportion numerator)
//   e:<metric>:sum, e:<metric>:sq    sum over units of the unit's total, and of its square (mean metrics)
//   e:<metric>:events                events counted (for people, not for tests)
//   g:<metric>:n, :sum, :sq          ground truth: labelled predictions, sum of the per-prediction value and of its square
//   early                            events about predictions served before the experiment started counting (not counted)
import { LOG_LOSS_EPSILON } from '../metrics/classification';
import type { RowPrediction } from '../tensors';
import type { AssignmentMode, MetricDefinition } from './definition';
import type { ArmStats } from './sufficient-statistics';

/** Attribute name -> amount to add. */
export type TallyDelta = Record<string, number>;
/** Attribute name -> running total, summed over the arm's counter shards. */
export type Tally = Readonly<Record<string, number>>;

export const TALLY = {
  units: 'units',
  requests: 'requests',
  crossovers: 'crossovers',
  eventUnits: (metric: string) => `e:${metric}:units`,
  eventSum: (metric: string) => `e:${metric}:sum`,
  eventSquares: (metric: string) => `e:${metric}:sq`,
  eventCount: (metric: string) => `e:${metric}:events`,
  truthN: (metric: string) => `g:${metric}:n`,
  truthSum: (metric: string) => `g:${metric}:sum`,
  truthSquares: (metric: string) => `g:${metric}:sq`,
  earlyEvents: 'early',
} as const;

/**
 * Magnitudes a counter takes. Counters are DynamoDB numbers (magnitudes in [1e-130, 1e126)); they hold sums
 * of values and of their squares over an experiment, so a value is kept well inside: event values outside are
 * refused at the request (events.ts), ground-truth values above are left out and those below count as 0.
 */
export const TALLIED_MAGNITUDE = { max: 1e30, min: 1e-30 } as const;

/** Why an event value cannot be counted, or undefined when it can (any metric; see eventValueProblem). */
export function talliedValueProblem(value: number): string | undefined {
  if (!Number.isFinite(value)) return `must be a finite number, got ${value}`;
  const magnitude = Math.abs(value);
  if (magnitude > TALLIED_MAGNITUDE.max || (magnitude !== 0 && magnitude < TALLIED_MAGNITUDE.min)) {
    return `must be 0 or have a magnitude between ${TALLIED_MAGNITUDE.min} and ${TALLIED_MAGNITUDE.max} (sums of values and of their squares are stored), got ${value}`;
  }
  return undefined;
}

/** Adds `delta` into `into` (in place) and returns it. */
export function addDelta(into: TallyDelta, delta: Readonly<TallyDelta>): TallyDelta {
  for (const [name, amount] of Object.entries(delta)) into[name] = (into[name] ?? 0) + amount;
  return into;
}

/**
 * The change one outcome event makes to its arm, given the unit's total for that metric before it
 * (undefined: the unit's first event of that name). A proportion counts the unit once, when its total
 * first turns positive; a mean adds the value to the sum and moves the unit's square from old^2 to new^2,
 * so sumSquares stays the sum of squared per-unit totals however many events a unit has.
 */
export function eventDelta(metric: Pick<MetricDefinition, 'name' | 'kind'>, previousTotal: number | undefined, value: number): TallyDelta {
  const before = previousTotal ?? 0;
  const after = before + value;
  const delta: TallyDelta = { [TALLY.eventCount(metric.name)]: 1 };
  if (metric.kind === 'proportion') {
    if (before <= 0 && after > 0) delta[TALLY.eventUnits(metric.name)] = 1;
    return delta;
  }
  if (previousTotal === undefined) delta[TALLY.eventUnits(metric.name)] = 1;
  delta[TALLY.eventSum(metric.name)] = value;
  delta[TALLY.eventSquares(metric.name)] = after * after - before * before;
  return delta;
}

/** Why an event value does not fit its metric, or undefined when it does. */
export function eventValueProblem(metric: Pick<MetricDefinition, 'name' | 'kind'>, value: number): string | undefined {
  if (metric.kind === 'proportion' && value !== 0 && value !== 1) {
    return `${metric.name} is a proportion metric: value must be 1 (it happened) or 0, got ${value}`;
  }
  return undefined;
}

/**
 * The exposure one logged prediction adds to its arm. `request` mode: the prediction is the unit, and the
 * request (the randomised thing: the alias picks a version per invocation) is counted as 1 / batchRows
 * per row, so a request of k rows adds 1 in total. `unit` mode: the unit counts once, when first exposed.
 */
export function exposureDelta(mode: AssignmentMode, batchRows: number, firstExposureOfUnit: boolean, crossover: boolean): TallyDelta {
  const requests = 1 / Math.max(1, batchRows);
  if (mode === 'request') return { [TALLY.units]: 1, [TALLY.requests]: requests };
  const delta: TallyDelta = { [TALLY.requests]: requests };
  if (firstExposureOfUnit) delta[TALLY.units] = 1;
  if (crossover) delta[TALLY.crossovers] = 1;
  return delta;
}

/** What a labelled prediction adds to the ground-truth metrics of its arm (the ones the experiment reads). */
export function groundTruthDelta(metrics: readonly Pick<MetricDefinition, 'name' | 'source'>[], outputs: RowPrediction, actual: string | number): TallyDelta {
  const delta: TallyDelta = {};
  const add = (name: string, raw: number | undefined) => {
    if (raw === undefined || !Number.isFinite(raw) || Math.abs(raw) > TALLIED_MAGNITUDE.max) return;
    const value = Math.abs(raw) < TALLIED_MAGNITUDE.min ? 0 : raw;
    addDelta(delta, { [TALLY.truthN(name)]: 1, [TALLY.truthSum(name)]: value, [TALLY.truthSquares(name)]: value * value });
  };
  for (const { name, source } of metrics) {
    if (source !== 'ground-truth') continue;
    const predicted = Array.isArray(outputs.value) ? outputs.value[0] : outputs.value;
    switch (name) {
      case 'accuracy':
        if (outputs.label !== undefined) add(name, String(outputs.label) === String(actual) ? 1 : 0);
        break;
      case 'logLoss': {
        const p = outputs.probabilities?.[String(actual)];
        if (typeof p === 'number') add(name, -Math.log(Math.min(Math.max(p, LOG_LOSS_EPSILON), 1 - LOG_LOSS_EPSILON)));
        break;
      }
      case 'absoluteError':
        if (typeof predicted === 'number' && typeof actual === 'number') add(name, Math.abs(actual - predicted));
        break;
      case 'squaredError':
        if (typeof predicted === 'number' && typeof actual === 'number') add(name, (actual - predicted) ** 2);
        break;
    }
  }
  return delta;
}

/** A metric's sufficient statistics in one arm. Event metrics are per exposed unit: a unit without events counts as 0. */
export function metricStats(metric: MetricDefinition, tally: Tally): ArmStats {
  const read = (name: string) => tally[name] ?? 0;
  if (metric.source === 'ground-truth') {
    const n = read(TALLY.truthN(metric.name));
    return metric.kind === 'proportion'
      ? { n, conversions: Math.round(read(TALLY.truthSum(metric.name))) }
      : { n, sum: read(TALLY.truthSum(metric.name)), sumSquares: read(TALLY.truthSquares(metric.name)) };
  }
  const n = read(TALLY.units);
  return metric.kind === 'proportion'
    ? { n, conversions: read(TALLY.eventUnits(metric.name)) }
    : { n, sum: read(TALLY.eventSum(metric.name)), sumSquares: read(TALLY.eventSquares(metric.name)) };
}

/** Sums the counter shards of one arm. */
export function sumTallies(shards: readonly Tally[]): Record<string, number> {
  const total: Record<string, number> = {};
  for (const shard of shards) addDelta(total, shard);
  return total;
}
