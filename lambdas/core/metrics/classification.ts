/**
 * Classification quality metrics, defined as scikit-learn defines them so that numbers computed here
 * agree with the numbers data scientists compute offline. Pure functions over plain arrays.
 */

import { checkPaired } from './paired';

/** The four cells of a binary confusion matrix, counted for one positive class. */
export interface ConfusionCounts {
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly trueNegatives: number;
  readonly falseNegatives: number;
}

/** The metrics reported for a binary classifier (on a holdout, or per monitoring window). */
export interface BinaryClassificationMetrics {
  readonly accuracy: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  readonly rocAuc: number;
  readonly logLoss: number;
}

/** Probabilities are clipped to [eps, 1 - eps] before the logarithm, like sklearn's log_loss (eps=1e-15). */
export const LOG_LOSS_EPSILON = 1e-15;

export function confusionCounts<L>(actual: readonly L[], predicted: readonly L[], positiveClass: L): ConfusionCounts {
  checkPaired(actual, predicted);
  let truePositives = 0;
  let falsePositives = 0;
  let trueNegatives = 0;
  let falseNegatives = 0;
  actual.forEach((label, i) => {
    const actualPositive = label === positiveClass;
    const predictedPositive = predicted[i] === positiveClass;
    if (actualPositive && predictedPositive) truePositives++;
    else if (predictedPositive) falsePositives++;
    else if (actualPositive) falseNegatives++;
    else trueNegatives++;
  });
  return { truePositives, falsePositives, trueNegatives, falseNegatives };
}

/** Share of rows whose predicted label equals the actual label (binary or multiclass). */
export function accuracy<L>(actual: readonly L[], predicted: readonly L[]): number {
  checkPaired(actual, predicted);
  return actual.filter((label, i) => label === predicted[i]).length / actual.length;
}

/** TP / (TP + FP); 0 when nothing was predicted positive (sklearn's zero_division=0). */
export function precision(counts: ConfusionCounts): number {
  return ratio(counts.truePositives, counts.truePositives + counts.falsePositives);
}

/** TP / (TP + FN); 0 when there is no actual positive (sklearn's zero_division=0). */
export function recall(counts: ConfusionCounts): number {
  return ratio(counts.truePositives, counts.truePositives + counts.falseNegatives);
}

/** Harmonic mean of precision and recall, 2TP / (2TP + FP + FN); 0 when TP + FP + FN = 0. */
export function f1(counts: ConfusionCounts): number {
  const { truePositives, falsePositives, falseNegatives } = counts;
  return ratio(2 * truePositives, 2 * truePositives + falsePositives + falseNegatives);
}

/**
 * Area under the ROC curve: the probability that a random positive scores above a random negative,
 * ties counting one half. Computed from average ranks (Mann-Whitney U), which equals the trapezoidal
 * area of sklearn's roc_auc_score exactly, ties included. Undefined (throws) with only one class.
 */
export function rocAuc(actualPositive: readonly boolean[], score: readonly number[]): number {
  checkPaired(actualPositive, score);
  const positives = actualPositive.filter(Boolean).length;
  const negatives = actualPositive.length - positives;
  if (positives === 0 || negatives === 0) {
    throw new RangeError('ROC AUC is undefined when only one class is present');
  }
  const order = score.map((_, i) => i).sort((a, b) => (score[a] as number) - (score[b] as number));
  let positiveRankSum = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && score[order[end + 1] as number] === score[order[start] as number]) end++;
    // Ranks start..end (1-based: start+1..end+1) are tied; each gets their average.
    const averageRank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) {
      if (actualPositive[order[k] as number]) positiveRankSum += averageRank;
    }
    start = end + 1;
  }
  const mannWhitneyU = positiveRankSum - (positives * (positives + 1)) / 2;
  return mannWhitneyU / (positives * negatives);
}

/** Mean negative log-likelihood of the actual classes under P(positive), clipped like sklearn. */
export function logLoss(actualPositive: readonly boolean[], probabilityPositive: readonly number[]): number {
  checkPaired(actualPositive, probabilityPositive);
  let total = 0;
  actualPositive.forEach((positive, i) => {
    const p = clipProbability(probabilityPositive[i] as number);
    total -= Math.log(positive ? p : 1 - p);
  });
  return total / actualPositive.length;
}

/**
 * Expected calibration error of P(positive): rows fall into `bins` equal-width bins over [0, 1]
 * ([i/bins, (i+1)/bins), the last bin closed); ECE = sum over bins of (rows in bin / rows) x
 * |share of positives in bin - mean predicted probability in bin|.
 */
export function expectedCalibrationError(actualPositive: readonly boolean[], probabilityPositive: readonly number[], bins = 10): number {
  checkPaired(actualPositive, probabilityPositive);
  const rows = new Array<number>(bins).fill(0);
  const positives = new Array<number>(bins).fill(0);
  const probabilitySums = new Array<number>(bins).fill(0);
  probabilityPositive.forEach((p, i) => {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`probability must be in [0, 1], got ${p} at row ${i}`);
    const bin = Math.min(Math.floor(p * bins), bins - 1);
    rows[bin]!++;
    probabilitySums[bin]! += p;
    if (actualPositive[i]) positives[bin]!++;
  });
  let error = 0;
  rows.forEach((n, bin) => {
    if (n > 0) error += (n / actualPositive.length) * Math.abs((positives[bin] as number) / n - (probabilitySums[bin] as number) / n);
  });
  return error;
}

/**
 * Unweighted mean of the per-class F1 scores, over every label that occurs in `actual` or `predicted`
 * (sklearn's f1_score with average='macro').
 */
export function macroF1<L>(actual: readonly L[], predicted: readonly L[]): number {
  checkPaired(actual, predicted);
  const labels = new Set([...actual, ...predicted]);
  let sum = 0;
  for (const label of labels) sum += f1(confusionCounts(actual, predicted, label));
  return sum / labels.size;
}

/**
 * Multiclass log loss: `probabilities[i][c]` is P(classLabels[c]) for row i. Each probability is
 * clipped to [eps, 1 - eps]; rows are not renormalised.
 */
export function multiclassLogLoss<L>(actual: readonly L[], probabilities: readonly (readonly number[])[], classLabels: readonly L[]): number {
  checkPaired(actual, probabilities);
  let total = 0;
  actual.forEach((label, i) => {
    const column = classLabels.indexOf(label);
    if (column === -1) throw new RangeError(`row ${i}: label ${String(label)} is not one of the class labels`);
    const row = probabilities[i] as readonly number[];
    if (row.length !== classLabels.length) {
      throw new RangeError(`row ${i}: ${row.length} probabilities for ${classLabels.length} class labels`);
    }
    total -= Math.log(clipProbability(row[column] as number));
  });
  return total / actual.length;
}

/** The standard report for a binary classifier: labels are P(positive) >= threshold. */
export function binaryClassificationMetrics(actualPositive: readonly boolean[], probabilityPositive: readonly number[], threshold = 0.5): BinaryClassificationMetrics {
  const predictedPositive = probabilityPositive.map((p) => p >= threshold);
  const counts = confusionCounts(actualPositive, predictedPositive, true);
  return {
    accuracy: accuracy(actualPositive, predictedPositive),
    precision: precision(counts),
    recall: recall(counts),
    f1: f1(counts),
    rocAuc: rocAuc(actualPositive, probabilityPositive),
    logLoss: logLoss(actualPositive, probabilityPositive),
  };
}

/**
 * ROC AUC from score histograms: the probability that a positive scores above a negative, pairs in the
 * same bin counting one half (Mann-Whitney on binned scores). Counts may be fractional (expected counts).
 * It equals the exact AUC of the scores rounded to their bins; against the raw scores it can be off only
 * through pairs that share a bin, so |error| <= (sum over bins of positives x negatives) / (2 P N),
 * returned as `maxError`. Undefined when a class has no weight.
 */
export function binnedRocAuc(positives: Readonly<Record<string, number>>, negatives: Readonly<Record<string, number>>): { auc: number; maxError: number } | undefined {
  const bins = [...new Set([...Object.keys(positives), ...Object.keys(negatives)])].map(Number).sort((a, b) => a - b);
  const totalPositives = Object.values(positives).reduce((total, x) => total + x, 0);
  const totalNegatives = Object.values(negatives).reduce((total, x) => total + x, 0);
  if (!(totalPositives > 0 && totalNegatives > 0)) return undefined;
  let negativesBelow = 0;
  let wins = 0;
  let tiedPairs = 0;
  for (const bin of bins) {
    const pos = positives[String(bin)] ?? 0;
    const neg = negatives[String(bin)] ?? 0;
    wins += pos * negativesBelow + 0.5 * pos * neg;
    tiedPairs += pos * neg;
    negativesBelow += neg;
  }
  const pairs = totalPositives * totalNegatives;
  return { auc: wins / pairs, maxError: tiedPairs / (2 * pairs) };
}

function clipProbability(p: number): number {
  return Math.min(Math.max(p, LOG_LOSS_EPSILON), 1 - LOG_LOSS_EPSILON);
}

function ratio(numerator: number, denominator: number): number {
  return denominator === 0 ? 0 : numerator / denominator;
}
