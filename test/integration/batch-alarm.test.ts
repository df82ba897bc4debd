// A batch job's drift reaches the on-call: the summarize step (against s3rver) writes the summary, then emits the
// job's drift as EMF through Powertools; the local metric store extracts it as CloudWatch does, and the model's
// batch alarms — as the pipeline puts them at a rollout — evaluate it. A drifted job of a version that takes no
// traffic pages, a job without drift does not, and an emitter that fails loses neither the job nor its summary.
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { churnStreams } from '../../bench/time-to-page';
import { emitBatchMetrics } from '../../lambdas/adapters/monitor-metrics';
import type { BatchPartResult, PreparedJob, SummarizeEvent } from '../../lambdas/contracts/batch-job';
import type { BatchSummary } from '../../lambdas/core/batch/summary';
import { addRow, emptyWindowAggregate } from '../../lambdas/core/drift/aggregate';
import type { Manifest } from '../../lambdas/core/manifest';
import { BATCH_ALARM_PERIOD_SECONDS, DEFAULT_ALARM_THRESHOLDS } from '../../lambdas/core/monitoring/alarms';
import { rolloutAlarmInputs } from '../../lambdas/core/pipeline/alarms';
import type { ReplayRow } from '../../cli/replay-engine';
import { summarizeJob } from '../../lambdas/use-cases/batch-jobs';
import { LocalAlarms, alarmsFromTemplate } from '../../local/alarms';
import { LocalMetricStore } from '../../local/metrics-store';
import { LocalSns } from '../../local/sns';
import type { ResolutionContext } from '../../local/template';
import { BUCKET, startLocalAws, type LocalAws } from '../support/local-aws';

const DEPLOYMENT = 'modelgate-dev';
const TOPIC = 'arn:aws:sns:us-east-1:000000000000:on-call';
const MINUTE = 60_000;
const T0 = Date.UTC(2026, 11, 5, 2, 0);
const { manifest: v1, noDrift } = churnStreams();
/** A selection, not the population the model was trained on: the month-to-month customers who churned (11 of 16 assessed features drift). */
const selected = noDrift.filter((row) => row.instance.Contract === 'Month-to-month' && row.actual === 'Yes');
/** Version 2 takes no traffic: the job pins it, and the model's alarm still watches it. */
const v2: Manifest = { ...v1, version: '2' };

let aws: LocalAws;
const clock = { now: T0 };
const metrics = new LocalMetricStore({ now: () => clock.now });
const batchAlarms = rolloutAlarmInputs(DEPLOYMENT, 'churn', '1', DEFAULT_ALARM_THRESHOLDS, [TOPIC]).filter((alarm) => alarm.AlarmName.startsWith(`${DEPLOYMENT}/churn/batch/`));
const context: ResolutionContext = { region: 'us-east-1', accountId: '000000000000', stackName: DEPLOYMENT, refs: new Map(), attributes: new Map() };
const alarms = new LocalAlarms({
  definitions: alarmsFromTemplate(
    { Resources: Object.fromEntries(batchAlarms.map((input, i) => [`Alarm${i}`, { Type: 'AWS::CloudWatch::Alarm', Properties: input as unknown as Record<string, unknown> }])) },
    context,
  ),
  metrics,
  sns: new LocalSns({ topics: [], print: () => undefined }),
  region: 'us-east-1',
  accountId: '000000000000',
  now: () => clock.now,
  print: () => undefined,
});
const critical = `${DEPLOYMENT}/churn/batch/drift-share-critical`;
const state = (name: string) => alarms.describeAlarms([name]).MetricAlarms[0]?.StateValue;

beforeAll(async () => {
  aws = await startLocalAws();
  for (const manifest of [v1, v2]) {
    await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `models/churn/${manifest.version}/manifest.json`, Body: JSON.stringify(manifest) }));
  }
});
afterAll(async () => {
  alarms.close();
  await aws?.close();
});

/** A finished job of `rows` in two batches, its ResultWriter files in S3 as the Distributed Map leaves them. */
async function finishedJob(name: string, manifest: Manifest, rows: readonly ReplayRow[]): Promise<SummarizeEvent> {
  const prefix = `batch/${name}/`;
  const half = Math.ceil(rows.length / 2);
  const parts: BatchPartResult[] = [rows.slice(0, half), rows.slice(half)].map((batch, i) => {
    const drift = emptyWindowAggregate(manifest.baseline as NonNullable<Manifest['baseline']>);
    for (const row of batch) addRow(drift, manifest.baseline as NonNullable<Manifest['baseline']>, row.instance);
    return { firstRow: i * half + 1, rows: batch.length, scored: batch.length, rejected: 0, partKey: `${prefix}parts/part-${i}.csv`, drift, labels: { No: batch.length } };
  });
  const resultsKey = `${prefix}_results/run/SUCCEEDED_0.json`;
  await put(
    resultsKey,
    parts.map((part) => ({ Status: 'SUCCEEDED', Output: JSON.stringify(part) })),
  );
  await put(`${prefix}_results/run/manifest.json`, { ResultFiles: { SUCCEEDED: [{ Key: resultsKey }] } });
  const job: PreparedJob = {
    model: 'churn',
    version: manifest.version,
    input: { bucket: BUCKET, key: `${prefix}input.csv` },
    output: { bucket: BUCKET, prefix },
    format: 'csv',
    maxConcurrency: 10,
    toleratedFailurePercentage: 0,
    inputSha256: '0'.repeat(64),
    rows: rows.length,
    chunks: { bucket: BUCKET, key: `${prefix}_chunks.json` },
    startedAt: new Date(clock.now - MINUTE).toISOString(),
    batchInput: { model: 'churn', version: manifest.version, format: 'csv', input: { bucket: BUCKET, key: `${prefix}input.csv` }, output: { bucket: BUCKET, prefix } },
    resultsPrefix: `${prefix}_results`,
  };
  return { job, results: { ResultWriterDetails: { Bucket: BUCKET, Key: `${prefix}_results/run/manifest.json` } } };
}

async function put(key: string, body: unknown): Promise<void> {
  await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: JSON.stringify(body) }));
}

/** Runs the summarize step as the job function does, its EMF lines going where CloudWatch Logs takes them. */
async function summarize(event: SummarizeEvent, emitMetrics = emitBatchMetrics) {
  const logged: unknown[][] = [];
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split('\n')) if (line) metrics.ingestLine(line);
    return true;
  });
  try {
    const summary = await summarizeJob(
      {
        s3: aws.s3,
        bucket: BUCKET,
        emitMetrics: (model, version, data, at) => emitMetrics(model, version, data, at, DEPLOYMENT),
        logger: { error: (...args: unknown[]) => void logged.push(args) },
      },
      event,
      () => new Date(clock.now),
    );
    return { summary, logged };
  } finally {
    write.mockRestore();
    vi.unstubAllEnvs();
  }
}

async function written(event: SummarizeEvent): Promise<BatchSummary> {
  const object = await aws.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${event.job.output.prefix}_SUCCESS.json` }));
  return JSON.parse((await object.Body?.transformToString()) as string) as BatchSummary;
}

describe("a batch job's drift and the model's batch alarms", () => {
  it('are put by every rollout under the model (not the version), paging the same actions as the version alarms', () => {
    expect(batchAlarms.map((a) => a.AlarmName).sort()).toEqual([
      `${DEPLOYMENT}/churn/batch/drift-share-critical`,
      `${DEPLOYMENT}/churn/batch/drift-share-warning`,
      `${DEPLOYMENT}/churn/batch/prediction-drift-warning`,
    ]);
    for (const alarm of batchAlarms) expect(alarm).toMatchObject({ AlarmActions: [TOPIC], OKActions: [TOPIC], EvaluationPeriods: 1, TreatMissingData: 'notBreaching' });
  });

  it('a job without drift emits its drift share and pages nobody', async () => {
    const { summary } = await summarize(await finishedJob('quiet', v1, noDrift));
    expect(summary.drift?.datasetDrift).toBe(false);
    const series = metrics.query({
      namespace: DEPLOYMENT,
      metricName: 'BatchDriftShare',
      dimensions: { service: 'batch', model: 'churn' },
      statistic: 'Maximum',
      period: 60,
      start: T0 - MINUTE,
      end: T0 + MINUTE,
    });
    expect(series.map((p) => p.value)).toEqual([summary.drift?.driftShare]);
    clock.now += MINUTE;
    alarms.evaluate();
    expect(state(critical)).toBe('OK');
  });

  it('a drifted job of a version that takes no traffic pages on the model, and the alarm clears once no job breaches', async () => {
    const { summary } = await summarize(await finishedJob('selected', v2, selected));
    expect(summary.drift).toMatchObject({ status: 'drift', datasetDrift: true });
    expect(metrics.listMetrics({ namespace: DEPLOYMENT, metricName: 'BatchDriftShare' }).map((m) => m.dimensions)).toEqual(
      expect.arrayContaining([
        { service: 'batch', model: 'churn' },
        { service: 'batch', model: 'churn', version: '2' },
      ]),
    );
    clock.now += MINUTE;
    const changes = alarms.evaluate();
    expect(
      changes
        .filter((c) => c.newState === 'ALARM')
        .map((c) => c.alarmName)
        .sort(),
    ).toEqual([`${DEPLOYMENT}/churn/batch/drift-share-critical`, `${DEPLOYMENT}/churn/batch/drift-share-warning`]);
    expect(alarms.describeAlarms([critical]).MetricAlarms[0]?.AlarmActions).toEqual([TOPIC]);
    // One job is one datapoint: once it is out of the evaluation range (N + 2 periods), no data is not breaching.
    clock.now += 3 * BATCH_ALARM_PERIOD_SECONDS * 1000;
    alarms.evaluate();
    expect(state(critical)).toBe('OK');
  });

  it('a failure to emit the metrics is logged; the job succeeds and its summary is written', async () => {
    const event = await finishedJob('unmeasured', v1, selected);
    const { summary, logged } = await summarize(event, () => {
      throw new Error('EMF serialisation failed');
    });
    expect(await written(event)).toEqual(summary);
    expect(logged).toHaveLength(1);
    expect(String(logged[0]?.[0])).toMatch(/could not be emitted: the summary is written/);
    expect(logged[0]?.[1]).toMatchObject({ model: 'churn', version: '1', output: `s3://${BUCKET}/batch/unmeasured/` });
  });
});
