import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseManifestJson } from '../../lambdas/core/manifest';
import { batchAlarmSpecs, DEFAULT_ALARM_THRESHOLDS, estimatedQualityThresholds, thresholdProblems, versionAlarmSpecs } from '../../lambdas/core/monitoring/alarms';
import { batchMetrics } from '../../lambdas/core/batch/summary';
import type { DriftReport } from '../../lambdas/core/drift/report';
import { alarmName } from '../../lambdas/core/naming';
import type { LambdaControl } from '../../lambdas/adapters/lambda-control';
import { routingAction } from '../../lambdas/use-cases/routing-actions';
import type { PlannedRollout } from '../../lambdas/contracts/pipeline-state';

describe('versionAlarmSpecs', () => {
  const specs = versionAlarmSpecs('modelgate-dev', 'churn', '7', { ...DEFAULT_ALARM_THRESHOLDS, featureDrift: { features: ['Contract', 'Monthly Charges'], severity: 'warning' } });

  it('names every alarm modelgate-<model>-v<version>-<metric>-<severity>', () => {
    expect(specs.map((s) => s.name).sort()).toEqual(
      [
        'modelgate-dev/churn/v7/accuracy-drop-critical',
        'modelgate-dev/churn/v7/accuracy-drop-warning',
        'modelgate-dev/churn/v7/drift-share-critical',
        'modelgate-dev/churn/v7/drift-share-warning',
        'modelgate-dev/churn/v7/error-rate-critical',
        'modelgate-dev/churn/v7/error-rate-warning',
        'modelgate-dev/churn/v7/estimated-accuracy-drop-critical',
        'modelgate-dev/churn/v7/estimated-accuracy-drop-warning',
        'modelgate-dev/churn/v7/estimated-roc-auc-drop-critical',
        'modelgate-dev/churn/v7/estimated-roc-auc-drop-warning',
        'modelgate-dev/churn/v7/feature-drift-Contract-warning',
        'modelgate-dev/churn/v7/feature-drift-Monthly_Charges-warning',
        'modelgate-dev/churn/v7/latency-p99-critical',
        'modelgate-dev/churn/v7/latency-p99-warning',
        'modelgate-dev/churn/v7/log-fallbacks-critical',
        'modelgate-dev/churn/v7/log-fallbacks-warning',
        'modelgate-dev/churn/v7/prediction-drift-warning',
        'modelgate-dev/churn/v7/roc-auc-drop-critical',
        'modelgate-dev/churn/v7/roc-auc-drop-warning',
        'modelgate-dev/churn/v7/throttles-warning',
      ].sort(),
    );
    expect(alarmName('modelgate-dev', 'churn', '7', 'drift-share', 'critical')).toBe('modelgate-dev/churn/v7/drift-share-critical');
  });

  it('scopes every metric to the model version, with the service the function emits as', () => {
    for (const spec of specs.filter((s) => s.metricKey !== 'throttles')) {
      const refs = 'expression' in spec.metric ? Object.values(spec.metric.metrics) : [spec.metric];
      for (const ref of refs) {
        expect(ref.namespace).toBe('modelgate-dev');
        expect(ref.dimensions).toMatchObject({ model: 'churn', version: '7' });
        expect(['inference', 'monitor']).toContain(ref.dimensions.service);
      }
    }
    // Lambda counts throttled invocations per function, before any version runs: the alarm reads Lambda's metric.
    expect(specs.find((s) => s.metricKey === 'throttles')).toMatchObject({
      severity: 'warning',
      threshold: 1,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      metric: { namespace: 'AWS/Lambda', metricName: 'Throttles', dimensions: { FunctionName: 'modelgate-dev-model-churn' }, statistic: 'Sum', periodSeconds: 60 },
    });
    const feature = specs.find((s) => s.metricKey === 'feature-drift-Monthly_Charges');
    expect(feature?.metric).toMatchObject({ metricName: 'FeatureDrift', dimensions: { service: 'monitor', feature: 'Monthly Charges' } });
    const errorRate = specs.find((s) => s.name.endsWith('error-rate-critical'));
    expect(errorRate?.metric).toMatchObject({ expression: 'FILL(errors, 0) / requests' });
    expect(errorRate?.threshold).toBe(0.05);
  });

  it('rejects thresholds out of range, or a critical level below the warning', () => {
    expect(thresholdProblems(DEFAULT_ALARM_THRESHOLDS)).toEqual([]);
    expect(thresholdProblems({ ...DEFAULT_ALARM_THRESHOLDS, driftShare: { warning: 0.6, critical: 0.4 }, errorRate: { warning: 2 } })).toEqual([
      'driftShare.critical must be at least driftShare.warning (0.6), got: 0.4',
      'errorRate.warning must be a number in [0, 1], got: 2',
    ]);
  });

  it("watches the monitor's metrics in 5-minute periods, 2 of the last 3 runs, so one noisy run does not page", () => {
    const monitorSpecs = specs.filter((spec) => !('expression' in spec.metric) && spec.metric.dimensions.service === 'monitor');
    expect(monitorSpecs.map((s) => s.metricKey)).toEqual(
      expect.arrayContaining(['drift-share', 'feature-drift-Contract', 'prediction-drift', 'accuracy-drop', 'estimated-roc-auc-drop']),
    );
    for (const spec of monitorSpecs) {
      expect(spec.metric).toMatchObject({ statistic: 'Maximum', periodSeconds: 300 });
      expect(spec).toMatchObject({ evaluationPeriods: 3, datapointsToAlarm: 2, treatMissingData: 'notBreaching' });
    }
    const slower = versionAlarmSpecs('modelgate-dev', 'churn', '7', {
      ...DEFAULT_ALARM_THRESHOLDS,
      monitorPeriodSeconds: 600,
      monitorEvaluation: { evaluationPeriods: 4, datapointsToAlarm: 3 },
    });
    expect(slower.find((s) => s.metricKey === 'drift-share')).toMatchObject({ metric: { periodSeconds: 600 }, evaluationPeriods: 4, datapointsToAlarm: 3 });
  });

  it('alarms on the estimated quality drop below the holdout value, beside the realized one', () => {
    const estimated = specs.filter((s) => s.metricKey.startsWith('estimated-'));
    expect(estimated.map((s) => [s.metricKey, s.severity, s.threshold])).toEqual([
      ['estimated-accuracy-drop', 'warning', 0.05],
      ['estimated-accuracy-drop', 'critical', 0.1],
      ['estimated-roc-auc-drop', 'warning', 0.05],
      ['estimated-roc-auc-drop', 'critical', 0.1],
    ]);
    expect(estimated[0]?.metric).toMatchObject({ metricName: 'EstimatedAccuracyDegradation', dimensions: { service: 'monitor', model: 'churn', version: '7' } });
    expect(estimated[0]?.description).toContain('estimated from the probabilities');
  });

  it('takes the estimated-quality thresholds from the manifest, the defaults otherwise, none for a model CBPE cannot estimate', () => {
    const churn = parseManifestJson(readFileSync(new URL('../../examples/churn/v1/manifest.json', import.meta.url), 'utf8'));
    expect(estimatedQualityThresholds(churn)).toEqual({ estimatedQualityDegradation: DEFAULT_ALARM_THRESHOLDS.estimatedQualityDegradation });
    const tuned = { ...churn, monitoring: { estimatedQualityDrop: { f1: { critical: 0.2 } } } };
    const tunedSpecs = versionAlarmSpecs('modelgate-dev', 'churn', '7', { ...DEFAULT_ALARM_THRESHOLDS, ...estimatedQualityThresholds(tuned) });
    expect(tunedSpecs.filter((s) => s.metricKey.startsWith('estimated-')).map((s) => s.name)).toEqual(['modelgate-dev/churn/v7/estimated-f1-drop-critical']);
    const labelOnly = { ...churn, outputs: { label: churn.outputs.label as string } };
    const noEstimate = versionAlarmSpecs('modelgate-dev', 'churn', '7', { ...DEFAULT_ALARM_THRESHOLDS, ...estimatedQualityThresholds(labelOnly) });
    expect(noEstimate.filter((s) => s.metricKey.startsWith('estimated-'))).toEqual([]);
  });

  it('rejects estimated thresholds out of range and an M of N that CloudWatch would refuse', () => {
    expect(
      thresholdProblems({
        ...DEFAULT_ALARM_THRESHOLDS,
        estimatedQualityDegradation: { rocAuc: { warning: 1.5 }, logLoss: { warning: 0.1 } } as never,
        monitorEvaluation: { evaluationPeriods: 3, datapointsToAlarm: 4 },
      }),
    ).toEqual([
      'estimatedQualityDegradation.rocAuc.warning must be a number in [0, 1], got: 1.5',
      'estimatedQualityDegradation.logLoss is not an estimated metric (accuracy, precision, recall, f1, rocAuc)',
      'monitorEvaluation.datapointsToAlarm must be a whole number in [1, evaluationPeriods (3)], got: 4',
    ]);
    expect(thresholdProblems({ ...DEFAULT_ALARM_THRESHOLDS, monitorEvaluation: { evaluationPeriods: 300, datapointsToAlarm: 2 } })).toEqual([
      'monitorEvaluation.evaluationPeriods x monitorPeriodSeconds must be at most one day (86400 s), got: 300 x 300',
    ]);
  });

  it('the pipeline creates them for a version it publishes, with the thresholds its manifest sets', async () => {
    const churn = parseManifestJson(readFileSync(new URL('../../examples/churn/v1/manifest.json', import.meta.url), 'utf8'));
    const tuned = { ...churn, monitoring: { estimatedQualityDrop: { rocAuc: { warning: 0.02, critical: 0.04 } } } };
    const plan = (await routingAction(
      { lambda: {} as LambdaControl, deployment: 'modelgate-dev', bakeCheckSeconds: 60, alarmThresholds: async () => undefined, alarmActions: ['arn:aws:sns:us-east-1:1:oncall'] },
      { action: 'plan', model: 'churn', spec: { strategy: 'all-at-once' }, candidate: { version: '9', lambdaVersion: '4' }, alarms: estimatedQualityThresholds(tuned) },
    )) as PlannedRollout;
    // On-call hears when an alarm fires and when it clears.
    for (const alarm of plan.alarms) expect([alarm.AlarmActions, alarm.OKActions]).toEqual([['arn:aws:sns:us-east-1:1:oncall'], ['arn:aws:sns:us-east-1:1:oncall']]);
    const estimated = plan.alarms.filter((a) => a.AlarmName.includes('/estimated-'));
    expect(estimated.map((a) => [a.AlarmName, a.Threshold, a.DatapointsToAlarm, a.EvaluationPeriods])).toEqual([
      ['modelgate-dev/churn/v9/estimated-roc-auc-drop-warning', 0.02, 2, 3],
      ['modelgate-dev/churn/v9/estimated-roc-auc-drop-critical', 0.04, 2, 3],
    ]);
    expect(estimated[0]?.Metrics).toEqual([
      expect.objectContaining({
        MetricStat: expect.objectContaining({ Period: 300, Stat: 'Maximum', Metric: expect.objectContaining({ MetricName: 'EstimatedRocAucDegradation' }) }),
      }),
    ]);
  });
});

describe("batchAlarmSpecs: the alarms of a model's batch jobs", () => {
  it('watch the model (every version a job may score) with the online drift thresholds, one job one datapoint', () => {
    const specs = batchAlarmSpecs('modelgate-dev', 'churn', { ...DEFAULT_ALARM_THRESHOLDS, driftShare: { critical: 0.4 }, predictionDrift: 'critical' });
    expect(specs.map((s) => [s.name, s.threshold, s.evaluationPeriods, s.datapointsToAlarm, s.treatMissingData])).toEqual([
      ['modelgate-dev/churn/batch/drift-share-critical', 0.4, 1, 1, 'notBreaching'],
      ['modelgate-dev/churn/batch/prediction-drift-critical', 1, 1, 1, 'notBreaching'],
    ]);
    expect(specs[0]?.metric).toEqual({
      namespace: 'modelgate-dev',
      metricName: 'BatchDriftShare',
      dimensions: { service: 'batch', model: 'churn' },
      statistic: 'Maximum',
      periodSeconds: 300,
    });
    expect(specs[0]?.version).toBeUndefined();
    expect(batchAlarmSpecs('modelgate-dev', 'churn', { ...DEFAULT_ALARM_THRESHOLDS, driftShare: {}, predictionDrift: undefined })).toEqual([]);
  });

  it("are put by every rollout beside the version's, under the model's prefix: none rolls a canary back", async () => {
    const plan = (await routingAction(
      { lambda: {} as LambdaControl, deployment: 'modelgate-dev', bakeCheckSeconds: 60, alarmThresholds: async () => undefined, alarmActions: ['arn:aws:sns:us-east-1:1:oncall'] },
      { action: 'plan', model: 'churn', spec: { strategy: 'all-at-once' }, candidate: { version: '9', lambdaVersion: '4' } },
    )) as PlannedRollout;
    const batch = plan.alarms.filter((a) => a.AlarmName.startsWith('modelgate-dev/churn/batch/')).map((a) => a.AlarmName);
    expect(batch).toEqual([
      'modelgate-dev/churn/batch/drift-share-warning',
      'modelgate-dev/churn/batch/drift-share-critical',
      'modelgate-dev/churn/batch/prediction-drift-warning',
    ]);
    expect(plan.rollbackAlarms.filter((name) => batch.includes(name))).toEqual([]);
  });
});

describe('batchMetrics: what a finished job emits', () => {
  const report = (over: Partial<DriftReport>): DriftReport => ({ features: {}, assessed: 19, driftShare: 0.58, status: 'drift', datasetDrift: true, ...over });
  const prediction = (status: 'drift' | 'no-drift' | 'not-enough-data') => ({ ...report({}), prediction: { status, drifted: status === 'drift' } }) as unknown as DriftReport;

  it.each([
    [
      'drift, prediction drifted',
      prediction('drift'),
      [
        ['BatchDriftShare', 0.58],
        ['BatchDatasetDrift', 1],
        ['BatchPredictionDrift', 1],
      ],
    ],
    [
      'no drift',
      report({ driftShare: 0.05, status: 'no-drift', datasetDrift: false }),
      [
        ['BatchDriftShare', 0.05],
        ['BatchDatasetDrift', 0],
      ],
    ],
    // As the monitor: a verdict without enough data is no datapoint, so no page (the summary still has the report).
    ['too few rows for a verdict', report({ driftShare: 0, status: 'not-enough-data', datasetDrift: false }), []],
    [
      'prediction without enough data',
      prediction('not-enough-data'),
      [
        ['BatchDriftShare', 0.58],
        ['BatchDatasetDrift', 1],
      ],
    ],
    ['no baseline', null, []],
  ])('%s', (_, drift, expected) => {
    expect(batchMetrics({ drift }).map((d) => [d.name, d.value])).toEqual(expected);
  });
});
