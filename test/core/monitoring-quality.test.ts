// Quality from mergeable statistics must agree with the metrics on raw arrays (lambdas/core/metrics/).
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../lambdas/core/manifest-types';
import { binaryClassificationMetrics, binnedRocAuc, expectedCalibrationError, macroF1 } from '../../lambdas/core/metrics/classification';
import { meanAbsoluteError, r2Score, rootMeanSquaredError } from '../../lambdas/core/metrics/regression';
import { addLabelled, baselineQuality, emptyQuality, mergeQuality, qualityDegradation, qualityMetrics, type QualityAggregate } from '../../lambdas/core/monitoring/quality';
import { mulberry32 as random } from '../../lambdas/core/random';

const outputs = { label: 'label', probabilities: 'probabilities' };
const binary = { name: 'churn', version: '1', task: 'binary-classification', outputs, classLabels: ['No', 'Yes'], positiveClass: 'Yes', threshold: 0.5 } as unknown as Manifest;
const multiclass = { name: 'iris', version: '1', task: 'multiclass-classification', outputs, classLabels: [0, 1, 2] } as unknown as Manifest;
const regression = { name: 'price', version: '1', task: 'regression', outputs: { value: 'value' } } as unknown as Manifest;

function binarySample(n: number, seed: number) {
  const next = random(seed);
  const rows = Array.from({ length: n }, () => {
    const positive = next() < 0.3;
    const p = Math.min(1, Math.max(0, (positive ? 0.65 : 0.35) + (next() - 0.5) * 0.7));
    return { positive, p };
  });
  return rows;
}

function aggregateBinary(rows: readonly { positive: boolean; p: number }[]): QualityAggregate {
  const quality = emptyQuality(binary);
  for (const { positive, p } of rows) {
    addLabelled(quality, binary, { label: p >= 0.5 ? 'Yes' : 'No', probabilities: { No: 1 - p, Yes: p } }, positive ? 'Yes' : 'No');
  }
  return quality;
}

describe('binary classification quality from sufficient statistics', () => {
  const rows = binarySample(5000, 7);
  const quality = aggregateBinary(rows);
  const metrics = qualityMetrics(quality);
  const exact = binaryClassificationMetrics(
    rows.map((r) => r.positive),
    rows.map((r) => r.p),
    0.5,
  );

  it('reproduces accuracy, precision, recall, F1 and log loss exactly', () => {
    expect(metrics.labelled).toBe(5000);
    for (const name of ['accuracy', 'precision', 'recall', 'f1', 'logLoss'] as const) expect(metrics[name]).toBeCloseTo(exact[name], 12);
  });

  it('reproduces the expected calibration error of 10 equal-width bins', () => {
    expect(metrics.calibrationError).toBeCloseTo(
      expectedCalibrationError(
        rows.map((r) => r.positive),
        rows.map((r) => r.p),
      ),
      12,
    );
  });

  it('gives ROC AUC within its stated bound of the exact AUC (and the bound is small)', () => {
    expect(Math.abs((metrics.rocAuc as number) - exact.rocAuc)).toBeLessThanOrEqual(metrics.rocAucMaxError as number);
    expect(metrics.rocAucMaxError).toBeLessThan(0.001);
  });

  it('is exact for AUC when no positive and negative share a bin', () => {
    expect(binnedRocAuc({ '900': 2, '500': 1 }, { '100': 2, '600': 1 })).toEqual({ auc: 8 / 9, maxError: 0 });
    // A tie counts one half, like sklearn's roc_auc_score.
    expect(binnedRocAuc({ '500': 1 }, { '500': 1 })).toEqual({ auc: 0.5, maxError: 0.5 });
    expect(binnedRocAuc({ '500': 1 }, {})).toBeUndefined();
  });

  it('merges: two halves give the same metrics as the whole, in either order', () => {
    const left = aggregateBinary(rows.slice(0, 1234));
    const right = aggregateBinary(rows.slice(1234));
    const merged = qualityMetrics(mergeQuality(left, right));
    const reversed = qualityMetrics(mergeQuality(right, left));
    for (const name of ['accuracy', 'precision', 'recall', 'f1', 'logLoss', 'calibrationError', 'rocAuc'] as const) {
      expect(merged[name]).toBeCloseTo(metrics[name] as number, 12);
      expect(reversed[name]).toBeCloseTo(metrics[name] as number, 12);
    }
    expect(JSON.parse(JSON.stringify(left))).toEqual(left);
  });

  it('reports nothing but the count for an empty window', () => {
    expect(qualityMetrics(emptyQuality(binary))).toEqual({ labelled: 0 });
  });
});

describe('multiclass and regression quality', () => {
  it('multiclass: accuracy and macro F1 as sklearn defines them', () => {
    const actual = [0, 1, 2, 2, 1, 0, 0, 2];
    const predicted = [0, 2, 2, 2, 1, 1, 0, 0];
    const quality = emptyQuality(multiclass);
    actual.forEach((a, i) => {
      addLabelled(quality, multiclass, { label: predicted[i] }, a);
    });
    const metrics = qualityMetrics(quality);
    expect(metrics.accuracy).toBeCloseTo(5 / 8, 12);
    expect(metrics.f1).toBeCloseTo(macroF1(actual, predicted), 12);
  });

  it('regression: MAE, RMSE and R2 as sklearn defines them', () => {
    const actual = [3, -0.5, 2, 7];
    const predicted = [2.5, 0, 2, 8];
    const quality = emptyQuality(regression);
    actual.forEach((a, i) => {
      addLabelled(quality, regression, { value: predicted[i] }, a);
    });
    const metrics = qualityMetrics(quality);
    // sklearn's documented examples: MAE 0.5, RMSE sqrt(0.375), R2 0.9486...
    expect(metrics.mae).toBeCloseTo(meanAbsoluteError(actual, predicted), 12);
    expect(metrics.mae).toBeCloseTo(0.5, 12);
    expect(metrics.rmse).toBeCloseTo(rootMeanSquaredError(actual, predicted), 12);
    expect(metrics.r2).toBeCloseTo(r2Score(actual, predicted), 10);
  });
});

describe('comparison with the validation baseline', () => {
  it('reads the holdout metrics of the manifest and measures degradation as a positive number', () => {
    const manifest = { ...binary, training: { holdoutMetrics: { threshold: 0.5, accuracy: 0.8, rocAuc: 0.83, logLoss: 0.44 } } } as unknown as Manifest;
    const baseline = baselineQuality(manifest);
    expect(baseline).toEqual({ accuracy: 0.8, rocAuc: 0.83, logLoss: 0.44 });
    const degradation = qualityDegradation({ labelled: 100, accuracy: 0.7, rocAuc: 0.9, logLoss: 0.5 }, baseline);
    expect(degradation.accuracy).toBeCloseTo(0.1, 12);
    expect(degradation.rocAuc).toBeCloseTo(-0.07, 12);
    expect(degradation.logLoss).toBeCloseTo(0.06, 12);
  });
});
