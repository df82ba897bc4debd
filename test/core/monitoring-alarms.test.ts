import { describe, expect, it } from 'vitest';
import { DEFAULT_ALARM_THRESHOLDS, thresholdProblems, versionAlarmSpecs } from '../../lambdas/core/monitoring/alarms';
import { alarmName } from '../../lambdas/core/naming';

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
        'modelgate-dev/churn/v7/feature-drift-Contract-warning',
        'modelgate-dev/churn/v7/feature-drift-Monthly_Charges-warning',
        'modelgate-dev/churn/v7/latency-p99-critical',
        'modelgate-dev/churn/v7/latency-p99-warning',
        'modelgate-dev/churn/v7/log-fallbacks-critical',
        'modelgate-dev/churn/v7/log-fallbacks-warning',
        'modelgate-dev/churn/v7/prediction-drift-warning',
        'modelgate-dev/churn/v7/roc-auc-drop-critical',
        'modelgate-dev/churn/v7/roc-auc-drop-warning',
      ].sort(),
    );
    expect(alarmName('modelgate-dev', 'churn', '7', 'drift-share', 'critical')).toBe('modelgate-dev/churn/v7/drift-share-critical');
  });

  it('scopes every metric to the model version, with the service the function emits as', () => {
    for (const spec of specs) {
      const refs = 'expression' in spec.metric ? Object.values(spec.metric.metrics) : [spec.metric];
      for (const ref of refs) {
        expect(ref.namespace).toBe('modelgate-dev');
        expect(ref.dimensions).toMatchObject({ model: 'churn', version: '7' });
        expect(['inference', 'monitor']).toContain(ref.dimensions.service);
      }
    }
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
});
