import { describe, expect, it } from 'vitest';
import { parseEmfLine } from '../../local/emf';

const TS = 1_795_728_000_000;

describe('parseEmfLine', () => {
  it('reads what the serving metrics emit: one datum per metric, dimensions from the root', () => {
    const line = JSON.stringify({
      _aws: {
        Timestamp: TS,
        CloudWatchMetrics: [
          {
            Namespace: 'modelgate',
            Dimensions: [['service', 'model', 'version']],
            Metrics: [
              { Name: 'Predictions', Unit: 'Count' },
              { Name: 'Latency', Unit: 'Milliseconds' },
            ],
          },
        ],
      },
      service: 'predict',
      model: 'churn',
      version: '1',
      Predictions: 1,
      Latency: 0.7,
    });
    expect(parseEmfLine(line)).toEqual([
      { namespace: 'modelgate', metricName: 'Predictions', dimensions: { service: 'predict', model: 'churn', version: '1' }, timestamp: TS, values: [1], unit: 'Count' },
      { namespace: 'modelgate', metricName: 'Latency', dimensions: { service: 'predict', model: 'churn', version: '1' }, timestamp: TS, values: [0.7], unit: 'Milliseconds' },
    ]);
  });

  it('emits a metric once per dimension set, an empty set included, and keeps value arrays', () => {
    const line = JSON.stringify({
      _aws: { Timestamp: TS, CloudWatchMetrics: [{ Namespace: 'ns', Dimensions: [['model'], ['model', 'version'], []], Metrics: [{ Name: 'Latency' }] }] },
      model: 'churn',
      version: '2',
      Latency: [1, 2, 3],
    });
    const data = parseEmfLine(line) ?? [];
    expect(data.map((d) => d.dimensions)).toEqual([{ model: 'churn' }, { model: 'churn', version: '2' }, {}]);
    expect(data.every((d) => d.values.length === 3 && d.unit === undefined)).toBe(true);
  });

  it('reads several directives with different namespaces', () => {
    const line = JSON.stringify({
      _aws: {
        Timestamp: TS,
        CloudWatchMetrics: [
          { Namespace: 'a', Dimensions: [[]], Metrics: [{ Name: 'X' }] },
          { Namespace: 'b', Dimensions: [[]], Metrics: [{ Name: 'Y' }] },
        ],
      },
      X: 1,
      Y: 2,
    });
    expect(parseEmfLine(line)?.map((d) => `${d.namespace}/${d.metricName}=${d.values[0]}`)).toEqual(['a/X=1', 'b/Y=2']);
  });

  it('drops a dimension set whose dimension the line lacks, and metrics without a numeric value', () => {
    const line = JSON.stringify({
      _aws: {
        Timestamp: TS,
        CloudWatchMetrics: [{ Namespace: 'ns', Dimensions: [['missing'], ['model']], Metrics: [{ Name: 'A' }, { Name: 'B' }, { Name: 'C' }, { Name: 'D' }] }],
      },
      model: 'churn',
      A: 1,
      B: 'high',
      D: Array.from({ length: 101 }, () => 1),
    });
    expect(parseEmfLine(line)?.map((d) => `${d.metricName}:${JSON.stringify(d.dimensions)}`)).toEqual(['A:{"model":"churn"}']);
  });

  it('is undefined for lines that are not EMF', () => {
    for (const line of [
      '{"level":"INFO","message":"model ready"}',
      'plain text mentioning _aws and CloudWatchMetrics',
      '{"_aws": {"CloudWatchMetrics": [] }', // torn JSON
      '{"_aws":{"CloudWatchMetrics":[]}}', // no timestamp
      '[{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]}}]',
    ]) {
      expect(parseEmfLine(line), line).toBeUndefined();
    }
  });
});
