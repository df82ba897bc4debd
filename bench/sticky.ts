// `npx tsx bench/sticky.ts`: what unit-level (sticky) experiment routing costs, as ratios to the same request
// without it, measured in the same run (the machines are shared, absolute times drift).
//
// 1. In process, the inference handler alone: without a router; with the router and no unit-level experiment
//    (what every request pays once the stack has experiments); with a running one and no unit id; with a unit
//    of the serving arm. Only the last reads the body for a unit id and hashes it.
// 2. End to end through the local runtime (API -> alias -> function version, Lambda API for the hop): the
//    same cases, and a unit of the other arm, which the serving version forwards to the other version's
//    qualified ARN. Locally the hop is a loopback HTTP call into another worker thread; in AWS it is a
//    synchronous Invoke (docs/experiments.md puts both in context).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { ExperimentRouter } from '../lambdas/adapters/experiment-router';
import type { FunctionInvoker } from '../lambdas/adapters/function-invoker';
import { ExperimentStore } from '../lambdas/adapters/experiment-store';
import { FileFallbackSink } from '../lambdas/adapters/prediction-log';
import { assignArm } from '../lambdas/core/experiments/assignment';
import { planExperiment } from '../lambdas/core/experiments/definition';
import { parseCsv } from '../lambdas/core/csv';
import { csvInstances } from '../lambdas/core/csv-instances';
import { parseManifestJson } from '../lambdas/core/manifest';
import { initServing } from '../lambdas/use-cases/serve-predictions';
import { proxyEvent } from '../local/api-gateway-event';
import { localDynamoClient, localS3Client } from '../local/aws-clients';
import { startDynamoDb, startS3 } from '../local/aws-services';
import { createTableInput, ensureTable } from '../local/dynamodb-tables';
import { startRuntime } from '../local/runtime';
import { experimentTableProperties, predictionTableProperties } from '../local/template-tables';
import { servingConfig } from '../test/support/local-aws';
import { modelFunctionName } from '../lambdas/core/naming';
import { INFERENCE_VARIABLES } from '../lambdas/contracts/environment';

const { values: options } = parseArgs({ options: { seconds: { type: 'string', default: '2' }, json: { type: 'boolean', default: false } } });
const seconds = Number(options.seconds);
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

interface Figure {
  readonly median: number;
  readonly p95: number;
  readonly runs: number;
}

/**
 * Median and p95 in milliseconds of each case, measured round-robin (one run of each case per round, after 20
 * warm-up rounds) for the time budget, at least 50 rounds: load from the rest of the machine (or the runtime's
 * own background work) falls on every case alike.
 */
async function measure<K extends string>(cases: Readonly<Record<K, () => Promise<unknown>>>, budgetSeconds = seconds): Promise<Record<K, Figure>> {
  const names = Object.keys(cases) as K[];
  for (let i = 0; i < 20; i++) for (const name of names) await cases[name]();
  const times = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>;
  const deadline = performance.now() + budgetSeconds * names.length * 1000;
  for (let round = 0; round < 50 || performance.now() < deadline; round++) {
    for (const name of names) {
      const start = performance.now();
      await cases[name]();
      times[name].push(performance.now() - start);
    }
  }
  return Object.fromEntries(
    names.map((name) => {
      const sorted = times[name].sort((a, b) => a - b);
      return [name, { median: sorted[Math.floor(sorted.length / 2)] as number, p95: sorted[Math.floor(sorted.length * 0.95)] as number, runs: sorted.length }];
    }),
  ) as Record<K, Figure>;
}

const examples = join(import.meta.dirname, '..', 'examples', 'churn');
const manifestOf = (version: string) => parseManifestJson(readFileSync(join(examples, `v${version}`, 'manifest.json'), 'utf8'));
const v1 = manifestOf('1');
const instance = csvInstances(v1, parseCsv(readFileSync(join(examples, 'v1', 'holdout.csv'), 'utf8')))[0] as Record<string, unknown>;
const body = JSON.stringify({ instances: [instance] });
const logger = new Logger({ logLevel: 'SILENT' });
const work = mkdtempSync(join(tmpdir(), 'modelgate-bench-sticky-'));

// --- 1. In process --------------------------------------------------------------------------------------
const dynamo = await startDynamoDb();
const s3 = await startS3({ directory: join(work, 's3'), buckets: ['models'] });
const dynamodb = localDynamoClient(dynamo.endpoint);
await ensureTable(dynamodb, createTableInput('predictions', predictionTableProperties()));
await ensureTable(dynamodb, createTableInput('experiments', experimentTableProperties()));
const s3Client = localS3Client(s3.endpoint);
const prefix = 'models/churn/1/';
for (const file of ['manifest.json', v1.model.file])
  await s3Client.send(new PutObjectCommand({ Bucket: 'models', Key: `${prefix}${file}`, Body: readFileSync(join(examples, 'v1', file)) }));
const config = servingConfig(prefix, { serviceName: 'bench' });
const deps = { s3: s3Client, dynamodb, fallback: new FileFallbackSink(join(work, 'fallback.jsonl')), logger };
const store = new ExperimentStore(dynamodb, 'experiments');
// The hop itself is measured end to end below; here a unit of the serving arm never leaves the function.
const unusedLambda = {} as FunctionInvoker;
const router = new ExperimentRouter({ store, lambda: unusedLambda, functionName: 'churn', logger });
const plain = await initServing(config, deps);
const routed = await initServing(config, { ...deps, router });
await router.start('churn', '1');
const context = { functionVersion: '1', awsRequestId: 'bench' };
const event = (headers: Record<string, string> = {}) => proxyEvent({ method: 'POST', path: '/v1/models/churn/predict', headers, body });
const handle = (serving: typeof plain, headers?: Record<string, string>) => async () => {
  const response = await serving.handle(event(headers), context);
  if (response.statusCode !== 200) throw new Error(`bench request failed: ${response.body}`);
};
const experimentId = 'churn-1-vs-2-bench';
const controlUnit = Array.from({ length: 100 }, (_, i) => `user-${i}`).find((u) => assignArm(experimentId, u, 0.5) === 'control') as string;
const treatmentUnit = Array.from({ length: 100 }, (_, i) => `user-${i}`).find((u) => assignArm(experimentId, u, 0.5) === 'treatment') as string;

// A second router instance that never sees an experiment: the cost of the router's presence alone.
const idleRouter = new ExperimentRouter({ store: { list: async () => [] }, lambda: unusedLambda, functionName: 'churn', logger });
const idle = await initServing(config, { ...deps, router: idleRouter });
await idleRouter.start('churn', '1');
await store.create(
  planExperiment({ id: experimentId, model: 'churn', control: '1', treatment: '2', metric: 'conversion', assignment: 'unit', startDelaySeconds: 0 }, new Date(), {
    lambdaVersions: { control: '1', treatment: '2' },
  }),
  'bench',
);
await router.start('churn', '1');
const inProcess = await measure({
  withoutRouter: handle(plain),
  routerNoExperiment: handle(idle, { 'x-modelgate-unit-id': controlUnit }),
  runningNoUnitId: handle(routed),
  runningOwnArm: handle(routed, { 'x-modelgate-unit-id': controlUnit }),
});
await idle.model.release();
await Promise.all([plain.model.release(), routed.model.release()]);
await Promise.all([dynamo.close(), s3.close()]);

// --- 2. End to end in the local runtime ---------------------------------------------------------------------
const stateDir = join(work, 'runtime');
const runtime = await startRuntime({ stateDir, clean: true, port: 0, echoLogs: false, print: () => undefined, timeScale: 600, alarmTickMs: 3_600_000 });
// The model's function lives in its own stack, which the pipeline created: named, not found among the base stack's.
const functionName = modelFunctionName(runtime.stack.stackName, 'churn');
const live = runtime.lambda.getAlias(functionName, 'live');
// v2 published as the pipeline would (environment naming its bundle), but not routed by the alias: only the
// router reaches it, so each case below runs on a known version.
const runtimeS3 = localS3Client(runtime.s3Endpoint);
for (const file of ['manifest.json', manifestOf('2').model.file]) {
  await runtimeS3.send(new PutObjectCommand({ Bucket: runtime.outputs.ModelBucketName as string, Key: `models/churn/2/${file}`, Body: readFileSync(join(examples, 'v2', file)) }));
}
const current = runtime.lambda.getFunction(functionName);
// v2's own bundle, read file by file: the packed bundle the environment names is v1's (only publish writes one).
const { [INFERENCE_VARIABLES.packedFile]: _v1Packed, ...environment } = current.environment;
runtime.lambda.updateFunctionConfiguration(functionName, { ...environment, [INFERENCE_VARIABLES.prefix]: 'models/churn/2/', [INFERENCE_VARIABLES.modelVersion]: '2' });
const published = runtime.lambda.publishVersion(functionName, 'bench: churn v2');
const runtimeStore = new ExperimentStore(localDynamoClient(runtime.dynamoDbEndpoint), runtime.outputs.ExperimentTableName as string);
const post =
  (headers: Record<string, string> = {}) =>
  async () => {
    const response = await fetch(`${runtime.apiUrl}/v1/models/churn/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': runtime.apiKeys.predict, ...headers },
      body,
    });
    const answer = (await response.json()) as { model?: { version: string } };
    if (response.status !== 200) throw new Error(`bench request failed: ${JSON.stringify(answer)}`);
    return answer.model?.version;
  };
// A fresh runtime is busy for a while (its pipeline seeded v1; stream consumers catch up): warm it, drain it.
for (let i = 0; i < 200; i++) await post()();
await runtime.streams.idle();
// Before the experiment: every request, unit id or not, is served by v1 as the alias says.
const before = await measure({ noExperiment: post({ 'x-modelgate-unit-id': controlUnit }) });
await runtime.streams.idle();
await runtimeStore.create(
  planExperiment({ id: experimentId, model: 'churn', control: '1', treatment: '2', metric: 'conversion', assignment: 'unit', startDelaySeconds: 0 }, new Date(), {
    lambdaVersions: { control: live.functionVersion, treatment: published.version },
  }),
  'bench',
);
// The running function versions see the experiment at their next refresh: the first request after 10 s starts
// it in the background.
await new Promise((resolve) => setTimeout(resolve, 11_000));
await post()();
await new Promise((resolve) => setTimeout(resolve, 500));
if ((await post({ 'x-modelgate-unit-id': treatmentUnit })()) !== '2') throw new Error('the treatment unit was not routed to v2');
if ((await post({ 'x-modelgate-unit-id': controlUnit })()) !== '1') throw new Error('the control unit was not served by v1');
const during = await measure({
  runningNoUnitId: post(),
  runningOwnArm: post({ 'x-modelgate-unit-id': controlUnit }),
  runningOtherArm: post({ 'x-modelgate-unit-id': treatmentUnit }),
});
const endToEnd = { ...before, ...during };
await runtime.streams.idle();
await runtime.close();
rmSync(work, { recursive: true, force: true });

const ratio = (a: { median: number }, b: { median: number }) => a.median / b.median;
const results = {
  inProcess,
  inProcessRatios: {
    routerNoExperiment: ratio(inProcess.routerNoExperiment, inProcess.withoutRouter),
    runningNoUnitId: ratio(inProcess.runningNoUnitId, inProcess.withoutRouter),
    runningOwnArm: ratio(inProcess.runningOwnArm, inProcess.withoutRouter),
  },
  endToEnd,
  endToEndRatios: {
    // Across the two phases (before / during the experiment): the default path.
    runningNoUnitId: ratio(endToEnd.runningNoUnitId, endToEnd.noExperiment),
    // Within the interleaved phase, against the request without a unit id.
    runningOwnArm: ratio(endToEnd.runningOwnArm, endToEnd.runningNoUnitId),
    runningOtherArm: ratio(endToEnd.runningOtherArm, endToEnd.runningNoUnitId),
  },
  hopAddsMs: endToEnd.runningOtherArm.median - endToEnd.runningOwnArm.median,
};

if (options.json) console.log(JSON.stringify(results, null, 2));
else {
  const f = (m: { median: number; p95: number }) => `${m.median.toFixed(3)} ms (p95 ${m.p95.toFixed(3)})`;
  const r = (x: number) => `${x.toFixed(2)}x`;
  console.log(`sticky routing cost — churn v1/v2, one-row requests, medians over ${seconds}s per figure
in process (the handler, log write to dynalite included)
  no router                                    ${f(inProcess.withoutRouter)}
  router, no unit-level experiment             ${f(inProcess.routerNoExperiment)}   ${r(results.inProcessRatios.routerNoExperiment)}
  experiment running, request without unit id  ${f(inProcess.runningNoUnitId)}   ${r(results.inProcessRatios.runningNoUnitId)}
  experiment running, unit of this arm         ${f(inProcess.runningOwnArm)}   ${r(results.inProcessRatios.runningOwnArm)}
end to end (local runtime: HTTP API -> alias -> worker; the hop through the local Lambda API)
  no experiment                                ${f(endToEnd.noExperiment)}
  experiment running, request without unit id  ${f(endToEnd.runningNoUnitId)}   ${r(results.endToEndRatios.runningNoUnitId)} of no experiment
  experiment running, unit of the serving arm  ${f(endToEnd.runningOwnArm)}   ${r(results.endToEndRatios.runningOwnArm)} of no unit id
  experiment running, unit of the other arm    ${f(endToEnd.runningOtherArm)}   ${r(results.endToEndRatios.runningOtherArm)} of no unit id   (the hop adds ${results.hopAddsMs.toFixed(2)} ms)`);
}
