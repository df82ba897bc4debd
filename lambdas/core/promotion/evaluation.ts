// Turns what a model answered into the numbers the gates judge: holdout metrics (lambdas/core/metrics),
// the p99 of latency samples, and the agreement of a candidate with the champion on replayed requests.
import { CsvError } from '../csv';
import type { Manifest, QualityMetric } from '../manifest-types';
import { accuracy, confusionCounts, expectedCalibrationError, f1, logLoss, macroF1, multiclassLogLoss, precision, recall, rocAuc } from '../metrics/classification';
import { meanAbsoluteError, r2Score, rootMeanSquaredError } from '../metrics/regression';
import type { RowPrediction } from '../tensors';
import { PROMOTION_DEFAULTS } from './defaults';

/** Holdout metrics by name; a metric the data or the model's outputs cannot give is absent. */
export type MetricSet = Partial<Record<QualityMetric, number>>;

/** An actual target: a class label of the manifest, or a regression value. */
export type Target = string | number;

/**
 * Reads the target column of a holdout into actual values: class labels of the manifest (a cell matches a
 * label when it reads the same, "1" and "1.0" both match the label 1) or finite numbers for regression.
 * An empty or unknown cell throws a CsvError naming the line.
 */
export function holdoutTargets(manifest: Manifest, cells: readonly string[], source = 'holdout'): Target[] {
  return cells.map((cell, row) => {
    const where = `${source}: line ${row + 2}, target`;
    if (cell === '') throw new CsvError(`${where}: empty`);
    if (manifest.task === 'regression') {
      const value = Number(cell);
      if (!Number.isFinite(value)) throw new CsvError(`${where}: expected a number, got "${cell}"`);
      return value;
    }
    const labels = manifest.classLabels ?? [];
    const label = labels.find((l) => String(l) === cell || (typeof l === 'number' && Number(cell) === l));
    if (label === undefined) {
      throw new CsvError(`${where}: "${cell}" is not one of the class labels ${labels.map((l) => JSON.stringify(l)).join(', ')}`);
    }
    return label;
  });
}

/**
 * The task's metrics of the model's predictions against the actual targets, as scikit-learn computes them:
 * - binary: accuracy, precision, recall, F1 of the predicted labels (the manifest's threshold already
 *   applied) for the positive class; ROC AUC of P(positive) (or of the positive class's score when the model
 *   has only scores); log loss and expected calibration error of P(positive);
 * - multiclass: accuracy; macro precision, recall and F1 over the labels seen; one-vs-rest macro ROC AUC
 *   and log loss of the probabilities;
 * - regression: MAE, RMSE, R2 (one value per row).
 * ROC AUC is absent when the holdout lacks a class (it is undefined then).
 */
export function evaluatePredictions(manifest: Manifest, actual: readonly Target[], predictions: readonly RowPrediction[]): MetricSet {
  if (actual.length !== predictions.length) {
    throw new RangeError(`expected one prediction per holdout row, got ${predictions.length} for ${actual.length} rows`);
  }
  if (actual.length === 0) throw new RangeError('a holdout needs at least one row');
  if (manifest.task === 'regression') return regressionMetrics(actual as number[], predictions);
  const labels = manifest.classLabels ?? [];
  const predicted = predictions.map((p, i) => {
    if (p.label === undefined) throw new RangeError(`prediction ${i} has no label`);
    return p.label;
  });
  const score = (p: RowPrediction, label: string | number) => (p.probabilities ?? p.scores)?.[String(label)];
  return manifest.task === 'binary-classification'
    ? binaryMetrics(manifest, actual, predicted, predictions, score)
    : multiclassMetrics(labels, actual, predicted, predictions, score);
}

function binaryMetrics(
  manifest: Manifest,
  actual: readonly Target[],
  predicted: readonly Target[],
  predictions: readonly RowPrediction[],
  score: (p: RowPrediction, label: string | number) => number | undefined,
): MetricSet {
  const positive = manifest.positiveClass ?? (manifest.classLabels?.[1] as string | number);
  const counts = confusionCounts(actual, predicted, positive);
  const metrics: MetricSet = {
    accuracy: accuracy(actual, predicted),
    precision: precision(counts),
    recall: recall(counts),
    f1: f1(counts),
  };
  const actualPositive = actual.map((label) => label === positive);
  const scores = predictions.map((p) => score(p, positive));
  if (scores.every(isNumber) && actualPositive.includes(true) && actualPositive.includes(false)) {
    metrics.rocAuc = rocAuc(actualPositive, scores);
  }
  const probabilities = predictions.map((p) => p.probabilities?.[String(positive)]);
  if (probabilities.every(isNumber)) {
    metrics.logLoss = logLoss(actualPositive, probabilities);
    metrics.calibrationError = expectedCalibrationError(actualPositive, probabilities);
  }
  return metrics;
}

function multiclassMetrics(
  labels: readonly (string | number)[],
  actual: readonly Target[],
  predicted: readonly Target[],
  predictions: readonly RowPrediction[],
  score: (p: RowPrediction, label: string | number) => number | undefined,
): MetricSet {
  const seen = [...new Set([...actual, ...predicted])];
  const perLabel = seen.map((label) => confusionCounts(actual, predicted, label));
  const metrics: MetricSet = {
    accuracy: accuracy(actual, predicted),
    precision: mean(perLabel.map(precision)),
    recall: mean(perLabel.map(recall)),
    f1: macroF1(actual, predicted),
  };
  // One-vs-rest needs every class among the actual labels, as sklearn's roc_auc_score(multi_class='ovr').
  const everyClassPresent = labels.every((label) => actual.includes(label));
  const classScores = labels.map((label) => predictions.map((p) => score(p, label)));
  if (everyClassPresent && classScores.every((column) => column.every(isNumber))) {
    metrics.rocAuc = mean(
      labels.map((label, c) =>
        rocAuc(
          actual.map((a) => a === label),
          classScores[c] as number[],
        ),
      ),
    );
  }
  if (predictions.every((p) => p.probabilities !== undefined)) {
    const rows = predictions.map((p) => labels.map((label) => (p.probabilities as Record<string, number>)[String(label)] as number));
    metrics.logLoss = multiclassLogLoss(actual, rows, labels);
  }
  return metrics;
}

function regressionMetrics(actual: readonly number[], predictions: readonly RowPrediction[]): MetricSet {
  const predicted = predictions.map((p, i) => {
    if (typeof p.value !== 'number') {
      throw new RangeError(`prediction ${i}: holdout metrics need one regression value per row, got ${JSON.stringify(p.value)}`);
    }
    return p.value;
  });
  return {
    mae: meanAbsoluteError(actual, predicted),
    rmse: rootMeanSquaredError(actual, predicted),
    r2: r2Score(actual, predicted),
  };
}

/**
 * The 99th percentile of latency samples by the nearest-rank method: the smallest sample with at least 99%
 * of the samples at or below it. Always an observed value, never an interpolation below the tail.
 */
export function p99(samples: readonly number[]): number {
  if (samples.length === 0) throw new RangeError('p99 needs at least one latency sample');
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.ceil(0.99 * sorted.length) - 1] as number;
}

/** The candidate's answers on replayed requests, and how often they agree with the champion's. */
export interface ReplaySummary {
  readonly requests: number;
  /** Requests the candidate failed (an error instead of a prediction). */
  readonly errors: number;
  readonly errorRate: number;
  /** Requests both versions answered, and how many of those they answered alike. */
  readonly compared: number;
  readonly agreed: number;
  /** agreed / compared; absent without a champion or when no request was answered by both. */
  readonly agreement?: number;
}

/**
 * Summarises a replay: `candidate[i]` is the candidate's prediction for request i, or null when it failed;
 * `champion[i]` the same for the champion (omit `champion` when there is none). Classifiers agree on equal
 * labels; regression values agree when |candidate - champion| <= tolerance x max(1, |champion|) (for
 * multi-output values, every output).
 */
export function summarizeReplay(
  manifest: Manifest,
  candidate: readonly (RowPrediction | null)[],
  champion?: readonly (RowPrediction | null)[],
  tolerance: number = manifest.validation?.replay?.valueTolerance ?? PROMOTION_DEFAULTS.valueTolerance,
): ReplaySummary {
  if (champion && champion.length !== candidate.length) {
    throw new RangeError(`expected one champion answer per replayed request, got ${champion.length} for ${candidate.length}`);
  }
  const errors = candidate.filter((p) => p === null).length;
  let compared = 0;
  let agreed = 0;
  candidate.forEach((answer, i) => {
    const reference = champion?.[i];
    if (answer === null || reference === null || reference === undefined) return;
    compared++;
    if (manifest.task === 'regression' ? valuesAgree(answer.value, reference.value, tolerance) : String(answer.label) === String(reference.label)) {
      agreed++;
    }
  });
  return {
    requests: candidate.length,
    errors,
    errorRate: candidate.length === 0 ? 0 : errors / candidate.length,
    compared,
    agreed,
    ...(compared > 0 ? { agreement: agreed / compared } : {}),
  };
}

function valuesAgree(candidate: RowPrediction['value'], champion: RowPrediction['value'], tolerance: number): boolean {
  const a = typeof candidate === 'number' ? [candidate] : (candidate ?? []);
  const b = typeof champion === 'number' ? [champion] : (champion ?? []);
  return a.length === b.length && a.every((value, i) => Math.abs(value - (b[i] as number)) <= tolerance * Math.max(1, Math.abs(b[i] as number)));
}

function isNumber(value: number | undefined): value is number {
  return typeof value === 'number';
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, x) => sum + x, 0) / values.length;
}
