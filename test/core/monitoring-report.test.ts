// The monitor's report waits for enough data: below a method's minimum sample there is no verdict, and no
// metric an alarm could fire on. The issue this answers: one prediction read "19 of 19 columns drifted".
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../lambdas/core/csv';
import { parseManifestJson, type Manifest } from '../../lambdas/core/manifest';
import { MIN_METRIC_ROWS } from '../../lambdas/core/metrics/sample';
import { baselineQuality } from '../../lambdas/core/monitoring/quality';
import { monitorReport, reportMetrics, versionReport } from '../../lambdas/core/monitoring/report';
import { qualityMetrics } from '../../lambdas/core/monitoring/quality';
import { mergeMonitoringWindows } from '../../lambdas/core/monitoring/window';
import { emptyWindow, foldChanges, type LoggedRecord, type StreamChange } from '../../lambdas/core/monitoring/window';
import { tableRows } from '../../lambdas/core/packaging';

const manifest = parseManifestJson(readFileSync(new URL('../../examples/churn/v1/manifest.json', import.meta.url), 'utf8'));
const holdout = parseCsv(readFileSync(new URL('../../examples/churn/v1/holdout.csv', import.meta.url), 'utf8'));
const rows = tableRows(manifest, holdout, 'holdout.csv');
const churned = holdout.rows.map((row) => row[holdout.header.indexOf('Churn')] as string);
const WINDOW = '2026-11-26T21:00:00.000Z';
const period = { from: WINDOW, to: '2026-11-26T22:00:00.000Z' };

/**
 * A window of `n` holdout rows from `offset` on served (P(Yes) from tenure, a stand-in model), the first
 * `labelled` of them labelled.
 */
function windowOf(n: number, labelled = 0, start = WINDOW, offset = 0) {
  const window = emptyWindow(manifest, start);
  const changes: StreamChange[] = [];
  for (let i = offset; i < offset + n; i++) {
    const p = Math.min(0.95, Math.max(0.05, 1 - (rows[i]!.tenure as number) / 40));
    const record: LoggedRecord = {
      predictionId: `p${i}`,
      model: manifest.name,
      version: manifest.version,
      variant: manifest.version,
      timestamp: start,
      modelVersionShard: 'churn#1#0',
      ts: `${start}#p${i}`,
      inputs: rows[i]!,
      outputs: { label: p >= 0.5 ? 'Yes' : 'No', probabilities: { No: 1 - p, Yes: p } },
      latencyMs: 1,
      batchRows: 1,
      expiresAt: 0,
    };
    changes.push({ eventName: 'INSERT', shardId: 's', sequenceNumber: String(2 * i + 1), image: record });
    if (i < offset + labelled) changes.push({ eventName: 'MODIFY', shardId: 's', sequenceNumber: String(2 * i + 2), image: { ...record, actual: churned[i] as string } });
  }
  changes.sort((a, b) => Number(a.sequenceNumber) - Number(b.sequenceNumber));
  foldChanges(window, changes, manifest);
  return window;
}

const names = (report: ReturnType<typeof versionReport>) => new Set(reportMetrics(report).map((datum) => datum.name));

describe('drift in the monitor report', () => {
  it('one prediction: no feature has a verdict, nothing to alarm on, and the count is there', () => {
    const report = versionReport(manifest, [windowOf(1)], period, { minPredictions: 1 });
    const drift = report.drift!;
    expect(Object.keys(drift.features)).toHaveLength(19);
    for (const feature of Object.values(drift.features)) {
      expect(feature).toMatchObject({ status: 'not-enough-data', drifted: false, current: { values: 1 } });
      expect(feature.minimum).toBeGreaterThan(1);
    }
    expect(drift).toMatchObject({ assessed: 0, driftShare: 0, status: 'not-enough-data', datasetDrift: false });
    expect(drift.prediction).toMatchObject({ status: 'not-enough-data', drifted: false });
    const emitted = reportMetrics(report);
    expect(emitted.map((d) => d.name)).toEqual(['MonitoredPredictions', 'LabelledPredictions', 'SkippedRecords']);
    expect(emitted[0]).toMatchObject({ name: 'MonitoredPredictions', value: 1 });
  });

  it('a window of 700: every feature of the churn baseline has a verdict, and the flags are emitted', () => {
    const report = versionReport(manifest, [windowOf(700)], period);
    expect(report.drift!.assessed).toBe(19);
    expect(report.drift!.status).not.toBe('not-enough-data');
    const featureFlags = reportMetrics(report).filter((d) => d.name === 'FeatureDrift');
    expect(featureFlags).toHaveLength(19);
    expect(names(report)).toContain('DriftShare');
  });

  it('between the two, features below their minimum are left out of the metrics and of the share', () => {
    // 200 predictions: enough for the categorical features (Jensen-Shannon, 2 to 4 categories), not for the
    // numeric ones (Wasserstein needs 504 against the 5 634-row baseline).
    const report = versionReport(manifest, [windowOf(200)], period);
    const drift = report.drift!;
    expect(drift.features.tenure).toMatchObject({ method: 'wasserstein', status: 'not-enough-data', minimum: 504 });
    expect(drift.features.Contract).toMatchObject({ method: 'jensenshannon', minimum: 76 });
    expect(drift.features.Contract!.status).not.toBe('not-enough-data');
    expect(drift.assessed).toBe(16);
    const flagged = reportMetrics(report)
      .filter((d) => d.name === 'FeatureDrift')
      .map((d) => d.feature);
    expect(flagged).toHaveLength(16);
    expect(flagged).not.toContain('tenure');
    expect(flagged).not.toContain('MonthlyCharges');
  });
});

describe('estimated quality in the monitor report', () => {
  it('is estimated from every folded prediction, labelled or not, and emitted with its degradation', () => {
    const report = versionReport(manifest, [windowOf(700, 10)], period);
    expect(report.estimated!.rows).toBe(700);
    expect(report.estimated!.samples.accuracy).toEqual({ size: 700, minimum: 30, enough: true });
    const accuracy = report.estimated!.estimated.accuracy!;
    expect(report.estimatedDegradation.accuracy).toBeCloseTo(baselineQuality(manifest).accuracy! - accuracy, 12);
    const emitted = reportMetrics(report);
    expect(emitted).toContainEqual({ name: 'EstimatedAccuracy', value: accuracy, unit: 'None' });
    expect(emitted.map((d) => d.name)).toEqual(expect.arrayContaining(['EstimatedRocAuc', 'EstimatedAccuracyDegradation', 'EstimatedRocAucDegradation']));
    // 10 labels: realized quality waits, the estimate does not.
    expect(emitted.map((d) => d.name)).not.toContain('Accuracy');
  });

  it('covers the sliding window, realized quality the lookback; the realized values of the same windows stand beside the estimate', () => {
    const older = windowOf(600, 600, '2026-11-26T20:00:00.000Z', 0);
    const recent = [windowOf(400, 200, '2026-11-26T21:50:00.000Z', 600), windowOf(300, 0, '2026-11-26T21:55:00.000Z', 1000)];
    const report = monitorReport(
      manifest,
      { recent, lookback: [older, ...recent] },
      { from: '2026-11-26T21:50:00.000Z', to: '2026-11-26T21:57:00.000Z', qualityFrom: '2026-11-25T22:00:00.000Z' },
    );
    expect(report).toMatchObject({ from: '2026-11-26T21:50:00.000Z', qualityFrom: '2026-11-25T22:00:00.000Z', windows: 2, predictions: 700, labels: 800 });
    expect(report.estimated!.rows).toBe(700);
    expect(report.drift!.features.Contract!.current.values).toBe(700);
    const realizedRecent = qualityMetrics(mergeMonitoringWindows(manifest, recent).quality);
    expect(report.estimateCheck).toEqual({
      labels: 200,
      realized: { accuracy: realizedRecent.accuracy, precision: realizedRecent.precision, recall: realizedRecent.recall, f1: realizedRecent.f1, rocAuc: realizedRecent.rocAuc },
    });
    const realizedLookback = qualityMetrics(mergeMonitoringWindows(manifest, [older, ...recent]).quality);
    expect(report.quality!.accuracy).toBe(realizedLookback.accuracy);
    expect(report.degradation.accuracy).toBeCloseTo(baselineQuality(manifest).accuracy! - realizedLookback.accuracy!, 12);
  });

  it(`waits for enough predictions: ${MIN_METRIC_ROWS - 1} emit no estimate, ${MIN_METRIC_ROWS} do`, () => {
    expect(names(versionReport(manifest, [windowOf(MIN_METRIC_ROWS - 1)], period, { minPredictions: 1 }))).not.toContain('EstimatedAccuracy');
    expect(names(versionReport(manifest, [windowOf(MIN_METRIC_ROWS)], period, { minPredictions: 1 }))).toContain('EstimatedAccuracy');
  });
});

describe('quality in the monitor report', () => {
  it(`accuracy at the boundary: ${MIN_METRIC_ROWS - 1} labels is no alarm metric, ${MIN_METRIC_ROWS} is one`, () => {
    const short = versionReport(manifest, [windowOf(100, MIN_METRIC_ROWS - 1)], period, { minLabels: 1 });
    expect(short.quality!.accuracy).toBeDefined();
    expect(short.quality!.samples!.accuracy).toEqual({ size: MIN_METRIC_ROWS - 1, minimum: MIN_METRIC_ROWS, enough: false });
    expect(short.degradation.accuracy).toBeUndefined();
    expect(names(short)).not.toContain('Accuracy');
    expect(names(short)).not.toContain('AccuracyDegradation');

    const enough = versionReport(manifest, [windowOf(100, MIN_METRIC_ROWS)], period, { minLabels: 1 });
    expect(enough.quality!.samples!.accuracy).toEqual({ size: MIN_METRIC_ROWS, minimum: MIN_METRIC_ROWS, enough: true });
    expect(enough.degradation.accuracy).toBeDefined();
    expect(names(enough)).toContain('Accuracy');
    expect(names(enough)).toContain('AccuracyDegradation');
  });

  it('each metric rests on the count it divides by: ROC AUC on the smaller class', () => {
    const report = versionReport(manifest, [windowOf(300, 300)], period);
    const samples = report.quality!.samples!;
    const positives = churned.slice(0, 300).filter((label) => label === 'Yes').length;
    expect(samples.recall!.size).toBe(positives);
    expect(samples.rocAuc!.size).toBe(Math.min(positives, 300 - positives));
    expect(samples.accuracy!.size).toBe(300);
  });

  it("reads the holdout metrics where `modelgate package` writes them, as well as the example trainer's", () => {
    const packaged = { ...manifest, training: { holdout: { rows: 1409, metrics: { accuracy: 0.8, rocAuc: 0.84 } } } } as Manifest;
    expect(baselineQuality(packaged)).toEqual({ accuracy: 0.8, rocAuc: 0.84 });
    expect(baselineQuality(manifest).accuracy).toBeCloseTo(0.797729, 6);
  });
});
