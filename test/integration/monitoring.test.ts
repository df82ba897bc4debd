// Ground truth, stream aggregation and the monitor against dynalite and s3rver: the inference handler writes
// through the local streams proxy, whose records reach the aggregator handler; feedback labels the log; the
// monitor's report must equal the metrics computed directly on the same rows.
import { readFileSync } from 'node:fs';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeedbackStore } from '../../lambdas/adapters/feedback-store';
import { ManifestStore } from '../../lambdas/adapters/manifest-store';
import { MonitoringStore } from '../../lambdas/adapters/monitoring-store';
import { FileFallbackSink } from '../../lambdas/adapters/prediction-log';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { parseManifestJson } from '../../lambdas/core/manifest';
import { binaryClassificationMetrics } from '../../lambdas/core/metrics/classification';
import type { MetricDatum } from '../../lambdas/core/monitoring/report';
import { emptyWindow, foldChanges, type LoggedRecord } from '../../lambdas/core/monitoring/window';
import { aggregatorHandler, type StreamBatchEvent } from '../../lambdas/use-cases/aggregate-windows';
import { feedbackHandler } from '../../lambdas/use-cases/record-ground-truth';
import { monitorHandler } from '../../lambdas/use-cases/monitor-versions';
import type { MonitoringConfig } from '../../lambdas/contracts/monitoring-environment';
import { initServing } from '../../lambdas/use-cases/serve-predictions';
import { proxyEvent } from '../../local/api-gateway-event';
import { localDynamoClient } from '../../local/aws-clients';
import { createTableInput, ensureTable } from '../../local/dynamodb-tables';
import { startDynamoDbStreams, type LocalDynamoDbStreams } from '../../local/dynamodb-streams';
import { monitoringTableProperties } from '../../local/template-tables';
import { BUCKET, lambdaContext, servingConfig, startLocalAws, TABLE, type LocalAws } from '../support/local-aws';

const bundleDir = new URL('../../examples/churn/v1/', import.meta.url);
const manifestText = readFileSync(new URL('manifest.json', bundleDir), 'utf8');
const manifest = parseManifestJson(manifestText);
const modelBytes = new Uint8Array(readFileSync(new URL(manifest.model.file, bundleDir)));
const holdoutTable = parseCsv(readFileSync(new URL('holdout.csv', bundleDir), 'utf8'));
const holdout = csvInstances(manifest, holdoutTable);
const churned = holdoutTable.rows.map((row) => row[holdoutTable.header.indexOf('Churn')] as string);
const MONITORING_TABLE = 'monitoring';
const silent = new Logger({ serviceName: 'modelgate-test', logLevel: 'SILENT' });

type Predicted = { predictionId: string; label: string; probabilities: Record<string, number> };

describe('monitoring: feedback, stream aggregation, monitor', () => {
  let aws: LocalAws;
  let streams: LocalDynamoDbStreams;
  let predict: (rows: unknown[]) => Promise<Predicted[]>;
  let feedback: ReturnType<typeof feedbackHandler>;
  const aggregatorCalls: StreamBatchEvent[] = [];
  const emitted: { model: string; version: string; data: readonly MetricDatum[]; at: Date }[] = [];
  let monitor: ReturnType<typeof monitorHandler>;

  beforeAll(async () => {
    aws = await startLocalAws();
    await ensureTable(aws.dynamodb, createTableInput(MONITORING_TABLE, monitoringTableProperties()));
    streams = await startDynamoDbStreams({
      target: aws.dynamoService.endpoint,
      region: 'us-east-1',
      tables: [{ tableName: TABLE, streamArn: 'arn:local:stream', viewType: 'NEW_IMAGE', keys: ['predictionId'] }],
    });
    const viaStreams = localDynamoClient(streams.endpoint);
    const prefix = `models/${manifest.name}/${manifest.version}/`;
    await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}manifest.json`, Body: manifestText }));
    await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}model.onnx`, Body: modelBytes }));
    const serving = await initServing(servingConfig(prefix), { s3: aws.s3, dynamodb: viaStreams, fallback: new FileFallbackSink(aws.fallbackFile), logger: silent });
    predict = async (rows) => {
      const response = await serving.handle(proxyEvent({ method: 'POST', path: '/v1/models/churn/predict', body: JSON.stringify({ instances: rows }) }), lambdaContext);
      expect(response.statusCode, response.body).toBe(200);
      return (JSON.parse(response.body) as { predictions: Predicted[] }).predictions;
    };
    const store = new MonitoringStore(aws.dynamodb, MONITORING_TABLE);
    const manifests = new ManifestStore(aws.s3, BUCKET);
    const aggregate = aggregatorHandler({ store, manifests, logger: silent, windowMinutes: 5, windowTtlDays: 30 });
    streams.subscribe(
      { streamArn: 'arn:local:stream', functionName: 'aggregate', batchSize: 100, batchingWindowMs: 0, tumblingWindowSeconds: 300, retryAttempts: 3, filters: [] },
      {
        invoke: async (_name, _qualifier, event) => {
          aggregatorCalls.push(event as StreamBatchEvent);
          // Every batch is delivered twice, as a retry after a lost answer would: the marks must absorb it.
          await aggregate(event as StreamBatchEvent);
          return { result: await aggregate(event as StreamBatchEvent), executedVersion: '$LATEST' };
        },
      },
    );
    feedback = feedbackHandler({ store: new FeedbackStore(viaStreams, TABLE), manifests, logger: silent });
    const config: MonitoringConfig = {
      bucket: BUCKET,
      predictionTable: TABLE,
      monitoringTable: MONITORING_TABLE,
      windowMinutes: 5,
      windowTtlDays: 30,
      driftWindowMinutes: 60,
      qualityLookbackHours: 24,
      minPredictions: 100,
      minLabels: 30,
      metricsNamespace: 'modelgate',
      minuteMs: 60_000,
    };
    monitor = monitorHandler(config, { store, manifests, logger: silent, emit: (model, version, data, at) => emitted.push({ model, version, data, at }) });
  });
  afterAll(async () => {
    await streams?.close();
    await aws?.close();
  });

  const post = (body: unknown) => feedback(proxyEvent({ method: 'POST', path: '/v1/feedback', body: typeof body === 'string' ? body : JSON.stringify(body) }));

  let predictions: Predicted[] = [];

  it('aggregates every prediction exactly once from the stream, retries included', async () => {
    predictions = (await Promise.all([0, 400, 800].map((start) => predict(holdout.slice(start, start + 400))))).flat();
    await streams.idle();
    expect(aggregatorCalls.length).toBeGreaterThan(1);
    const run = await monitor({ at: new Date(Date.now() + 1000).toISOString() });
    const report = run.reports.find((r) => r.model === 'churn' && r.version === manifest.version);
    expect(report?.predictions).toBe(1200);
    expect(report?.drift?.features.Contract?.current.values).toBe(1200);
    // The holdout is the training distribution: no dataset drift.
    expect(report?.drift?.datasetDrift).toBe(false);
    expect(report?.quality).toBeNull();
  });

  it('reports every version when the EventBridge schedule starts it (whose event has a "version" of its own)', async () => {
    const scheduled = {
      version: '0',
      id: 'e1',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '0',
      region: 'us-east-1',
      resources: [],
      detail: {},
      time: new Date(Date.now() + 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };
    const run = await monitor(scheduled);
    expect(run.reports.map((r) => `${r.model} v${r.version}`)).toEqual([`churn v${manifest.version}`]);
    expect(run.reports[0]?.predictions).toBe(1200);
  });

  it('covers the sliding window the manifest asks for (the window in progress included), and stamps the metrics at the run', async () => {
    const short = { ...manifest, version: 'short-window', monitoring: { windowMinutes: 10 } };
    await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `models/churn/short-window/manifest.json`, Body: JSON.stringify(short) }));
    const store = new MonitoringStore(aws.dynamodb, MONITORING_TABLE);
    const at = new Date('2026-01-15T10:07:30.000Z');
    // 100 predictions in each of four windows; the run at 10:07:30 reads the two newest (10:00, 10:05 in progress).
    for (const [w, start] of ['09:50', '09:55', '10:00', '10:05'].entries()) {
      const windowStart = `2026-01-15T${start}:00.000Z`;
      const window = emptyWindow(short, windowStart);
      foldChanges(
        window,
        holdout
          .slice(w * 100, w * 100 + 100)
          .map((inputs, i) => ({ eventName: 'INSERT', shardId: 's', sequenceNumber: String(i + 1), image: loggedRecord(short.version, windowStart, `${w}-${i}`, inputs) })),
        short,
      );
      await store.putWindow(window, undefined, 0);
    }
    await store.touchVersion('churn', 'short-window', at.toISOString());
    emitted.length = 0;
    const run = await monitor({ at: at.toISOString(), model: 'churn', version: 'short-window' });
    expect(run.reports[0]).toMatchObject({ from: '2026-01-15T10:00:00.000Z', to: at.toISOString(), windows: 2, predictions: 200, estimated: { rows: 200 } });
    expect(run.reports[0]?.drift?.features.Contract?.current.values).toBe(200);
    expect(emitted.map((e) => [e.version, e.at.toISOString()])).toEqual([['short-window', at.toISOString()]]);
  });

  it('records labels once, and answers each item: accepted, duplicate, conflict, not found, invalid', async () => {
    const [first, second] = predictions as [Predicted, Predicted];
    const response = await post({
      feedback: [
        { predictionId: first.predictionId, actual: 'Yes', eventId: 'evt-1' },
        { predictionId: first.predictionId, actual: 'Yes' },
        { predictionId: second.predictionId, actual: 'Maybe' },
        { predictionId: 'no-such-id', actual: 'No' },
      ],
    });
    expect(response.statusCode, response.body).toBe(200);
    const body = JSON.parse(response.body) as { results: { status: string; reason?: string }[]; summary: Record<string, number> };
    expect(body.results.map((r) => r.status)).toEqual(['accepted', 'duplicate', 'invalid', 'not_found']);
    expect(body.results[2]?.reason).toContain('class labels');
    const again = JSON.parse((await post({ predictionId: first.predictionId, actual: 'No' })).body) as typeof body;
    expect(again.results[0]?.status).toBe('conflict');
    const { Item } = await aws.dynamodb.send(new GetItemCommand({ TableName: TABLE, Key: { predictionId: { S: first.predictionId } } }));
    expect(Item?.actual).toEqual({ S: 'Yes' });
    expect(Item?.feedbackEventId).toEqual({ S: 'evt-1' });
  });

  it('answers 400 naming the field for a malformed body, writing nothing', async () => {
    const response = await post('{"feedback": [{"predictionId": 42, "actual": "Yes"}]}');
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).issues).toEqual([expect.objectContaining({ field: 'feedback[0].predictionId' })]);
    expect((await post('not json')).statusCode).toBe(400);
  });

  it('computes quality from the labels equal to the metrics on the raw rows, and against the baseline', async () => {
    const labelled = predictions.slice(0, 1000);
    const items = labelled.map((p, i) => ({ predictionId: p.predictionId, actual: churned[i] as string }));
    const response = await post({ feedback: items });
    const summary = (JSON.parse(response.body) as { summary: Record<string, number> }).summary;
    // The first prediction was labelled in the test before (with its true label or not): one duplicate or conflict.
    expect(summary.accepted).toBe(999);
    await streams.idle();
    emitted.length = 0;
    const run = await monitor({ at: new Date(Date.now() + 1000).toISOString(), model: 'churn' });
    const report = run.reports[0]!;
    expect(report.labels).toBe(1000);
    const actualPositive = labelled.map((_, i) => (i === 0 ? 'Yes' : churned[i]) === 'Yes');
    const exact = binaryClassificationMetrics(
      actualPositive,
      labelled.map((p) => p.probabilities.Yes as number),
      0.5,
    );
    expect(report.quality?.accuracy).toBeCloseTo(exact.accuracy, 12);
    expect(report.quality?.f1).toBeCloseTo(exact.f1, 12);
    // Log loss reads P(actual) as logged (P(No) is the model's float32, not 1 - P(Yes)): equal to 1e-8.
    expect(report.quality?.logLoss).toBeCloseTo(exact.logLoss, 8);
    expect(Math.abs((report.quality?.rocAuc as number) - exact.rocAuc)).toBeLessThanOrEqual(report.quality?.rocAucMaxError as number);
    expect(report.baseline.accuracy).toBeCloseTo(0.797729, 6);
    expect(Math.abs(report.degradation.accuracy as number)).toBeLessThan(0.05);
    const names = emitted[0]?.data.map((d) => d.name) ?? [];
    expect(names).toEqual(expect.arrayContaining(['DriftShare', 'Accuracy', 'RocAuc', 'AccuracyDegradation', 'FeatureDrift', 'LabelledPredictions']));
    expect(emitted[0]?.data.filter((d) => d.name === 'FeatureDrift').map((d) => d.feature)).toHaveLength(manifest.features.length);
  });
});

/** A logged prediction of the churn model as the stream shows it (P(Yes) a stand-in: 0.3). */
function loggedRecord(version: string, timestamp: string, id: string, inputs: Record<string, string | number | boolean>): LoggedRecord {
  return {
    predictionId: id,
    model: 'churn',
    version,
    variant: '1',
    timestamp,
    modelVersionShard: `churn#${version}#0`,
    ts: `${timestamp}#${id}`,
    inputs,
    outputs: { label: 'No', probabilities: { No: 0.7, Yes: 0.3 } },
    latencyMs: 1,
    batchRows: 1,
    expiresAt: 0,
  };
}
