// Monitoring windows: what the aggregator keeps per model version and fixed time window (drift aggregates
// of the inputs and predictions, quality statistics of the labelled predictions and, for estimated quality,
// of every prediction's calibrated probabilities), how a batch of the prediction table's stream changes is
// folded into them exactly once, and how the monitor merges them.
import { addRow, addValue, emptyWindowAggregate, mergeWindows, type WindowAggregate } from '../drift/aggregate';
import type { FeatureValue, Manifest } from '../manifest-types';
import type { PredictionRecord } from '../prediction-record';
import type { RowPrediction } from '../tensors';
import { addLabelled, addServed, emptyQuality, mergeQuality, positiveClass, type QualityAggregate } from './quality';

/** Window length: 5 minutes, the resolution of drift and quality over time. */
export const DEFAULT_WINDOW_MINUTES = 5;

/** A prediction item as the table's stream shows it: the logged record, and its label once feedback came. */
export interface LoggedRecord extends PredictionRecord {
  readonly actual?: string | number;
  readonly labeledAt?: string;
}

/** One change of the prediction table, from its stream (NEW_IMAGE). */
export interface StreamChange {
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  /** The stream shard and the record's sequence number in it (a decimal string, increasing within a shard). */
  readonly shardId: string;
  readonly sequenceNumber: string;
  /** The item after the change; absent for REMOVE (TTL expiry). */
  readonly image?: LoggedRecord;
}

export interface MonitoringWindow {
  readonly model: string;
  readonly version: string;
  /** ISO-8601 start of the window; the window is [windowStart, windowStart + windowMinutes). */
  readonly windowStart: string;
  readonly windowMinutes: number;
  predictions: number;
  labels: number;
  /** Changes that could not be counted: inputs that do not fit the baseline (a number feature holding text). */
  skipped: number;
  /** Drift aggregates over the manifest baseline; null when the manifest has no baseline. */
  drift: WindowAggregate | null;
  quality: QualityAggregate;
  /**
   * Per stream shard, the sequence number of the last change folded in. Within a shard, changes arrive
   * in order and one batch at a time, so a change at or below the mark was counted already: a retried
   * batch (or one half of a bisected batch) is not counted twice.
   */
  applied: Record<string, string>;
}

/** A minute in milliseconds. The local runtime's `--time-scale` shortens it (MonitoringConfig.minuteMs). */
export const MINUTE_MS = 60_000;

/** The start of the window holding `timestamp`, windows aligned on the epoch. */
export function windowStartOf(timestamp: string | number | Date, windowMinutes = DEFAULT_WINDOW_MINUTES, minuteMs = MINUTE_MS): string {
  const ms = new Date(timestamp).getTime();
  if (Number.isNaN(ms)) throw new RangeError(`not a time: ${String(timestamp)}`);
  const size = windowMinutes * minuteMs;
  return new Date(Math.floor(ms / size) * size).toISOString();
}

/**
 * The sliding window a monitor run at `at` reads: the newest whole windows covering `minutes`, the window in
 * progress included — `from` is the start of the oldest of them, `count` how many there are.
 */
export function slidingWindow(at: number, minutes: number, windowMinutes = DEFAULT_WINDOW_MINUTES, minuteMs = MINUTE_MS): { from: string; count: number } {
  const count = Math.max(1, Math.ceil(minutes / windowMinutes));
  const current = Date.parse(windowStartOf(at, windowMinutes, minuteMs));
  return { from: new Date(current - (count - 1) * windowMinutes * minuteMs).toISOString(), count };
}

/** The features a window aggregates: the baseline's, less the ones the log never stores (redacted). */
export function monitoredFeatures(manifest: Manifest): string[] {
  const redacted = new Set(manifest.logging?.redact ?? []);
  return Object.keys(manifest.baseline?.features ?? {}).filter((name) => !redacted.has(name));
}

export function emptyWindow(manifest: Manifest, windowStart: string, windowMinutes = DEFAULT_WINDOW_MINUTES): MonitoringWindow {
  return {
    model: manifest.name,
    version: manifest.version,
    windowStart,
    windowMinutes,
    predictions: 0,
    labels: 0,
    skipped: 0,
    drift: manifest.baseline ? emptyWindowAggregate(manifest.baseline, monitoredFeatures(manifest)) : null,
    quality: emptyQuality(manifest),
    applied: {},
  };
}

/**
 * The value of a prediction that the baseline's prediction distribution describes: the positive-class
 * probability of a binary classifier, the label of a multiclass one, the (first) value of a regression.
 */
export function predictionValue(manifest: Manifest, outputs: RowPrediction): FeatureValue | null {
  if (manifest.task === 'regression') {
    const value = Array.isArray(outputs.value) ? outputs.value[0] : outputs.value;
    return typeof value === 'number' ? value : null;
  }
  if (manifest.task === 'binary-classification') {
    const p = outputs.probabilities?.[positiveClass(manifest)];
    return typeof p === 'number' ? p : null;
  }
  return outputs.label ?? null;
}

/** Which window of which model version a change belongs to: the window of the prediction's own time. */
export function windowKeyOf(
  change: StreamChange,
  windowMinutes = DEFAULT_WINDOW_MINUTES,
  minuteMs = MINUTE_MS,
): { model: string; version: string; windowStart: string } | undefined {
  const image = change.image;
  if (change.eventName === 'REMOVE' || !image || typeof image.timestamp !== 'string') return undefined;
  return { model: image.model, version: image.version, windowStart: windowStartOf(image.timestamp, windowMinutes, minuteMs) };
}

/**
 * Folds a window's changes into it (in place) and returns how many changes counted. An INSERT counts the
 * prediction (its inputs, when they were sampled, and its output) into the drift aggregates, and its
 * probabilities into the statistics of estimated quality; a change
 * whose item carries a label counts it into the quality statistics — a label arrives as the MODIFY that
 * feedback makes, once per prediction (the label is written under a condition). Changes at or below the
 * shard's mark are skipped (see `applied`).
 */
export function foldChanges(window: MonitoringWindow, changes: readonly StreamChange[], manifest: Manifest): number {
  let counted = 0;
  for (const change of changes) {
    const mark = window.applied[change.shardId];
    if (mark !== undefined && compareSequenceNumbers(change.sequenceNumber, mark) <= 0) continue;
    window.applied[change.shardId] = change.sequenceNumber;
    const image = change.image;
    if (!image || change.eventName === 'REMOVE') continue;
    // A record the aggregates cannot take must not fail the batch forever (Lambda would retry it until it
    // expires, holding up the shard): it is counted as skipped instead.
    if (!fitsBaseline(manifest, image)) {
      window.skipped++;
      continue;
    }
    counted++;
    if (change.eventName === 'INSERT') {
      window.predictions++;
      addServed(window.quality, manifest, image.outputs);
      if (window.drift && manifest.baseline) {
        const prediction = predictionValue(manifest, image.outputs);
        if (image.inputs) addRow(window.drift, manifest.baseline, image.inputs, prediction);
        else if (window.drift.prediction && manifest.baseline.prediction) addValue(window.drift.prediction, manifest.baseline.prediction, prediction);
      }
    }
    if (image.actual !== undefined && image.actual !== null) {
      window.labels++;
      addLabelled(window.quality, manifest, image.outputs, image.actual);
    }
  }
  return counted;
}

/** Whether a record's inputs can be counted: numeric baseline features hold finite numbers (or nothing). */
export function fitsBaseline(manifest: Manifest, record: LoggedRecord): boolean {
  const features = manifest.baseline?.features ?? {};
  for (const [name, value] of Object.entries(record.inputs ?? {})) {
    const baseline = Object.hasOwn(features, name) ? features[name] : undefined;
    if (baseline?.kind === 'numeric' && value !== null && value !== undefined && !(typeof value === 'number' && Number.isFinite(value))) return false;
  }
  const prediction = manifest.baseline?.prediction;
  const output = predictionValue(manifest, record.outputs);
  return !(prediction?.kind === 'numeric' && output !== null && !(typeof output === 'number' && Number.isFinite(output)));
}

/** Orders two stream sequence numbers (decimal strings of up to 40 digits). */
export function compareSequenceNumbers(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Several windows of one model version merged: the monitor's period. */
export interface MergedWindows {
  readonly predictions: number;
  readonly labels: number;
  readonly skipped: number;
  readonly drift: WindowAggregate | null;
  readonly quality: QualityAggregate;
  readonly windows: number;
}

export function mergeMonitoringWindows(manifest: Manifest, windows: readonly MonitoringWindow[]): MergedWindows {
  let drift: WindowAggregate | null = manifest.baseline ? emptyWindowAggregate(manifest.baseline, monitoredFeatures(manifest)) : null;
  let quality = emptyQuality(manifest);
  let predictions = 0;
  let labels = 0;
  let skipped = 0;
  for (const window of windows) {
    predictions += window.predictions;
    labels += window.labels;
    skipped += window.skipped ?? 0;
    if (drift && window.drift) drift = mergeWindows(drift, window.drift);
    quality = mergeQuality(quality, window.quality);
  }
  return { predictions, labels, skipped, drift, quality, windows: windows.length };
}
