import { describe, expect, it } from 'vitest';
import type { MetricAlarm } from '../../local/alarms';
import type { ModelView } from '../../local/dashboard';
import { LocalMetricStore } from '../../local/metrics-store';
import { escapeLabelValue, negotiateFormat, renderExposition, type MetricFamily } from '../../local/prometheus/exposition';
import { METRIC_FAMILIES, metricFamilies, type RuntimeMetrics } from '../../local/prometheus/families';
import { MetricTotals } from '../../local/prometheus/totals';
import { parseExposition, type ParsedFamily } from '../support/exposition-parser';
import { checkExposition } from '../support/exposition-checks';

const NAMESPACE = 'modelgate-dev';
const T0 = Date.UTC(2026, 11, 5, 12, 0);

function emf(timestamp: number, metrics: Record<string, { unit: string; value: number | number[] }>, dimensions: Record<string, string>, namespace = NAMESPACE): string {
  return JSON.stringify({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [Object.keys(dimensions)], Metrics: Object.entries(metrics).map(([Name, m]) => ({ Name, Unit: m.unit })) }],
    },
    ...dimensions,
    ...Object.fromEntries(Object.entries(metrics).map(([name, m]) => [name, m.value])),
  });
}

const serving = (version: string, extra: Record<string, string> = {}) => ({ service: 'inference', model: 'churn', version, ...extra });
const monitor = (version: string, extra: Record<string, string> = {}) => ({ service: 'monitor', model: 'churn', version, ...extra });
const count = (value: number | number[]) => ({ unit: 'Count', value });
const none = (value: number) => ({ unit: 'None', value });

const ALARM: MetricAlarm = {
  AlarmName: 'modelgate-dev/churn/v2/drift-share-warning',
  AlarmArn: 'arn:aws:cloudwatch:us-east-1:000000000000:alarm:modelgate-dev/churn/v2/drift-share-warning',
  ActionsEnabled: true,
  OKActions: [],
  AlarmActions: [],
  InsufficientDataActions: [],
  StateValue: 'ALARM',
  StateReason: 'Threshold Crossed',
  StateUpdatedTimestamp: new Date(T0).toISOString(),
  StateTransitionedTimestamp: new Date(T0).toISOString(),
  MetricName: 'DriftShare',
  Namespace: NAMESPACE,
  Statistic: 'Maximum',
  Dimensions: [
    { Name: 'service', Value: 'monitor' },
    { Name: 'model', Value: 'churn' },
    { Name: 'version', Value: '2' },
  ],
  Period: 300,
  EvaluationPeriods: 3,
  DatapointsToAlarm: 2,
  Threshold: 0.25,
  ComparisonOperator: 'GreaterThanOrEqualToThreshold',
  TreatMissingData: 'notBreaching',
};

const MODELS: ModelView[] = [
  {
    functionName: 'modelgate-dev-churn',
    model: 'churn',
    routes: [],
    aliases: [
      {
        name: 'live',
        routing: [
          { lambdaVersion: '3', bundle: '1', weight: 0.7 },
          { lambdaVersion: '4', bundle: '2', weight: 0.3 },
        ],
      },
    ],
    versions: [
      { lambdaVersion: '3', bundle: '1', publishedAt: '', description: '' },
      { lambdaVersion: '4', bundle: '2', publishedAt: '', description: '' },
    ],
  },
];

/** A runtime's worth of data, through the metric store as the functions' log lines reach it. */
function snapshot(): RuntimeMetrics {
  const totals = new MetricTotals();
  const store = new LocalMetricStore({ now: () => T0 + 60_000, onDatum: totals.add });
  // Model latency in ms, on and around the bucket bounds: 5 ms is in le=0.005, 5.0001 ms is not.
  store.ingestLine(emf(T0, { Predictions: count(3), Requests: count(1), Latency: { unit: 'Milliseconds', value: [0.5, 5, 5.0001] } }, serving('1')));
  store.ingestLine(emf(T0 + 1, { Predictions: count(2), Requests: count(1), Latency: { unit: 'Milliseconds', value: 20_000 } }, serving('1')));
  store.ingestLine(emf(T0, { LogWriteLatency: { unit: 'Milliseconds', value: 3 }, LogFallbacks: count(1), PredictedClass_Yes: count(4) }, serving('1')));
  store.ingestLine(emf(T0, { ShadowCompared: count(5), ShadowAgreed: count(4) }, serving('2')));
  // Errors go out twice (total and per kind): only the per-kind series is served.
  store.ingestLine(emf(T0, { Errors: count(1) }, serving('1')));
  store.ingestLine(emf(T0, { Errors: count(1) }, serving('1', { errorKind: 'model "failed"\n\\' })));
  store.ingestLine(emf(T0, { ClientErrors: count([1, 1]) }, serving('1', { errorKind: 'bad-request' })));
  // The monitor's newest run wins, whatever order the lines arrive in.
  store.ingestLine(emf(T0 + 2, { DriftShare: none(0.5), DatasetDrift: none(1), PredictionDrift: none(0), PredictionDriftStatistic: none(0.02) }, monitor('2')));
  store.ingestLine(emf(T0 + 1, { DriftShare: none(0.1) }, monitor('2')));
  store.ingestLine(emf(T0, { MonitoredPredictions: count(120), LabelledPredictions: count(40), SkippedRecords: count(0) }, monitor('2')));
  store.ingestLine(emf(T0, { FeatureDrift: none(1), FeatureDriftStatistic: none(0.31), FeatureDriftPValue: none(0.001) }, monitor('2', { feature: 'tenure' })));
  store.ingestLine(emf(T0, { Accuracy: none(0.8), AccuracyDegradation: none(0.02), EstimatedRocAuc: none(0.77), EstimatedRocAucDegradation: none(0.05) }, monitor('2')));
  // Not served: another namespace, a metric without a mapping.
  store.ingestLine(emf(T0, { Predictions: count(99) }, serving('1'), 'other-namespace'));
  store.ingestLine(emf(T0, { SomethingNew: count(1) }, serving('1')));
  totals.addRequest({ functionName: 'modelgate-dev-churn', executedVersion: '4', route: 'POST /v1/models/{model}/predict', statusCode: 200, seconds: 0.012 });
  totals.addRequest({ functionName: 'modelgate-dev-churn', executedVersion: '4', route: 'POST /v1/models/{model}/predict', statusCode: 200, seconds: 0.1 });
  totals.addRequest({ functionName: 'modelgate-dev-feedback', executedVersion: '1', route: 'POST /v1/feedback', statusCode: 400, seconds: 0.003 });
  return { namespace: NAMESPACE, series: totals.series(), requests: totals.requests(), alarms: [ALARM], models: MODELS };
}

const value = (families: readonly ParsedFamily[], sampleName: string, labels: Record<string, string>) =>
  families.flatMap((f) => f.samples).find((s) => s.name === sampleName && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('/metrics renderer', () => {
  const families = metricFamilies(snapshot());

  for (const format of ['text', 'openmetrics'] as const) {
    it(`renders every family in ${format} that a strict parser reads, with histogram and counter invariants`, () => {
      const parsed = parseExposition(renderExposition(families, format), format);
      checkExposition(parsed, format);
      const counter = (name: string) => (format === 'text' ? `${name}_total` : name);
      const byName = new Map(parsed.map((f) => [f.name, f]));
      expect(byName.get(counter('modelgate_predictions'))?.type).toBe('counter');
      expect(value(parsed, 'modelgate_predictions_total', { model: 'churn', version: '1' })).toBe(5);
      expect(value(parsed, 'modelgate_predictions_total', {})).toBe(5); // not 104: other namespaces are not served
      expect(value(parsed, 'modelgate_errors_total', { kind: 'model "failed"\n\\' })).toBe(1);
      expect(parsed.flatMap((f) => f.samples).filter((s) => s.name === 'modelgate_errors_total')).toHaveLength(1);
      expect(value(parsed, 'modelgate_client_errors_total', { kind: 'bad-request' })).toBe(2);
      expect(value(parsed, 'modelgate_predicted_class_total', { class: 'Yes' })).toBe(4);
      // Model latency in seconds, bucketed exactly at the bounds.
      const bound = (le: number) => (format === 'openmetrics' && Number.isInteger(le) ? `${le}.0` : String(le));
      expect(value(parsed, 'modelgate_model_latency_seconds_bucket', { version: '1', le: bound(0.001) })).toBe(1);
      expect(value(parsed, 'modelgate_model_latency_seconds_bucket', { version: '1', le: bound(0.005) })).toBe(2);
      expect(value(parsed, 'modelgate_model_latency_seconds_bucket', { version: '1', le: bound(0.01) })).toBe(3);
      expect(value(parsed, 'modelgate_model_latency_seconds_bucket', { version: '1', le: bound(10) })).toBe(3);
      expect(value(parsed, 'modelgate_model_latency_seconds_bucket', { version: '1', le: '+Inf' })).toBe(4);
      expect(value(parsed, 'modelgate_model_latency_seconds_sum', { version: '1' })).toBeCloseTo((0.5 + 5 + 5.0001 + 20_000) / 1000, 9);
      expect(value(parsed, 'modelgate_request_duration_seconds_count', { model: 'churn', version: '2', code: '200' })).toBe(2);
      expect(value(parsed, 'modelgate_request_duration_seconds_count', { route: 'POST /v1/feedback', code: '400' })).toBe(1);
      expect(value(parsed, 'modelgate_drift_share', { version: '2' })).toBe(0.5);
      expect(value(parsed, 'modelgate_feature_drift_p_value', { feature: 'tenure' })).toBe(0.001);
      expect(value(parsed, 'modelgate_quality', { metric: 'accuracy', kind: 'realized' })).toBe(0.8);
      expect(value(parsed, 'modelgate_quality_drop', { metric: 'roc_auc', kind: 'estimated' })).toBe(0.05);
      expect(value(parsed, 'modelgate_alarm_state', { alarm: ALARM.AlarmName, model: 'churn', version: '2', state: 'ALARM' })).toBe(1);
      expect(value(parsed, 'modelgate_alarm_state', { alarm: ALARM.AlarmName, state: 'OK' })).toBe(0);
      expect(value(parsed, 'modelgate_routing_weight', { version: '2', alias: 'live', lambda_version: '4' })).toBe(0.3);
      if (format === 'openmetrics') expect(byName.get('modelgate_model_latency_seconds')?.unit).toBe('seconds');
    });
  }

  it('serves every family it declares (the dashboards test reads the declaration)', () => {
    expect(families.map((f) => f.name)).toEqual(Object.values(METRIC_FAMILIES).map((f) => f.name));
  });

  it('counts a restart as the one reset: totals do not go down as the store forgets old minutes', () => {
    const totals = new MetricTotals();
    let now = T0;
    const store = new LocalMetricStore({ now: () => now, retentionMs: 5 * 60_000, onDatum: totals.add });
    store.ingestLine(emf(now, { Predictions: count(7) }, serving('1')));
    now += 10 * 60_000;
    store.ingestLine(emf(now, { Predictions: count(1) }, serving('1')));
    expect(store.query({ namespace: NAMESPACE, metricName: 'Predictions', dimensions: serving('1'), statistic: 'Sum', period: 60, start: 0, end: now + 60_000 })).toHaveLength(1);
    expect(totals.series().find((s) => s.metricName === 'Predictions')?.sum).toBe(8);
  });
});

describe('exposition format rules', () => {
  const histogram: MetricFamily = {
    name: 'x_seconds',
    type: 'histogram',
    help: 'h',
    unit: 'seconds',
    samples: [{ labels: {}, buckets: [{ le: 1, count: 2 }], count: 3, sum: 4 }],
  };

  it('names counters per format: x_total in 0.0.4 metadata, x in OpenMetrics with x_total samples', () => {
    const counter: MetricFamily = { name: 'x', type: 'counter', help: 'a "quoted" \\ help\nline', samples: [{ labels: { a: 'b' }, value: 1 }] };
    expect(renderExposition([counter], 'text')).toBe('# HELP x_total a "quoted" \\\\ help\\nline\n# TYPE x_total counter\nx_total{a="b"} 1\n');
    expect(renderExposition([counter], 'openmetrics')).toBe('# TYPE x counter\n# HELP x a \\"quoted\\" \\\\ help\\nline\nx_total{a="b"} 1\n# EOF\n');
  });

  it('declares units and canonical bounds in OpenMetrics only', () => {
    expect(renderExposition([histogram], 'openmetrics')).toBe(
      '# TYPE x_seconds histogram\n# UNIT x_seconds seconds\n# HELP x_seconds h\nx_seconds_bucket{le="1.0"} 2\nx_seconds_bucket{le="+Inf"} 3\nx_seconds_count 3\nx_seconds_sum 4\n# EOF\n',
    );
    expect(renderExposition([histogram], 'text')).not.toContain('UNIT');
  });

  it('escapes backslash, double quote and line feed in label values', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
  });

  it.each<[string, MetricFamily, RegExp]>([
    ['a counter named with _total', { name: 'x_total', type: 'counter', help: '', samples: [] }, /reserved for samples/],
    ['a unit the name does not end with', { name: 'x', type: 'gauge', help: '', unit: 'seconds', samples: [] }, /does not end with its unit/],
    [
      'two samples with one label set',
      {
        name: 'x',
        type: 'gauge',
        help: '',
        samples: [
          { labels: { a: '1' }, value: 1 },
          { labels: { a: '1' }, value: 2 },
        ],
      },
      /two samples/,
    ],
    ['a bad label name', { name: 'x', type: 'gauge', help: '', samples: [{ labels: { 'a-b': '1' }, value: 1 }] }, /invalid label names: a-b/],
    [
      'buckets going down',
      {
        ...histogram,
        samples: [
          {
            labels: {},
            buckets: [
              { le: 1, count: 2 },
              { le: 2, count: 1 },
            ],
            count: 3,
            sum: 0,
          },
        ],
      },
      /not cumulative/,
    ],
    ['a bucket above the count', { ...histogram, samples: [{ labels: {}, buckets: [{ le: 1, count: 4 }], count: 3, sum: 0 }] }, /not cumulative/],
  ])('refuses %s', (_, family, message) => {
    expect(() => renderExposition([family], 'text')).toThrow(message);
  });

  it.each<[string | undefined, 'text' | 'openmetrics']>([
    // Prometheus 2's and 3's scrape headers.
    ['application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1', 'openmetrics'],
    [
      'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1',
      'openmetrics',
    ],
    ['application/openmetrics-text', 'openmetrics'],
    ['application/openmetrics-text; version=0.0.1', 'text'],
    ['application/openmetrics-text;q=0', 'text'],
    ['text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5', 'text'],
    ['*/*', 'text'],
    [undefined, 'text'],
  ])('Accept %s gets %s', (accept, format) => {
    expect(negotiateFormat(accept)).toBe(format);
  });
});

describe('the strict reader the tests parse with', () => {
  it.each<[string, string, 'text' | 'openmetrics', RegExp]>([
    ['OpenMetrics without # EOF', '# TYPE x gauge\nx 1\n', 'openmetrics', /# EOF/],
    ['an OpenMetrics counter family named _total', '# TYPE x_total counter\nx_total 1\n# EOF\n', 'openmetrics', /ends with _total/],
    ['HELP after the samples', '# TYPE x gauge\nx 1\n# HELP x late\n', 'text', /after the family's samples/],
    ['interleaved OpenMetrics families', '# TYPE x gauge\n# TYPE y gauge\nx 1\ny 1\nx{a="b"} 1\n# EOF\n', 'openmetrics', /interleaved/],
    ['an unknown escape', 'x{a="\\t"} 1\n', 'text', /unknown escape/],
    ['a value that is no number', 'x 1,5\n', 'text', /not a number/],
    ['a unit the name lacks', '# TYPE x gauge\n# UNIT x seconds\nx 1\n# EOF\n', 'openmetrics', /unit/],
  ])('refuses %s', (_, text, format, message) => {
    expect(() => parseExposition(text, format)).toThrow(message);
  });
});

describe('the checks every /metrics answer passes', () => {
  it.each<[string, string, 'text' | 'openmetrics', RegExp]>([
    ['a 0.0.4 counter without _total', '# TYPE x counter\nx 1\n', 'text', /counter x/],
    ['a +Inf bucket other than the count', '# TYPE x histogram\nx_bucket{le="1"} 1\nx_bucket{le="+Inf"} 2\nx_count 3\nx_sum 1\n', 'text', /\+Inf/],
    ['buckets going down', '# TYPE x histogram\nx_bucket{le="1"} 2\nx_bucket{le="2"} 1\nx_bucket{le="+Inf"} 2\nx_count 2\nx_sum 1\n', 'text', /cumulative/],
    ['a histogram without +Inf', '# TYPE x histogram\nx_bucket{le="1"} 2\nx_count 2\nx_sum 1\n', 'text', /\+Inf/],
  ])('fail on %s', (_, text, format, message) => {
    expect(() => checkExposition(parseExposition(text, format), format)).toThrow(message);
  });
});
