// Monitoring end to end in the local runtime, as a client drives it: predictions over HTTP, the prediction
// table's stream (emulated) feeding the aggregator function, the monitor function invoked directly (not
// waiting for its hourly schedule), its EMF metrics in the local metric store, the stack's CloudWatch alarms
// evaluated locally, and the on-call notification through the local SNS topic.
//
// Two runtimes on clean state, because windows are 5 minutes of prediction time and the monitor's period an
// hour: traffic of one test run all falls into the same period. The first replays the holdout (no drift, no
// alarm); the second takes a shifted stream (drift alarms fire) and then flipped labels (quality alarm fires).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { parseManifestJson } from '../../lambdas/core/manifest';
import type { MonitorRun } from '../../lambdas/use-cases/monitor-versions';
import { localDynamoClient, localS3Client } from '../../local/aws-clients';
import { monitoringViews } from '../../local/monitoring-views';
import { startRuntime, type Runtime } from '../../local/runtime';

const bundleDir = new URL('../../examples/churn/v1/', import.meta.url);
const manifest = parseManifestJson(readFileSync(new URL('manifest.json', bundleDir), 'utf8'));
const holdoutCsv = parseCsv(readFileSync(new URL('holdout.csv', bundleDir), 'utf8'));
const holdout = csvInstances(manifest, holdoutCsv);
const churnColumn = holdoutCsv.header.indexOf('Churn');
const actuals = holdoutCsv.rows.map((row) => row[churnColumn] as string);
/** Only month-to-month contracts, charged 30% more: the customers who churn most, and a price rise. */
const shiftedIndices = holdout.map((row, i) => (row.Contract === 'Month-to-month' ? i : -1)).filter((i) => i >= 0);
const shifted = shiftedIndices.map((i) => ({ ...holdout[i], MonthlyCharges: Math.round((holdout[i]!.MonthlyCharges as number) * 130) / 100 }));

const alarm = (metric: string, severity: 'warning' | 'critical') => `modelgate-dev/churn/v${manifest.version}/${metric}-${severity}`;
const directories: string[] = [];
const runtimes: Runtime[] = [];

afterAll(async () => {
  for (const runtime of runtimes) await runtime.close();
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

/** A runtime on a clean state folder, serving the churn v1 bundle. */
async function start(): Promise<Runtime> {
  const stateDir = mkdtempSync(join(tmpdir(), 'modelgate-monitoring-e2e-'));
  directories.push(stateDir);
  const runtime = await startRuntime({ port: 0, stateDir, clean: true, echoLogs: false, alarmTickMs: 60_000 });
  runtimes.push(runtime);
  // The model served at bootstrap, where the inference function reads it (the promotion pipeline's job in a
  // deployed stack; here the test does it so the test does not depend on the pipeline).
  const s3 = localS3Client(runtime.s3Endpoint);
  const bucket = runtime.outputs.ModelBucketName as string;
  for (const file of ['manifest.json', 'model.onnx']) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `models/churn/${manifest.version}/${file}`, Body: readFileSync(new URL(file, bundleDir)) }));
  }
  return runtime;
}

async function post(runtime: Runtime, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${runtime.apiUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

async function predictAll(runtime: Runtime, rows: readonly object[]): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < rows.length; i += 200) {
    const answer = await post(runtime, '/v1/models/churn/predict', { instances: rows.slice(i, i + 200) });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    ids.push(...(answer.body.predictions as { predictionId: string }[]).map((p) => p.predictionId));
  }
  return ids;
}

/** Invokes the monitor function as its schedule would, once every write has gone through the stream. */
async function runMonitor(runtime: Runtime): Promise<MonitorRun> {
  await runtime.streams.idle();
  const { result } = await runtime.lambda.invoke(runtime.outputs.MonitorFunctionName as string, undefined, { time: new Date().toISOString() });
  return result as MonitorRun;
}

/**
 * Waits for the monitor's EMF lines (one per document: version-level, then one per feature) to reach the
 * metric store, then evaluates every alarm now, as CloudWatch does every minute.
 */
async function evaluateAlarms(runtime: Runtime, metricName: string, feature?: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  const hour = 3_600_000;
  const arrived = (name: string, extra: Record<string, string> = {}) =>
    runtime.metrics.query({
      namespace: 'modelgate-dev',
      metricName: name,
      dimensions: { service: 'monitor', model: 'churn', version: manifest.version, ...extra },
      statistic: 'SampleCount',
      period: 3600,
      start: Date.now() - 3 * hour,
      end: Date.now() + hour,
    }).length > 0;
  while (!(arrived(metricName) && (feature === undefined || arrived('FeatureDrift', { feature })))) {
    if (Date.now() > deadline) throw new Error(`the monitor's ${metricName} never reached the metric store`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  runtime.alarms.evaluate();
  // Alarm actions publish as CloudWatch once the topic and its key allow it: after the state change, as on AWS.
  await runtime.alarms.settle();
}

function stateOf(runtime: Runtime, name: string): string | undefined {
  return runtime.alarms.describeAlarms([name]).MetricAlarms[0]?.StateValue;
}

function notified(runtime: Runtime, name: string): boolean {
  return runtime.sns.recentNotifications().some((n) => {
    try {
      const message = JSON.parse(n.Message) as { AlarmName?: string; NewStateValue?: string };
      return message.AlarmName === name && message.NewStateValue === 'ALARM';
    } catch {
      return false;
    }
  });
}

describe('monitoring in the local runtime', () => {
  it('replays the holdout: the aggregates count every prediction, nothing drifts, no alarm', async () => {
    const runtime = await start();
    await predictAll(runtime, holdout);
    const run = await runMonitor(runtime);
    const report = run.reports.find((r) => r.model === 'churn');
    expect(report?.predictions).toBe(holdout.length);
    expect(report?.drift?.driftShare).toBe(0);
    expect(report?.drift?.datasetDrift).toBe(false);
    await evaluateAlarms(runtime, 'DriftShare', 'TotalCharges');
    for (const name of [alarm('drift-share', 'warning'), alarm('drift-share', 'critical'), alarm('feature-drift-Contract', 'warning')]) {
      expect(stateOf(runtime, name), name).toBe('OK');
      expect(notified(runtime, name)).toBe(false);
    }
  });

  describe('a shifted stream, then degraded labels', () => {
    let runtime: Runtime;
    let ids: string[] = [];

    it('drift: the drift alarms fire and notify on-call', async () => {
      runtime = await start();
      ids = await predictAll(runtime, shifted);
      const run = await runMonitor(runtime);
      const report = run.reports.find((r) => r.model === 'churn')!;
      expect(report.predictions).toBe(shifted.length);
      expect(report.drift?.driftShare).toBeGreaterThanOrEqual(0.5);
      expect(report.drift?.features.Contract?.drifted).toBe(true);
      expect(report.drift?.features.MonthlyCharges?.drifted).toBe(true);
      await evaluateAlarms(runtime, 'DriftShare', 'TotalCharges');
      for (const name of [alarm('drift-share', 'warning'), alarm('drift-share', 'critical'), alarm('feature-drift-Contract', 'warning'), alarm('feature-drift-MonthlyCharges', 'warning')]) {
        expect(stateOf(runtime, name), name).toBe('ALARM');
        expect(notified(runtime, name), `on-call notification for ${name}`).toBe(true);
      }
      // Serving is healthy: the version's serving alarms stay quiet.
      expect(stateOf(runtime, alarm('error-rate', 'critical'))).not.toBe('ALARM');
    });

    it('quality: flipped labels make the model look degraded; the quality alarm fires', async () => {
      expect(stateOf(runtime, alarm('accuracy-drop', 'critical'))).not.toBe('ALARM');
      const flipped = ids.map((predictionId, i) => ({ predictionId, actual: actuals[shiftedIndices[i] as number] === 'Yes' ? 'No' : 'Yes' }));
      for (let i = 0; i < flipped.length; i += 500) {
        const answer = await post(runtime, '/v1/feedback', { feedback: flipped.slice(i, i + 500) });
        expect(answer.status).toBe(200);
        expect(answer.body.summary.accepted).toBe(Math.min(500, flipped.length - i));
      }
      // Sent again: idempotent, nothing counted twice.
      const again = await post(runtime, '/v1/feedback', { feedback: flipped.slice(0, 10) });
      expect(again.body.summary.duplicate).toBe(10);
      const run = await runMonitor(runtime);
      const report = run.reports.find((r) => r.model === 'churn')!;
      expect(report.labels).toBe(flipped.length);
      expect(report.quality?.accuracy).toBeLessThan(0.5);
      expect(report.degradation.accuracy).toBeGreaterThan(0.1);
      await evaluateAlarms(runtime, 'AccuracyDegradation');
      expect(stateOf(runtime, alarm('accuracy-drop', 'critical'))).toBe('ALARM');
      expect(notified(runtime, alarm('accuracy-drop', 'critical'))).toBe(true);
    });

    it('dashboard views: drift per feature over time, quality per version', async () => {
      const views = monitoringViews({
        dynamodb: localDynamoClient(runtime.dynamoDbEndpoint),
        s3: localS3Client(runtime.s3Endpoint),
        monitoringTable: runtime.outputs.MonitoringTableName as string,
        modelBucket: runtime.outputs.ModelBucketName as string,
      });
      expect((await views.versions()).map((v) => `${v.model} v${v.version}`)).toEqual([`churn v${manifest.version}`]);
      const timeline = await views.driftTimeline('churn', manifest.version, 1);
      expect(timeline.reduce((total, point) => total + point.predictions, 0)).toBe(shifted.length);
      expect(timeline.some((point) => point.features.Contract?.drifted)).toBe(true);
      const [quality] = await views.quality('churn', 1);
      expect(quality?.labels).toBe(shifted.length);
      expect(quality?.quality?.accuracy).toBeLessThan(0.5);
      expect(quality?.baseline.accuracy).toBeCloseTo(0.797729, 6);
    });
  });
});
