import type { FeatureSpec, FeatureValue } from '../../lambdas/core/manifest-types';

type Row = Readonly<Record<string, FeatureValue | null>>;

/**
 * How a row becomes the feature vector the classifiers see, fitted on the train split: the numeric
 * features (missing values replaced by the training median) followed by one one-hot block per
 * categorical feature. The ONNX graphs compute exactly this; `encodeRow` is its TypeScript twin.
 */
export interface Encoding {
  readonly numeric: readonly string[];
  /** Training median per numeric feature, float32 like the Imputer attribute that holds it. */
  readonly imputeValues: readonly number[];
  readonly categorical: readonly { readonly name: string; readonly categories: readonly (string | number)[] }[];
}

export function fitEncoding(features: readonly FeatureSpec[], trainRows: readonly Row[]): Encoding {
  const numeric = features.filter((feature) => (feature.type === 'number' || feature.type === 'integer') && feature.categories === undefined).map((feature) => feature.name);
  return {
    numeric,
    imputeValues: numeric.map((name) => {
      const present = trainRows.flatMap((row) => (row[name] === null ? [] : [Math.fround(row[name] as number)]));
      return Math.fround(median(present));
    }),
    categorical: features.flatMap((feature) => (feature.categories === undefined ? [] : [{ name: feature.name, categories: feature.categories }])),
  };
}

export function encodedWidth(encoding: Encoding): number {
  return encoding.numeric.length + oneHotWidth(encoding);
}

export function oneHotWidth(encoding: Encoding): number {
  return encoding.categorical.reduce((sum, feature) => sum + feature.categories.length, 0);
}

/**
 * The encoded row, every value float32-exact: the graph reads numbers as float32 tensors, and tree
 * thresholds compare float32 with float32, so training on the same values keeps ONNX and TypeScript in
 * step. A value outside the categories encodes as all zeros, like OneHotEncoder with zeros=1.
 */
export function encodeRow(encoding: Encoding, row: Row): Float64Array {
  const vector = new Float64Array(encodedWidth(encoding));
  encoding.numeric.forEach((name, i) => {
    const value = row[name];
    vector[i] = value === null || value === undefined ? (encoding.imputeValues[i] as number) : Math.fround(value as number);
  });
  let offset = encoding.numeric.length;
  for (const { name, categories } of encoding.categorical) {
    const position = categories.indexOf(row[name] as string | number);
    if (position !== -1) vector[offset + position] = 1;
    offset += categories.length;
  }
  return vector;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
