import * as ort from 'onnxruntime-node';
import type { FeatureSpec } from '../../lambdas/core/manifest-types';
import type { Row } from './dataset';
import { inputDtype } from './onnx-graph';

/** A trained binary classifier, as its ONNX graph and as TypeScript. */
export interface CheckedClassifier {
  /** Names the model in messages. */
  readonly name: string;
  readonly onnx: Uint8Array;
  /** P(positive) per encoded row, computed in TypeScript. */
  readonly probability: (row: Float64Array) => number;
  /** Negative class first, as the graph's class labels. */
  readonly classLabels: readonly [string, string] | readonly [number, number];
  readonly threshold: number;
  /** How far onnxruntime (float32 arithmetic) may be from the TypeScript model (float64) on any row. */
  readonly tolerance: number;
}

/**
 * Runs the ONNX model on the rows (one [N, 1] tensor per feature, NaN for a missing number) and returns
 * P(positive) per row, after checking it against the TypeScript model and the label output against the threshold.
 */
export async function checkedProbabilities(
  session: ort.InferenceSession,
  features: readonly FeatureSpec[],
  rows: readonly Row[],
  encoded: readonly Float64Array[],
  model: CheckedClassifier,
  part: string,
): Promise<number[]> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const feature of features) {
    const values = rows.map((row) => row[feature.name] ?? null);
    feeds[feature.name] =
      inputDtype(feature) === 'string'
        ? new ort.Tensor('string', values as string[], [rows.length, 1])
        : new ort.Tensor(
            'float32',
            Float32Array.from(values, (value) => (value === null ? NaN : (value as number))),
            [rows.length, 1],
          );
  }
  const output = await session.run(feeds);
  const probabilities = output.probabilities?.data as Float32Array;
  // A string label output gives strings, an int64 one bigints: compared as text.
  const labels = Array.from(output.label?.data as ArrayLike<string | bigint>, String);
  const [negative, positive] = model.classLabels;
  let largestDifference = 0;
  const positiveProbabilities = rows.map((_, i) => {
    const p = probabilities[i * 2 + 1] as number;
    largestDifference = Math.max(largestDifference, Math.abs(p - model.probability(encoded[i] as Float64Array)));
    const expectedLabel = String(p >= model.threshold ? positive : negative);
    if (labels[i] !== expectedLabel) throw new Error(`${model.name} ${part} row ${i}: ONNX label ${labels[i]} for P(${positive}) = ${p}`);
    return p;
  });
  if (largestDifference > model.tolerance) {
    throw new Error(`${model.name} ${part}: ONNX and TypeScript probabilities differ by up to ${largestDifference}`);
  }
  console.log(`${model.name} ${part}: ONNX = TypeScript within ${largestDifference.toExponential(2)} on ${rows.length} rows`);
  return positiveProbabilities;
}
