import type * as Ort from 'onnxruntime-node';
import { contractIssues, exampleRow } from '../core/contract';
import { ManifestError } from '../core/errors';
import type { Manifest } from '../core/manifest';
import { prepareModel } from '../core/onnx-graph';
import { allocateFeeds, decodePredictions, encodeFeeds, fillFeeds, type Feeds, type RowPrediction, type TensorData } from '../core/tensors';
import type { Row } from '../core/request';

/** The model could not be turned into a session (bad bytes, unsupported operator, missing locale...). */
export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
}

export interface LoadedModel {
  readonly manifest: Manifest;
  /** Runs the model on validated rows, chunked to its batch size, and decodes the answer. */
  predict(rows: readonly Row[]): Promise<RowPrediction[]>;
  /** Runs the session on prepared feeds; the benchmark's baseline and the building block of predict. */
  run(feeds: Feeds): Promise<Record<string, TensorData>>;
  release(): Promise<void>;
}

let runtime: Promise<typeof Ort> | undefined;

/**
 * onnxruntime-node, imported on first use rather than with this module: loading its native library is one of
 * the largest costs of a cold start, and the inference function starts it while the bundle downloads.
 */
export function loadOnnxRuntime(): Promise<typeof Ort> {
  runtime ??= import('onnxruntime-node');
  return runtime;
}

export interface LoadOptions {
  /** Threads for one run; 1 suits Lambda's small models and avoids thread-pool hand-offs (default 1). */
  readonly intraOpThreads?: number;
}

/**
 * Creates an onnxruntime session for a bundle: removes ZipMap so probabilities come back as a tensor,
 * checks the graph against the manifest's contract, and warms the session up with one example row so
 * the first request does not pay for lazy initialisation.
 */
export async function loadModel(manifest: Manifest, modelBytes: Uint8Array, options: LoadOptions = {}): Promise<LoadedModel> {
  const { bytes, description } = prepareModel(modelBytes);
  const issues = contractIssues(manifest, description);
  if (issues.length > 0) throw new ManifestError(issues);
  const ort = await loadOnnxRuntime();
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      intraOpNumThreads: options.intraOpThreads ?? 1,
      interOpNumThreads: 1,
    });
  } catch (error) {
    throw new ModelLoadError(`onnxruntime could not load the model: ${(error as Error).message}`);
  }
  const fetches = Object.values(manifest.outputs) as string[];
  const toOrt = (feeds: Feeds): Record<string, Ort.Tensor> => {
    const tensors: Record<string, Ort.Tensor> = {};
    for (const name in feeds) {
      const tensor = feeds[name] as TensorData;
      tensors[name] = new ort.Tensor(tensor.dtype as Ort.Tensor.Type, tensor.data as Ort.Tensor.DataType, tensor.dims);
    }
    return tensors;
  };
  const fromOrt = (results: Ort.InferenceSession.ReturnType): Record<string, TensorData> => {
    const outputs: Record<string, TensorData> = {};
    for (const name in results) {
      const tensor = results[name] as Ort.Tensor;
      outputs[name] = { dtype: tensor.type, dims: tensor.dims, data: tensor.data as TensorData['data'] };
    }
    return outputs;
  };
  const run = async (feeds: Feeds): Promise<Record<string, TensorData>> => fromOrt(await session.run(toOrt(feeds), fetches));
  // Online traffic is mostly one row per request (or the model's fixed batch size): for that size the input
  // tensors are allocated once and refilled. A set is taken from the pool for the length of one run, so
  // concurrent calls never share one; onnxruntime reads the inputs during the run and keeps no reference.
  const pooledRows = manifest.batchSize ?? 1;
  const pool: { feeds: Feeds; tensors: Record<string, Ort.Tensor> }[] = [];
  const runPooled = async (rows: readonly Row[]): Promise<Record<string, TensorData>> => {
    let slot = pool.pop();
    if (slot === undefined) {
      const feeds = allocateFeeds(manifest, pooledRows);
      slot = { feeds, tensors: toOrt(feeds) };
    }
    fillFeeds(manifest, rows, slot.feeds);
    try {
      return fromOrt(await session.run(slot.tensors, fetches));
    } finally {
      pool.push(slot);
    }
  };
  const predict = async (rows: readonly Row[]): Promise<RowPrediction[]> => {
    const predictions: RowPrediction[] = [];
    if (rows.length === pooledRows || manifest.batchSize !== undefined) {
      // One row, or a fixed batch size: runs of pooled tensors, the last one padded.
      for (let start = 0; start < rows.length; start += pooledRows) {
        const chunk = rows.slice(start, start + pooledRows);
        predictions.push(...decodePredictions(manifest, await runPooled(chunk), chunk.length));
      }
    } else {
      // A free batch dimension: one run of every row, in tensors of their size.
      for (const chunk of encodeFeeds(manifest, rows)) predictions.push(...decodePredictions(manifest, await run(chunk.feeds), chunk.rows));
    }
    return predictions;
  };
  try {
    await predict([exampleRow(manifest)]);
  } catch (error) {
    await session.release();
    throw new ModelLoadError(`the model failed its warm-up run: ${(error as Error).message}`);
  }
  return { manifest, predict, run, release: () => session.release() };
}
