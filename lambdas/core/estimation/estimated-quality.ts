// Estimated quality before the labels arrive: NannyML's confidence-based performance estimation (CBPE).
// With calibrated probabilities, a prediction of class c with P(c) = q is right with probability q, so the
// expected confusion matrix, and every metric of it, follows from the probabilities alone. It runs on a
// mergeable aggregate of the calibrated probabilities (per class: a histogram over the model's own P(class),
// and sums over the rows predicted as that class), so the monitor's cost stays flat in traffic and the same
// code serves an offline set of rows. docs/monitoring.md explains the definitions and the interval.
import type { Manifest } from '../manifest-types';
import { binnedRocAuc } from '../metrics/classification';
import { sampleVerdict, type SampleVerdict } from '../metrics/sample';
import { evaluatePredictions, type Target } from '../promotion/evaluation';
import type { RowPrediction } from '../tensors';
import { calibratedClasses, calibratedProbabilities } from './calibration';

/**
 * Equal-width bins of the model's own P(class) over [0, 1]. The rows of a bin count as tied when ROC AUC is
 * estimated; within a bin of width 0.01 the calibrated probabilities barely differ, so the estimate moves
 * by far less than its interval (the simulation in test/core/estimated-quality.test.ts measures it).
 */
export const ESTIMATION_BINS = 100;
/** The interval is the estimate +- this many standard errors (NannyML draws its sampling-error band at 3). */
export const INTERVAL_SIGMAS = 3;

/** Rows, the sum of their calibrated P(class), and the sum of its squares: [rows, sum, sumSquares]. */
export type ScoreSums = [number, number, number];

export interface ClassEstimation {
  /** Per bin of the model's raw P(class) (an index into ESTIMATION_BINS, sparse): the ScoreSums of its rows. */
  bins: Record<string, ScoreSums>;
  /** The ScoreSums of the rows predicted as this class. */
  predicted: ScoreSums;
}

/**
 * The window's predictions as estimation needs them, JSON-serialisable and mergeable. `labels` are the
 * classes kept: a binary classifier's positive class (its negative is the complement), every class of a
 * multiclass one.
 */
export interface EstimationAggregate {
  readonly labels: readonly string[];
  /** Predictions counted (those with a probability in [0, 1] for every class, and a label). */
  rows: number;
  classes: ClassEstimation[];
}

export type EstimatedMetricName = 'accuracy' | 'precision' | 'recall' | 'f1' | 'rocAuc';
export const ESTIMATED_METRICS: readonly EstimatedMetricName[] = ['accuracy', 'precision', 'recall', 'f1', 'rocAuc'];

/** The estimate +- INTERVAL_SIGMAS standard errors, clipped to [0, 1]. */
export interface EstimateInterval {
  readonly lower: number;
  readonly upper: number;
  readonly standardError: number;
}

export interface EstimatedQuality {
  /** Predictions the estimate rests on. */
  readonly rows: number;
  /** Binary: of the positive class; multiclass: macro averages over the classes (ROC AUC one against the rest). */
  readonly estimated: Partial<Record<EstimatedMetricName, number>>;
  readonly interval: Partial<Record<EstimatedMetricName, EstimateInterval>>;
  /** Per metric, the (expected) count it rests on, against MIN_METRIC_ROWS. */
  readonly samples: Partial<Record<EstimatedMetricName, SampleVerdict>>;
}

/** A set of rows the offline estimate is asked for, with the realized metrics when its labels are known. */
export interface RowsEstimate extends EstimatedQuality {
  /** The same metrics on the labels (evaluatePredictions: sklearn's definitions, exact ROC AUC). */
  readonly realized?: Partial<Record<EstimatedMetricName, number>>;
}

/** The model cannot be estimated: it is not a classifier with a probabilities output. */
export class EstimationError extends Error {
  override readonly name = 'EstimationError';
}

/** An empty aggregate for the manifest, or undefined when it has nothing to estimate (regression, no probabilities). */
export function emptyEstimation(manifest: Manifest): EstimationAggregate | undefined {
  if (manifest.task === 'regression' || manifest.outputs.probabilities === undefined) return undefined;
  const labels = calibratedClasses(manifest);
  return { labels, rows: 0, classes: labels.map(() => ({ bins: {}, predicted: [0, 0, 0] })) };
}

/**
 * Counts one prediction into `estimation` (in place) with its calibrated probabilities; returns whether it
 * counted. A prediction without a label or a probability in [0, 1] for a class is not counted.
 */
export function addPrediction(estimation: EstimationAggregate, manifest: Manifest, outputs: RowPrediction): boolean {
  const calibrated = calibratedProbabilities(manifest, outputs.probabilities);
  if (!calibrated || outputs.label === undefined || !outputs.probabilities) return false;
  const predicted = String(outputs.label);
  estimation.rows++;
  estimation.labels.forEach((label, k) => {
    const entry = estimation.classes[k] as ClassEstimation;
    const q = calibrated[label] as number;
    const bin = String(Math.min(Math.floor((outputs.probabilities![label] as number) * ESTIMATION_BINS), ESTIMATION_BINS - 1));
    entry.bins[bin] = addTo(Object.hasOwn(entry.bins, bin) ? entry.bins[bin] : undefined, q);
    if (predicted === label) entry.predicted = addTo(entry.predicted, q);
  });
  return true;
}

/** The aggregate of two windows (a new object; the arguments are not changed). */
export function mergeEstimation(a: EstimationAggregate, b: EstimationAggregate): EstimationAggregate {
  if (a.labels.join('\u0000') !== b.labels.join('\u0000')) {
    throw new RangeError(`cannot merge estimation over different classes (${a.labels.join(', ')} and ${b.labels.join(', ')})`);
  }
  return {
    labels: [...a.labels],
    rows: a.rows + b.rows,
    classes: a.classes.map((left, k) => {
      const right = b.classes[k] as ClassEstimation;
      const bins: Record<string, ScoreSums> = { ...left.bins };
      for (const [bin, sums] of Object.entries(right.bins)) bins[bin] = Object.hasOwn(bins, bin) ? addSums(bins[bin] as ScoreSums, sums) : [...sums];
      return { bins, predicted: addSums(left.predicted, right.predicted) };
    }),
  };
}

/**
 * CBPE's estimates from an aggregate, each with its interval (docs/monitoring.md):
 * - the expected confusion matrix of a class c: TP = the sum of P(c) over the rows predicted c, FP = those
 *   rows - TP, FN = the sum of P(c) over the other rows, TN = the other rows - FN;
 * - accuracy = the expected correct rows / rows; precision, recall and F1 from the expected matrix
 *   (binary: of the positive class; multiclass: macro averages over the classes);
 * - ROC AUC from the expected true and false positive rates over every score threshold: the binned
 *   Mann-Whitney AUC of the expected positives (sum of P(c)) and negatives (rows - sum) per bin of the
 *   model's own score; multiclass: the macro average one against the rest.
 * The standard error is that of the realized metric given the window's probabilities: each row's label is
 * a Bernoulli draw with its calibrated probability, so a count over rows has variance sum(q (1 - q)), and a
 * ratio's follows by the delta method. Multiclass macro averages: precision adds the classes' variances
 * (disjoint rows); recall, F1 and ROC AUC add their standard errors, an upper bound (see `macro`).
 */
export function estimateQuality(estimation: EstimationAggregate): EstimatedQuality {
  const n = estimation.rows;
  if (n === 0) return { rows: 0, estimated: {}, interval: {}, samples: {} };
  const perClass = estimation.classes.map((entry) => classEstimate(entry));
  const parts: Partial<Record<EstimatedMetricName, { value: number; variance: number; size: number }>> = {};
  if (estimation.labels.length === 1) {
    const c = perClass[0] as ClassEstimate;
    // Binary: right on a row predicted positive with P(positive), on one predicted negative with 1 - P(positive).
    const trueNegatives = n - c.predicted - c.falseNegatives;
    parts.accuracy = { value: (c.truePositives + trueNegatives) / n, variance: (c.truePositivesVariance + c.falseNegativesVariance) / (n * n), size: n };
    parts.precision = { ...c.precision, size: c.predicted };
    parts.recall = { ...c.recall, size: c.positives };
    parts.f1 = { ...c.f1, size: Math.min(c.predicted, c.positives) };
    if (c.rocAuc) parts.rocAuc = { ...c.rocAuc, size: Math.min(c.positives, n - c.positives) };
  } else {
    const right = sum(perClass.map((c) => c.truePositives));
    parts.accuracy = { value: right / n, variance: sum(perClass.map((c) => c.truePositivesVariance)) / (n * n), size: n };
    // Precision's classes rest on disjoint rows (those predicted as each class): their variances add. Recall,
    // F1 and ROC AUC of different classes share every row, whose one label is positive for one class and
    // negative for the others; the aggregate cannot tell how their errors co-vary, so their standard errors
    // add instead (the most they can be, perfectly correlated).
    parts.precision = {
      ...macro(
        perClass.map((c) => c.precision),
        'independent',
      ),
      size: Math.min(...perClass.map((c) => c.predicted)),
    };
    parts.recall = {
      ...macro(
        perClass.map((c) => c.recall),
        'correlated',
      ),
      size: Math.min(...perClass.map((c) => c.positives)),
    };
    parts.f1 = {
      ...macro(
        perClass.map((c) => c.f1),
        'correlated',
      ),
      size: Math.min(...perClass.map((c) => Math.min(c.predicted, c.positives))),
    };
    const aucs = perClass.map((c) => c.rocAuc);
    if (aucs.every((auc) => auc !== undefined)) {
      parts.rocAuc = { ...macro(aucs as { value: number; variance: number }[], 'correlated'), size: Math.min(...perClass.map((c) => Math.min(c.positives, n - c.positives))) };
    }
  }
  const estimated: EstimatedQuality['estimated'] = {};
  const interval: EstimatedQuality['interval'] = {};
  const samples: EstimatedQuality['samples'] = {};
  for (const name of ESTIMATED_METRICS) {
    const part = parts[name];
    if (!part) continue;
    const standardError = Math.sqrt(Math.max(0, part.variance));
    estimated[name] = part.value;
    interval[name] = {
      lower: Math.max(0, part.value - INTERVAL_SIGMAS * standardError),
      upper: Math.min(1, part.value + INTERVAL_SIGMAS * standardError),
      standardError,
    };
    samples[name] = sampleVerdict(part.size);
  }
  return { rows: n, estimated, interval, samples };
}

/** The empty aggregate of a model that can be estimated; throws EstimationError saying why one cannot. */
export function estimationFor(manifest: Manifest): EstimationAggregate {
  const estimation = emptyEstimation(manifest);
  if (estimation) return estimation;
  throw new EstimationError(
    manifest.task === 'regression'
      ? `estimated quality is for classifiers; ${manifest.name} v${manifest.version} is a regression`
      : `estimated quality needs probabilities, and ${manifest.name} v${manifest.version} has no outputs.probabilities`,
  );
}

/**
 * The offline form: the estimate for a set of the model's predictions (e.g. on an unlabeled CSV), through
 * the same aggregate the monitor keeps, and the realized metrics beside it when `actual` is given.
 */
export function estimateQualityOnRows(manifest: Manifest, predictions: readonly RowPrediction[], actual?: readonly Target[]): RowsEstimate {
  const estimation = estimationFor(manifest);
  for (const prediction of predictions) addPrediction(estimation, manifest, prediction);
  const estimate = estimateQuality(estimation);
  if (actual === undefined) return estimate;
  const metrics = evaluatePredictions(manifest, actual, predictions);
  const realized = Object.fromEntries(ESTIMATED_METRICS.filter((name) => metrics[name] !== undefined).map((name) => [name, metrics[name] as number]));
  return { ...estimate, realized };
}

interface ClassEstimate {
  /** Rows predicted as the class, and the expected positives (sum of P(c)) over all rows. */
  readonly predicted: number;
  readonly positives: number;
  readonly truePositives: number;
  readonly truePositivesVariance: number;
  readonly falseNegatives: number;
  readonly falseNegativesVariance: number;
  readonly precision: { value: number; variance: number };
  readonly recall: { value: number; variance: number };
  readonly f1: { value: number; variance: number };
  readonly rocAuc?: { value: number; variance: number };
}

/**
 * One class against the rest. With A the true positives (over the rows predicted c) and B the false
 * negatives (over the others), independent sums of Bernoulli draws with variances vA, vB:
 * precision = A / predicted, var vA / predicted^2; recall = A / (A + B), var (B^2 vA + A^2 vB) / (A + B)^4;
 * F1 = 2A / (A + predicted + B), var 4 ((predicted + B)^2 vA + A^2 vB) / (A + predicted + B)^4.
 * Zero where the metric divides by zero (sklearn's zero_division=0).
 */
function classEstimate(entry: ClassEstimation): ClassEstimate {
  const [predicted, truePositives, truePositivesSquares] = entry.predicted;
  let positives = 0;
  let squares = 0;
  for (const [, sumQ, sumSquares] of Object.values(entry.bins)) {
    positives += sumQ;
    squares += sumSquares;
  }
  const truePositivesVariance = Math.max(0, truePositives - truePositivesSquares);
  const falseNegatives = Math.max(0, positives - truePositives);
  const falseNegativesVariance = Math.max(0, positives - squares - truePositivesVariance);
  const a = truePositives;
  const b = falseNegatives;
  const f1Denominator = a + predicted + b;
  const rocAuc = estimatedRocAuc(entry.bins);
  return {
    predicted,
    positives,
    truePositives,
    truePositivesVariance,
    falseNegatives,
    falseNegativesVariance,
    precision: predicted > 0 ? { value: a / predicted, variance: truePositivesVariance / (predicted * predicted) } : { value: 0, variance: 0 },
    recall: positives > 0 ? { value: a / positives, variance: (b * b * truePositivesVariance + a * a * falseNegativesVariance) / positives ** 4 } : { value: 0, variance: 0 },
    f1:
      f1Denominator > 0
        ? { value: (2 * a) / f1Denominator, variance: (4 * ((predicted + b) ** 2 * truePositivesVariance + a * a * falseNegativesVariance)) / f1Denominator ** 4 }
        : { value: 0, variance: 0 },
    ...(rocAuc ? { rocAuc } : {}),
  };
}

/**
 * ROC AUC of the expected positives and negatives per score bin, and its variance by the delta method: a
 * row of bin b turning positive adds to the wins W its negatives below (and half of its bin's), takes away
 * the positives above it (and half of its bin's), and changes P N by N - P; so
 * dAUC/dP_b = (N_below + N_b/2 - P_b/2 - P_above - AUC (N - P)) / (P N), and var = sum_b (dAUC/dP_b)^2 v_b
 * with v_b = sum over the bin of q (1 - q).
 */
function estimatedRocAuc(bins: Readonly<Record<string, ScoreSums>>): { value: number; variance: number } | undefined {
  const positives: Record<string, number> = {};
  const negatives: Record<string, number> = {};
  for (const [bin, [rows, sumQ]] of Object.entries(bins)) {
    positives[bin] = sumQ;
    negatives[bin] = rows - sumQ;
  }
  const auc = binnedRocAuc(positives, negatives);
  if (!auc) return undefined;
  const order = Object.keys(bins).sort((x, y) => Number(x) - Number(y));
  const totalPositives = sum(Object.values(positives));
  const totalNegatives = sum(Object.values(negatives));
  let negativesBelow = 0;
  let positivesUpTo = 0;
  let variance = 0;
  for (const bin of order) {
    const [, sumQ, sumSquares] = bins[bin] as ScoreSums;
    const p = positives[bin] as number;
    const q = negatives[bin] as number;
    positivesUpTo += p;
    const positivesAbove = totalPositives - positivesUpTo;
    const gradient = (negativesBelow + q / 2 - p / 2 - positivesAbove - auc.auc * (totalNegatives - totalPositives)) / (totalPositives * totalNegatives);
    variance += gradient * gradient * Math.max(0, sumQ - sumSquares);
    negativesBelow += q;
  }
  return { value: auc.auc, variance };
}

/** The mean of per-class estimates; its variance for independent classes, or its bound for correlated ones. */
function macro(parts: readonly { value: number; variance: number }[], errors: 'independent' | 'correlated'): { value: number; variance: number } {
  const classes = parts.length;
  const value = sum(parts.map((p) => p.value)) / classes;
  if (errors === 'independent') return { value, variance: sum(parts.map((p) => p.variance)) / classes ** 2 };
  return { value, variance: (sum(parts.map((p) => Math.sqrt(p.variance))) / classes) ** 2 };
}

function addTo(sums: ScoreSums | undefined, q: number): ScoreSums {
  return sums ? [sums[0] + 1, sums[1] + q, sums[2] + q * q] : [1, q, q * q];
}

function addSums(a: ScoreSums, b: ScoreSums): ScoreSums {
  return [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
}

function sum(values: readonly number[]): number {
  return values.reduce((total, x) => total + x, 0);
}
