import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalAlarms, alarmDefinition, alarmsFromTemplate, registerAlarmIdentities } from '../../local/alarms';
import { LocalMetricStore } from '../../local/metrics-store';
import { LocalSns, checkWebhookUrl, registerTopicIdentities, topicsFromTemplate } from '../../local/sns';
import type { CfnTemplate, ResolutionContext } from '../../local/template';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 10, 26, 12, 0);
const STACK = 'alarm-test';

/** A small template with the alarm shapes CDK synthesizes: plain metric, percentile, metric math, and one we do not evaluate. */
const template: CfnTemplate = {
  Resources: {
    AlertsTopic: { Type: 'AWS::SNS::Topic', Properties: { Subscription: [{ Protocol: 'email', Endpoint: 'oncall@example.com' }] } },
    ServingVersion: { Type: 'AWS::Lambda::Version', Properties: {} },
    ErrorsAlarm: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmDescription: 'canary errors',
        Namespace: 'modelgate',
        MetricName: 'Errors',
        Dimensions: [
          { Name: 'model', Value: 'churn' },
          { Name: 'version', Value: { 'Fn::GetAtt': ['ServingVersion', 'Version'] } },
        ],
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: 'AlertsTopic' }],
        OKActions: [{ Ref: 'AlertsTopic' }],
      },
    },
    LatencyAlarm: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: { 'Fn::Join': ['-', [{ Ref: 'AWS::StackName' }, 'latency-p99']] },
        Namespace: 'modelgate',
        MetricName: 'Latency',
        Dimensions: [{ Name: 'model', Value: 'churn' }],
        ExtendedStatistic: 'p99',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 100,
        ComparisonOperator: 'GreaterThanThreshold',
      },
    },
    ErrorRateAlarm: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        Metrics: [
          {
            Id: 'errors',
            MetricStat: { Metric: { Namespace: 'modelgate', MetricName: 'Errors', Dimensions: [{ Name: 'model', Value: 'churn' }] }, Period: 60, Stat: 'Sum' },
            ReturnData: false,
          },
          {
            Id: 'predictions',
            MetricStat: { Metric: { Namespace: 'modelgate', MetricName: 'Predictions', Dimensions: [{ Name: 'model', Value: 'churn' }] }, Period: 60, Stat: 'Sum' },
            ReturnData: false,
          },
          { Id: 'rate', Expression: '100 * FILL(errors, 0) / predictions', Label: 'error rate (%)' },
        ],
        EvaluationPeriods: 1,
        Threshold: 5,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'missing',
        AlarmActions: [{ Ref: 'AlertsTopic' }],
      },
    },
    BandAlarm: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: { ComparisonOperator: 'LessThanLowerOrGreaterThanUpperThreshold', EvaluationPeriods: 1, ThresholdMetricId: 'band', Metrics: [] },
    },
  },
};

function emf(timestamp: number, dimensions: Record<string, string>, metrics: Record<string, number>): string {
  return JSON.stringify({
    _aws: { Timestamp: timestamp, CloudWatchMetrics: [{ Namespace: 'modelgate', Dimensions: [Object.keys(dimensions)], Metrics: Object.keys(metrics).map((Name) => ({ Name })) }] },
    ...dimensions,
    ...metrics,
  });
}

const dir = mkdtempSync(join(tmpdir(), 'modelgate-alarms-'));
const received: { headers: Record<string, unknown>; body: Record<string, string> }[] = [];
// Started at module load: the alarms below are set up while the tests are collected.
const webhook: Server = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk: Buffer) => (body += chunk.toString()));
  request.on('end', () => {
    received.push({ headers: request.headers, body: JSON.parse(body) as Record<string, string> });
    response.end();
  });
});
await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
const webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`;
afterAll(async () => {
  await new Promise((resolve) => webhook.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function setup(clock: { now: number }) {
  const context: ResolutionContext = { region: 'us-east-1', accountId: '000000000000', stackName: STACK, refs: new Map(), attributes: new Map() };
  const names = new Map(Object.keys(template.Resources).map((id) => [id, `${STACK}-${id.toLowerCase()}`]));
  for (const [id, name] of names) context.refs.set(id, name);
  context.attributes.set('ServingVersion.Version', '2');
  registerTopicIdentities(template, names, context);
  registerAlarmIdentities(template, names, context);
  const printed: string[] = [];
  const metrics = new LocalMetricStore({ now: () => clock.now });
  const sns = new LocalSns({ topics: topicsFromTemplate(template, context), webhookUrl, historyFile: join(dir, 'sns.jsonl'), print: (t) => printed.push(t) });
  const alarms = new LocalAlarms({
    definitions: alarmsFromTemplate(template, context),
    metrics,
    sns,
    region: 'us-east-1',
    accountId: '000000000000',
    stateFile: join(dir, 'alarms.json'),
    now: () => clock.now,
    print: (t) => printed.push(t),
  });
  return { context, metrics, sns, alarms, printed };
}

const errorsAlarm = `${STACK}-errorsalarm`;
const state = (alarms: LocalAlarms, name: string) => alarms.describeAlarms([name]).MetricAlarms[0]?.StateValue;

describe('LocalAlarms', () => {
  const clock = { now: T0 };
  const { context, metrics, sns, alarms, printed } = setup(clock);

  it('reads the template: names (AlarmName resolved or generated), resolved dimensions, actions as topic ARNs', () => {
    const described = alarms.describeAlarms().MetricAlarms;
    expect(described.map((a) => a.AlarmName).sort()).toEqual([`${STACK}-bandalarm`, `${STACK}-errorratealarm`, errorsAlarm, `${STACK}-latency-p99`].sort());
    const errors = described.find((a) => a.AlarmName === errorsAlarm);
    expect(errors).toMatchObject({
      Dimensions: [
        { Name: 'model', Value: 'churn' },
        { Name: 'version', Value: '2' },
      ],
      Statistic: 'Sum',
      AlarmActions: ['arn:aws:sns:us-east-1:000000000000:alarm-test-alertstopic'],
      StateValue: 'INSUFFICIENT_DATA',
      StateReason: 'Unchecked: Initial alarm creation',
    });
    expect(context.refs.get('LatencyAlarm')).toBe(`${STACK}-latency-p99`);
    expect(described.find((a) => a.AlarmName === `${STACK}-latency-p99`)).toMatchObject({ ExtendedStatistic: 'p99', DatapointsToAlarm: 1, TreatMissingData: 'missing' });
  });

  it('leaves an alarm it cannot evaluate in INSUFFICIENT_DATA and says why', () => {
    alarms.evaluate();
    const band = alarms.describeAlarms([`${STACK}-bandalarm`]).MetricAlarms[0];
    expect(band?.StateValue).toBe('INSUFFICIENT_DATA');
    expect(band?.StateReason).toMatch(/not evaluated locally: unsupported ComparisonOperator LessThanLowerOrGreaterThanUpperThreshold/);
  });

  it('goes to ALARM on 2 of 3 breaching periods of the exact dimension set, and notifies once', async () => {
    const v2 = { model: 'churn', version: '2' };
    metrics.ingestLine(emf(T0 + 5_000, v2, { Errors: 1 }));
    metrics.ingestLine(emf(T0 + MINUTE + 5_000, v2, { Errors: 3 }));
    metrics.ingestLine(emf(T0 + MINUTE + 6_000, { model: 'churn', version: '1' }, { Errors: 50 })); // another version: ignored
    clock.now = T0 + 2 * MINUTE + 1_000; // minutes 0 and 1 are complete; minute 2 is not evaluated yet
    const changes = alarms.evaluate({ dueOnly: true });
    expect(changes.filter((c) => c.alarmName === errorsAlarm)).toEqual([
      {
        alarmName: errorsAlarm,
        oldState: 'OK',
        newState: 'ALARM',
        reason: expect.stringMatching(
          /^Threshold Crossed: 2 out of the last 2 datapoints \[3\.0 .*, 1\.0 .*\] were greater than or equal to the threshold \(1\.0\) and 1 missing datapoint treated as not breaching/,
        ),
      },
    ]);
    expect(alarms.evaluate({ dueOnly: true })).toEqual([]); // same period: not evaluated again
    await sns.flush();
    const notification = received.find((r) => r.body.Subject === `ALARM: "${errorsAlarm}" in US East (N. Virginia)`);
    expect(notification?.headers['x-amz-sns-message-type']).toBe('Notification');
    expect(notification?.body.TopicArn).toBe('arn:aws:sns:us-east-1:000000000000:alarm-test-alertstopic');
    const message = JSON.parse(notification?.body.Message as string) as Record<string, unknown>;
    expect(message).toMatchObject({ AlarmName: errorsAlarm, NewStateValue: 'ALARM', OldStateValue: 'OK', Trigger: { MetricName: 'Errors', Statistic: 'SUM', Period: 60 } });
    expect(sns.recentNotifications()[0]?.deliveries).toEqual(['would email oncall@example.com', `POST ${webhookUrl}`]);
    expect(printed.join('\n')).toContain(`Subject: ALARM: "${errorsAlarm}"`);
  });

  it('returns to OK when the breaching periods leave the window, running the OK actions', () => {
    // The evaluation range is N + 2 periods: the 3 most recent existing datapoints decide while 2 exist.
    clock.now = T0 + 4 * MINUTE + 1_000;
    alarms.evaluate({ dueOnly: true });
    expect(state(alarms, errorsAlarm)).toBe('ALARM');
    clock.now = T0 + 6 * MINUTE + 1_000; // minutes 1..5: one breaching datapoint left
    alarms.evaluate({ dueOnly: true });
    expect(state(alarms, errorsAlarm)).toBe('OK');
    expect(sns.recentNotifications()[0]?.Subject).toBe(`OK: "${errorsAlarm}" in US East (N. Virginia)`);
  });

  it('evaluates metric math: an error rate over the predictions', () => {
    const churn = { model: 'churn' };
    metrics.ingestLine(emf(T0 + 6 * MINUTE + 2_000, churn, { Predictions: 100, Errors: 4 }));
    clock.now = T0 + 7 * MINUTE + 1_000;
    alarms.evaluate();
    expect(state(alarms, `${STACK}-errorratealarm`)).toBe('OK');
    metrics.ingestLine(emf(T0 + 7 * MINUTE + 2_000, churn, { Predictions: 100, Errors: 6 }));
    clock.now = T0 + 8 * MINUTE + 1_000;
    alarms.evaluate();
    expect(state(alarms, `${STACK}-errorratealarm`)).toBe('ALARM');
  });

  it('evaluates percentiles (ExtendedStatistic) and treats a period without data as missing', () => {
    const churn = { model: 'churn' };
    for (let i = 0; i < 100; i++) metrics.ingestLine(emf(T0 + 8 * MINUTE + i, churn, { Latency: i < 98 ? 10 : 500 }));
    clock.now = T0 + 9 * MINUTE + 1_000;
    alarms.evaluate();
    expect(alarms.describeAlarms([`${STACK}-latency-p99`]).MetricAlarms[0]).toMatchObject({ StateValue: 'ALARM', StateReason: expect.stringContaining('[500.0') });
    expect(JSON.parse(alarms.describeAlarms([`${STACK}-latency-p99`]).MetricAlarms[0]?.StateReasonData as string)).toMatchObject({
      extendedStatistic: 'p99',
      period: 60,
      threshold: 100,
    });
  });

  it('setAlarmState sets the state and runs the actions; the next evaluation puts it back', () => {
    alarms.setAlarmState(errorsAlarm, 'ALARM', 'testing the rollback');
    expect(alarms.describeAlarms([errorsAlarm]).MetricAlarms[0]).toMatchObject({ StateValue: 'ALARM', StateReason: 'testing the rollback' });
    expect(sns.recentNotifications()[0]?.Subject).toBe(`ALARM: "${errorsAlarm}" in US East (N. Virginia)`);
    alarms.evaluate({ names: [errorsAlarm] });
    expect(state(alarms, errorsAlarm)).toBe('OK');
    expect(() => alarms.setAlarmState('nope', 'OK', 'x')).toThrow(/does not exist/);
  });

  it('keeps alarm states and notifications across a restart', () => {
    alarms.close();
    const again = setup(clock);
    expect(state(again.alarms, `${STACK}-errorratealarm`)).toBe('ALARM');
    expect(again.sns.recentNotifications().length).toBe(sns.recentNotifications().length);
    again.alarms.close();
  });

  it('keeps the alarms PutMetricAlarm created across a restart, as CloudWatch does; deleted ones stay deleted', () => {
    // As the promotion pipeline creates a published version's alarms: no stack declares them, so nothing else brings them back.
    const put = (name: string) =>
      alarmDefinition(
        name,
        {
          Namespace: 'modelgate',
          MetricName: 'Errors',
          Dimensions: [{ Name: 'model', Value: 'fraud' }],
          Statistic: 'Sum',
          Period: 60,
          EvaluationPeriods: 1,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        },
        name,
        'us-east-1',
        '000000000000',
      );
    const before = setup(clock);
    before.alarms.putAlarm(put('alarm-test/fraud/v1/errors-critical'));
    before.alarms.putAlarm(put('alarm-test/fraud/v1/errors-warning'));
    before.alarms.setAlarmState('alarm-test/fraud/v1/errors-critical', 'ALARM', 'testing a restart');
    before.alarms.deleteAlarms(['alarm-test/fraud/v1/errors-warning']);
    const after = setup(clock);
    expect(after.alarms.describeAlarms(['alarm-test/fraud/v1/errors-critical']).MetricAlarms[0]).toMatchObject({
      StateValue: 'ALARM',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'model', Value: 'fraud' }],
    });
    expect(after.alarms.describeAlarms(['alarm-test/fraud/v1/errors-warning']).MetricAlarms).toEqual([]);
    after.alarms.close();
  });
});

describe("LocalAlarms under a time scale (CloudWatch's sliding evaluation window)", () => {
  // A monitor alarm as versionAlarmSpecs makes it: 5-minute periods, 2 of the last 3, missing data not breaching.
  const monitorTemplate: CfnTemplate = {
    Resources: {
      DriftAlarm: {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          AlarmName: 'scaled/churn/v1/drift-share-warning',
          Namespace: 'modelgate',
          MetricName: 'DriftShare',
          Dimensions: [{ Name: 'model', Value: 'churn' }],
          Statistic: 'Maximum',
          Period: 300,
          EvaluationPeriods: 3,
          DatapointsToAlarm: 2,
          Threshold: 0.25,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          TreatMissingData: 'notBreaching',
        },
      },
    },
  };
  const second = 1000; // a minute at time scale 60
  const clock = { now: T0 };
  const context: ResolutionContext = { region: 'us-east-1', accountId: '000000000000', stackName: 'scaled', refs: new Map(), attributes: new Map() };
  const metrics = new LocalMetricStore({ now: () => clock.now, minuteMs: second });
  const alarms = new LocalAlarms({
    definitions: alarmsFromTemplate(monitorTemplate, context),
    metrics,
    sns: new LocalSns({ topics: [], print: () => undefined }),
    region: 'us-east-1',
    accountId: '000000000000',
    now: () => clock.now,
    print: () => undefined,
  });
  const run = (atMinute: number, driftShare: number) => metrics.ingestLine(emf(T0 + atMinute * second, { model: 'churn' }, { DriftShare: driftShare }));
  const evaluateAt = (minute: number) => {
    clock.now = T0 + minute * second;
    alarms.evaluate({ dueOnly: true });
    return state(alarms, 'scaled/churn/v1/drift-share-warning');
  };

  it('reads periods of scaled minutes ending at the evaluation, so a run counts at the next minute, not at a period boundary', () => {
    run(2.5, 0.6); // one breaching run: not enough
    expect(evaluateAt(3)).toBe('OK');
    run(7.5, 0.1);
    expect(evaluateAt(8)).toBe('OK');
    run(12.5, 0.1);
    run(17.5, 0.7); // breaching runs 15 minutes apart: never 2 of the last 3, so a lone noisy run never pages
    expect(evaluateAt(18)).toBe('OK');
    run(22.5, 0.8);
    expect(evaluateAt(22.9)).toBe('OK'); // the run's minute is not over yet
    expect(evaluateAt(23)).toBe('ALARM'); // 17.5 and 22.5 breach: at the first evaluation after 22.5's minute, not at a period boundary
    expect(JSON.parse(alarms.describeAlarms(['scaled/churn/v1/drift-share-warning']).MetricAlarms[0]?.StateReasonData as string)).toMatchObject({
      period: 300,
      recentDatapoints: [0.6, 0.1, 0.1, 0.7, 0.8],
    });
  });
});

describe('LocalSns', () => {
  it('accepts loopback webhooks only', () => {
    for (const ok of ['http://127.0.0.1:9000/hook', 'http://localhost:1/', 'https://[::1]:8443/x', 'http://127.1.2.3/']) expect(() => checkWebhookUrl(ok), ok).not.toThrow();
    for (const bad of ['http://10.0.0.1/hook', 'http://example.com/', 'http://192.168.1.1:80/', 'ftp://127.0.0.1/', 'not a url', 'http://127.0.0.1.example.com/']) {
      expect(() => checkWebhookUrl(bad), bad).toThrow(/--webhook/);
    }
  });

  it('refuses to publish to a topic the template does not have', () => {
    const sns = new LocalSns({ topics: [], print: () => undefined });
    expect(() => sns.publish('arn:aws:sns:us-east-1:000000000000:nope', 's', 'm')).toThrow(/Topic does not exist/);
  });
});
