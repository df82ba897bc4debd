// `npm run bench`: the serving path against baselines measured in the same run (raw session.run,
// raw session create + warm-up), as ratios, because the machines are shared and absolute times drift; then the
// cold start of the built inference function in fresh processes (bench/cold-start.ts).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import * as ort from 'onnxruntime-node';
import { loadModel } from '../lambdas/adapters/onnx-runtime';
import { fetchBundle } from '../lambdas/adapters/model-store';
import { FileFallbackSink } from '../lambdas/adapters/prediction-log';
import { parseCsv } from '../lambdas/core/csv';
import { csvInstances } from '../lambdas/core/csv-instances';
import { parseManifestJson, type Manifest } from '../lambdas/core/manifest';
import { PACKED_BUNDLE_FILE, packBundle } from '../lambdas/core/packed-bundle';
import { removeZipMap } from '../lambdas/core/onnx-graph';
import { validateRows } from '../lambdas/core/request';
import { modelMetadata } from '../lambdas/core/responses';
import { encodeFeeds, type Feeds } from '../lambdas/core/tensors';
import { INFERENCE_VARIABLES, inferenceEnvironment, type ServingConfig } from '../lambdas/contracts/environment';
import { initServing, type Serving, type ServingDependencies } from '../lambdas/use-cases/serve-predictions';
import { proxyEvent } from '../local/api-gateway-event';
import { LOCAL_CREDENTIALS, localDynamoClient, localS3Client } from '../local/aws-clients';
import { createTableInput, ensureTable } from '../local/dynamodb-tables';
import { experimentTableProperties, predictionTableProperties, registryTableProperties } from '../local/template-tables';
import { startChild, stopChild } from './child-process';
import { measureColdStart, type ColdStartPhases } from './cold-start';

const { values: options } = parseArgs({
  options: {
    bundle: { type: 'string', default: 'examples/churn/v1' },
    seconds: { type: 'string', default: '2' },
    // Whose 1000-row requests are compared in both forms, /v1 JSON instances and /v2 columnar.
    'request-bundle': { type: 'string', multiple: true, default: ['examples/churn/v1', 'examples/churn/v2'] },
    'cold-start-rounds': { type: 'string', default: '15' },
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

interface Measured {
  readonly baselineMs: number;
  readonly candidateMs: number;
  /** Median of the per-round ratios of the candidate's time to the baseline's. */
  readonly ratio: number;
  /** The candidate's mean time in each round, in ms. */
  readonly rounds: readonly number[];
}

/** Median of the per-round ratios of one candidate's time to another's, measured in the same {@link interleaved} rounds. */
function roundRatio(candidate: Measured, other: Measured): number {
  return middle(candidate.rounds.map((t, i) => t / (other.rounds[i] as number)));
}

/**
 * A candidate against its baseline on a shared, noisy machine: short alternating rounds (each a few
 * runs of one, then of the other), so both see the same background load; the ratio is the median of
 * the per-round ratios of mean times.
 */
async function paired(baseline: () => Promise<unknown>, candidate: () => Promise<unknown>, budgetSeconds = seconds) {
  const [measured] = await interleaved(baseline, [candidate], budgetSeconds);
  return measured as Measured;
}

/**
 * {@link paired} for several candidates against one baseline: each round runs the baseline, then every
 * candidate, each for about 20 ms (at least once); a candidate's ratio is the median of its per-round ratios to
 * the baseline.
 */
async function interleaved(baseline: () => Promise<unknown>, candidates: readonly (() => Promise<unknown>)[], budgetSeconds = seconds): Promise<Measured[]> {
  const round = async (fn: () => Promise<unknown>, runs: number) => {
    const start = performance.now();
    for (let i = 0; i < runs; i++) await fn();
    return (performance.now() - start) / runs;
  };
  const fns = [baseline, ...candidates];
  const runs: number[] = [];
  for (const fn of fns) runs.push(Math.max(1, Math.round(20 / Math.max(await round(fn, 5), 0.001))));
  const times: number[][] = fns.map(() => []);
  const deadline = performance.now() + budgetSeconds * 2000;
  for (let k = 0; k < 15 || performance.now() < deadline; k++) {
    // The candidates take turns at going first: one that leaves work behind (garbage, a service's writes) slows whichever runs next.
    for (let i = 0; i < fns.length; i++) {
      const f = i === 0 ? 0 : 1 + ((i - 1 + k) % candidates.length);
      (times[f] as number[]).push(await round(fns[f] as () => Promise<unknown>, runs[f] as number));
    }
  }
  const [base, ...measured] = times as [number[], ...number[][]];
  return measured.map((cand) => ({ baselineMs: middle(base), candidateMs: middle(cand), ratio: middle(cand.map((c, i) => c / (base[i] as number))), rounds: cand }));
}

/** 1000 rows for a 1000-row request, the bundle's holdout rows repeated as needed. */
function thousand(instances: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return Array.from({ length: 1000 }, (_, i) => instances[i % instances.length] as Record<string, unknown>);
}

/** The rows as an OIP /v2 infer body in columnar form: one flat array per input a client reads from GET /v2/models/<m>. */
function columnarBody(manifest: Manifest, rows: readonly Record<string, unknown>[]): string {
  const inputs = modelMetadata(manifest).inputs.map(({ name, datatype }) => ({ name, datatype, shape: [rows.length], data: rows.map((row) => row[name] ?? null) }));
  return JSON.stringify({ inputs });
}

function toOrt(feeds: Feeds): Record<string, ort.Tensor> {
  return Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, new ort.Tensor(t.dtype as ort.Tensor.Type, t.data as ort.Tensor.DataType, t.dims)]));
}

const sessionOptions: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', executionMode: 'sequential', intraOpNumThreads: 1, interOpNumThreads: 1 };

const work = mkdtempSync(join(tmpdir(), 'modelgate-bench-'));
// S3 and DynamoDB run in their own process: their request handling is not the function's cost.
const aws = await startChild(['bench/local-aws.ts', '--directory', work, '--bucket', 'models'], /^ready dynamodb=(\S+) s3=(\S+)$/);
const [, dynamoEndpoint, s3Endpoint] = aws.match as unknown as [string, string, string];
const dynamodb = localDynamoClient(dynamoEndpoint);
await ensureTable(dynamodb, createTableInput('predictions', predictionTableProperties()));
const s3Client = localS3Client(s3Endpoint);

/** A bundle as the pipeline publishes a version (its files, and all of it packed in one object the function reads at init), and its holdout rows. */
async function publish(bundle: string) {
  const dir = join(process.cwd(), bundle);
  const manifest = parseManifestJson(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  const modelBytes = new Uint8Array(readFileSync(join(dir, manifest.model.file)));
  const instances = csvInstances(manifest, parseCsv(readFileSync(join(dir, 'holdout.csv'), 'utf8')));
  const prefix = `models/${manifest.name}/${manifest.version}/`;
  await s3Client.send(new PutObjectCommand({ Bucket: 'models', Key: `${prefix}manifest.json`, Body: JSON.stringify(manifest) }));
  await s3Client.send(new PutObjectCommand({ Bucket: 'models', Key: `${prefix}${manifest.model.file}`, Body: modelBytes }));
  await s3Client.send(new PutObjectCommand({ Bucket: 'models', Key: `${prefix}${PACKED_BUNDLE_FILE}`, Body: packBundle(JSON.stringify(manifest), modelBytes) }));
  const config: ServingConfig = {
    bucket: 'models',
    prefix,
    packedFile: PACKED_BUNDLE_FILE,
    table: 'predictions',
    ttlDays: 90,
    logShards: 4,
    maxBatchRows: 1000,
    maxBodyBytes: 5 * 1024 * 1024,
    metricsNamespace: 'modelgate',
    serviceName: 'bench',
  };
  return { manifest, modelBytes, instances, prefix, config };
}

const { manifest, modelBytes, instances, prefix, config } = await publish(options.bundle);
const batch = thousand(instances);
const fetches = Object.values(manifest.outputs) as string[];
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
const check = async (serving: Serving, event: APIGatewayProxyEvent) => {
  const response = await serving.handle(event, context);
  if (response.statusCode !== 200) throw new Error(`bench request failed: ${response.body}`);
  return response;
};
const single = await paired(
  () => rawSession.run(oneRow, fetches),
  () => check(withoutLog, singleEvent),
);
const handlerSingleLogged = await median(() => check(withLog, singleEvent));
const batched = await paired(
  () => rawSession.run(thousandRows, fetches),
  () => check(withoutLog, batchEvent),
);
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

/**
 * One 1000-row request in each form, through the handler with the prediction log on (local DynamoDB) and with
 * the log write answered at once, against raw session.run on the same rows prepared as tensors, interleaved.
 */
async function compareRequestForms(bundle: string) {
  const published = await publish(bundle);
  const rows = thousand(published.instances);
  const name = published.manifest.name;
  const session = await ort.InferenceSession.create(removeZipMap(published.modelBytes).bytes, sessionOptions);
  const feeds = toOrt(encodeFeeds(published.manifest, validateRows(published.manifest, rows))[0]!.feeds);
  const outputs = Object.values(published.manifest.outputs) as string[];
  const logged = await initServing(published.config, deps(dynamodb));
  const unlogged = await initServing(published.config, deps(confirmingClient));
  const jsonEvent = proxyEvent({ method: 'POST', path: `/v1/models/${name}/predict`, body: JSON.stringify({ instances: rows }) });
  const columnarEvent = proxyEvent({ method: 'POST', path: `/v2/models/${name}/infer`, body: columnarBody(published.manifest, rows) });
  await sameAnswers(unlogged, jsonEvent, columnarEvent);
  // Apart, so that each form follows the other as often: a logged request leaves DynamoDB work that slows the next one.
  // A logged request is one run a round, its time mostly the local DynamoDB's: it gets four times the rounds.
  const raw = () => session.run(feeds, outputs);
  const budget = Math.max(seconds, 3);
  const [json, columnar] = (await interleaved(raw, [() => check(logged, jsonEvent), () => check(logged, columnarEvent)], budget * 4)) as [Measured, Measured];
  const [jsonUnlogged, columnarUnlogged] = (await interleaved(raw, [() => check(unlogged, jsonEvent), () => check(unlogged, columnarEvent)], budget)) as [Measured, Measured];
  // The function's own CPU a request (onnxruntime's included): with the log on, the time above is mostly the local DynamoDB's.
  const cpu = {
    json: await cpuMsPerRun(() => check(logged, jsonEvent)),
    columnar: await cpuMsPerRun(() => check(logged, columnarEvent)),
    jsonWithoutLogWrite: await cpuMsPerRun(() => check(unlogged, jsonEvent)),
    columnarWithoutLogWrite: await cpuMsPerRun(() => check(unlogged, columnarEvent)),
  };
  await Promise.all([session.release(), logged.model.release(), unlogged.model.release()]);
  const form = (m: Measured, cpuMs: number) => ({ rowsPerSecond: rowsPerSecond(m.candidateMs), ratio: 1 / m.ratio, cpuMs });
  return {
    model: `${name} v${published.manifest.version}`,
    rawRowsPerSecond: rowsPerSecond(jsonUnlogged.baselineMs),
    jsonBodyBytes: Buffer.byteLength(jsonEvent.body as string),
    columnarBodyBytes: Buffer.byteLength(columnarEvent.body as string),
    json: form(json, cpu.json),
    columnar: form(columnar, cpu.columnar),
    jsonWithoutLogWrite: form(jsonUnlogged, cpu.jsonWithoutLogWrite),
    columnarWithoutLogWrite: form(columnarUnlogged, cpu.columnarWithoutLogWrite),
    columnarOverJson: roundRatio(json, columnar),
    columnarOverJsonWithoutLogWrite: roundRatio(jsonUnlogged, columnarUnlogged),
  };
}

/** Median CPU time of this process (all its threads) for one run of `fn`, in ms, over 15 runs. */
async function cpuMsPerRun(fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const start = process.cpuUsage();
    await fn();
    const used = process.cpuUsage(start);
    times.push((used.user + used.system) / 1000);
  }
  return middle(times);
}

/** Both forms of the request must get the same predictions, or the comparison would not be of the same work. */
async function sameAnswers(serving: Serving, jsonEvent: APIGatewayProxyEvent, columnarEvent: APIGatewayProxyEvent) {
  const json = JSON.parse((await check(serving, jsonEvent)).body) as { predictions: { label: unknown; probabilities: Record<string, number> }[] };
  const columnar = JSON.parse((await check(serving, columnarEvent)).body) as { outputs: { name: string; data: unknown[] }[] };
  const labels = columnar.outputs.find((o) => o.name === 'label')?.data;
  const probabilities = columnar.outputs.find((o) => o.name === 'probabilities')?.data;
  const classes = (serving.model.manifest.classLabels ?? []).map(String);
  json.predictions.forEach((p, r) => {
    const same = p.label === labels?.[r] && classes.every((c, k) => p.probabilities[c] === probabilities?.[r * classes.length + k]);
    if (!same) throw new Error(`bench: row ${r} is answered differently by /v1 and /v2`);
  });
}

const rowsPerSecond = (ms: number) => 1000 / (ms / 1000);
const requestForms = [];
const formsLoadBefore = loadavg()[0] as number;
for (const bundle of options['request-bundle']) requestForms.push(await compareRequestForms(bundle));
const formsLoadAverage = (formsLoadBefore + (loadavg()[0] as number)) / 2;
const fellBack = existsSync(fallback.path) ? readFileSync(fallback.path, 'utf8').split('\n').filter(Boolean).length : 0;

// Cold start as Lambda sees it: the built function in fresh processes, with the environment the pipeline gives a
// published version (model-stack.ts, the publish step, the function construct) and what Lambda itself sets.
await ensureTable(dynamodb, createTableInput('registry', registryTableProperties()));
await ensureTable(dynamodb, createTableInput('experiments', experimentTableProperties()));
const loadBefore = loadavg()[0] as number;
const coldStart = await measureColdStart({
  manifest,
  modelBytes,
  instance: instances[0] as Record<string, string | number | boolean>,
  directory: join(work, 'cold-start'),
  rounds: Number(options['cold-start-rounds']),
  environment: {
    ...inferenceEnvironment({
      bucket: config.bucket,
      prefix,
      modelName: manifest.name,
      modelVersion: manifest.version,
      table: config.table,
      ttlDays: 90,
      logShards: 4,
      maxBatchRows: 1000,
      maxBodyBytes: 1_048_576,
      registryTable: 'registry',
      experimentTable: 'experiments',
    }),
    [INFERENCE_VARIABLES.packedFile]: PACKED_BUNDLE_FILE,
    POWERTOOLS_SERVICE_NAME: 'inference',
    POWERTOOLS_METRICS_NAMESPACE: 'modelgate-bench',
    POWERTOOLS_LOG_LEVEL: 'INFO',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: s3Endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    // Nothing is invoked while no experiment or shadow runs; should anything be, it fails here, not in an account.
    AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:9',
    AWS_LAMBDA_FUNCTION_NAME: `modelgate-bench-${manifest.name}`,
    AWS_LAMBDA_FUNCTION_VERSION: '1',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2048',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
  },
});
const loadAverage = (loadBefore + (loadavg()[0] as number)) / 2;

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
  requestForms: { loadAverage: formsLoadAverage, predictionLogRecordsFellBack: fellBack, models: requestForms },
  coldStart: { ...coldStart, loadAverage },
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
  const rate = (n: number) => `${f(n, 0).padStart(8)} rows/s`;
  const form = (label: string, m: { rowsPerSecond: number; ratio: number; cpuMs: number }) =>
    `  ${label.padEnd(44)}${rate(m.rowsPerSecond)}   ${f(m.ratio, 3)}x raw   CPU ${f(m.cpuMs, 1).padStart(5)} ms`;
  console.log(`
1000-row requests through the handler (API Gateway proxy events), /v1 JSON instances against the same rows as
OIP /v2 columnar inputs, interleaved with raw session.run on them; prediction log: local DynamoDB (dynalite, its
own process), ${fellBack} record(s) fell back to the file; load average ${f(formsLoadAverage, 1)}; CPU: this process's, a request`);
  for (const r of requestForms) {
    console.log(`${r.model}: bodies ${f(r.jsonBodyBytes / 1024, 0)} KiB JSON, ${f(r.columnarBodyBytes / 1024, 0)} KiB /v2
  ${'raw session.run, 1000 prepared rows'.padEnd(44)}${rate(r.rawRowsPerSecond)}
${form('/v1 JSON instances, log write', r.json)}
${form('/v2 columnar, log write', r.columnar)}   /v2 ${f(r.columnarOverJson, 2)}x /v1
${form('/v1 JSON instances, no log write', r.jsonWithoutLogWrite)}
${form('/v2 columnar, no log write', r.columnarWithoutLogWrite)}   /v2 ${f(r.columnarOverJsonWithoutLogWrite, 2)}x /v1`);
  }
  const c = coldStart;
  const row = (name: string, p: ColdStartPhases) =>
    `  ${name.padEnd(44)}${f(p.importMs, 1).padStart(7)}${f(p.initMs, 1).padStart(8)}${f(p.firstAnswerMs, 1).padStart(8)}${f(p.totalMs, 1).padStart(8)}${f(p.cpuMs, 1).padStart(8)}${f(p.initServicesMs + p.answerServicesMs, 1).padStart(9)}`;
  console.log(`
cold start in fresh Node processes (bench/cold-start.ts), ${c.rounds} rotating rounds, medians in ms; load average ${f(loadAverage, 1)}
built for linux-${c.platform} (this machine; Lambda runs arm64); from the first line of the function to its first answer
                                               import    init  answer   total     CPU  waiting
${row('baseline: onnxruntime-node + session', c.baseline)}
${row('floor: baseline + the same AWS SDK calls', c.floor)}
${row('inference asset: import, init, /v1 predict', c.asset)}
  asset / baseline                          ${f(c.ratio, 2)}x   (target <= 1.5x)   CPU ${f(c.cpuRatio, 2)}x
    without its waiting on S3 and DynamoDB  ${f(c.ratioWithoutServices, 2)}x
  floor / baseline                          ${f(c.floorRatio, 2)}x   what fetching the model and logging with the AWS SDK cost by themselves
  asset / floor                             ${f(c.assetOverFloor, 2)}x   modelgate's own cost over that
  the asset's requests (median round):      ${c.assetRequests.map((r) => `${r.request.replace(/^POST DynamoDB_\d+\./, '').replace(/^GET .*GetObject$/, 'S3 GetObject')} ${f(r.ms, 1)} ms`).join(', ')}`);
}

await rawSession.release();
await Promise.all([withLog.model.release(), withoutLog.model.release()]);
await stopChild(aws.child, 'SIGTERM');
rmSync(work, { recursive: true, force: true });
