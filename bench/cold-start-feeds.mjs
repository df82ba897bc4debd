// The feeds of the cold-start benchmark's first answer, as bench/cold-start.ts writes them (JSON: per input its
// dtype, dims and values), turned into onnxruntime tensors. Shared by the probe's baseline and the floor function.
import { readFileSync } from 'node:fs';

/** Reads `{ feeds, fetches }` from `file`, with tensors of the given onnxruntime module. */
export function readFeeds(ort, file) {
  const { feeds, fetches } = JSON.parse(readFileSync(file, 'utf8'));
  return { feeds: Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, new ort.Tensor(t.dtype, typedArray(t.dtype, t.data), t.dims)])), fetches };
}

/** Numbers back into the typed array of their dtype; strings and booleans stay arrays. */
function typedArray(dtype, values) {
  if (dtype === 'string' || dtype === 'bool') return values;
  if (dtype === 'int64') return BigInt64Array.from(values, (v) => BigInt(v));
  const Type = { float32: Float32Array, float64: Float64Array, int32: Int32Array }[dtype];
  if (!Type) throw new Error(`cold-start feeds: unsupported dtype ${dtype}`);
  return Type.from(values);
}

/** The session options of the inference function (lambdas/adapters/onnx-runtime.ts). */
export const SESSION_OPTIONS = { graphOptimizationLevel: 'all', executionMode: 'sequential', intraOpNumThreads: 1, interOpNumThreads: 1 };
