// A client must not be able to roll back a good canary. The inference handler serves the churn model against
// dynalite and s3rver; its EMF lines feed the local metric store, which evaluates the alarms the pipeline
// creates for the version (the same PutMetricAlarm inputs). Five minutes of traffic, half of it hostile:
// numbers DynamoDB cannot store (which went to the log fallback), wrong types, unknown routes. Afterwards no
// alarm of the version may be in ALARM, and the bake's decision reads only its critical alarms.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { parseManifestJson } from '../../lambdas/core/manifest';
import { DEFAULT_ALARM_THRESHOLDS, METRIC, SERVING_SERVICE } from '../../lambdas/core/monitoring/alarms';
import { rollbackAlarmNames, rolloutAlarmInputs } from '../../lambdas/core/pipeline/alarms';
import type { Serving } from '../../lambdas/use-cases/serve-predictions';
import { LocalAlarms, alarmsFromTemplate } from '../../local/alarms';
import { proxyEvent } from '../../local/api-gateway-event';
import { LocalMetricStore } from '../../local/metrics-store';
import { LocalSns } from '../../local/sns';
import type { ResolutionContext } from '../../local/template';
import { lambdaContext, serve, startLocalAws, type LocalAws } from '../support/local-aws';

const bundleDir = new URL('../../examples/churn/v1/', import.meta.url);
const manifest = parseManifestJson(readFileSync(new URL('manifest.json', bundleDir), 'utf8'));
const modelBytes = new Uint8Array(readFileSync(new URL(manifest.model.file, bundleDir)));
const holdout = csvInstances(manifest, parseCsv(readFileSync(new URL('holdout.csv', bundleDir), 'utf8')));
const DEPLOYMENT = 'modelgate';
const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 5, 12, 0);

describe('a client cannot roll back a good canary', () => {
  let aws: LocalAws;
  let serving: Serving;
  const clock = { now: T0 };
  const metrics = new LocalMetricStore({ now: () => clock.now });
  const alarmInputs = rolloutAlarmInputs(DEPLOYMENT, manifest.name, manifest.version, DEFAULT_ALARM_THRESHOLDS, []);
  let alarms: LocalAlarms;

  beforeAll(async () => {
    // The suite turns EMF off (vitest.config.ts); here it is what is under test.
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    aws = await startLocalAws();
    // The metrics namespace is the deployment's, the service dimension the inference function's: as deployed.
    serving = await serve(aws, manifest, modelBytes, { metricsNamespace: DEPLOYMENT, serviceName: SERVING_SERVICE });
    const context: ResolutionContext = { region: 'us-east-1', accountId: '000000000000', stackName: DEPLOYMENT, refs: new Map(), attributes: new Map() };
    const resources = Object.fromEntries(alarmInputs.map((input, i) => [`Alarm${i}`, { Type: 'AWS::CloudWatch::Alarm', Properties: input as unknown as Record<string, unknown> }]));
    alarms = new LocalAlarms({
      definitions: alarmsFromTemplate({ Resources: resources }, context),
      metrics,
      sns: new LocalSns({ topics: [], print: () => undefined }),
      region: 'us-east-1',
      accountId: '000000000000',
      stateFile: join(aws.directory, 'alarms.json'),
      now: () => clock.now,
      print: () => undefined,
    });
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await aws?.close();
  });

  /** Runs requests, feeding the handler's EMF lines to the metric store as if emitted in minute `minute`. */
  async function during(minute: number, send: () => Promise<void>): Promise<void> {
    const lines: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string | Uint8Array) => {
      lines.push(
        ...String(chunk)
          .split('\n')
          .filter((line) => line.includes('"_aws"')),
      );
      return true;
    }) as typeof process.stdout.write;
    try {
      await send();
    } finally {
      process.stdout.write = write;
    }
    for (const line of lines) {
      const emf = JSON.parse(line) as { _aws: { Timestamp: number } };
      emf._aws.Timestamp = T0 + minute * MINUTE + 1000;
      metrics.ingestLine(JSON.stringify(emf));
    }
  }

  const predict = (body: unknown, model = manifest.name) =>
    serving.handle(proxyEvent({ method: 'POST', path: `/v1/models/${model}/predict`, body: JSON.stringify(body) }), lambdaContext);

  it('answers hostile requests 4xx, logs nothing to the fallback, and leaves every alarm of the version OK', async () => {
    const valid = holdout[0]!;
    const hostile = [
      // Numbers DynamoDB cannot store: each such row went to the log fallback (34 rows: past the critical threshold).
      { instances: Array.from({ length: 34 }, () => ({ ...valid, MonthlyCharges: 1e308 })) },
      { instances: [{ ...valid, TotalCharges: 5e-324 }] },
      { instances: [{ ...valid, tenure: 'twelve' }] },
      { instances: 'all of them' },
    ];
    for (let minute = 0; minute < 5; minute++) {
      await during(minute, async () => {
        for (let i = 0; i < 4; i++) expect((await predict({ instances: [holdout[minute * 4 + i]] })).statusCode).toBe(200);
        for (const body of hostile) {
          const response = await predict(body);
          expect(response.statusCode, response.body).toBe(400);
          expect(JSON.parse(response.body).issues[0]).toMatchObject({ field: expect.any(String), reason: expect.any(String) });
        }
        expect((await predict({ instances: [valid] }, 'fraud')).statusCode).toBe(404);
      });
    }
    expect(existsSync(aws.fallbackFile) ? readFileSync(aws.fallbackFile, 'utf8') : '').toBe('');

    clock.now = T0 + 6 * MINUTE;
    alarms.evaluate();
    const states = Object.fromEntries(alarms.describeAlarms(alarmInputs.map((a) => a.AlarmName)).MetricAlarms.map((a) => [a.AlarmName.split('/').pop(), a.StateValue]));
    expect(states['error-rate-critical']).toBe('OK');
    expect(states['error-rate-warning']).toBe('OK');
    expect(Object.entries(states).filter(([, state]) => state === 'ALARM')).toEqual([]);

    // The client's errors are counted, apart from the service's.
    const dimensions = { service: SERVING_SERVICE, model: manifest.name, version: manifest.version };
    const sum = (metricName: string) =>
      metrics.query({ namespace: DEPLOYMENT, metricName, dimensions, statistic: 'Sum', period: 300, start: T0, end: T0 + 5 * MINUTE }).reduce((total, p) => total + p.value, 0);
    expect(sum(METRIC.clientErrors)).toBe(25);
    expect(sum(METRIC.errors)).toBe(0);
    expect(sum(METRIC.requests)).toBe(45);
  });

  it('rolls back during a bake on a critical alarm, not on a warning', () => {
    const checked = rollbackAlarmNames(alarmInputs, DEPLOYMENT, manifest.name, manifest.version);
    // What the bake's DescribeAlarms(AlarmNames, StateValue ALARM) answers.
    const firing = () =>
      alarms
        .describeAlarms(checked)
        .MetricAlarms.filter((a) => a.StateValue === 'ALARM')
        .map((a) => a.AlarmName);
    const prefix = `${DEPLOYMENT}/${manifest.name}/v${manifest.version}/`;
    alarms.setAlarmState(`${prefix}latency-p99-warning`, 'ALARM', 'a noisy minute');
    alarms.setAlarmState(`${prefix}log-fallbacks-warning`, 'ALARM', 'one record in the fallback');
    expect(firing()).toEqual([]);
    alarms.setAlarmState(`${prefix}error-rate-critical`, 'ALARM', 'the model fails');
    expect(firing()).toEqual([`${prefix}error-rate-critical`]);
  });
});
