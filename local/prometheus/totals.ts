// What a Prometheus scrape reads: totals since the runtime started, never pruned. The metric store answers
// CloudWatch-style queries over its retention window, so a sum over it goes down as minutes age out; a
// Prometheus counter must not (a restart is the one reset Prometheus expects). Fed with every datum the
// store keeps and with every request the local API answered through a function.
import type { MetricDatum } from '../emf';

/**
 * Histogram bounds in seconds for every duration: Prometheus client libraries' defaults below a second (a
 * model runs in a few milliseconds; a cold start takes a second or more), with 1 ms and 2.5 ms added at the
 * bottom where warm inference lands.
 */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * How many of a CloudWatch time unit make a second (undefined for the other units). Values are divided by
 * it, not multiplied by its inverse: 5 / 1000 is exactly the double nearest 0.005, the bound, so a 5 ms
 * value lands in the 0.005 s bucket.
 */
export function unitsPerSecond(unit: string | undefined): number | undefined {
  return unit === 'Seconds' ? 1 : unit === 'Milliseconds' ? 1e3 : unit === 'Microseconds' ? 1e6 : undefined;
}

export interface Distribution {
  readonly count: number;
  /** In the series' own unit (seconds for request durations). */
  readonly sum: number;
  /** Values at or below each of DURATION_BUCKETS_SECONDS (cumulative); only for durations. */
  readonly buckets?: readonly number[];
}

export interface SeriesTotal extends Distribution {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly unit?: string;
  /** The value with the latest timestamp (a gauge's reading). */
  readonly last: number;
}

export interface ServedRequest {
  readonly functionName: string;
  /** The function version that ran (Lambda's ExecutedVersion). */
  readonly executedVersion: string;
  /** `POST /v1/models/{model}/predict`: the API's resource, not the path (which names the model). */
  readonly route: string;
  readonly statusCode: number;
  readonly seconds: number;
}

export interface RequestTotal extends Omit<ServedRequest, 'seconds'>, Required<Distribution> {}

interface MutableDistribution {
  count: number;
  sum: number;
  buckets: number[] | undefined;
}

interface MutableSeries extends MutableDistribution {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  unit: string | undefined;
  last: number;
  lastTimestamp: number;
}

export class MetricTotals {
  private readonly seriesByKey = new Map<string, MutableSeries>();
  private readonly requestsByKey = new Map<string, MutableDistribution & Omit<ServedRequest, 'seconds'>>();

  /** A datum the metric store kept (its `onDatum`). */
  readonly add = (datum: MetricDatum): void => {
    const key = JSON.stringify([datum.namespace, datum.metricName, Object.entries(datum.dimensions).sort(([a], [b]) => a.localeCompare(b))]);
    let series = this.seriesByKey.get(key);
    if (!series) {
      series = { ...datum, unit: datum.unit, count: 0, sum: 0, buckets: undefined, last: 0, lastTimestamp: -Infinity };
      this.seriesByKey.set(key, series);
    }
    if (datum.unit !== undefined) series.unit = datum.unit;
    const perSecond = unitsPerSecond(series.unit);
    for (const value of datum.values) observe(series, value, perSecond);
    if (datum.timestamp >= series.lastTimestamp) {
      series.last = datum.values[datum.values.length - 1] as number;
      series.lastTimestamp = datum.timestamp;
    }
  };

  /** A request the local API answered with a function's response (its `onServed`). */
  readonly addRequest = (served: ServedRequest): void => {
    const key = JSON.stringify([served.functionName, served.executedVersion, served.route, served.statusCode]);
    let total = this.requestsByKey.get(key);
    if (!total) {
      const { seconds: _seconds, ...identity } = served;
      total = { ...identity, count: 0, sum: 0, buckets: undefined };
      this.requestsByKey.set(key, total);
    }
    observe(total, served.seconds, 1);
  };

  series(): SeriesTotal[] {
    return [...this.seriesByKey.values()].map(({ lastTimestamp: _timestamp, buckets, unit, ...series }) => ({
      ...series,
      ...(unit !== undefined ? { unit } : {}),
      ...(buckets ? { buckets: [...buckets] } : {}),
    }));
  }

  requests(): RequestTotal[] {
    return [...this.requestsByKey.values()].map((total) => ({ ...total, buckets: [...(total.buckets ?? DURATION_BUCKETS_SECONDS.map(() => 0))] }));
  }
}

/** Counts a value; `perSecond` set: a duration, also counted into the buckets it falls at or below. */
function observe(distribution: MutableDistribution, value: number, perSecond: number | undefined): void {
  distribution.count += 1;
  distribution.sum += value;
  if (perSecond === undefined) return;
  distribution.buckets ??= DURATION_BUCKETS_SECONDS.map(() => 0);
  const seconds = value / perSecond;
  for (let i = 0; i < DURATION_BUCKETS_SECONDS.length; i++)
    if (seconds <= (DURATION_BUCKETS_SECONDS[i] as number)) distribution.buckets[i] = (distribution.buckets[i] as number) + 1;
}
