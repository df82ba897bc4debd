// Batch scoring of one chunk of a job's input: its rows (./rows.ts: CSV cells cut from the bytes, JSON Lines
// records) validated feature by feature with the serving validation and written straight into the model's input
// tensors (no row objects in between), the session run, the outputs decoded by the serving decoder.
import type { BatchFormat } from '../../contracts/batch-job';
import { parseCell } from '../csv-instances';
import { addValue, emptyWindowAggregate, own, type FeatureAggregate, type WindowAggregate } from '../drift/aggregate';
import type { DistributionBaseline, FeatureSpec, FeatureValue, Manifest } from '../manifest';
import { monitoredFeatures, predictionValue } from '../monitoring/window';
import { featureValue, rowShape, type Row } from '../request';
import {
  allocateFeeds,
  checkFinitePredictions,
  decodePredictions,
  feedSlots,
  nonFiniteOutput,
  padFeeds,
  sliceFeeds,
  writeValue,
  type FeedSlot,
  type Feeds,
  type RowPrediction,
  type TensorData,
  ModelOutputError,
} from '../tensors';
import { ValidationError } from '../errors';
import type { BatchColumn, RowSource } from './rows';

/** A row that was not scored: its 1-based row number, the field at fault and why. */
export interface Rejection {
  readonly row: number;
  readonly id?: string | number;
  readonly field: string;
  readonly reason: string;
}

/** The rows of a batch that passed validation, in their tensors, and the ones that did not. */
export interface EncodedBatch {
  readonly feeds: Feeds;
  /** Rows written into the feeds (the rest of the feeds, if any, is padding or unused). */
  readonly rows: number;
  /** Rows the feeds were allocated for. */
  readonly capacity: number;
  /** Per encoded row: its 1-based row number and its id (the id column's value, else the row number). */
  readonly rowNumbers: Int32Array;
  readonly ids: readonly (string | number)[];
  readonly rejected: Rejection[];
  /** Counts of the encoded rows' features against the baseline (predictions are added after scoring). */
  readonly drift: WindowAggregate | null;
}

export interface BatchOptions {
  readonly format: BatchFormat;
  readonly idColumn?: string;
}

interface FeaturePlan {
  readonly feature: FeatureSpec;
  readonly slots: readonly FeedSlot[];
  readonly float32Input: string | undefined;
  /** The drift aggregate the feature's values are counted into, with its baseline. */
  readonly drift?: { readonly aggregate: FeatureAggregate; readonly baseline: DistributionBaseline };
}

/** The columns a batch reads of its rows: the features in the manifest's order, then the id column. */
export function batchColumns(manifest: Manifest, idColumn: string | undefined): BatchColumn[] {
  return [
    ...manifest.features.map((f) => ({ name: f.name, numeric: f.type === 'number' || f.type === 'integer' })),
    ...(idColumn !== undefined ? [{ name: idColumn, numeric: false }] : []),
  ];
}

/**
 * Validates the rows into the model's input tensors. A value that is missing, of the wrong type, out of range
 * or not a category rejects its row (every problem of the row is reported); other rows go on. `rows` reads the
 * columns of {@link batchColumns}.
 */
export function encodeBatch(manifest: Manifest, rows: RowSource, options: BatchOptions): EncodedBatch {
  const fixed = manifest.batchSize;
  const capacity = fixed === undefined ? Math.max(1, rows.length) : Math.max(1, Math.ceil(rows.length / fixed)) * fixed;
  const feeds = allocateFeeds(manifest, capacity);
  const slots = feedSlots(manifest, feeds);
  const shape = rowShape(manifest);
  const drift = manifest.baseline ? emptyWindowAggregate(manifest.baseline, monitoredFeatures(manifest)) : null;
  const plans: FeaturePlan[] = manifest.features.map((feature) => {
    const aggregate = drift ? own(drift.features, feature.name) : undefined;
    const baseline = manifest.baseline ? own(manifest.baseline.features, feature.name) : undefined;
    return {
      feature,
      slots: slots.get(feature.name) ?? [],
      float32Input: shape.float32Inputs.get(feature.name),
      ...(aggregate && baseline ? { drift: { aggregate, baseline } } : {}),
    };
  });
  const csv = options.format === 'csv';
  const cells: unknown[] = new Array(plans.length + (options.idColumn !== undefined ? 1 : 0));
  const values: (FeatureValue | null)[] = new Array(plans.length);
  const rowNumbers = new Int32Array(rows.length);
  const ids: (string | number)[] = [];
  const rejected: Rejection[] = [];
  // A categorical feature's values are tallied and counted into its aggregate once per value at the end: a chunk
  // repeats a few categories thousands of times.
  const tallies = plans.map((plan) => (plan.drift?.baseline.kind === 'categorical' ? new Map<FeatureValue | null, number>() : undefined));
  const memos = plans.map(() => new Map<string, FeatureValue | null | { problem: string }>());
  let encoded = 0;
  for (let r = 0; r < rows.length; r++) {
    const rowNumber = rows.firstRow + r;
    const notARecord = rows.read(r, cells);
    if (notARecord !== undefined) {
      rejected.push({ row: rowNumber, field: '(row)', reason: notARecord });
      continue;
    }
    let id: string | number = rowNumber;
    let problems: { field: string; reason: string }[] | undefined;
    if (options.idColumn !== undefined) {
      const value = cells[plans.length];
      if (typeof value === 'string' && value !== '') id = value;
      else if (typeof value === 'number' && Number.isFinite(value)) id = value;
      else (problems ??= []).push({ field: options.idColumn, reason: 'is the id column and must be a non-empty string or a number' });
    }
    for (let f = 0; f < plans.length; f++) {
      const { feature, float32Input } = plans[f] as FeaturePlan;
      const cell = cells[f];
      // A text cell's verdict is remembered per feature (a category column repeats a few values): the same text,
      // the same value or problem.
      const memo = typeof cell === 'string' ? memos[f] : undefined;
      let value = memo?.get(cell as string);
      if (value === undefined) {
        value = cellValue(feature, cell, csv, float32Input);
        if (memo !== undefined && memo.size < MEMO_LIMIT) memo.set(cell as string, value);
      }
      if (typeof value === 'object' && value !== null) (problems ??= []).push({ field: feature.name, reason: value.problem });
      else values[f] = value;
    }
    if (problems !== undefined) {
      for (const problem of problems) rejected.push({ row: rowNumber, ...(options.idColumn !== undefined && id !== rowNumber ? { id } : {}), ...problem });
      continue;
    }
    for (let f = 0; f < plans.length; f++) {
      const plan = plans[f] as FeaturePlan;
      const value = values[f] as FeatureValue | null;
      const slots = plan.slots;
      for (let k = 0; k < slots.length; k++) writeValue(slots[k] as FeedSlot, encoded, value);
      const tally = tallies[f];
      if (tally !== undefined) tally.set(value, (tally.get(value) ?? 0) + 1);
      else if (plan.drift) addValue(plan.drift.aggregate, plan.drift.baseline, value);
    }
    rowNumbers[encoded] = rowNumber;
    ids.push(id);
    encoded++;
  }
  tallies.forEach((tally, f) => {
    const drift = (plans[f] as FeaturePlan).drift;
    if (tally !== undefined && drift !== undefined) for (const [value, times] of tally) addValue(drift.aggregate, drift.baseline, value, times);
  });
  return { feeds, rows: encoded, capacity, rowNumbers: rowNumbers.subarray(0, encoded), ids, rejected, drift };
}

/** Texts a feature's verdicts are remembered for, at most: a category column has a few; an id-like column stops being remembered. */
const MEMO_LIMIT = 256;

/** One cell validated as the serving path validates a value; a CSV cell is text read as the feature's type first. */
function cellValue(feature: FeatureSpec, cell: unknown, csv: boolean, float32Input: string | undefined): FeatureValue | null | { problem: string } {
  let raw = cell;
  if (csv && typeof raw === 'string') {
    // A blank cell is a missing value, as an empty one (Number(' ') would read it as 0).
    if (raw.trim() === '') raw = undefined;
    else {
      const parsed = parseCell(feature, raw);
      if (typeof parsed === 'object') return parsed;
      raw = parsed;
    }
  }
  return featureValue(feature, raw, float32Input);
}

/** Runs the session on prepared feeds (LoadedModel.run of the serving adapter). */
export type RunModel = (feeds: Feeds) => Promise<Record<string, TensorData>>;

/** The scored rows of a batch, decoded, and what was rejected. */
export interface ScoredBatch {
  readonly predictions: RowPrediction[];
  readonly rowNumbers: Int32Array;
  readonly ids: readonly (string | number)[];
  readonly rejected: readonly Rejection[];
  readonly drift: WindowAggregate | null;
}

/**
 * Scores the encoded rows: one run of all of them when the batch dimension is free, runs of the fixed size
 * (the last padded) otherwise. A row the model answers with NaN or Infinity is rejected with the serving
 * path's reason (a feature far outside the training data, or the model's own failure).
 */
export async function scoreBatch(manifest: Manifest, run: RunModel, rows: RowSource, options: BatchOptions): Promise<ScoredBatch> {
  const encoded = encodeBatch(manifest, rows, options);
  const { feeds, rows: count } = encoded;
  let predictions: RowPrediction[] = [];
  if (count > 0) {
    const size = manifest.batchSize ?? count;
    if (manifest.batchSize !== undefined && count % size !== 0) padFeeds(feeds, count - 1, count, Math.ceil(count / size) * size);
    for (let start = 0; start < count; start += size) {
      // The allocated feeds are used as they are when the run fills them exactly; else a view of the rows run.
      const chunkFeeds = start === 0 && size === encoded.capacity ? feeds : sliceFeeds(feeds, start, size);
      const real = Math.min(size, count - start);
      const decoded = decodePredictions(manifest, await run(chunkFeeds), real);
      predictions = predictions.length === 0 ? decoded : predictions.concat(decoded);
    }
  }
  const rejected = [...encoded.rejected];
  let rowNumbers = encoded.rowNumbers;
  let ids = encoded.ids;
  if (predictions.some((p) => nonFiniteOutput(p) !== undefined)) {
    const keep: number[] = [];
    predictions.forEach((prediction, r) => {
      if (nonFiniteOutput(prediction) === undefined) keep.push(r);
      else
        rejected.push({
          row: rowNumbers[r] as number,
          field: '(model)',
          reason: nonFiniteReason(manifest, rows, (rowNumbers[r] as number) - rows.firstRow, prediction, options),
        });
    });
    predictions = keep.map((r) => predictions[r] as RowPrediction);
    rowNumbers = Int32Array.from(keep, (r) => rowNumbers[r] as number);
    ids = keep.map((r) => ids[r] as string | number);
  }
  const drift = encoded.drift;
  if (drift?.prediction && manifest.baseline?.prediction) {
    for (const prediction of predictions) addValue(drift.prediction, manifest.baseline.prediction, predictionValue(manifest, prediction));
  }
  rejected.sort((a, b) => a.row - b.row);
  return { predictions, rowNumbers, ids, rejected, drift };
}

/** The serving path's words for a row answered with NaN or Infinity (tensors.ts checkFinitePredictions). */
function nonFiniteReason(manifest: Manifest, rows: RowSource, r: number, prediction: RowPrediction, options: BatchOptions): string {
  const cells: unknown[] = new Array(batchColumns(manifest, options.idColumn).length);
  rows.read(r, cells);
  const row: Row = {};
  manifest.features.forEach((feature, f) => {
    const value = cellValue(feature, cells[f], options.format === 'csv', undefined);
    row[feature.name] = typeof value === 'object' ? null : value;
  });
  try {
    checkFinitePredictions(manifest, [row], [prediction]);
  } catch (error) {
    if (error instanceof ValidationError) return error.issues[0]?.reason ?? error.message;
    if (error instanceof ModelOutputError) return `the model answered ${nonFiniteOutput(prediction)} for inputs inside its training data`;
    throw error;
  }
  return `the model answered ${nonFiniteOutput(prediction)}`;
}
