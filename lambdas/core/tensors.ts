import type { FeatureValue, Manifest, TensorDtype } from './manifest';
import { ValidationError } from './errors';
import type { Row } from './request';

export type TensorValues = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | string[] | boolean[];

/** A tensor as plain data: what the runtime adapter turns into an onnxruntime tensor and back. */
export interface TensorData {
  readonly dtype: string;
  readonly dims: readonly number[];
  readonly data: TensorValues;
}

export type Feeds = Record<string, TensorData>;

/** One model run: the feeds and how many of their rows are real (the rest pad a fixed batch size). */
export interface Chunk {
  readonly feeds: Feeds;
  readonly rows: number;
}

/**
 * Turns validated rows into the model's input tensors, in chunks of the manifest's fixed batch size
 * (one chunk of all rows when the batch dimension is free). Padding rows repeat the last real row.
 */
export function encodeFeeds(manifest: Manifest, rows: readonly Row[]): Chunk[] {
  const size = manifest.batchSize ?? rows.length;
  const chunks: Chunk[] = [];
  for (let start = 0; start < rows.length; start += size) {
    const real = rows.slice(start, start + size);
    const feeds = allocateFeeds(manifest, size);
    fillFeeds(manifest, real, feeds);
    chunks.push({ feeds, rows: real.length });
  }
  return chunks;
}

/** Empty input tensors for `size` rows: what {@link fillFeeds} writes into, allocated once and reused by the runtime adapter. */
export function allocateFeeds(manifest: Manifest, size: number): Feeds {
  const feeds: Feeds = {};
  for (const input of manifest.inputs) {
    const width = input.features.length;
    feeds[input.name] = { dtype: input.dtype, dims: input.rank === 1 ? [size] : [size, width], data: allocate(input.dtype, size * width) };
  }
  return feeds;
}

/**
 * Writes rows into feeds allocated for at least as many rows ({@link allocateFeeds}); rows past the
 * last real one repeat it (the padding of a fixed batch size).
 */
export function fillFeeds(manifest: Manifest, rows: readonly Row[], feeds: Feeds): void {
  const last = rows.length - 1;
  for (const input of manifest.inputs) {
    const features = input.features;
    const width = features.length;
    const data = (feeds[input.name] as TensorData).data;
    const size = data.length / width;
    // One loop per kind of tensor: the type test is made once per input, not once per value.
    if (data instanceof Float32Array || data instanceof Float64Array) {
      for (let r = 0; r < size; r++) {
        const row = rows[r > last ? last : r] as Row;
        for (let f = 0; f < width; f++) data[r * width + f] = toFloat(row[features[f] as string]);
      }
    } else if (data instanceof BigInt64Array) {
      for (let r = 0; r < size; r++) {
        const row = rows[r > last ? last : r] as Row;
        for (let f = 0; f < width; f++) data[r * width + f] = toBigInt(row[features[f] as string] ?? null);
      }
    } else {
      const values = data as unknown[];
      for (let r = 0; r < size; r++) {
        const row = rows[r > last ? last : r] as Row;
        for (let f = 0; f < width; f++) values[r * width + f] = row[features[f] as string] ?? null;
      }
    }
  }
}

/** Where one feature's values go: the data of the input it feeds, that input's width, and its column in a row. */
export interface FeedSlot {
  readonly data: TensorValues;
  readonly width: number;
  readonly column: number;
}

/** Each feature's slots in `feeds` ({@link allocateFeeds}), by feature name: what {@link writeValue} writes through. */
export function feedSlots(manifest: Manifest, feeds: Feeds): ReadonlyMap<string, readonly FeedSlot[]> {
  const slots = new Map<string, FeedSlot[]>();
  for (const input of manifest.inputs) {
    const data = (feeds[input.name] as TensorData).data;
    input.features.forEach((name, column) => {
      const slot = { data, width: input.features.length, column };
      const existing = slots.get(name);
      if (existing) existing.push(slot);
      else slots.set(name, [slot]);
    });
  }
  return slots;
}

/** Writes one validated value of row `r` into its slot, encoded as {@link fillFeeds} encodes it. */
export function writeValue(slot: FeedSlot, r: number, value: FeatureValue | null): void {
  const { data } = slot;
  const i = r * slot.width + slot.column;
  if (data instanceof Float32Array || data instanceof Float64Array) data[i] = toFloat(value);
  else if (data instanceof BigInt64Array) data[i] = toBigInt(value);
  else (data as unknown[])[i] = value;
}

/** The feeds of rows [start, start + count): views of typed data (no copy), copies of string and bool data. */
export function sliceFeeds(feeds: Feeds, start: number, count: number): Feeds {
  const sliced: Feeds = {};
  for (const name in feeds) {
    const { dtype, dims, data } = feeds[name] as TensorData;
    const width = dims.length === 1 ? 1 : (dims[1] as number);
    const part = Array.isArray(data) ? data.slice(start * width, (start + count) * width) : data.subarray(start * width, (start + count) * width);
    sliced[name] = { dtype, dims: dims.length === 1 ? [count] : [count, width], data: part as TensorValues };
  }
  return sliced;
}

/** Rows [from, to) of `feeds` become copies of row `source`: the padding of a fixed batch size. */
export function padFeeds(feeds: Feeds, source: number, from: number, to: number): void {
  for (const name in feeds) {
    const { dims, data } = feeds[name] as TensorData;
    const width = dims.length === 1 ? 1 : (dims[1] as number);
    for (let r = from; r < to; r++) for (let f = 0; f < width; f++) (data as unknown[])[r * width + f] = (data as unknown[])[source * width + f];
  }
}

function toFloat(value: FeatureValue | null | undefined): number {
  return value === null || value === undefined ? Number.NaN : value === true ? 1 : value === false ? 0 : (value as number);
}

function allocate(dtype: TensorDtype, length: number): TensorValues {
  switch (dtype) {
    case 'float32':
      return new Float32Array(length);
    case 'float64':
      return new Float64Array(length);
    case 'int64':
      return new BigInt64Array(length);
    case 'string':
      return new Array<string>(length);
    case 'bool':
      return new Array<boolean>(length);
  }
}

function toBigInt(value: FeatureValue | null): bigint {
  return BigInt(value === true ? 1 : value === false ? 0 : (value as number));
}

/** What the model answered for one row. */
export interface RowPrediction {
  label?: string | number;
  probabilities?: Record<string, number>;
  scores?: Record<string, number>;
  value?: number | number[];
}

/**
 * Reads the model's output tensors for the first `rows` rows into predictions, per the manifest:
 * probabilities keyed by class label, a binary label from the decision threshold, a regression value.
 * Throws when an output does not have the shape the manifest promises (a contract violation).
 */
export function decodePredictions(manifest: Manifest, outputs: Readonly<Record<string, TensorData>>, rows: number): RowPrediction[] {
  const predictions: RowPrediction[] = new Array(rows);
  for (let r = 0; r < rows; r++) predictions[r] = {};
  if (manifest.task === 'regression') {
    const tensor = requireOutput(outputs, manifest.outputs.value as string);
    const width = rowWidth(tensor, rows, 'value');
    for (let r = 0; r < rows; r++) {
      (predictions[r] as RowPrediction).value = width === 1 ? toNumber(tensor.data[r]) : readRow(tensor, r, width);
    }
    return predictions;
  }
  const classLabels = manifest.classLabels as readonly (string | number)[];
  const binary = manifest.task === 'binary-classification';
  const positive = manifest.positiveClass ?? (classLabels[1] as string | number);
  const negative = classLabels.find((label) => label !== positive) as string | number;
  const threshold = manifest.threshold ?? 0.5;
  const positiveKey = String(positive);
  const probabilityOutput = manifest.outputs.probabilities;
  if (probabilityOutput !== undefined) {
    const tensor = requireOutput(outputs, probabilityOutput);
    const width = rowWidth(tensor, rows, 'probabilities');
    const sigmoid = binary && width === 1;
    if (!sigmoid && width !== classLabels.length) {
      throw new ContractError(`output "${probabilityOutput}" has ${width} columns, the manifest has ${classLabels.length} class labels`);
    }
    const keys = classLabels.map(String);
    const negativeKey = String(negative);
    for (let r = 0; r < rows; r++) {
      const probabilities: Record<string, number> = {};
      if (sigmoid) {
        const p = probability(tensor.data[r]);
        probabilities[negativeKey] = 1 - p;
        probabilities[positiveKey] = p;
      } else {
        for (let c = 0; c < width; c++) probabilities[keys[c] as string] = probability(tensor.data[r * width + c]);
      }
      (predictions[r] as RowPrediction).probabilities = probabilities;
    }
  }
  if (manifest.outputs.scores !== undefined) {
    const tensor = requireOutput(outputs, manifest.outputs.scores);
    const width = rowWidth(tensor, rows, 'scores');
    if (width !== classLabels.length) {
      throw new ContractError(`output "${manifest.outputs.scores}" has ${width} columns, the manifest has ${classLabels.length} class labels`);
    }
    for (let r = 0; r < rows; r++) {
      const scores: Record<string, number> = {};
      for (let c = 0; c < width; c++) scores[String(classLabels[c])] = toNumber(tensor.data[r * width + c]);
      (predictions[r] as RowPrediction).scores = scores;
    }
  }
  const labelOutput = manifest.outputs.label;
  for (let r = 0; r < rows; r++) {
    const prediction = predictions[r] as RowPrediction;
    if (binary && prediction.probabilities) {
      prediction.label = (prediction.probabilities[positiveKey] as number) >= threshold ? positive : negative;
    } else if (labelOutput !== undefined) {
      const tensor = requireOutput(outputs, labelOutput);
      prediction.label = toLabel(tensor.data[r], classLabels);
    } else {
      prediction.label = argmax(prediction.probabilities as Record<string, number>, classLabels);
    }
  }
  return predictions;
}

/** The model answered a row of valid inputs with a number that is not finite: the model failed, not the client. */
export class ModelOutputError extends Error {
  override readonly name = 'ModelOutputError';
}

/**
 * Refuses an answer holding NaN or Infinity (an overflow inside the model) rather than serve a label decided
 * by comparing NaN, or log a record DynamoDB cannot store. Whose fault it is depends on the inputs: a number
 * feature outside the range of the training data (the manifest's baseline) is the client's — a 400 naming
 * it; otherwise the model failed on inputs it should handle — a ModelOutputError (500).
 */
export function checkFinitePredictions(manifest: Manifest, rows: readonly Row[], predictions: readonly RowPrediction[]): void {
  for (let r = 0; r < predictions.length; r++) {
    const output = nonFiniteOutput(predictions[r] as RowPrediction);
    if (output === undefined) continue;
    const row = rows[r] as Row;
    for (const feature of manifest.features) {
      const baseline = manifest.baseline?.features[feature.name];
      const value = row[feature.name];
      if (baseline?.kind !== 'numeric' || typeof value !== 'number' || (value >= baseline.min && value <= baseline.max)) continue;
      const reason = `the model computes no finite prediction for this row (${output}); ${value} is far outside the training data of ${feature.name} (${baseline.min} to ${baseline.max})`;
      throw new ValidationError(`invalid request: row ${r}, ${feature.name}: ${reason}`, [{ row: r, field: feature.name, reason }]);
    }
    throw new ModelOutputError(`row ${r}: the model answered ${output} for inputs inside its training data`);
  }
}

/** Where a prediction holds NaN or Infinity (`value is NaN`, `probabilities.Yes is Infinity`), or undefined when it holds none. */
export function nonFiniteOutput(prediction: RowPrediction): string | undefined {
  const { value, probabilities, scores } = prediction;
  if (typeof value === 'number' && !Number.isFinite(value)) return `value is ${value}`;
  if (Array.isArray(value)) {
    const i = value.findIndex((v) => !Number.isFinite(v));
    if (i !== -1) return `value[${i}] is ${value[i]}`;
  }
  for (const [part, values] of [
    ['probabilities', probabilities],
    ['scores', scores],
  ] as const) {
    for (const key in values) if (!Number.isFinite(values[key])) return `${part}.${key} is ${values[key]}`;
  }
  return undefined;
}

/** The model answered, but not in the shape its manifest declares: a bundle defect, not a client error. */
export class ContractError extends Error {
  override readonly name = 'ContractError';
}

function requireOutput(outputs: Readonly<Record<string, TensorData>>, name: string): TensorData {
  const tensor = outputs[name];
  if (!tensor) throw new ContractError(`the model has no output "${name}" (outputs: ${Object.keys(outputs).join(', ')})`);
  return tensor;
}

function rowWidth(tensor: TensorData, rows: number, role: string): number {
  const [n, width = 1, ...rest] = tensor.dims;
  if (rest.length > 0 || n === undefined || n < rows) {
    throw new ContractError(`${role} output has shape [${tensor.dims.join(', ')}], expected [N] or [N, K] with N >= ${rows}`);
  }
  return width;
}

function readRow(tensor: TensorData, r: number, width: number): number[] {
  return Array.from({ length: width }, (_, c) => toNumber(tensor.data[r * width + c]));
}

function toNumber(value: unknown): number {
  return typeof value === 'bigint' ? Number(value) : (value as number);
}

/** How far float32 arithmetic puts a probability outside [0, 1] (a forest's sum of 100 leaf weights: 1.0000001). */
const PROBABILITY_ROUNDING = 1e-5;

/**
 * A probability output's value, rounding noise taken back into [0, 1] so clients, calibration and the drift
 * histograms see a probability; a value further out is returned as it is (validation reports such a model).
 */
function probability(value: unknown): number {
  const p = toNumber(value);
  if (p > 1 && p <= 1 + PROBABILITY_ROUNDING) return 1;
  if (p < 0 && p >= -PROBABILITY_ROUNDING) return 0;
  return p;
}

/** Maps a label tensor value to the manifest's class label (int64 labels arrive as bigint). */
function toLabel(value: unknown, classLabels: readonly (string | number)[]): string | number {
  const raw = typeof value === 'bigint' ? Number(value) : (value as string | number);
  const match = classLabels.find((label) => label === raw || String(label) === String(raw));
  if (match === undefined) throw new ContractError(`the model answered label ${JSON.stringify(raw)}, which is not in classLabels`);
  return match;
}

function argmax(probabilities: Record<string, number>, classLabels: readonly (string | number)[]): string | number {
  let best = classLabels[0] as string | number;
  for (const label of classLabels) {
    if ((probabilities[String(label)] as number) > (probabilities[String(best)] as number)) best = label;
  }
  return best;
}
