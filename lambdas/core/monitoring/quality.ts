// Model quality from ground truth, as mergeable sufficient statistics: a window's labelled predictions are
// summarised into counts and sums (confusion matrix, log-loss sum, calibration bins, a fixed histogram of
// positive-class scores per actual class; regression error sums), two windows merge by adding them, and
// the metrics are computed from the merged statistics. Every prediction, labelled or not, also feeds the
// statistics of estimated quality (estimation/estimated-quality.ts). docs/monitoring.md explains the
// approximations.
import { addPrediction, emptyEstimation, mergeEstimation, type EstimationAggregate } from '../estimation/estimated-quality';
import type { Manifest } from '../manifest-types';
import { binnedRocAuc, LOG_LOSS_EPSILON } from '../metrics/classification';
import { sampleVerdict, type SampleVerdict } from '../metrics/sample';
import type { RowPrediction } from '../tensors';

/** Equal-width bins of P(positive) over [0, 1] for ROC AUC (the AUC is exact on scores rounded to these). */
export const SCORE_BINS = 1000;
/** Equal-width bins of P(positive) for the expected calibration error (as `expectedCalibrationError`). */
export const CALIBRATION_BINS = 10;

export interface ClassificationQuality {
  readonly kind: 'classification';
  /** The manifest's class labels, as strings, in order: the rows and columns of `confusion`. */
  readonly labels: readonly string[];
  count: number;
  /** confusion[actual][predicted], indices into `labels`. */
  confusion: number[][];
  /** Rows that carried probabilities, and the sum of -ln P(actual) over them (clipped like sklearn). */
  probabilityRows: number;
  logLossSum: number;
  /** Binary only: the index of the positive class in `labels`. */
  positiveIndex?: number;
  /** Binary only: calibration bins of P(positive) (rows, actual positives, sum of P). */
  calibration?: { rows: number[]; positives: number[]; probabilitySums: number[] };
  /** Binary only: count of rows per score bin (index into SCORE_BINS), by actual class; sparse. */
  scores?: { positives: Record<string, number>; negatives: Record<string, number> };
  /**
   * Every prediction (labelled or not) for estimated quality, when the model has probabilities. Absent from
   * windows stored before estimation existed; they merge with the others and estimate from what they have.
   */
  estimation?: EstimationAggregate;
}

export interface RegressionQuality {
  readonly kind: 'regression';
  count: number;
  absoluteErrorSum: number;
  squaredErrorSum: number;
  actualSum: number;
  actualSquaresSum: number;
}

export type QualityAggregate = ClassificationQuality | RegressionQuality;

/** Quality metrics of a window; a metric the task or the data cannot give is absent. */
export interface QualityMetrics {
  readonly labelled: number;
  readonly accuracy?: number;
  /** Binary: of the positive class; multiclass: macro averages (sklearn's average='macro'). */
  readonly precision?: number;
  readonly recall?: number;
  readonly f1?: number;
  readonly rocAuc?: number;
  /** Largest possible |binned AUC - exact AUC|: half the share of positive-negative pairs that share a score bin. */
  readonly rocAucMaxError?: number;
  readonly logLoss?: number;
  readonly calibrationError?: number;
  readonly mae?: number;
  readonly rmse?: number;
  readonly r2?: number;
  /** Per metric present, the rows it rests on (see MIN_METRIC_ROWS). */
  readonly samples?: Readonly<Partial<Record<QualityMetricName, SampleVerdict>>>;
}

export type QualityMetricName = Exclude<keyof QualityMetrics, 'labelled' | 'rocAucMaxError' | 'samples'>;

/** Metrics where larger is better; for the others (log loss, calibration error, MAE, RMSE) smaller is. */
export const HIGHER_IS_BETTER: ReadonlySet<QualityMetricName> = new Set(['accuracy', 'precision', 'recall', 'f1', 'rocAuc', 'r2']);

export function emptyQuality(manifest: Manifest): QualityAggregate {
  if (manifest.task === 'regression') {
    return { kind: 'regression', count: 0, absoluteErrorSum: 0, squaredErrorSum: 0, actualSum: 0, actualSquaresSum: 0 };
  }
  const labels = (manifest.classLabels ?? []).map(String);
  const quality: ClassificationQuality = {
    kind: 'classification',
    labels,
    count: 0,
    confusion: labels.map(() => labels.map(() => 0)),
    probabilityRows: 0,
    logLossSum: 0,
  };
  if (manifest.task === 'binary-classification') {
    quality.positiveIndex = labels.indexOf(positiveClass(manifest));
    quality.calibration = { rows: zeros(CALIBRATION_BINS), positives: zeros(CALIBRATION_BINS), probabilitySums: zeros(CALIBRATION_BINS) };
    quality.scores = { positives: {}, negatives: {} };
  }
  const estimation = emptyEstimation(manifest);
  if (estimation) quality.estimation = estimation;
  return quality;
}

/**
 * Counts one served prediction, labelled or not, into the statistics of estimated quality (in place): its
 * probabilities calibrated by the manifest. A window stored before estimation existed starts them here.
 */
export function addServed(quality: QualityAggregate, manifest: Manifest, outputs: RowPrediction): QualityAggregate {
  if (quality.kind !== 'classification') return quality;
  if (!quality.estimation) {
    const estimation = emptyEstimation(manifest);
    if (!estimation) return quality;
    quality.estimation = estimation;
  }
  addPrediction(quality.estimation, manifest, outputs);
  return quality;
}

/** The positive class of a binary classifier, as a string (manifest default: the second class label). */
export function positiveClass(manifest: Manifest): string {
  return String(manifest.positiveClass ?? manifest.classLabels?.[1]);
}

/**
 * Counts one labelled prediction into `quality` (in place). `actual` must already be valid for the
 * model (feedback validation: a class label, or a finite number for regression). A prediction without a
 * label or value (an output the manifest does not declare) is not counted.
 */
export function addLabelled(quality: QualityAggregate, manifest: Manifest, outputs: RowPrediction, actual: string | number): QualityAggregate {
  if (quality.kind === 'regression') {
    const predicted = Array.isArray(outputs.value) ? outputs.value[0] : outputs.value;
    if (typeof predicted !== 'number' || typeof actual !== 'number') return quality;
    const error = actual - predicted;
    quality.count++;
    quality.absoluteErrorSum += Math.abs(error);
    quality.squaredErrorSum += error * error;
    quality.actualSum += actual;
    quality.actualSquaresSum += actual * actual;
    return quality;
  }
  const actualIndex = quality.labels.indexOf(String(actual));
  const predictedIndex = outputs.label === undefined ? -1 : quality.labels.indexOf(String(outputs.label));
  if (actualIndex === -1 || predictedIndex === -1) return quality;
  quality.count++;
  quality.confusion[actualIndex]![predictedIndex]!++;
  const probabilities = outputs.probabilities;
  if (!probabilities) return quality;
  const pActual = probabilities[String(actual)];
  if (typeof pActual === 'number') {
    quality.probabilityRows++;
    quality.logLossSum -= Math.log(Math.min(Math.max(pActual, LOG_LOSS_EPSILON), 1 - LOG_LOSS_EPSILON));
  }
  const positive = positiveClass(manifest);
  const p = probabilities[positive];
  if (quality.calibration && quality.scores && typeof p === 'number' && p >= 0 && p <= 1) {
    const isPositive = String(actual) === positive;
    const bin = Math.min(Math.floor(p * CALIBRATION_BINS), CALIBRATION_BINS - 1);
    quality.calibration.rows[bin]!++;
    quality.calibration.probabilitySums[bin]! += p;
    if (isPositive) quality.calibration.positives[bin]!++;
    increment(isPositive ? quality.scores.positives : quality.scores.negatives, String(scoreBin(p)));
  }
  return quality;
}

/** The statistics of two windows together (a new object). */
export function mergeQuality(a: QualityAggregate, b: QualityAggregate): QualityAggregate {
  if (a.kind === 'regression' && b.kind === 'regression') {
    return {
      kind: 'regression',
      count: a.count + b.count,
      absoluteErrorSum: a.absoluteErrorSum + b.absoluteErrorSum,
      squaredErrorSum: a.squaredErrorSum + b.squaredErrorSum,
      actualSum: a.actualSum + b.actualSum,
      actualSquaresSum: a.actualSquaresSum + b.actualSquaresSum,
    };
  }
  if (a.kind === 'classification' && b.kind === 'classification') {
    if (a.labels.join('\u0000') !== b.labels.join('\u0000')) {
      throw new RangeError(`cannot merge quality over different class labels (${a.labels.join(', ')} and ${b.labels.join(', ')})`);
    }
    const merged: ClassificationQuality = {
      kind: 'classification',
      labels: [...a.labels],
      count: a.count + b.count,
      confusion: a.confusion.map((row, i) => row.map((n, j) => n + (b.confusion[i]?.[j] ?? 0))),
      probabilityRows: a.probabilityRows + b.probabilityRows,
      logLossSum: a.logLossSum + b.logLossSum,
    };
    if (a.positiveIndex !== undefined) merged.positiveIndex = a.positiveIndex;
    if (a.calibration && b.calibration) {
      merged.calibration = {
        rows: addArrays(a.calibration.rows, b.calibration.rows),
        positives: addArrays(a.calibration.positives, b.calibration.positives),
        probabilitySums: addArrays(a.calibration.probabilitySums, b.calibration.probabilitySums),
      };
    }
    if (a.scores && b.scores) {
      merged.scores = { positives: addSparse(a.scores.positives, b.scores.positives), negatives: addSparse(a.scores.negatives, b.scores.negatives) };
    }
    if (a.estimation && b.estimation) merged.estimation = mergeEstimation(a.estimation, b.estimation);
    else if (a.estimation ?? b.estimation) merged.estimation = structuredClone((a.estimation ?? b.estimation) as EstimationAggregate);
    return merged;
  }
  throw new TypeError(`cannot merge ${a.kind} quality with ${b.kind} quality`);
}

/** The metrics of a window's statistics (sklearn's definitions; see docs/monitoring.md). */
export function qualityMetrics(quality: QualityAggregate): QualityMetrics {
  if (quality.kind === 'regression') {
    const n = quality.count;
    if (n === 0) return { labelled: 0 };
    const totalSumOfSquares = quality.actualSquaresSum - (quality.actualSum * quality.actualSum) / n;
    const rows = sampleVerdict(n);
    return {
      labelled: n,
      mae: quality.absoluteErrorSum / n,
      rmse: Math.sqrt(quality.squaredErrorSum / n),
      // sklearn's force_finite: constant actuals give 1 for a perfect fit, else 0.
      r2: totalSumOfSquares <= 1e-12 * Math.max(1, quality.actualSquaresSum) ? (quality.squaredErrorSum === 0 ? 1 : 0) : 1 - quality.squaredErrorSum / totalSumOfSquares,
      samples: { mae: rows, rmse: rows, r2: rows },
    };
  }
  const n = quality.count;
  if (n === 0) return { labelled: 0 };
  const { confusion, labels } = quality;
  const correct = labels.reduce((sum, _, i) => sum + (confusion[i]?.[i] ?? 0), 0);
  const metrics: { -readonly [K in keyof QualityMetrics]: QualityMetrics[K] } = { labelled: n, accuracy: correct / n };
  const samples: Partial<Record<QualityMetricName, SampleVerdict>> = { accuracy: sampleVerdict(n) };
  if (quality.probabilityRows > 0) {
    metrics.logLoss = quality.logLossSum / quality.probabilityRows;
    samples.logLoss = sampleVerdict(quality.probabilityRows);
  }
  if (quality.calibration && quality.scores) {
    // Binary: precision, recall, F1 of the positive class.
    const positive = quality.positiveIndex ?? 1;
    Object.assign(metrics, classCounts(confusion, positive));
    const predictedPositive = columnSum(confusion, positive);
    const actualPositive = rowSum(confusion, positive);
    samples.precision = sampleVerdict(predictedPositive);
    samples.recall = sampleVerdict(actualPositive);
    samples.f1 = sampleVerdict(Math.min(predictedPositive, actualPositive));
    const rows = quality.calibration.rows.reduce((s, x) => s + x, 0);
    if (rows > 0) {
      samples.calibrationError = sampleVerdict(rows);
      metrics.calibrationError = quality.calibration.rows.reduce((error, count, bin) => {
        if (count === 0) return error;
        const share = (quality.calibration!.positives[bin] as number) / count;
        const meanProbability = (quality.calibration!.probabilitySums[bin] as number) / count;
        return error + (count / rows) * Math.abs(share - meanProbability);
      }, 0);
    }
    const auc = binnedRocAuc(quality.scores.positives, quality.scores.negatives);
    if (auc) {
      metrics.rocAuc = auc.auc;
      metrics.rocAucMaxError = auc.maxError;
      samples.rocAuc = sampleVerdict(Math.min(sum(Object.values(quality.scores.positives)), sum(Object.values(quality.scores.negatives))));
    }
  } else {
    // Multiclass: macro averages over every label that occurs as actual or predicted (sklearn's labels=None);
    // a macro average rests on its smallest class.
    const present = labels.map((_, i) => i).filter((i) => rowSum(confusion, i) + columnSum(confusion, i) > 0);
    const perClass = present.map((i) => classCounts(confusion, i));
    metrics.precision = mean(perClass.map((c) => c.precision));
    metrics.recall = mean(perClass.map((c) => c.recall));
    metrics.f1 = mean(perClass.map((c) => c.f1));
    const fewestPredicted = Math.min(...present.map((i) => columnSum(confusion, i)));
    const fewestActual = Math.min(...present.map((i) => rowSum(confusion, i)));
    samples.precision = sampleVerdict(fewestPredicted);
    samples.recall = sampleVerdict(fewestActual);
    samples.f1 = sampleVerdict(Math.min(fewestPredicted, fewestActual));
  }
  metrics.samples = samples;
  return metrics;
}

/**
 * The validation baseline: the holdout metrics the manifest records — `training.holdoutMetrics` as the
 * example trainer writes them, or `training.holdout.metrics` as `modelgate package` does. Only finite
 * numbers named like QualityMetrics count.
 */
export function baselineQuality(manifest: Manifest): Partial<Record<QualityMetricName, number>> {
  const training = manifest.training as { holdoutMetrics?: Record<string, unknown>; holdout?: { metrics?: Record<string, unknown> } } | undefined;
  const recorded = training?.holdoutMetrics ?? training?.holdout?.metrics ?? {};
  const names: QualityMetricName[] = ['accuracy', 'precision', 'recall', 'f1', 'rocAuc', 'logLoss', 'calibrationError', 'mae', 'rmse', 'r2'];
  const baseline: Partial<Record<QualityMetricName, number>> = {};
  for (const name of names) {
    const value = recorded[name];
    if (typeof value === 'number' && Number.isFinite(value)) baseline[name] = value;
  }
  return baseline;
}

/**
 * How much worse than the baseline each metric is: baseline - current for metrics where higher is
 * better, current - baseline for the others, so a positive number is always a degradation. Only metrics
 * both sides have, and that rest on enough rows (a degradation is what the alarms watch).
 */
export function qualityDegradation(current: QualityMetrics, baseline: Partial<Record<QualityMetricName, number>>): Partial<Record<QualityMetricName, number>> {
  const degradation: Partial<Record<QualityMetricName, number>> = {};
  for (const [name, reference] of Object.entries(baseline) as [QualityMetricName, number][]) {
    const value = current[name];
    if (value === undefined || current.samples?.[name]?.enough === false) continue;
    degradation[name] = HIGHER_IS_BETTER.has(name) ? reference - value : value - reference;
  }
  return degradation;
}

export function scoreBin(p: number): number {
  return Math.min(Math.floor(p * SCORE_BINS), SCORE_BINS - 1);
}

function classCounts(confusion: readonly (readonly number[])[], index: number): { precision: number; recall: number; f1: number } {
  const truePositives = confusion[index]?.[index] ?? 0;
  const predictedPositive = columnSum(confusion, index);
  const actualPositive = rowSum(confusion, index);
  const precision = predictedPositive === 0 ? 0 : truePositives / predictedPositive;
  const recall = actualPositive === 0 ? 0 : truePositives / actualPositive;
  const denominator = predictedPositive + actualPositive;
  return { precision, recall, f1: denominator === 0 ? 0 : (2 * truePositives) / denominator };
}

function rowSum(confusion: readonly (readonly number[])[], i: number): number {
  return sum(confusion[i] ?? []);
}

function columnSum(confusion: readonly (readonly number[])[], j: number): number {
  return confusion.reduce((total, row) => total + (row[j] ?? 0), 0);
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : sum(values) / values.length;
}

function sum(values: readonly number[]): number {
  return values.reduce((total, x) => total + x, 0);
}

function zeros(n: number): number[] {
  return new Array<number>(n).fill(0);
}

function addArrays(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => x + (b[i] ?? 0));
}

function addSparse(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): Record<string, number> {
  const merged = { ...a };
  for (const [key, count] of Object.entries(b)) merged[key] = (merged[key] ?? 0) + count;
  return merged;
}

function increment(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}
