// The monitor's EMF, as Powertools writes it and CloudWatch extracts it (local/emf.ts reads it like the
// service): every per-feature metric keeps its feature dimension and every line the run's timestamp. A
// Powertools single-metric instance used to drop both after its first line, so FeatureDriftStatistic and
// FeatureDriftPValue landed on the version's dimensions, at the wrong time.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { emitMonitorMetrics } from '../../lambdas/adapters/monitor-metrics';
import { parseEmfLine, type MetricDatum } from '../../local/emf';

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

function emitted(run: () => void): MetricDatum[] {
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  });
  run();
  vi.restoreAllMocks();
  return lines.flatMap((line) => parseEmfLine(line) ?? []);
}

describe('emitMonitorMetrics', () => {
  it("puts each feature's metrics under its feature dimension, all at the run's time", () => {
    const at = new Date('2026-12-05T08:41:20.000Z');
    const data = emitted(() =>
      emitMonitorMetrics(
        'churn',
        '1',
        [
          { name: 'DriftShare', value: 0.16, unit: 'None' },
          { name: 'MonitoredPredictions', value: 900, unit: 'Count' },
          { name: 'FeatureDrift', value: 1, unit: 'None', feature: 'tenure' },
          { name: 'FeatureDriftStatistic', value: 38.7, unit: 'None', feature: 'tenure' },
          { name: 'FeatureDrift', value: 0, unit: 'None', feature: 'Contract' },
          { name: 'FeatureDriftStatistic', value: 0.016, unit: 'None', feature: 'Contract' },
          { name: 'FeatureDriftPValue', value: 0.4, unit: 'None', feature: 'Contract' },
        ],
        at,
        'modelgate-dev',
      ),
    );
    expect(data.map((d) => [d.metricName, d.dimensions.feature ?? null, d.values[0]])).toEqual([
      ['DriftShare', null, 0.16],
      ['MonitoredPredictions', null, 900],
      ['FeatureDrift', 'tenure', 1],
      ['FeatureDriftStatistic', 'tenure', 38.7],
      ['FeatureDrift', 'Contract', 0],
      ['FeatureDriftStatistic', 'Contract', 0.016],
      ['FeatureDriftPValue', 'Contract', 0.4],
    ]);
    for (const datum of data) {
      expect(datum.timestamp).toBe(at.getTime());
      expect(datum.namespace).toBe('modelgate-dev');
      expect(datum.dimensions).toMatchObject({ service: 'monitor', model: 'churn', version: '1' });
    }
  });
});
