import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseEmfLine, type MetricDatum } from './emf';

/** CloudWatch's statistics, and its percentiles as `p50`, `p99`, `p99.9`. */
export type Statistic = 'Sum' | 'Average' | 'Minimum' | 'Maximum' | 'SampleCount' | `p${number}`;

export interface MetricIdentity {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

export interface MetricQuery extends MetricIdentity {
  readonly statistic: Statistic;
  /** Seconds; a positive multiple of 60 (the store keeps 1-minute resolution). */
  readonly period: number;
  /** Epoch ms or Date; inclusive, rounded down to the minute as CloudWatch does; periods count from it. */
  readonly start: number | Date;
  /** Epoch ms or Date; exclusive. */
  readonly end: number | Date;
}

export interface Datapoint {
  /** Start of the period, epoch ms. */
  readonly timestamp: number;
  readonly value: number;
  readonly sampleCount: number;
  readonly unit?: string;
}

export interface MetricStoreOptions {
  /** Where snapshots go (JSON); without it nothing persists. */
  readonly snapshotFile?: string;
  /** How long datapoints are kept. @default 24 h */
  readonly retentionMs?: number;
  /** Raw values kept per series-minute for exact percentiles. @default 500 */
  readonly rawValuesPerMinute?: number;
  /** Raw values older than this are dropped (the histogram remains). @default 1 h */
  readonly rawRetentionMs?: number;
  /**
   * How long a minute lasts, in ms: the store's resolution, and the unit of periods and retention. The
   * runtime's `--time-scale` shortens it (60000 / scale), so a 5-minute period lasts 5 s at scale 60.
   * @default 60000
   */
  readonly minuteMs?: number;
  /** Clock (tests). @default Date.now */
  readonly now?: () => number;
  /** Called with every datum the store keeps (the Prometheus totals count them: local/prometheus/totals.ts). */
  readonly onDatum?: (datum: MetricDatum) => void;
}

const MINUTE_MS = 60_000;
/** Histogram bins are (gamma^(i-1), gamma^i]: any value within RELATIVE_ACCURACY of its bin's representative. */
const RELATIVE_ACCURACY = 0.005;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const LOG_GAMMA = Math.log(GAMMA);
const SNAPSHOT_VERSION = 1;

/**
 * One series-minute: the aggregates CloudWatch keeps (sum, count, min, max), every value while there are
 * few (exact percentiles) and a log-scale histogram always (percentiles within 0.5% relative error once
 * the raw values are capped or aged out).
 */
interface Bucket {
  sum: number;
  count: number;
  min: number;
  max: number;
  raw: number[] | undefined;
  readonly positive: Map<number, number>;
  readonly negative: Map<number, number>;
  zeros: number;
}

interface Series extends MetricIdentity {
  unit?: string;
  /** By minute start (epoch ms). */
  readonly buckets: Map<number, Bucket>;
}

interface SnapshotBucket {
  t: number;
  sum: number;
  count: number;
  min: number;
  max: number;
  raw?: number[];
  pos?: [number, number][];
  neg?: [number, number][];
  zeros?: number;
}

interface Snapshot {
  version: number;
  savedAt: string;
  /** The minute the buckets were kept in (absent: 60000): a snapshot taken under another time scale is not read. */
  minuteMs?: number;
  series: (MetricIdentity & { unit?: string; buckets: SnapshotBucket[] })[];
}

/** `p99` -> 99, `p99.9` -> 99.9; undefined for the other statistics. */
export function percentileOf(statistic: string): number | undefined {
  const match = /^p(\d{1,2}(?:\.\d+)?|100)$/.exec(statistic);
  return match ? Number(match[1]) : undefined;
}

export function isStatistic(value: string): value is Statistic {
  return ['Sum', 'Average', 'Minimum', 'Maximum', 'SampleCount'].includes(value) || percentileOf(value) !== undefined;
}

function seriesKey(namespace: string, metricName: string, dimensions: Readonly<Record<string, string>>): string {
  const sorted = Object.keys(dimensions)
    .sort()
    .map((k) => [k, dimensions[k]]);
  return JSON.stringify([namespace, metricName, sorted]);
}

function binOf(value: number): number {
  return Math.ceil(Math.log(value) / LOG_GAMMA);
}

function representative(bin: number): number {
  return (2 * GAMMA ** bin) / (GAMMA + 1);
}

/**
 * CloudWatch metrics on one machine: EMF lines in, GetMetricStatistics-style queries out. A query names
 * the exact dimension set (CloudWatch treats each dimension combination as its own metric); datapoints
 * are per period, counted from the start rounded down to the minute, and periods without data are absent,
 * as in CloudWatch. Percentiles are nearest-rank: the smallest value with at least p% of the values at or
 * below it.
 */
export class LocalMetricStore {
  private readonly series = new Map<string, Series>();
  private readonly retentionMs: number;
  private readonly rawValuesPerMinute: number;
  private readonly rawRetentionMs: number;
  /** The length of a minute in ms (the time scale's). */
  readonly minuteMs: number;
  private readonly now: () => number;
  private lastPrunedMinute = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: MetricStoreOptions = {}) {
    this.minuteMs = options.minuteMs ?? MINUTE_MS;
    this.retentionMs = options.retentionMs ?? 24 * 60 * this.minuteMs;
    this.rawValuesPerMinute = options.rawValuesPerMinute ?? 500;
    this.rawRetentionMs = options.rawRetentionMs ?? 60 * this.minuteMs;
    this.now = options.now ?? Date.now;
    if (options.snapshotFile && existsSync(options.snapshotFile)) this.restore(options.snapshotFile);
  }

  /** Takes a function's log line: stores its metrics and returns true when it is EMF. */
  ingestLine(line: string): boolean {
    const data = parseEmfLine(line);
    if (data === undefined) return false;
    for (const datum of data) this.put(datum);
    return true;
  }

  put(datum: MetricDatum): void {
    const now = this.now();
    this.pruneIfNewMinute(now);
    if (datum.timestamp < now - this.retentionMs) return;
    this.options.onDatum?.(datum);
    const key = seriesKey(datum.namespace, datum.metricName, datum.dimensions);
    let series = this.series.get(key);
    if (!series) {
      series = { namespace: datum.namespace, metricName: datum.metricName, dimensions: { ...datum.dimensions }, buckets: new Map() };
      this.series.set(key, series);
    }
    if (datum.unit !== undefined) series.unit = datum.unit;
    const minute = Math.floor(datum.timestamp / this.minuteMs) * this.minuteMs;
    let bucket = series.buckets.get(minute);
    if (!bucket) {
      bucket = { sum: 0, count: 0, min: Infinity, max: -Infinity, raw: [], positive: new Map(), negative: new Map(), zeros: 0 };
      series.buckets.set(minute, bucket);
    }
    for (const value of datum.values) {
      bucket.sum += value;
      bucket.count += 1;
      bucket.min = Math.min(bucket.min, value);
      bucket.max = Math.max(bucket.max, value);
      if (bucket.raw) {
        if (bucket.raw.length < this.rawValuesPerMinute) bucket.raw.push(value);
        else bucket.raw = undefined;
      }
      if (value === 0) bucket.zeros += 1;
      else {
        const bins = value > 0 ? bucket.positive : bucket.negative;
        const bin = binOf(Math.abs(value));
        bins.set(bin, (bins.get(bin) ?? 0) + 1);
      }
    }
  }

  /** ListMetrics: every stored metric whose dimensions include the filter's (a partial match, as the API). */
  listMetrics(filter: { namespace?: string; metricName?: string; dimensions?: Readonly<Record<string, string>> } = {}): MetricIdentity[] {
    return [...this.series.values()]
      .filter((s) => filter.namespace === undefined || s.namespace === filter.namespace)
      .filter((s) => filter.metricName === undefined || s.metricName === filter.metricName)
      .filter((s) => Object.entries(filter.dimensions ?? {}).every(([k, v]) => s.dimensions[k] === v))
      .map(({ namespace, metricName, dimensions }) => ({ namespace, metricName, dimensions }));
  }

  /** GetMetricStatistics for one statistic: one datapoint per period that has data, oldest first. */
  query(query: MetricQuery): Datapoint[] {
    if (!isStatistic(query.statistic)) throw new RangeError(`unsupported statistic: ${query.statistic} (Sum, Average, Minimum, Maximum, SampleCount or pNN)`);
    if (!(Number.isInteger(query.period) && query.period > 0 && query.period % 60 === 0)) {
      throw new RangeError(`period must be a positive multiple of 60 seconds (the local store keeps 1-minute resolution), got: ${query.period}`);
    }
    const series = this.series.get(seriesKey(query.namespace, query.metricName, query.dimensions));
    if (!series) return [];
    const periodMs = (query.period / 60) * this.minuteMs;
    const start = Math.floor(+query.start / this.minuteMs) * this.minuteMs;
    const end = +query.end;
    const periods = new Map<number, Bucket[]>();
    for (const [minute, bucket] of series.buckets) {
      if (minute < start || minute >= end) continue;
      const period = start + Math.floor((minute - start) / periodMs) * periodMs;
      const list = periods.get(period);
      if (list) list.push(bucket);
      else periods.set(period, [bucket]);
    }
    return [...periods.entries()]
      .sort(([a], [b]) => a - b)
      .map(([timestamp, buckets]) => ({
        timestamp,
        value: statisticOf(query.statistic, buckets),
        sampleCount: buckets.reduce((n, b) => n + b.count, 0),
        ...(series.unit !== undefined ? { unit: series.unit } : {}),
      }));
  }

  /** Writes a snapshot now (atomically: a crash mid-write keeps the previous one). */
  save(): void {
    const file = this.options.snapshotFile;
    if (!file) return;
    this.prune(this.now());
    const snapshot: Snapshot = {
      version: SNAPSHOT_VERSION,
      savedAt: new Date(this.now()).toISOString(),
      minuteMs: this.minuteMs,
      series: [...this.series.values()].map((s) => ({
        namespace: s.namespace,
        metricName: s.metricName,
        dimensions: s.dimensions,
        ...(s.unit !== undefined ? { unit: s.unit } : {}),
        buckets: [...s.buckets.entries()].map(([t, b]) => ({
          t,
          sum: b.sum,
          count: b.count,
          min: b.min,
          max: b.max,
          ...(b.raw ? { raw: b.raw } : {}),
          ...(b.positive.size > 0 ? { pos: [...b.positive.entries()] } : {}),
          ...(b.negative.size > 0 ? { neg: [...b.negative.entries()] } : {}),
          ...(b.zeros > 0 ? { zeros: b.zeros } : {}),
        })),
      })),
    };
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, JSON.stringify(snapshot));
    renameSync(`${file}.tmp`, file);
  }

  /** Saves a snapshot every `intervalMs` (default a minute of the wall clock, whatever the time scale) until close(). */
  startSnapshots(intervalMs = MINUTE_MS): void {
    this.timer ??= setInterval(() => this.save(), intervalMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.save();
  }

  private restore(file: string): void {
    let snapshot: Snapshot;
    try {
      snapshot = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
    } catch (error) {
      console.warn(`local metrics: ignoring unreadable snapshot ${file}: ${(error as Error).message}`);
      return;
    }
    if (snapshot.version !== SNAPSHOT_VERSION) return;
    if ((snapshot.minuteMs ?? MINUTE_MS) !== this.minuteMs) {
      console.warn(`local metrics: not reading ${file}: it was kept at another time scale (minutes of ${snapshot.minuteMs} ms, now ${this.minuteMs} ms)`);
      return;
    }
    for (const s of snapshot.series) {
      const buckets = new Map<number, Bucket>(
        s.buckets.map((b) => [
          b.t,
          { sum: b.sum, count: b.count, min: b.min, max: b.max, raw: b.raw, positive: new Map(b.pos ?? []), negative: new Map(b.neg ?? []), zeros: b.zeros ?? 0 },
        ]),
      );
      this.series.set(seriesKey(s.namespace, s.metricName, s.dimensions), {
        namespace: s.namespace,
        metricName: s.metricName,
        dimensions: s.dimensions,
        ...(s.unit !== undefined ? { unit: s.unit } : {}),
        buckets,
      });
    }
    this.prune(this.now());
  }

  private pruneIfNewMinute(now: number): void {
    const minute = Math.floor(now / this.minuteMs);
    if (minute === this.lastPrunedMinute) return;
    this.lastPrunedMinute = minute;
    this.prune(now);
  }

  private prune(now: number): void {
    for (const [key, series] of this.series) {
      for (const [minute, bucket] of series.buckets) {
        if (minute < now - this.retentionMs) series.buckets.delete(minute);
        else if (minute < now - this.rawRetentionMs) bucket.raw = undefined;
      }
      if (series.buckets.size === 0) this.series.delete(key);
    }
  }
}

function statisticOf(statistic: Statistic, buckets: readonly Bucket[]): number {
  const count = buckets.reduce((n, b) => n + b.count, 0);
  const sum = buckets.reduce((n, b) => n + b.sum, 0);
  switch (statistic) {
    case 'Sum':
      return sum;
    case 'SampleCount':
      return count;
    case 'Average':
      return sum / count;
    case 'Minimum':
      return Math.min(...buckets.map((b) => b.min));
    case 'Maximum':
      return Math.max(...buckets.map((b) => b.max));
    default:
      return percentile(percentileOf(statistic) as number, buckets, count);
  }
}

/** Nearest-rank percentile: exact while every bucket still has its raw values, else from the histograms. */
function percentile(p: number, buckets: readonly Bucket[], count: number): number {
  const min = Math.min(...buckets.map((b) => b.min));
  const max = Math.max(...buckets.map((b) => b.max));
  const rank = Math.max(1, Math.ceil((p / 100) * count));
  // The extremes are known exactly, whatever the histogram's resolution.
  if (rank === 1) return min;
  if (rank === count) return max;
  if (buckets.every((b) => b.raw !== undefined)) {
    const values = buckets.flatMap((b) => b.raw as number[]).sort((a, b) => a - b);
    return values[rank - 1] as number;
  }
  const negative = mergeBins(buckets, (b) => b.negative);
  const positive = mergeBins(buckets, (b) => b.positive);
  const zeros = buckets.reduce((n, b) => n + b.zeros, 0);
  let seen = 0;
  const clamp = (value: number) => Math.min(max, Math.max(min, value));
  for (const [bin, n] of [...negative.entries()].sort(([a], [b]) => b - a)) {
    seen += n;
    if (seen >= rank) return clamp(-representative(bin));
  }
  seen += zeros;
  if (seen >= rank) return clamp(0);
  for (const [bin, n] of [...positive.entries()].sort(([a], [b]) => a - b)) {
    seen += n;
    if (seen >= rank) return clamp(representative(bin));
  }
  return max;
}

function mergeBins(buckets: readonly Bucket[], bins: (b: Bucket) => Map<number, number>): Map<number, number> {
  const merged = new Map<number, number>();
  for (const bucket of buckets) for (const [bin, n] of bins(bucket)) merged.set(bin, (merged.get(bin) ?? 0) + n);
  return merged;
}
