// Error analysis over labelled predictions: which predictions were wrong, and the error rate per slice of a
// feature (its categories, or the baseline's bins for a number), with Wilson 95% intervals so a small slice
// with a few errors is not mistaken for a bad one.
import { binIndex } from '../baseline';
import type { Manifest } from '../manifest-types';
import type { LoggedRecord } from './window';

export interface WrongPrediction {
  readonly predictionId: string;
  readonly timestamp: string;
  readonly version: string;
  readonly predicted: string | number | null;
  readonly actual: string | number;
  /** Binary: P(positive); regression: |actual - predicted|. */
  readonly score: number | null;
  readonly slice?: string;
}

export interface SliceErrors {
  readonly slice: string;
  readonly count: number;
  readonly wrong: number;
  readonly errorRate: number;
  /** Wilson score interval (95%) of the error rate. */
  readonly low: number;
  readonly high: number;
  /** Regression: mean absolute error of the slice. */
  readonly mae?: number;
}

export interface ErrorAnalysis {
  readonly labelled: number;
  readonly wrong: number;
  readonly errorRate: number;
  readonly slices: readonly SliceErrors[];
  /** Most confidently wrong first (classification), largest errors first (regression). */
  readonly wrongPredictions: readonly WrongPrediction[];
}

/** A regression prediction counts as wrong when its absolute error exceeds this share of |actual| (and 1e-9). */
export const REGRESSION_TOLERANCE = 0.1;

export function errorAnalysis(manifest: Manifest, records: readonly LoggedRecord[], slice?: string): ErrorAnalysis {
  const labelled = records.filter((r) => r.actual !== undefined && r.actual !== null);
  const regression = manifest.task === 'regression';
  const positive = String(manifest.positiveClass ?? manifest.classLabels?.[1]);
  const slices = new Map<string, { count: number; wrong: number; absoluteErrors: number }>();
  const wrongPredictions: WrongPrediction[] = [];
  for (const record of labelled) {
    const actual = record.actual as string | number;
    const value = Array.isArray(record.outputs.value) ? record.outputs.value[0] : record.outputs.value;
    const predicted = regression ? (value ?? null) : (record.outputs.label ?? null);
    const absoluteError = regression && typeof value === 'number' && typeof actual === 'number' ? Math.abs(actual - value) : 0;
    const wrong = regression ? absoluteError > Math.max(1e-9, REGRESSION_TOLERANCE * Math.abs(actual as number)) : String(predicted) !== String(actual);
    const sliceName = slice === undefined ? undefined : sliceOf(manifest, slice, record.inputs?.[slice]);
    if (sliceName !== undefined) {
      const entry = slices.get(sliceName) ?? { count: 0, wrong: 0, absoluteErrors: 0 };
      entry.count++;
      if (wrong) entry.wrong++;
      entry.absoluteErrors += absoluteError;
      slices.set(sliceName, entry);
    }
    if (wrong) {
      const p = record.outputs.probabilities?.[positive];
      wrongPredictions.push({
        predictionId: record.predictionId,
        timestamp: record.timestamp,
        version: record.version,
        predicted,
        actual,
        score: regression ? absoluteError : typeof p === 'number' ? p : null,
        ...(sliceName === undefined ? {} : { slice: sliceName }),
      });
    }
  }
  // Most confidently wrong first: distance of P(positive) from the threshold; regression: largest error.
  const threshold = manifest.threshold ?? 0.5;
  const confidence = (w: WrongPrediction) => (w.score === null ? 0 : regression ? w.score : Math.abs(w.score - threshold));
  wrongPredictions.sort((a, b) => confidence(b) - confidence(a) || (a.timestamp < b.timestamp ? -1 : 1));
  const sliceErrors = [...slices].map(
    ([name, s]): SliceErrors => ({
      slice: name,
      count: s.count,
      wrong: s.wrong,
      errorRate: s.wrong / s.count,
      ...wilson(s.wrong, s.count),
      ...(regression ? { mae: s.absoluteErrors / s.count } : {}),
    }),
  );
  sliceErrors.sort((a, b) => b.errorRate - a.errorRate || b.count - a.count);
  const wrong = wrongPredictions.length;
  return { labelled: labelled.length, wrong, errorRate: labelled.length === 0 ? 0 : wrong / labelled.length, slices: sliceErrors, wrongPredictions };
}

/** The slice a value falls in: the category, the baseline bin of a number ("[a, b)"), or "(missing)". */
export function sliceOf(manifest: Manifest, feature: string, value: unknown): string {
  if (value === null || value === undefined || (typeof value === 'number' && Number.isNaN(value))) return '(missing)';
  const baseline = manifest.baseline?.features[feature];
  if (baseline?.kind === 'numeric' && typeof value === 'number') {
    const { edges } = baseline;
    const bin = binIndex(edges, value);
    if (bin === -1) return `< ${edges[0]}`;
    if (bin === edges.length - 1) return `> ${edges[edges.length - 1]}`;
    const last = bin === edges.length - 2;
    return `[${round(edges[bin] as number)}, ${round(edges[bin + 1] as number)}${last ? ']' : ')'}`;
  }
  return String(value);
}

/** Wilson score interval for k successes in n trials, 95%. */
export function wilson(k: number, n: number): { low: number; high: number } {
  if (n === 0) return { low: 0, high: 1 };
  const z = 1.959963984540054;
  const p = k / n;
  const denominator = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denominator;
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

function round(x: number): number {
  return Number(x.toPrecision(6));
}
