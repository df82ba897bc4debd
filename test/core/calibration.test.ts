// Calibration for estimated quality: isotonic regression against fits worked out by hand, the calibration
// error it is judged by, and the packaging-time choice to keep a map only where it lowers that error.
import { describe, expect, it } from 'vitest';
import { calibratedProbabilities, fitCalibration } from '../../lambdas/core/estimation/calibration';
import { applyIsotonic, fitIsotonic } from '../../lambdas/core/estimation/isotonic';
import { parseManifest, type Manifest } from '../../lambdas/core/manifest';
import { expectedCalibrationError } from '../../lambdas/core/metrics/classification';
import { withCalibration } from '../../lambdas/core/packaging';
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

describe('isotonic regression (pool-adjacent-violators), by hand', () => {
  it('pools a violating pair into its mean and keeps the rest', () => {
    // y 0, 1, 0, 1, 1: the pair (1, 0) at x 0.2, 0.3 pools to 0.5; the equal 1s at 0.4, 0.5 pool too.
    const map = fitIsotonic([0.1, 0.2, 0.3, 0.4, 0.5], [0, 1, 0, 1, 1]);
    expect(map).toEqual({ scores: [0.1, 0.2, 0.3, 0.4, 0.5], probabilities: [0, 0.5, 0.5, 1, 1] });
    // Linear between knots, the end values beyond them.
    expect(applyIsotonic(map, 0.15)).toBeCloseTo(0.25, 12);
    expect(applyIsotonic(map, 0.25)).toBeCloseTo(0.5, 12);
    expect(applyIsotonic(map, 0.35)).toBeCloseTo(0.75, 12);
    expect(applyIsotonic(map, 0)).toBe(0);
    expect(applyIsotonic(map, 0.9)).toBe(1);
  });

  it('pools equal scores first, then the blocks that still violate', () => {
    // x 0.2 twice (y 1 and 0: mean 1/2), then 0.6 (y 0): 1/2 > 0 pools everything to 1/3.
    expect(fitIsotonic([0.2, 0.6, 0.2], [1, 0, 0])).toEqual({ scores: [0.2, 0.6], probabilities: [1 / 3, 1 / 3] });
    // A decreasing sequence is one block at its mean; an increasing one is left as it is.
    expect(fitIsotonic([3, 1, 2], [1, 3, 2])).toEqual({ scores: [1, 3], probabilities: [2, 2] });
    expect(fitIsotonic([0, 0.5, 1], [0, 0.5, 1])).toEqual({ scores: [0, 0.5, 1], probabilities: [0, 0.5, 1] });
    expect(fitIsotonic([0.7], [1])).toEqual({ scores: [0.7], probabilities: [1] });
  });

  it('equals the min-max formula of the least-squares monotone fit on a random sample', () => {
    const random = mulberry32(3);
    const x = Array.from({ length: 60 }, (_, i) => i / 60);
    const y = x.map((v): number => (random() < v ? 1 : 0));
    const map = fitIsotonic(x, y);
    // fit(i) = max over j <= i of min over k >= i of mean(y[j..k]) (Barlow et al. 1972).
    const mean = (j: number, k: number) => y.slice(j, k + 1).reduce((a, b) => a + b, 0) / (k - j + 1);
    x.forEach((score, i) => {
      let best = Number.NEGATIVE_INFINITY;
      for (let j = 0; j <= i; j++) {
        let least = Number.POSITIVE_INFINITY;
        for (let k = i; k < x.length; k++) least = Math.min(least, mean(j, k));
        best = Math.max(best, least);
      }
      expect(applyIsotonic(map, score)).toBeCloseTo(best, 12);
    });
  });

  it('refuses what it cannot fit', () => {
    expect(() => fitIsotonic([], [])).toThrow(/at least one point/);
    expect(() => fitIsotonic([1, 2], [1])).toThrow(/one y per x/);
  });
});

describe('expected calibration error, by hand', () => {
  it("weighs each bin's |share of positives - mean probability| by its rows", () => {
    // bins [0, 0.1): 0.05 vs 0 -> 0.05 x 1/5; [0.1, 0.2): 0.15 vs 1/2 -> 0.35 x 2/5; [0.8, 0.9): 0.85 vs 1
    // -> 0.15 x 1/5; [0.9, 1]: 0.95 vs 1 -> 0.05 x 1/5. Total 0.01 + 0.14 + 0.03 + 0.01 = 0.19.
    expect(expectedCalibrationError([false, false, true, true, true], [0.05, 0.15, 0.15, 0.85, 0.95])).toBeCloseTo(0.19, 12);
  });
});

/** A holdout from a model whose scores are sharper than the truth: P(yes) = p, score = p^2 / (p^2 + (1-p)^2). */
function overconfident(n: number, seed: number): { actual: string[]; predictions: RowPrediction[] } {
  const random = mulberry32(seed);
  const actual: string[] = [];
  const predictions: RowPrediction[] = [];
  for (let i = 0; i < n; i++) {
    const p = 0.05 + 0.9 * random();
    const score = (p * p) / (p * p + (1 - p) * (1 - p));
    actual.push(random() < p ? 'Yes' : 'No');
    predictions.push({ label: score >= 0.5 ? 'Yes' : 'No', probabilities: { No: 1 - score, Yes: score } });
  }
  return { actual, predictions };
}

describe('fitCalibration: fitted on the holdout, kept where it lowers the calibration error', () => {
  it('an overconfident model gets a map, and the map calibrates fresh rows', () => {
    const holdout = overconfident(3000, 1);
    const { calibration, notes } = fitCalibration(binary, holdout.actual, holdout.predictions);
    const yes = calibration!.classes.Yes!;
    expect(calibration).toMatchObject({ method: 'isotonic', holdoutRows: 3000 });
    expect(Object.keys(calibration!.classes)).toEqual(['Yes']);
    expect(yes.calibratedError).toBeLessThan(yes.rawError);
    expect(yes.map).toBeDefined();
    expect(notes.join('\n')).toMatch(/calibration of "Yes": .* isotonic map kept/);

    const fresh = overconfident(20_000, 2);
    const positive = fresh.actual.map((label) => label === 'Yes');
    const raw = fresh.predictions.map((p) => p.probabilities!.Yes as number);
    const manifest = parseManifest({ ...binary, calibration });
    const calibrated = fresh.predictions.map((p) => calibratedProbabilities(manifest, p.probabilities)!.Yes as number);
    expect(expectedCalibrationError(positive, raw)).toBeGreaterThan(0.05);
    expect(expectedCalibrationError(positive, calibrated)).toBeLessThan(0.02);
  });

  it('a model calibrated to the bin keeps its raw probabilities (no map), and says so', () => {
    // In every tenth of [0, 1] the share of positives equals the mean probability: raw error 0.
    const actual: string[] = [];
    const predictions: RowPrediction[] = [];
    for (let bin = 0; bin < 10; bin++) {
      for (let i = 0; i < 100; i++) {
        const p = (bin + 0.5) / 10;
        actual.push(i < Math.round(p * 100) ? 'Yes' : 'No');
        predictions.push({ label: p >= 0.5 ? 'Yes' : 'No', probabilities: { No: 1 - p, Yes: p } });
      }
    }
    const { calibration, notes } = fitCalibration(binary, actual, predictions);
    const yes = calibration!.classes.Yes!;
    expect(yes.rawError).toBeCloseTo(0, 12);
    expect(yes.calibratedError).toBeGreaterThan(yes.rawError);
    expect(yes.map).toBeUndefined();
    expect(notes.join('\n')).toMatch(/the raw probabilities are kept/);
  });

  it('gives the same calibration for the same holdout (seeded folds)', () => {
    const holdout = overconfident(500, 4);
    expect(fitCalibration(binary, holdout.actual, holdout.predictions)).toEqual(fitCalibration(binary, holdout.actual, holdout.predictions));
  });

  it('leaves a class with too few rows uncalibrated, and a model without probabilities alone', () => {
    const actual = Array.from({ length: 200 }, (_, i) => (i < 9 ? 'Yes' : 'No'));
    const predictions = actual.map(() => ({ label: 'No', probabilities: { No: 0.9, Yes: 0.1 } }));
    const few = fitCalibration(binary, actual, predictions);
    expect(few.calibration).toBeUndefined();
    expect(few.notes[0]).toMatch(/9 of 200 holdout rows are of this class; judging a map needs 10 in and 10 out/);
    const labelsOnly = parseManifest({ ...binary, outputs: { label: 'label' } });
    expect(fitCalibration(labelsOnly, actual, predictions)).toEqual({ notes: [expect.stringMatching(/no probabilities output/)] });
  });

  it('multiclass: one map per class against the rest; calibrated probabilities sum to 1', () => {
    const random = mulberry32(5);
    const labels = ['a', 'b', 'c'];
    const actual: string[] = [];
    const predictions: RowPrediction[] = [];
    for (let i = 0; i < 3000; i++) {
      const logits = labels.map(() => 2 * random());
      const truth = softmax(logits);
      const u = random();
      actual.push(u < truth[0]! ? 'a' : u < truth[0]! + truth[1]! ? 'b' : 'c');
      const sharp = softmax(logits.map((l) => 3 * l));
      predictions.push({ label: 'a', probabilities: { a: sharp[0]!, b: sharp[1]!, c: sharp[2]! } });
    }
    const { manifest, notes } = withCalibration(multiclass, actual, predictions);
    expect(Object.keys(manifest.calibration!.classes)).toEqual(labels);
    expect(notes).toHaveLength(3);
    for (const prediction of predictions.slice(0, 50)) {
      const calibrated = calibratedProbabilities(manifest, prediction.probabilities)!;
      expect(Object.keys(calibrated)).toEqual(labels);
      expect(calibrated.a! + calibrated.b! + calibrated.c!).toBeCloseTo(1, 12);
    }
  });
});

describe('calibratedProbabilities', () => {
  const manifest: Manifest = parseManifest({
    ...binary,
    calibration: { method: 'isotonic', holdoutRows: 100, classes: { Yes: { rawError: 0.1, calibratedError: 0.05, map: { scores: [0.2, 0.8], probabilities: [0.3, 0.6] } } } },
  });

  it("applies the positive class's map and gives the negative class the rest", () => {
    // 0.5 is halfway between the knots 0.2 and 0.8: halfway between 0.3 and 0.6. Beyond 0.8: 0.6.
    const middle = calibratedProbabilities(manifest, { No: 0.5, Yes: 0.5 })!;
    expect(middle.Yes).toBeCloseTo(0.45, 12);
    expect(middle.No).toBeCloseTo(0.55, 12);
    expect(calibratedProbabilities(manifest, { No: 0.05, Yes: 0.95 })).toEqual({ No: 0.4, Yes: 0.6 });
  });

  it('passes the raw probabilities through without a calibration, and refuses what is not a probability', () => {
    expect(calibratedProbabilities(binary, { No: 0.25, Yes: 0.75 })).toEqual({ No: 0.25, Yes: 0.75 });
    expect(calibratedProbabilities(manifest, { No: 0.5 })).toBeUndefined();
    expect(calibratedProbabilities(manifest, { No: -0.5, Yes: 1.5 })).toBeUndefined();
    expect(calibratedProbabilities(manifest, undefined)).toBeUndefined();
  });
});

function softmax(logits: readonly number[]): number[] {
  const top = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - top));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}
