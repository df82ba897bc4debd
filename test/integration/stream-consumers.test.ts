// The prediction log's stream consumers under faults, end to end: the inference handler writes through the
// local streams proxy, whose mappings (ReportBatchItemFailures, BisectBatchOnFunctionError, three retries, as
// lib/ is to set them) deliver to the monitoring and experiment aggregators, answered as their handlers answer
// (core/stream-batch.ts). Two faults: S3 failing the manifest reads for a while (throttling), and a poison
// record in the log. Every prediction must be counted exactly once by both; only the poison is dropped.
import { readFileSync } from 'node:fs';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExperimentStore } from '../../lambdas/adapters/experiment-store';
import { ManifestStore, ManifestUnavailableError } from '../../lambdas/adapters/manifest-store';
import { MonitoringStore } from '../../lambdas/adapters/monitoring-store';
import { FileFallbackSink } from '../../lambdas/adapters/prediction-log';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { planExperiment } from '../../lambdas/core/experiments/definition';
import { parseManifestJson } from '../../lambdas/core/manifest';
import { batchItemFailures } from '../../lambdas/core/stream-batch';
import { aggregatorHandler, type StreamBatchEvent } from '../../lambdas/use-cases/aggregate-windows';
import { aggregateExperimentBatch } from '../../lambdas/use-cases/experiments/aggregate-exposures';
import { initServing } from '../../lambdas/use-cases/serve-predictions';
import { proxyEvent } from '../../local/api-gateway-event';
import { localDynamoClient, localS3Client } from '../../local/aws-clients';
import { createTableInput, ensureTable } from '../../local/dynamodb-tables';
import { startDynamoDbStreams, type LocalDynamoDbStreams, type StreamSubscription } from '../../local/dynamodb-streams';
import { experimentTableProperties, monitoringTableProperties } from '../../local/template-tables';
import { s3Error, startHttpFaultProxy, type HttpFaultProxy } from '../support/http-fault-proxy';
import { BUCKET, lambdaContext, servingConfig, startLocalAws, TABLE, uploadBundle, type LocalAws } from '../support/local-aws';

const bundleDir = new URL('../../examples/churn/v1/', import.meta.url);
const manifest = parseManifestJson(readFileSync(new URL('manifest.json', bundleDir), 'utf8'));
const modelBytes = new Uint8Array(readFileSync(new URL(manifest.model.file, bundleDir)));
const holdout = csvInstances(manifest, parseCsv(readFileSync(new URL('holdout.csv', bundleDir), 'utf8')));
const silent = new Logger({ serviceName: 'modelgate-test', logLevel: 'SILENT' });
const STREAM = 'arn:aws:dynamodb:us-east-1:000000000000:table/predictions/stream/local';
const manifestGets = (url: string) => url.includes('/manifest.json');

describe('manifest reads', () => {
  let aws: LocalAws;
  let proxy: HttpFaultProxy;
  let store: ManifestStore;
  beforeAll(async () => {
    aws = await startLocalAws();
    await uploadBundle(aws, manifest, modelBytes);
    proxy = await startHttpFaultProxy(aws.s3Service.endpoint);
    // One SDK attempt per try: the store's own retries are what is tested.
    store = new ManifestStore(localS3Client(proxy.endpoint, { maxAttempts: 1 }), BUCKET, 60_000, { attempts: 4, baseDelayMs: 1 });
  });
  afterAll(async () => {
    await proxy?.close();
    await aws?.close();
  });

  it('retry throttling and 5xx with backoff, then read the manifest', async () => {
    let failures = 3;
    proxy.fault = ({ url }) => (manifestGets(url) && failures-- > 0 ? s3Error(503, 'SlowDown', 'Please reduce your request rate.') : undefined);
    const before = proxy.requests;
    expect(await store.get('churn', manifest.version)).toMatchObject({ name: 'churn', version: manifest.version });
    expect(proxy.requests - before).toBe(4);
  });

  // A transient failure taken for "missing" made the aggregator drop the batch's records without a retry.
  it('throw when S3 keeps failing, without remembering the version as missing', async () => {
    const fresh = new ManifestStore(localS3Client(proxy.endpoint, { maxAttempts: 1 }), BUCKET, 60_000, { attempts: 3, baseDelayMs: 1 });
    proxy.fault = ({ url }) => (manifestGets(url) ? s3Error(500, 'InternalError', 'We encountered an internal error.') : undefined);
    await expect(fresh.get('churn', manifest.version)).rejects.toThrow(ManifestUnavailableError);
    await expect(fresh.get('churn', manifest.version)).rejects.toThrow(/manifest\.json: still failing after 3 tries: InternalError/);
    proxy.fault = () => undefined;
    expect(await fresh.get('churn', manifest.version)).toMatchObject({ name: 'churn' });
  });

  it('take only a manifest that is not there (NoSuchKey, or AccessDenied for a missing key) as missing, at once', async () => {
    proxy.fault = () => undefined;
    const before = proxy.requests;
    expect(await store.get('churn', 'nope')).toEqual({ reason: expect.stringMatching(/models\/churn\/nope\/manifest\.json: NoSuchKey/) });
    proxy.fault = ({ url }) => (url.includes('/denied/') ? s3Error(403, 'AccessDenied', 'Access Denied') : undefined);
    expect(await store.get('churn', 'denied')).toEqual({ reason: expect.stringMatching(/AccessDenied/) });
    expect(proxy.requests - before).toBe(2);
  });
});

describe('stream consumers under faults', () => {
  let aws: LocalAws;
  let proxy: HttpFaultProxy;
  let streams: LocalDynamoDbStreams;
  let monitoring: MonitoringStore;
  let experiments: ExperimentStore;
  const dropped: string[] = [];
  const deliveries = { monitoring: 0, experiments: 0 };

  beforeAll(async () => {
    aws = await startLocalAws();
    await ensureTable(aws.dynamodb, createTableInput('monitoring', monitoringTableProperties()));
    await ensureTable(aws.dynamodb, createTableInput('experiments', experimentTableProperties()));
    proxy = await startHttpFaultProxy(aws.s3Service.endpoint);
    streams = await startDynamoDbStreams({
      target: aws.dynamoService.endpoint,
      region: 'us-east-1',
      tables: [{ tableName: TABLE, streamArn: STREAM, viewType: 'NEW_IMAGE', keys: ['predictionId'] }],
      onError: (message) => dropped.push(message),
    });
    monitoring = new MonitoringStore(aws.dynamodb, 'monitoring');
    experiments = new ExperimentStore(aws.dynamodb, 'experiments');
    await experiments.create(
      planExperiment({ id: 'churn-exp', model: 'churn', control: manifest.version, treatment: '2', metric: 'conversion', startDelaySeconds: 0 }, new Date(Date.now() - 60_000)),
      'test',
    );
    const aggregate = aggregatorHandler({
      store: monitoring,
      manifests: new ManifestStore(localS3Client(proxy.endpoint, { maxAttempts: 1 }), BUCKET, 60_000, { attempts: 2, baseDelayMs: 1 }),
      logger: silent,
      windowMinutes: 5,
      windowTtlDays: 30,
    });
    const mapping = (functionName: string): StreamSubscription => ({
      streamArn: STREAM,
      functionName,
      batchSize: 50,
      batchingWindowMs: 100,
      tumblingWindowSeconds: 60,
      retryAttempts: 3,
      filters: [],
      reportBatchItemFailures: true,
      bisectOnError: true,
    });
    // What lambdas/handlers/aggregator.ts and experiment-aggregator.ts answer.
    streams.subscribe(mapping('aggregate'), {
      invoke: async (_name, _qualifier, event) => {
        deliveries.monitoring++;
        const result = await aggregate(event as StreamBatchEvent);
        return { result: { state: {}, ...batchItemFailures((event as StreamBatchEvent).Records.length, result.failed) }, executedVersion: '$LATEST' };
      },
    });
    streams.subscribe(mapping('experiment-aggregate'), {
      invoke: async (_name, _qualifier, event) => {
        deliveries.experiments++;
        const result = await aggregateExperimentBatch({ store: experiments, logger: silent }, event as StreamBatchEvent);
        return { result: { state: {}, ...batchItemFailures((event as StreamBatchEvent).Records.length, result.failed) }, executedVersion: '$LATEST' };
      },
    });
  });
  afterAll(async () => {
    await streams?.close();
    await proxy?.close();
    await aws?.close();
  });

  it('count every prediction exactly once through throttled manifest reads and a poison record; drop only the poison', async () => {
    const prefix = await uploadBundle(aws, manifest, modelBytes);
    const viaStreams = localDynamoClient(streams.endpoint);
    const serving = await initServing(servingConfig(prefix), { s3: aws.s3, dynamodb: viaStreams, fallback: new FileFallbackSink(aws.fallbackFile), logger: silent });
    // The aggregator's manifest reads fail for a while: more than one get() retries through.
    let throttled = 5;
    proxy.fault = ({ url }) => (manifestGets(url) && throttled-- > 0 ? s3Error(503, 'SlowDown', 'Please reduce your request rate.') : undefined);
    const predict = async (rows: unknown[]) => {
      const response = await serving.handle(proxyEvent({ method: 'POST', path: '/v1/models/churn/predict', body: JSON.stringify({ instances: rows }) }), lambdaContext);
      expect(response.statusCode, response.body).toBe(200);
    };
    await predict(holdout.slice(0, 40));
    // A record neither consumer can take, between good ones: its time is not a time, and it has no batchRows.
    await viaStreams.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          predictionId: { S: 'poison' },
          model: { S: 'churn' },
          version: { S: manifest.version },
          timestamp: { S: 'not-a-time' },
          modelVersionShard: { S: 'churn#1#0' },
          ts: { S: 'x' },
          outputs: { M: {} },
        },
      }),
    );
    await predict(holdout.slice(40, 100));
    await predict(holdout.slice(100, 150));
    await streams.idle();

    const windows = await monitoring.queryWindows('churn', manifest.version, '2000-01-01T00:00:00.000Z', '2100-01-01T00:00:00.000Z');
    expect(windows.reduce((sum, w) => sum + w.predictions, 0)).toBe(150);
    const { control } = await experiments.tallies('churn-exp');
    expect(control.units).toBe(150);
    expect(throttled).toBeLessThan(0);
    // Each mapping dropped the poison alone, after its retries; the faults cost redeliveries, not records.
    expect(dropped).toEqual([
      expect.stringMatching(/^(aggregate|experiment-aggregate): dropped 1 records/),
      expect.stringMatching(/^(aggregate|experiment-aggregate): dropped 1 records/),
    ]);
    expect(streams.stats().discardedRecords).toBe(2);
    expect(deliveries.monitoring).toBeGreaterThan(4);
  });
});
