// Estimated quality (CBPE) against answers worked out by hand, the mergeable aggregate it runs on, and two
// seeded simulations: covariate shift, where the estimate must track the realized accuracy and ROC AUC within
// its interval, and concept drift, where CBPE is blind by construction.
import { describe, expect, it } from 'vitest';
import { calibratedProbabilities, fitCalibration } from '../../lambdas/core/estimation/calibration';
import {
  addPrediction,
  emptyEstimation,
  EstimationError,
  estimateQuality,
  estimateQualityOnRows,
  mergeEstimation,
  type EstimatedQuality,
  type EstimationAggregate,
} from '../../lambdas/core/estimation/estimated-quality';
import { parseManifest, type Manifest } from '../../lambdas/core/manifest';
import { accuracy, rocAuc } from '../../lambdas/core/metrics/classification';
import { MIN_METRIC_ROWS } from '../../lambdas/core/metrics/sample';
import { addServed, emptyQuality, mergeQuality, type ClassificationQuality } from '../../lambdas/core/monitoring/quality';
import { mulberry32 } from '../../lambdas/core/random';
import type { RowPrediction } from '../../lambdas/core/tensors';

const binary = parseManifest({
  schemaVersion: '1',
  name: 'churn',
  version: '1',
  task: 'binary-classification',
  features: [{ name: 'x', type: 'number' }],
  inputs: [{ name: 'x', dtype: 'float32', features: ['x'] }],
  outputs: { label: 'label', probabilities: 'probabilities' },
  classLabels: ['No', 'Yes'],
  model: { file: 'model.onnx', sha256: 'ab'.repeat(32) },
});
const multiclass = parseManifest({ ...binary, task: 'multiclass-classification', classLabels: ['a', 'b', 'c'] });

function binaryPrediction(manifest: Manifest, p: number): RowPrediction {
  return { label: p >= (manifest.threshold ?? 0.5) ? 'Yes' : 'No', probabilities: { No: 1 - p, Yes: p } };
}

function aggregate(manifest: Manifest, predictions: readonly RowPrediction[]): EstimationAggregate {
  const estimation = emptyEstimation(manifest)!;
  for (const prediction of predictions) addPrediction(estimation, manifest, prediction);
  return estimation;
}

describe('CBPE on small cases, by hand', () => {
  // P(Yes) 0.9, 0.7, 0.4, 0.2 at threshold 0.5: predicted Yes, Yes, No, No.
  const scores = [0.9, 0.7, 0.4, 0.2];
  const estimate = estimateQuality(
    aggregate(
      binary,
      scores.map((p) => binaryPrediction(binary, p)),
    ),
  );

  it('the expected confusion matrix: TP 1.6, FP 0.4, FN 0.6, TN 1.4', () => {
    // TP = 0.9 + 0.7; FP = 2 - TP; FN = 0.4 + 0.2; TN = 2 - FN.
    expect(estimate.rows).toBe(4);
    expect(estimate.estimated.accuracy).toBeCloseTo((1.6 + 1.4) / 4, 12); // = mean of max(p, 1 - p)
    expect(estimate.estimated.precision).toBeCloseTo(1.6 / 2, 12);
    expect(estimate.estimated.recall).toBeCloseTo(1.6 / 2.2, 12);
    expect(estimate.estimated.f1).toBeCloseTo((2 * 1.6) / (2 * 1.6 + 0.4 + 0.6), 12);
  });

  it('ROC AUC from the expected TPR and FPR over every threshold: 53/66', () => {
    // Thresholds 0.9, 0.7, 0.4, 0.2 give (FPR, TPR) = (0.1/1.8, 0.9/2.2), (0.4/1.8, 1.6/2.2), (1.0/1.8, 2.0/2.2),
    // (1, 1); the trapezoids from (0, 0) add up to 3.18 / (2.2 x 1.8) = 53/66 = 0.80303.
    expect(estimate.estimated.rocAuc).toBeCloseTo(53 / 66, 12);
  });

  it('the interval: 3 standard errors of the realized metric given the probabilities', () => {
    // Accuracy: var = sum q (1 - q) / n^2 = (0.09 + 0.21 + 0.24 + 0.16) / 16; precision: (0.09 + 0.21) / 2^2.
    expect(estimate.interval.accuracy!.standardError).toBeCloseTo(Math.sqrt(0.7 / 16), 12);
    expect(estimate.interval.accuracy!.lower).toBeCloseTo(0.75 - 3 * Math.sqrt(0.7 / 16), 12);
    expect(estimate.interval.accuracy!.upper).toBe(1);
    expect(estimate.interval.precision!.standardError).toBeCloseTo(Math.sqrt(0.3 / 4), 12);
    // Recall A / (A + B): var = (B^2 vA + A^2 vB) / (A + B)^4 with A = 1.6, vA = 0.3, B = 0.6, vB = 0.4.
    expect(estimate.interval.recall!.standardError).toBeCloseTo(Math.sqrt((0.36 * 0.3 + 2.56 * 0.4) / 2.2 ** 4), 12);
  });

  it("the predicted label is the model's: at threshold 0.8 the 0.7 row is predicted No and right with 0.3", () => {
    const strict = parseManifest({ ...binary, threshold: 0.8 });
    const estimated = estimateQuality(
      aggregate(
        strict,
        scores.map((p) => binaryPrediction(strict, p)),
      ),
    );
    expect(estimated.estimated.accuracy).toBeCloseTo((0.9 + 0.3 + 0.6 + 0.8) / 4, 12);
    expect(estimated.estimated.precision).toBeCloseTo(0.9, 12);
  });

  it("calibrated probabilities make the expectations; the model's own scores order the rows", () => {
    // A map that says 0.5 whatever the score: every prediction is a coin flip, and no order is better than chance.
    const flat = parseManifest({
      ...binary,
      calibration: { method: 'isotonic', holdoutRows: 100, classes: { Yes: { rawError: 0.2, calibratedError: 0.1, map: { scores: [0, 1], probabilities: [0.5, 0.5] } } } },
    });
    const estimated = estimateQuality(
      aggregate(
        flat,
        scores.map((p) => binaryPrediction(flat, p)),
      ),
    );
    expect(estimated.estimated.accuracy).toBeCloseTo(0.5, 12);
    expect(estimated.estimated.rocAuc).toBeCloseTo(0.5, 12);
  });

  it('multiclass: accuracy is the mean P(predicted class); precision, recall and F1 are macro averages', () => {
    const rows = [
      { label: 'a', probabilities: { a: 0.6, b: 0.3, c: 0.1 } },
      { label: 'b', probabilities: { a: 0.2, b: 0.5, c: 0.3 } },
      { label: 'c', probabilities: { a: 0.1, b: 0.2, c: 0.7 } },
    ];
    const estimated = estimateQuality(aggregate(multiclass, rows)).estimated;
    // Per class: TP = P(c) of the row predicted c; expected positives a 0.9, b 1.0, c 1.1.
    expect(estimated.accuracy).toBeCloseTo((0.6 + 0.5 + 0.7) / 3, 12);
    expect(estimated.precision).toBeCloseTo((0.6 + 0.5 + 0.7) / 3, 12);
    expect(estimated.recall).toBeCloseTo((0.6 / 0.9 + 0.5 / 1.0 + 0.7 / 1.1) / 3, 12);
    expect(estimated.f1).toBeCloseTo((1.2 / 1.9 + 1.0 / 2.0 + 1.4 / 2.1) / 3, 12);
  });
});

describe('the estimation aggregate', () => {
  const random = mulberry32(11);
  const predictions = Array.from({ length: 2000 }, () => binaryPrediction(binary, random()));

  it('merges: two halves estimate what the whole does, in either order, after a JSON round trip', () => {
    const whole = estimateQuality(aggregate(binary, predictions));
    const left = JSON.parse(JSON.stringify(aggregate(binary, predictions.slice(0, 777)))) as EstimationAggregate;
    const right = aggregate(binary, predictions.slice(777));
    for (const merged of [mergeEstimation(left, right), mergeEstimation(right, left)]) {
      const estimate = estimateQuality(merged);
      for (const name of ['accuracy', 'precision', 'recall', 'f1', 'rocAuc'] as const) {
        expect(estimate.estimated[name]).toBeCloseTo(whole.estimated[name] as number, 12);
        expect(estimate.interval[name]!.standardError).toBeCloseTo(whole.interval[name]!.standardError, 12);
      }
    }
    expect(() => mergeEstimation(left, aggregate(multiclass, []))).toThrow(/different classes/);
  });

  it('stays small: at most 100 bins per class, whatever the traffic', () => {
    const estimation = aggregate(binary, predictions);
    expect(Object.keys(estimation.classes[0]!.bins).length).toBeLessThanOrEqual(100);
    expect(JSON.stringify(estimation).length).toBeLessThan(8000);
  });

  it("lives in the window's quality statistics; a window stored before estimation existed still merges", () => {
    const fresh = emptyQuality(binary) as ClassificationQuality;
    for (const prediction of predictions.slice(0, 100)) addServed(fresh, binary, prediction);
    const { estimation: _none, ...stored } = emptyQuality(binary) as ClassificationQuality;
    const old = JSON.parse(JSON.stringify(stored)) as ClassificationQuality;
    const merged = mergeQuality(old, fresh) as ClassificationQuality;
    expect(merged.estimation!.rows).toBe(100);
    // An old window that takes new predictions starts its estimation statistics then.
    addServed(old, binary, predictions[0]!);
    expect(old.estimation!.rows).toBe(1);
    const regression = emptyQuality({ ...binary, task: 'regression', classLabels: undefined } as Manifest);
    expect(addServed(regression, binary, predictions[0]!)).toEqual(regression);
  });

  it('counts only predictions with a label and a probability for every class', () => {
    const estimation = emptyEstimation(binary)!;
    expect(addPrediction(estimation, binary, { label: 'Yes' })).toBe(false);
    expect(addPrediction(estimation, binary, { label: 'Yes', probabilities: { No: 0, Yes: 1.2 } })).toBe(false);
    expect(addPrediction(estimation, binary, { probabilities: { No: 0.5, Yes: 0.5 } })).toBe(false);
    expect(estimation.rows).toBe(0);
    expect(estimateQuality(estimation)).toEqual({ rows: 0, estimated: {}, interval: {}, samples: {} });
    expect(emptyEstimation(parseManifest({ ...binary, outputs: { label: 'label' } }))).toBeUndefined();
  });

  it(`waits for enough rows: ${MIN_METRIC_ROWS - 1} predictions is no verdict on accuracy, ${MIN_METRIC_ROWS} is one`, () => {
    const short = estimateQuality(aggregate(binary, predictions.slice(0, MIN_METRIC_ROWS - 1)));
    expect(short.samples.accuracy).toEqual({ size: MIN_METRIC_ROWS - 1, minimum: MIN_METRIC_ROWS, enough: false });
    const enough = estimateQuality(aggregate(binary, predictions.slice(0, MIN_METRIC_ROWS)));
    expect(enough.samples.accuracy).toEqual({ size: MIN_METRIC_ROWS, minimum: MIN_METRIC_ROWS, enough: true });
    // Recall rests on the expected positives: the sum of P(Yes).
    const expectedPositives = predictions.slice(0, MIN_METRIC_ROWS).reduce((total, p) => total + (p.probabilities!.Yes as number), 0);
    expect(enough.samples.recall!.size).toBeCloseTo(expectedPositives, 12);
    expect(enough.samples.recall!.enough).toBe(false);
  });
});

describe('estimateQualityOnRows: the offline form', () => {
  it('estimates an unlabeled set, and shows the realized metrics beside it when labels are given', () => {
    const random = mulberry32(12);
    const rows = Array.from({ length: 3000 }, () => random());
    const predictions = rows.map((p) => binaryPrediction(binary, p));
    const actual = rows.map((p) => (random() < p ? 'Yes' : 'No'));
    const unlabeled = estimateQualityOnRows(binary, predictions);
    expect(unlabeled.realized).toBeUndefined();
    expect(Object.keys(unlabeled.estimated)).toEqual(['accuracy', 'precision', 'recall', 'f1', 'rocAuc']);
    const labelled = estimateQualityOnRows(binary, predictions, actual);
    expect(labelled.estimated).toEqual(unlabeled.estimated);
    expect(labelled.realized!.accuracy).toBeCloseTo(
      accuracy(
        actual,
        predictions.map((p) => p.label),
      ),
      12,
    );
    for (const name of ['accuracy', 'rocAuc'] as const) {
      expect(labelled.realized![name]).toBeGreaterThanOrEqual(labelled.interval[name]!.lower);
      expect(labelled.realized![name]).toBeLessThanOrEqual(labelled.interval[name]!.upper);
    }
  });

  it('refuses a model it cannot estimate, saying why', () => {
    expect(() => estimateQualityOnRows(parseManifest({ ...binary, outputs: { label: 'label' } }), [])).toThrow(EstimationError);
    expect(() => estimateQualityOnRows(parseManifest({ ...binary, outputs: { label: 'label' } }), [])).toThrow(/no outputs.probabilities/);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Simulations. A binary world: x ~ N(mean, sd) in two dimensions, P(y = 1 | x) = sigmoid(f(x)) with
// f = 1.3 x1 - 0.9 x2 - 0.4, and a model that ranks rows by f but is overconfident (score = sigmoid(1.8 f +
// 0.3)), so its probabilities need calibrating. The calibration is fitted on a holdout from the training
// distribution with the packaging code; the windows then drift in x (covariate shift: P(y | x) unchanged).

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const truth = (x1: number, x2: number) => 1.3 * x1 - 0.9 * x2 - 0.4;
const modelScore = (f: number) => sigmoid(1.8 * f + 0.3);

function gaussian(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

interface Draw {
  readonly predictions: RowPrediction[];
  readonly positive: boolean[];
}

function draw(n: number, shift: { m1: number; m2: number; sd: number }, random: () => number, concept = truth): Draw {
  const normal = gaussian(random);
  const predictions: RowPrediction[] = [];
  const positive: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const x1 = shift.m1 + shift.sd * normal();
    const x2 = shift.m2 + shift.sd * normal();
    predictions.push(binaryPrediction(binary, modelScore(truth(x1, x2))));
    positive.push(random() < sigmoid(concept(x1, x2)));
  }
  return { predictions, positive };
}

function calibratedManifest(): Manifest {
  const holdout = draw(5000, { m1: 0, m2: 0, sd: 1 }, mulberry32(100));
  const { calibration } = fitCalibration(
    binary,
    holdout.positive.map((y) => (y ? 'Yes' : 'No')),
    holdout.predictions,
  );
  return parseManifest({ ...binary, calibration });
}

interface WindowResult {
  readonly estimate: EstimatedQuality;
  readonly accuracy: number;
  readonly rocAuc: number;
}

/** A window's estimate from two half-window aggregates merged (as the monitor merges), and its realized metrics. */
function windowResult(manifest: Manifest, window: Draw): WindowResult {
  const half = window.predictions.length >> 1;
  const merged = mergeEstimation(aggregate(manifest, window.predictions.slice(0, half)), aggregate(manifest, window.predictions.slice(half)));
  const predictedPositive = window.predictions.map((p) => p.label === 'Yes');
  return {
    estimate: estimateQuality(merged),
    accuracy: accuracy(window.positive, predictedPositive),
    rocAuc: rocAuc(
      window.positive,
      window.predictions.map((p) => p.probabilities!.Yes as number),
    ),
  };
}

const inside = (value: number, interval: { lower: number; upper: number }) => value >= interval.lower && value <= interval.upper;
const share = (results: readonly WindowResult[], test: (r: WindowResult) => boolean) => results.filter(test).length / results.length;

describe('simulation: covariate shift, a calibrated model (seeded)', () => {
  const manifest = calibratedManifest();
  const random = mulberry32(7);
  const windows: Draw[] = Array.from({ length: 200 }, (_, w) => {
    const angle = (4 * Math.PI * w) / 200;
    const n = 400 + Math.floor(random() * 1200);
    return draw(n, { m1: 1.5 * Math.sin(angle), m2: 1.2 * Math.cos(angle), sd: 0.6 + (0.8 * w) / 199 }, random);
  });
  const results = windows.map((window) => windowResult(manifest, window));

  it('the calibration was kept: the raw scores are overconfident', () => {
    expect(manifest.calibration?.classes.Yes?.map).toBeDefined();
  });

  it('the windows move: realized accuracy and ROC AUC vary well beyond sampling noise', () => {
    const accuracies = results.map((r) => r.accuracy);
    const aucs = results.map((r) => r.rocAuc);
    expect(Math.max(...accuracies) - Math.min(...accuracies)).toBeGreaterThan(0.15);
    expect(Math.max(...aucs) - Math.min(...aucs)).toBeGreaterThan(0.1);
  });

  it('the estimate tracks realized accuracy and ROC AUC within its interval in at least 95% of windows', () => {
    const accuracyCoverage = share(results, (r) => inside(r.accuracy, r.estimate.interval.accuracy!));
    const aucCoverage = share(results, (r) => inside(r.rocAuc, r.estimate.interval.rocAuc!));
    expect(accuracyCoverage).toBeGreaterThanOrEqual(0.95);
    expect(aucCoverage).toBeGreaterThanOrEqual(0.95);
    // And it is not wide for nothing: the estimate is close on average.
    const meanError = (pick: (r: WindowResult) => [number, number]) => results.reduce((total, r) => total + Math.abs(pick(r)[0] - pick(r)[1]), 0) / results.length;
    expect(meanError((r) => [r.estimate.estimated.accuracy!, r.accuracy])).toBeLessThan(0.02);
    expect(meanError((r) => [r.estimate.estimated.rocAuc!, r.rocAuc])).toBeLessThan(0.02);
  });

  it('without the calibration the same windows are missed: the raw probabilities are overconfident', () => {
    const raw = windows.map((window) => windowResult(binary, window));
    expect(share(raw, (r) => inside(r.accuracy, r.estimate.interval.accuracy!))).toBeLessThan(0.5);
  });
});

describe('simulation: concept drift, where CBPE is blind (seeded)', () => {
  const manifest = calibratedManifest();
  const random = mulberry32(8);
  // The inputs do not move; what they mean does: x2 now raises the chance of churn instead of lowering it.
  const flipped = (x1: number, x2: number) => 1.3 * x1 + 0.9 * x2 - 0.4;
  const before = Array.from({ length: 40 }, () => windowResult(manifest, draw(1000, { m1: 0, m2: 0, sd: 1 }, random)));
  const after = Array.from({ length: 40 }, () => windowResult(manifest, draw(1000, { m1: 0, m2: 0, sd: 1 }, random, flipped)));

  it('the model really got worse: realized accuracy falls by more than 0.1', () => {
    const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    expect(mean(before.map((r) => r.accuracy)) - mean(after.map((r) => r.accuracy))).toBeGreaterThan(0.1);
  });

  it('the estimate does not see it: it stays where it was, and the realized accuracy falls below its interval', () => {
    const mean = (results: readonly WindowResult[]) => results.reduce((total, r) => total + r.estimate.estimated.accuracy!, 0) / results.length;
    expect(Math.abs(mean(after) - mean(before))).toBeLessThan(0.01);
    expect(share(after, (r) => r.accuracy < r.estimate.interval.accuracy!.lower)).toBeGreaterThanOrEqual(0.9);
    expect(share(before, (r) => inside(r.accuracy, r.estimate.interval.accuracy!))).toBeGreaterThanOrEqual(0.95);
  });
});

describe('simulation: multiclass under covariate shift, through the offline form (seeded)', () => {
  // Three classes with softmax(w_k . x) probabilities, which the model gives exactly (a calibrated model).
  const weights = [
    [1.5, 0],
    [-0.8, 1.2],
    [-0.8, -1.2],
  ] as const;
  const labels = ['a', 'b', 'c'];
  function drawMulticlass(n: number, m1: number, m2: number, random: () => number) {
    const normal = gaussian(random);
    const predictions: RowPrediction[] = [];
    const actual: string[] = [];
    for (let i = 0; i < n; i++) {
      const x = [m1 + normal(), m2 + normal()];
      const logits = weights.map(([a, b]) => a * x[0]! + b * x[1]!);
      const top = Math.max(...logits);
      const e = logits.map((l) => Math.exp(l - top));
      const total = e.reduce((s, v) => s + v, 0);
      const p = e.map((v) => v / total);
      const u = random();
      actual.push(u < p[0]! ? 'a' : u < p[0]! + p[1]! ? 'b' : 'c');
      const best = p.indexOf(Math.max(...p));
      predictions.push({ label: labels[best], probabilities: { a: p[0]!, b: p[1]!, c: p[2]! } });
    }
    return { predictions, actual };
  }
  const holdout = drawMulticlass(4000, 0, 0, mulberry32(200));
  const manifest = parseManifest({ ...multiclass, calibration: fitCalibration(multiclass, holdout.actual, holdout.predictions).calibration });
  const random = mulberry32(9);
  const results = Array.from({ length: 100 }, (_, w) => {
    const angle = (2 * Math.PI * w) / 100;
    const window = drawMulticlass(600, 1.2 * Math.cos(angle), 1.2 * Math.sin(angle), random);
    return estimateQualityOnRows(manifest, window.predictions, window.actual);
  });

  it('tracks realized accuracy and macro ROC AUC within the interval in at least 95% of windows', () => {
    expect(results.filter((r) => inside(r.realized!.accuracy!, r.interval.accuracy!)).length / results.length).toBeGreaterThanOrEqual(0.95);
    expect(results.filter((r) => inside(r.realized!.rocAuc!, r.interval.rocAuc!)).length / results.length).toBeGreaterThanOrEqual(0.95);
  });

  it('uses the calibrated probabilities, scaled to sum to 1', () => {
    const calibrated = calibratedProbabilities(manifest, holdout.predictions[0]!.probabilities)!;
    expect(calibrated.a! + calibrated.b! + calibrated.c!).toBeCloseTo(1, 12);
  });
});
