// `npm run bench`: the serving path against baselines measured in the same run (raw session.run,
// raw session create + warm-up), as ratios, because the machines are shared and absolute times drift.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import * as ort from 'onnxruntime-node';
import { loadModel } from '../lambdas/adapters/onnx-runtime';
import { fetchBundle } from '../lambdas/adapters/model-store';
import { FileFallbackSink } from '../lambdas/adapters/prediction-log';
import { parseCsv } from '../lambdas/core/csv';
import { csvInstances } from '../lambdas/core/csv-instances';
import { parseManifestJson } from '../lambdas/core/manifest';
import { PACKED_BUNDLE_FILE, packBundle } from '../lambdas/core/packed-bundle';
import { removeZipMap } from '../lambdas/core/onnx-graph';
import { validateRows } from '../lambdas/core/request';
import { encodeFeeds, type Feeds } from '../lambdas/core/tensors';
import type { ServingConfig } from '../lambdas/contracts/environment';
import { initServing, type ServingDependencies } from '../lambdas/use-cases/serve-predictions';
import { proxyEvent } from '../local/api-gateway-event';
import { localDynamoClient, localS3Client } from '../local/aws-clients';
import { createTableInput, ensureTable } from '../local/dynamodb-tables';
import { predictionTableProperties } from '../local/template-tables';
import { startChild, stopChild } from './child-process';

const { values: options } = parseArgs({
  options: {
    bundle: { type: 'string', default: 'examples/churn/v1' },
    seconds: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});
const seconds = Number(options.seconds);
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

/** Median time of `fn` in milliseconds, over as many runs as fit in the time budget (at least 20). */
async function median(fn: () => Promise<unknown>, budgetSeconds = seconds): Promise<number> {
  for (let i = 0; i < 20; i++) await fn();
  const times: number[] = [];
  const deadline = performance.now() + budgetSeconds * 1000;
  while (times.length < 20 || performance.now() < deadline) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return middle(times);
}

function middle(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/**
 * A candidate against its baseline on a shared, noisy machine: short alternating rounds (each a few
 * runs of one, then of the other), so both see the same background load; the ratio is the median of
 * the per-round ratios of mean times.
 */
async function paired(baseline: () => Promise<unknown>, candidate: () => Promise<unknown>, budgetSeconds = seconds) {
  const round = async (fn: () => Promise<unknown>, runs: number) => {
    const start = performance.now();
    for (let i = 0; i < runs; i++) await fn();
    return (performance.now() - start) / runs;
  };
  const probe = await round(candidate, 5);
  const runs = Math.max(1, Math.round(20 / Math.max(probe, 0.001)));
  const base: number[] = [];
  const cand: number[] = [];
  const deadline = performance.now() + budgetSeconds * 2000;
  while (base.length < 15 || performance.now() < deadline) {
    base.push(await round(baseline, runs));
    cand.push(await round(candidate, runs));
  }
  return { baselineMs: middle(base), candidateMs: middle(cand), ratio: middle(cand.map((c, i) => c / (base[i] as number))) };
}

function toOrt(feeds: Feeds): Record<string, ort.Tensor> {
  return Object.fromEntries(
    Object.entries(feeds).map(([name, t]) => [name, new ort.Tensor(t.dtype as ort.Tensor.Type, t.data as ort.Tensor.DataType, t.dims)]),
  );
}

const dir = join(process.cwd(), options.bundle);
const manifest = parseManifestJson(readFileSync(join(dir, 'manifest.json'), 'utf8'));
const modelBytes = new Uint8Array(readFileSync(join(dir, manifest.model.file)));
const instances = csvInstances(manifest, parseCsv(readFileSync(join(dir, 'holdout.csv'), 'utf8')));
const batch = Array.from({ length: 1000 }, (_, i) => instances[i % instances.length] as Record<string, unknown>);
const sessionOptions: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', executionMode: 'sequential', intraOpNumThreads: 1, interOpNumThreads: 1 };
const fetches = Object.values(manifest.outputs) as string[];

const work = mkdtempSync(join(tmpdir(), 'modelgate-bench-'));
// S3 and DynamoDB run in their own process: their request handling is not the function's cost.
const aws = await startChild(['bench/local-aws.ts', '--directory', work, '--bucket', 'models'], /^ready dynamodb=(\S+) s3=(\S+)$/);
const [, dynamoEndpoint, s3Endpoint] = aws.match as unknown as [string, string, string];
const dynamodb = localDynamoClient(dynamoEndpoint);
await ensureTable(dynamodb, createTableInput('predictions', predictionTableProperties()));
const s3Client = localS3Client(s3Endpoint);
const prefix = `models/${manifest.name}/${manifest.version}/`;
await s3Client.send(new PutObjectCommand({ Bucket: 'models', Key: `${prefix}manifest.json`, Body: JSON.stringify(manifest) }));
await s3Client.send(new PutObjectCommand({ Bucket: 'models', Key: `${prefix}${manifest.model.file}`, Body: modelBytes }));
// As the pipeline publishes a version: the bundle also packed in one object, which the function reads at init.
await s3Client.send(new PutObjectCommand({ Bucket: 'models', Key: `${prefix}${PACKED_BUNDLE_FILE}`, Body: packBundle(JSON.stringify(manifest), modelBytes) }));
const config: ServingConfig = {
  bucket: 'models', prefix, packedFile: PACKED_BUNDLE_FILE, table: 'predictions', ttlDays: 90, logShards: 4, maxBatchRows: 1000,
  maxBodyBytes: 5 * 1024 * 1024, metricsNamespace: 'modelgate', serviceName: 'bench',
};
const logger = new Logger({ logLevel: 'SILENT' });
const fallback = new FileFallbackSink(join(work, 'fallback.jsonl'));
// "Without the log write": a client that confirms every write at once, isolating the handler's own cost.
const confirmingClient = { send: async () => ({}) } as unknown as DynamoDBClient;
const deps = (client: DynamoDBClient): ServingDependencies => ({ s3: s3Client, dynamodb: client, fallback, logger });

// Baselines: the session alone.
const rawSession = await ort.InferenceSession.create(removeZipMap(modelBytes).bytes, sessionOptions);
const oneRow = toOrt(encodeFeeds(manifest, validateRows(manifest, [instances[0]]))[0]!.feeds);
const thousandRows = toOrt(encodeFeeds(manifest, validateRows(manifest, batch))[0]!.feeds);
const withoutLog = await initServing(config, deps(confirmingClient));
const withLog = await initServing(config, deps(dynamodb));
const context = { functionVersion: '1', awsRequestId: 'bench' };
const singleEvent = proxyEvent({ method: 'POST', path: `/v1/models/${manifest.name}/predict`, body: JSON.stringify({ instances: [instances[0]] }) });
const batchEvent = proxyEvent({ method: 'POST', path: `/v1/models/${manifest.name}/predict`, body: JSON.stringify({ instances: batch }) });
const check = async (serving: typeof withLog, event: typeof singleEvent) => {
  const response = await serving.handle(event, context);
  if (response.statusCode !== 200) throw new Error(`bench request failed: ${response.body}`);
};
const single = await paired(() => rawSession.run(oneRow, fetches), () => check(withoutLog, singleEvent));
const handlerSingleLogged = await median(() => check(withLog, singleEvent));
const batched = await paired(() => rawSession.run(thousandRows, fetches), () => check(withoutLog, batchEvent));
const handlerBatchLogged = await median(() => check(withLog, batchEvent), Math.max(seconds, 3));
const init = await paired(
  async () => {
    const session = await ort.InferenceSession.create(removeZipMap(modelBytes).bytes, sessionOptions);
    await session.run(oneRow, fetches);
    await session.release();
  },
  async () => (await initServing(config, deps(confirmingClient))).model.release(),
);
const rawSingle = single.baselineMs;
const handlerSingle = single.candidateMs;
const rawBatch = batched.baselineMs;
const handlerBatch = batched.candidateMs;
const rawInit = init.baselineMs;
const handlerInit = init.candidateMs;
// The same init without the S3 round trips: the cost modelgate adds to onnxruntime's own.
const initWithoutFetch = await paired(
  async () => {
    const session = await ort.InferenceSession.create(removeZipMap(modelBytes).bytes, sessionOptions);
    await session.run(oneRow, fetches);
    await session.release();
  },
  async () => (await loadModel(manifest, modelBytes)).release(),
);
const bundleFetch = await median(() => fetchBundle(s3Client, config.bucket, config.prefix, config.packedFile), seconds);

const rowsPerSecond = (ms: number) => 1000 / (ms / 1000);
const results = {
  model: `${manifest.name} v${manifest.version}`,
  rawSessionRunSingleRowMs: rawSingle,
  handlerSingleRowMs: handlerSingle,
  handlerSingleRowRatio: single.ratio,
  handlerSingleRowWithLogMs: handlerSingleLogged,
  logWriteAddsMs: handlerSingleLogged - handlerSingle,
  rawBatch1000RowsPerSecond: rowsPerSecond(rawBatch),
  handlerBatch1000RowsPerSecond: rowsPerSecond(handlerBatch),
  handlerBatchRatio: 1 / batched.ratio,
  handlerBatch1000WithLogRowsPerSecond: rowsPerSecond(handlerBatchLogged),
  rawCreateAndWarmupMs: rawInit,
  handlerColdInitMs: handlerInit,
  coldInitRatio: init.ratio,
  bundleFetchMs: bundleFetch,
  initWithoutFetchMs: initWithoutFetch.candidateMs,
  initWithoutFetchRatio: initWithoutFetch.ratio,
  peakRssMb: process.resourceUsage().maxRSS / 1024,
};

if (options.json) console.log(JSON.stringify(results, null, 2));
else {
  const f = (n: number, digits = 3) => n.toFixed(digits);
  console.log(`modelgate serving benchmark — ${results.model}, medians, ${seconds}s per figure
  raw session.run, 1 row                 ${f(rawSingle)} ms
  handler, 1 row, no log write           ${f(handlerSingle)} ms   ${f(results.handlerSingleRowRatio, 2)}x raw   (target <= 1.5x)
  handler, 1 row, log write (dynalite)   ${f(handlerSingleLogged)} ms   log write adds ${f(results.logWriteAddsMs)} ms
  raw batch of 1000                      ${f(results.rawBatch1000RowsPerSecond, 0)} rows/s
  handler batch of 1000, no log write    ${f(results.handlerBatch1000RowsPerSecond, 0)} rows/s   ${f(results.handlerBatchRatio, 2)}x raw   (target >= 0.8x)
  handler batch of 1000, log write       ${f(results.handlerBatch1000WithLogRowsPerSecond, 0)} rows/s
  raw session create + warm-up           ${f(rawInit, 1)} ms
  handler cold init (S3 fetch, sha256, session, warm-up)  ${f(handlerInit, 1)} ms   ${f(results.coldInitRatio, 2)}x raw   (target <= 2x)
    of which the bundle fetch from local S3 ${f(bundleFetch, 1)} ms; without it ${f(results.initWithoutFetchMs, 1)} ms   ${f(results.initWithoutFetchRatio, 2)}x raw
  peak RSS                               ${f(results.peakRssMb, 0)} MB`);
}

await rawSession.release();
await Promise.all([withLog.model.release(), withoutLog.model.release()]);
await stopChild(aws.child, 'SIGTERM');
rmSync(work, { recursive: true, force: true });
