import { describe, expect, it } from 'vitest';
import {
  accuracy,
  binaryClassificationMetrics,
  confusionCounts,
  expectedCalibrationError,
  f1,
  logLoss,
  macroF1,
  multiclassLogLoss,
  precision,
  recall,
  rocAuc,
} from '../../lambdas/core/metrics/classification';
import { meanAbsoluteError, r2Score, rootMeanSquaredError } from '../../lambdas/core/metrics/regression';

const bool = (labels: readonly number[]) => labels.map((y) => y === 1);

describe('binary label metrics', () => {
  // actual    1 1 1 0 0 0 0 1
  // predicted 1 0 1 1 0 0 0 0  -> TP 2, FN 2, FP 1, TN 3
  const actual = [1, 1, 1, 0, 0, 0, 0, 1];
  const predicted = [1, 0, 1, 1, 0, 0, 0, 0];
  const counts = confusionCounts(actual, predicted, 1);

  it('counts the confusion matrix for the positive class', () => {
    expect(counts).toEqual({ truePositives: 2, falsePositives: 1, trueNegatives: 3, falseNegatives: 2 });
  });

  it.each([
    ['accuracy', accuracy(actual, predicted), 5 / 8],
    ['precision', precision(counts), 2 / 3],
    ['recall', recall(counts), 2 / 4],
    ['f1', f1(counts), (2 * 2) / (2 * 2 + 1 + 2)],
  ])('%s', (_name, value, expected) => {
    expect(value).toBeCloseTo(expected, 12);
  });

  it('is 0 where a ratio has nothing to count, like sklearn zero_division=0', () => {
    const none = confusionCounts(['a', 'a'], ['a', 'a'], 'b');
    expect([precision(none), recall(none), f1(none)]).toEqual([0, 0, 0]);
  });

  it('works for string labels', () => {
    expect(confusionCounts(['Yes', 'No', 'Yes'], ['Yes', 'Yes', 'No'], 'Yes')).toEqual({
      truePositives: 1,
      falsePositives: 1,
      trueNegatives: 0,
      falseNegatives: 1,
    });
  });

  it('rejects arrays of different lengths and empty arrays', () => {
    expect(() => accuracy([1, 0], [1])).toThrow(/as many predictions/);
    expect(() => accuracy([], [])).toThrow(/at least one row/);
  });
});

describe('rocAuc', () => {
  it.each([
    // sklearn docs, roc_auc_score example.
    { actual: [0, 0, 1, 1], score: [0.1, 0.4, 0.35, 0.8], expected: 0.75 },
    // Pairs (pos, neg): (0.5, 0.5) tie = 1/2, (0.5, 0.2) = 1, (0.8, 0.5) = 1, (0.8, 0.2) = 1 -> 3.5 / 4.
    { actual: [0, 1, 0, 1], score: [0.5, 0.5, 0.2, 0.8], expected: 0.875 },
    // Every score tied: the ROC curve is the diagonal.
    { actual: [0, 1, 1, 0, 1], score: [0.3, 0.3, 0.3, 0.3, 0.3], expected: 0.5 },
    { actual: [1, 1, 0, 0], score: [0.9, 0.8, 0.2, 0.1], expected: 1 },
    { actual: [1, 1, 0, 0], score: [0.1, 0.2, 0.8, 0.9], expected: 0 },
    // pos {3, 2, 2}, neg {2, 1}: (3,2)=1 (3,1)=1 (2,2)=1/2 (2,1)=1 twice -> 5 / 6.
    { actual: [1, 1, 1, 0, 0], score: [3, 2, 2, 2, 1], expected: 5 / 6 },
  ])('$actual / $score -> $expected', ({ actual, score, expected }) => {
    expect(rocAuc(bool(actual), score)).toBeCloseTo(expected, 12);
  });

  it('is undefined with one class, like sklearn', () => {
    expect(() => rocAuc([true, true], [0.1, 0.2])).toThrow(/only one class/);
  });
});

describe('logLoss', () => {
  it.each([
    // sklearn docs: log_loss(["spam", "ham", "ham", "spam"], [[.1, .9], [.9, .1], [.8, .2], [.35, .65]]) = 0.21616...
    { actual: [1, 0, 0, 1], p: [0.9, 0.1, 0.2, 0.65], expected: 0.21616187468057912 },
    { actual: [1, 0], p: [0.5, 0.5], expected: Math.LN2 },
    // Clipped at 1e-15: a confident miss costs -ln(1e-15) = 34.538776394910684, not Infinity.
    { actual: [1], p: [0], expected: 34.538776394910684 },
  ])('$actual / $p -> $expected', ({ actual, p, expected }) => {
    expect(logLoss(bool(actual), p)).toBeCloseTo(expected, 10);
  });
});

describe('expectedCalibrationError', () => {
  it('weighs each bin gap by its share of rows', () => {
    // Bin [0.1, 0.2): p 0.1, 0.1, actual 0, 1 -> |0.5 - 0.1| = 0.4, weight 2/4.
    // Bin [0.9, 1.0]: p 0.9, 1.0, actual 1, 1 -> |1 - 0.95| = 0.05, weight 2/4.
    expect(expectedCalibrationError(bool([0, 1, 1, 1]), [0.1, 0.1, 0.9, 1.0])).toBeCloseTo(0.225, 12);
  });

  it('is 0 for a perfectly calibrated forecast', () => {
    expect(expectedCalibrationError(bool([1, 0, 1, 0]), [0.5, 0.5, 0.5, 0.5])).toBe(0);
  });

  it('rejects probabilities outside [0, 1]', () => {
    expect(() => expectedCalibrationError([true], [1.5])).toThrow(/\[0, 1\]/);
  });
});

describe('multiclass', () => {
  // sklearn docs (f1_score, precision_score): y_true = [0, 1, 2, 0, 1, 2], y_pred = [0, 2, 1, 0, 0, 1].
  const actual = [0, 1, 2, 0, 1, 2];
  const predicted = [0, 2, 1, 0, 0, 1];

  it('accuracy', () => {
    expect(accuracy(actual, predicted)).toBeCloseTo(1 / 3, 12);
  });

  it('macro F1 = 0.2666..., as in the sklearn docs', () => {
    expect(macroF1(actual, predicted)).toBeCloseTo(0.26666666666666666, 12);
  });

  it('macro F1 averages over labels that are only predicted, too', () => {
    // Label 'c' is never actual: its F1 is 0 and still counts. a: 1, b: 2/3, c: 0.
    expect(macroF1(['a', 'b', 'b'], ['a', 'b', 'c'])).toBeCloseTo((1 + 2 / 3 + 0) / 3, 12);
  });

  it('log loss picks the probability of the actual class', () => {
    const probabilities = [
      [0.1, 0.9],
      [0.9, 0.1],
      [0.8, 0.2],
      [0.35, 0.65],
    ];
    expect(multiclassLogLoss(['spam', 'ham', 'ham', 'spam'], probabilities, ['ham', 'spam'])).toBeCloseTo(0.21616187468057912, 10);
    expect(
      multiclassLogLoss(
        ['a', 'c'],
        [
          [0.2, 0.3, 0.5],
          [0.25, 0.25, 0.5],
        ],
        ['a', 'b', 'c'],
      ),
    ).toBeCloseTo(-(Math.log(0.2) + Math.log(0.5)) / 2, 12);
  });

  it('log loss rejects unknown labels and short rows', () => {
    expect(() => multiclassLogLoss(['x'], [[0.5, 0.5]], ['a', 'b'])).toThrow(/not one of the class labels/);
    expect(() => multiclassLogLoss(['a'], [[1]], ['a', 'b'])).toThrow(/1 probabilities for 2 class labels/);
  });
});

describe('binaryClassificationMetrics', () => {
  it('labels rows at P >= threshold and reports every metric', () => {
    const metrics = binaryClassificationMetrics(bool([0, 0, 1, 1]), [0.1, 0.4, 0.35, 0.8], 0.4);
    // Predicted positive: 0.4, 0.8 -> TP 1, FP 1, FN 1, TN 1.
    expect(metrics.accuracy).toBeCloseTo(0.5, 12);
    expect(metrics.precision).toBeCloseTo(0.5, 12);
    expect(metrics.recall).toBeCloseTo(0.5, 12);
    expect(metrics.f1).toBeCloseTo(0.5, 12);
    expect(metrics.rocAuc).toBeCloseTo(0.75, 12);
    expect(metrics.logLoss).toBeCloseTo(-(Math.log(0.9) + Math.log(0.6) + Math.log(0.35) + Math.log(0.8)) / 4, 12);
  });
});

describe('regression', () => {
  // sklearn docs: y_true = [3, -0.5, 2, 7], y_pred = [2.5, 0.0, 2, 8].
  const actual = [3, -0.5, 2, 7];
  const predicted = [2.5, 0.0, 2, 8];

  it.each([
    ['mean absolute error', meanAbsoluteError(actual, predicted), 0.5],
    ['root mean squared error', rootMeanSquaredError(actual, predicted), Math.sqrt(0.375)],
    ['r2', r2Score(actual, predicted), 0.9486081370449679],
  ])('%s', (_name, value, expected) => {
    expect(value).toBeCloseTo(expected, 12);
  });

  it.each([
    // sklearn docs: r2_score([1, 2, 3], [1, 2, 3]) = 1, [2, 2, 2] = 0, [3, 2, 1] = -3.
    { predicted: [1, 2, 3], expected: 1 },
    { predicted: [2, 2, 2], expected: 0 },
    { predicted: [3, 2, 1], expected: -3 },
  ])('r2 of $predicted against [1, 2, 3] is $expected', ({ predicted: p, expected }) => {
    expect(r2Score([1, 2, 3], p)).toBeCloseTo(expected, 12);
  });

  it('r2 of a constant target is 1 when exact, 0 otherwise (sklearn force_finite)', () => {
    expect(r2Score([-2, -2, -2], [-2, -2, -2])).toBe(1);
    expect(r2Score([-2, -2, -2], [-2, -2, -2 + 1e-8])).toBe(0);
  });
});
