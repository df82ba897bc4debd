import { describe, expect, it } from 'vitest';
import { CsvError } from '../../lambdas/core/csv';
import type { Manifest } from '../../lambdas/core/manifest';
import { evaluatePredictions, holdoutTargets, p99, summarizeReplay } from '../../lambdas/core/promotion/evaluation';
import type { RowPrediction } from '../../lambdas/core/tensors';

const base = { schemaVersion: '1', name: 'm', version: '1', features: [], inputs: [], model: { file: 'model.onnx', sha256: 'ab'.repeat(32) } } as const;
const binary: Manifest = { ...base, task: 'binary-classification', outputs: { label: 'l', probabilities: 'p' }, classLabels: ['no', 'yes'] };
const multiclass: Manifest = { ...base, task: 'multiclass-classification', outputs: { label: 'l', probabilities: 'p' }, classLabels: [0, 1, 2] };
const regression: Manifest = { ...base, task: 'regression', outputs: { value: 'v' } };

const binaryPrediction = (p: number): RowPrediction => ({ label: p >= 0.5 ? 'yes' : 'no', probabilities: { no: 1 - p, yes: p } });

describe('evaluatePredictions', () => {
  it('binary: label metrics for the positive class, ROC AUC, log loss and calibration of P(positive)', () => {
    const actual = ['no', 'yes', 'yes', 'no', 'yes'];
    const p = [0.1, 0.8, 0.4, 0.6, 0.9];
    const metrics = evaluatePredictions(binary, actual, p.map(binaryPrediction));
    // Labels no, yes, no, yes, yes: TP 2, FP 1, FN 1, TN 1.
    expect(metrics.accuracy).toBeCloseTo(3 / 5, 12);
    expect(metrics.precision).toBeCloseTo(2 / 3, 12);
    expect(metrics.recall).toBeCloseTo(2 / 3, 12);
    expect(metrics.f1).toBeCloseTo(2 / 3, 12);
    // Positive scores 0.8, 0.4, 0.9 against negatives 0.1, 0.6: 5 of 6 pairs ordered right.
    expect(metrics.rocAuc).toBeCloseTo(5 / 6, 12);
    expect(metrics.logLoss).toBeCloseTo(-(Math.log(0.9) + Math.log(0.8) + Math.log(0.4) + Math.log(0.4) + Math.log(0.9)) / 5, 12);
    expect(metrics.calibrationError).toBeGreaterThan(0);
  });

  it('binary: the positive class is positiveClass when the manifest sets it', () => {
    const metrics = evaluatePredictions({ ...binary, positiveClass: 'no' }, ['no', 'no', 'yes'], [binaryPrediction(0.1), binaryPrediction(0.9), binaryPrediction(0.8)]);
    // Predicted no, yes, yes; for "no": TP 1, FN 1, FP 0.
    expect(metrics.precision).toBe(1);
    expect(metrics.recall).toBe(0.5);
  });

  it('binary: ROC AUC is absent when the holdout has one class, and uses scores when there are no probabilities', () => {
    expect(evaluatePredictions(binary, ['yes', 'yes'], [binaryPrediction(0.7), binaryPrediction(0.2)]).rocAuc).toBeUndefined();
    const scoresOnly: Manifest = { ...binary, outputs: { label: 'l', scores: 's' } };
    const predictions: RowPrediction[] = [
      { label: 'no', scores: { no: 2, yes: -2 } },
      { label: 'yes', scores: { no: -1, yes: 1 } },
    ];
    const metrics = evaluatePredictions(scoresOnly, ['no', 'yes'], predictions);
    expect(metrics.rocAuc).toBe(1);
    expect(metrics.logLoss).toBeUndefined();
    expect(metrics.calibrationError).toBeUndefined();
  });

  it('multiclass: macro precision, recall and F1 as sklearn (its documentation example)', () => {
    // precision_score(average='macro') 0.22, recall 0.33, f1 0.267 for these labels.
    const actual = [0, 1, 2, 0, 1, 2];
    const predicted = [0, 2, 1, 0, 0, 1];
    const metrics = evaluatePredictions(
      { ...multiclass, outputs: { label: 'l' } },
      actual,
      predicted.map((label) => ({ label })),
    );
    expect(metrics.accuracy).toBeCloseTo(2 / 6, 12);
    expect(metrics.precision).toBeCloseTo(2 / 9, 12);
    expect(metrics.recall).toBeCloseTo(1 / 3, 12);
    expect(metrics.f1).toBeCloseTo(0.8 / 3, 12);
    expect(metrics.rocAuc).toBeUndefined();
    expect(metrics.logLoss).toBeUndefined();
  });

  it('multiclass: one-vs-rest macro ROC AUC and log loss of the probabilities', () => {
    const rows = [
      [0.8, 0.1, 0.1],
      [0.2, 0.7, 0.1],
      [0.1, 0.2, 0.7],
      [0.6, 0.3, 0.1],
    ];
    const predictions = rows.map((row) => ({ label: row.indexOf(Math.max(...row)), probabilities: { 0: row[0] as number, 1: row[1] as number, 2: row[2] as number } }));
    const metrics = evaluatePredictions(multiclass, [0, 1, 2, 0], predictions);
    expect(metrics.rocAuc).toBe(1);
    expect(metrics.logLoss).toBeCloseTo(-(Math.log(0.8) + Math.log(0.7) + Math.log(0.7) + Math.log(0.6)) / 4, 12);
    // A class missing from the holdout leaves one-vs-rest AUC undefined, as in sklearn.
    expect(evaluatePredictions(multiclass, [0, 1, 1, 0], predictions).rocAuc).toBeUndefined();
  });

  it('regression: MAE, RMSE and R2 (sklearn documentation example)', () => {
    const metrics = evaluatePredictions(
      regression,
      [3, -0.5, 2, 7],
      [2.5, 0, 2, 8].map((value) => ({ value })),
    );
    expect(metrics.mae).toBeCloseTo(0.5, 12);
    expect(metrics.rmse).toBeCloseTo(Math.sqrt(0.375), 12);
    expect(metrics.r2).toBeCloseTo(0.948608137, 8);
  });

  it('refuses mismatched lengths and multi-output regression values', () => {
    expect(() => evaluatePredictions(regression, [1, 2], [{ value: 1 }])).toThrow(/one prediction per holdout row/);
    expect(() => evaluatePredictions(regression, [1], [{ value: [1, 2] }])).toThrow(/one regression value per row/);
  });
});

describe('holdoutTargets', () => {
  it('reads class labels by their text, integers also from "1.0"', () => {
    expect(holdoutTargets(multiclass, ['0', '1.0', '2'])).toEqual([0, 1, 2]);
    expect(holdoutTargets(binary, ['yes', 'no'])).toEqual(['yes', 'no']);
  });

  it('reads regression values as numbers', () => {
    expect(holdoutTargets(regression, ['1.5', '-2'])).toEqual([1.5, -2]);
  });

  it.each([
    { manifest: binary, cells: ['yes', 'maybe'], message: /line 3, target: "maybe" is not one of the class labels "no", "yes"/ },
    { manifest: binary, cells: [''], message: /line 2, target: empty/ },
    { manifest: regression, cells: ['1', 'abc'], message: /line 3, target: expected a number/ },
  ])('rejects $cells', ({ manifest, cells, message }) => {
    expect(() => holdoutTargets(manifest, cells, 'h.csv')).toThrow(CsvError);
    expect(() => holdoutTargets(manifest, cells, 'h.csv')).toThrow(message);
  });
});

describe('p99 (nearest rank)', () => {
  it.each([
    { samples: [7], expected: 7 },
    { samples: Array.from({ length: 100 }, (_, i) => i + 1), expected: 99 },
    { samples: Array.from({ length: 1000 }, (_, i) => 1000 - i), expected: 990 },
    // Fewer than 100 samples: the maximum.
    { samples: [3, 1, 2, 50, 4], expected: 50 },
    { samples: Array.from({ length: 101 }, (_, i) => i), expected: 99 },
  ])('of $samples.length samples is $expected', ({ samples, expected }) => {
    expect(p99(samples)).toBe(expected);
  });

  it('needs a sample', () => {
    expect(() => p99([])).toThrow(/at least one/);
  });
});

describe('summarizeReplay', () => {
  it('counts errors and label agreement with the champion', () => {
    const candidate = [{ label: 'yes' }, null, { label: 'no' }, { label: 'yes' }];
    const champion = [{ label: 'yes' }, { label: 'no' }, { label: 'yes' }, null];
    expect(summarizeReplay(binary, candidate, champion)).toEqual({ requests: 4, errors: 1, errorRate: 0.25, compared: 2, agreed: 1, agreement: 0.5 });
  });

  it('has no agreement without a champion', () => {
    const summary = summarizeReplay(binary, [{ label: 'yes' }]);
    expect(summary).toEqual({ requests: 1, errors: 0, errorRate: 0, compared: 0, agreed: 0 });
  });

  it.each([
    // tolerance 0.05 x max(1, |champion|): 0.05 around small values, 5% of large ones.
    { candidate: 0.05, champion: 0, agree: true },
    { candidate: 0.0501, champion: 0, agree: false },
    { candidate: 105, champion: 100, agree: true },
    { candidate: 105.01, champion: 100, agree: false },
    { candidate: -95, champion: -100, agree: true },
  ])('regression: $candidate against $champion agrees: $agree', ({ candidate, champion, agree }) => {
    const summary = summarizeReplay(regression, [{ value: candidate }], [{ value: champion }]);
    expect(summary.agreement).toBe(agree ? 1 : 0);
  });

  it('regression: the manifest sets the tolerance, and multi-output values agree only when every output does', () => {
    const strict: Manifest = { ...regression, validation: { replay: { valueTolerance: 0.001 } } };
    expect(summarizeReplay(strict, [{ value: 1.01 }], [{ value: 1 }]).agreement).toBe(0);
    expect(summarizeReplay(regression, [{ value: [1, 2] }], [{ value: [1, 2.01] }]).agreement).toBe(1);
    expect(summarizeReplay(regression, [{ value: [1, 3] }], [{ value: [1, 2] }]).agreement).toBe(0);
  });
});
