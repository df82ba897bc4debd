// The fault matrix against the local runtime (docs/reliability.md, "Fault matrix"). First the runtime as `npm start`
// runs it, in a process of its own, killed (SIGKILL) during a canary and started again on its state folder; then,
// on the same state folder, a runtime in this process with faults injected where the services fail (local/faults.ts:
// S3 and DynamoDB answering as they do when they shed load or fail, or not at all, behind the IAM gateways the
// functions' SDK clients call; Lambda refusing invocations) and a pipeline execution stopped mid-rollout. Each test
// checks what must survive: every answered prediction in the log or its fallback, on-call paged or the failure
// recorded, the model's lock, routing where the registry says. Time runs 600x (a 30-minute bake takes 3 s).
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchGetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetAliasCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startChild, stopChild } from '../../bench/child-process';
import { Registry } from '../../lambdas/adapters/registry';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { parseManifestJson } from '../../lambdas/core/manifest';
import { alarmName, functionName, modelFunctionName } from '../../lambdas/core/naming';
import { parseFallbackRecords } from '../../lambdas/core/prediction-record';
import { LOCAL_CREDENTIALS, localDynamoClient } from '../../local/aws-clients';
import { registryTableName } from '../../local/dashboard';
import { startRuntime, type Runtime } from '../../local/runtime';
import { ENDPOINTS_FILE, PREDICTION_LOG_FALLBACK_FILE, type LocalEndpoints } from '../../local/state-files';
import { changedBundle } from '../support/bundles';
import { runCli } from '../support/cli';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples', 'churn');
const holdout = csvInstances(parseManifestJson(readFileSync(join(EXAMPLES, 'v1', 'manifest.json'), 'utf8')), parseCsv(readFileSync(join(EXAMPLES, 'v1', 'holdout.csv'), 'utf8')));
const DEPLOYMENT = 'modelgate-dev';
const CHURN_FUNCTION = modelFunctionName(DEPLOYMENT, 'churn');
const TIME_SCALE = 600;

const stateDir = mkdtempSync(join(tmpdir(), 'modelgate-faults-'));
const work = mkdtempSync(join(tmpdir(), 'modelgate-faults-bundles-'));
/** The runtime the tests talk to, as the CLI finds it: first a child process, then one in this process. */
let endpoints: LocalEndpoints;

afterAll(() => {
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const registry = () => new Registry(localDynamoClient(endpoints.dynamoDbEndpoint), registryTableName(endpoints.outputs) as string);
const cli = (...args: string[]) => runCli([...args, '--state-dir', stateDir]);
/** A copy of churn v2 as `version`, baking its 10% canary for `bakeMinutes` (scaled). */
const canaryBundle = (version: string, bakeMinutes: number) =>
  changedBundle(work, `v${version}`, join(EXAMPLES, 'v2'), (m) => Object.assign(m, { version, rollout: { strategy: 'canary', canary: { weight: 0.1, bakeMinutes } } }));

interface Answer {
  readonly status: number;
  readonly body: { model?: { version: string }; predictions?: { predictionId: string }[]; error?: string; message?: string };
}

async function predict(rows: readonly unknown[]): Promise<Answer> {
  const response = await fetch(`${endpoints.apiUrl}/v1/models/churn/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': endpoints.apiKeys?.predict ?? '' },
    body: JSON.stringify({ instances: rows }),
  });
  return { status: response.status, body: (await response.json()) as Answer['body'] };
}

/** `count` requests of one or three rows (PutItem and BatchWriteItem in the log); the prediction ids answered. */
async function serve(count: number, from: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const answer = await predict(holdout.slice(from + i * 3, from + i * 3 + (i % 2 === 0 ? 1 : 3)));
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    ids.push(...(answer.body.predictions ?? []).map((p) => p.predictionId));
  }
  return ids;
}

/** Where each id is: the prediction table, or the fallback file (with the reason it went there). */
async function whereLogged(ids: readonly string[]): Promise<{ inTable: Set<string>; inFallback: Map<string, string> }> {
  const table = endpoints.outputs.PredictionTableName as string;
  const inTable = new Set<string>();
  for (let i = 0; i < ids.length; i += 100) {
    const page = await localDynamoClient(endpoints.dynamoDbEndpoint).send(
      new BatchGetItemCommand({ RequestItems: { [table]: { Keys: ids.slice(i, i + 100).map((id) => ({ predictionId: { S: id } })), ProjectionExpression: 'predictionId' } } }),
    );
    for (const item of page.Responses?.[table] ?? []) inTable.add(item.predictionId?.S as string);
  }
  const file = join(stateDir, PREDICTION_LOG_FALLBACK_FILE);
  const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  const inFallback = new Map(lines.map((line) => [(parseFallbackRecords(line)[0] as { predictionId: string }).predictionId, line]));
  return { inTable, inFallback };
}

/** The live alias of churn, as Lambda's GetAlias answers it, is what the registry's routing record says. */
async function expectRoutingAsRegistry(): Promise<void> {
  const lambda = new LambdaClient({ endpoint: endpoints.lambdaEndpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  const alias = await lambda.send(new GetAliasCommand({ FunctionName: CHURN_FUNCTION, Name: 'live' }));
  const routing = (await registry().getModel('churn'))?.routing;
  expect(routing).toBeDefined();
  expect({ primary: alias.FunctionVersion, additional: alias.RoutingConfig?.AdditionalVersionWeights ?? {} }).toEqual({
    primary: routing?.primary.lambdaVersion,
    additional: routing?.additional ? { [routing.additional.lambdaVersion]: routing.additional.weight } : {},
  });
}

/** Waits until the registry's routing gives `version` a canary's share (the pipeline recorded its first step). */
async function canaryOf(version: string): Promise<void> {
  await vi.waitFor(async () => expect((await registry().getModel('churn'))?.routing?.additional?.version).toBe(version), { timeout: 120_000, interval: 100 });
}

describe('the local runtime killed (SIGKILL) during a canary and started again', () => {
  let child: ChildProcess | undefined;
  const start = async (clean: boolean) => {
    ({ child } = await startChild(
      ['local/start.ts', ...(clean ? ['--clean'] : []), '--quiet', '--port', '0', '--state-dir', stateDir, '--time-scale', String(TIME_SCALE)],
      /^\s+API\s+(http:\/\/\S+)/,
    ));
    endpoints = JSON.parse(readFileSync(join(stateDir, ENDPOINTS_FILE), 'utf8')) as LocalEndpoints;
  };
  beforeAll(() => start(true));
  afterAll(async () => {
    if (child) await stopChild(child, 'SIGINT');
    child = undefined;
  });

  it('keeps every prediction it answered; the interrupted execution is aborted and its lock released; routing is where the registry says', async () => {
    const answered: string[] = [];
    let running = true;
    const traffic = (async () => {
      for (let i = 0; running; i++) {
        const answer = await predict([holdout[i % holdout.length]]).catch(() => undefined);
        if (answer?.status === 200) answered.push(...(answer.body.predictions ?? []).map((p) => p.predictionId));
      }
    })();
    const push = cli('push', canaryBundle('2', 300), '--json');
    await canaryOf('2');
    const interrupted = (await registry().getVersion('churn', '2'))?.lineage.executionId as string;
    expect(await registry().getLock('churn')).toMatchObject({ holder: interrupted });
    (child as ChildProcess).kill('SIGKILL');
    await new Promise((resolve) => (child as ChildProcess).once('exit', resolve));
    running = false;
    await traffic;
    expect((await push).code).not.toBe(0); // the CLI lost the runtime it was following
    expect(answered.length).toBeGreaterThan(0);

    await start(false);
    const sfn = new SFNClient({ endpoint: endpoints.stepFunctionsEndpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
    expect(await sfn.send(new DescribeExecutionCommand({ executionArn: interrupted }))).toMatchObject({
      status: 'ABORTED',
      cause: 'the local runtime stopped while the execution ran',
    });
    expect(await registry().getLock('churn')).toBeUndefined();
    const { inTable, inFallback } = await whereLogged(answered);
    expect(answered.filter((id) => !inTable.has(id) && !inFallback.has(id))).toEqual([]);
    // The canary stays where the interrupted execution left it, and the registry says so.
    expect(await registry().getVersion('churn', '2')).toMatchObject({ status: 'canary' });
    await expectRoutingAsRegistry();
    expect(await serve(2, 0)).toHaveLength(4);

    // With the lock free, an operator finishes it.
    const rollback = await cli('rollback', 'churn', '--json');
    expect(rollback.code, rollback.stdout + rollback.stderr).toBe(0);
    expect(await registry().getVersion('churn', '2')).toMatchObject({ status: 'rolled-back' });
    expect(await registry().getLock('churn')).toBeUndefined();
    await expectRoutingAsRegistry();
  }, 180_000); // a push, a canary, a kill, a restart and a rollback: longer than one request-sized test
});

describe('faults injected into the runtime', () => {
  let runtime: Runtime;
  const notices = () => runtime.sns.recentNotifications().map((n) => n.Subject ?? '');
  beforeAll(async () => {
    runtime = await startRuntime({ stateDir, port: 0, echoLogs: false, timeScale: TIME_SCALE, alarmTickMs: 3_600_000, print: () => undefined });
    endpoints = JSON.parse(readFileSync(join(stateDir, ENDPOINTS_FILE), 'utf8')) as LocalEndpoints;
  });
  afterAll(async () => runtime?.close());

  describe('S3 at cold start', () => {
    it('an S3 failing past the SDK retries fails init (502, nothing served); the next invocation initialises again, through SlowDown the SDK retries', async () => {
      // Every execution environment ends: the next request is a cold start, which reads the bundle from S3.
      await runtime.lambda.close();
      const outage = runtime.faults.inject({ service: 's3', kind: 'server-error', actions: ['GetObject'], caller: CHURN_FUNCTION });
      const failed = await predict([holdout[0]]);
      expect(failed.status).toBe(502);
      expect(failed.body).toMatchObject({ error: 'INTEGRATION_FAILURE', message: 'Internal server error' });
      expect(outage.hits).toBe(3); // the SDK's three attempts at the one packed bundle object
      outage.clear();
      await vi.waitFor(() => expect(readFileSync(join(stateDir, 'logs', `${CHURN_FUNCTION}.log`), 'utf8')).toMatch(/init failed: the model cannot be served.*InternalError/), {
        timeout: 5_000,
      });

      const slowDown = runtime.faults.inject({ service: 's3', kind: 'throttle', actions: ['GetObject'], caller: CHURN_FUNCTION, times: 2 });
      const served = await serve(1, 0);
      expect(slowDown.hits).toBe(2);
      expect((await whereLogged(served)).inTable.size).toBe(1);
    });
  });

  describe('DynamoDB throttling and outage while serving', () => {
    it('every answered prediction is in the table or the fallback file; the log-fallbacks warning pages on-call; reingest puts them back', async () => {
      const writes = ['PutItem', 'BatchWriteItem'];
      const before = await serve(2, 0);
      const throttled = runtime.faults.inject({ service: 'dynamodb', kind: 'throttle', actions: writes, caller: CHURN_FUNCTION });
      const duringThrottling = await serve(4, 10);
      throttled.clear();
      const unreachable = runtime.faults.inject({ service: 'dynamodb', kind: 'unreachable', actions: writes, caller: CHURN_FUNCTION });
      const duringOutage = await serve(4, 30);
      unreachable.clear();
      const after = await serve(2, 50);
      // The inference function's client tries three times before the record goes to the fallback.
      expect(throttled.hits).toBe(3 * 4);
      expect(unreachable.hits).toBe(3 * 4);

      const { inTable, inFallback } = await whereLogged([...before, ...duringThrottling, ...duringOutage, ...after]);
      for (const id of [...before, ...after]) expect(inTable.has(id), id).toBe(true);
      for (const id of duringThrottling) expect(inFallback.get(id), id).toContain('ProvisionedThroughputExceededException');
      for (const id of duringOutage) expect(inFallback.get(id), id).toMatch(/ECONNRESET|socket hang up/);

      // On-call is paged: the live version's log-fallbacks warning (one record in the fallback in 5 minutes).
      const warning = alarmName(DEPLOYMENT, 'churn', '1', 'log-fallbacks', 'warning');
      await vi.waitFor(
        () => {
          runtime.alarms.evaluate({ names: [warning] });
          expect(runtime.alarms.describeAlarms([warning]).MetricAlarms[0]?.StateValue).toBe('ALARM');
        },
        { timeout: 10_000, interval: 50 },
      );
      await runtime.alarms.settle();
      expect(notices()).toContain(`ALARM: "${warning}" in US East (N. Virginia)`);

      const reingest = await cli('reingest', '--json');
      expect(reingest.code, reingest.stderr).toBe(0);
      expect((await whereLogged([...duringThrottling, ...duringOutage])).inTable.size).toBe(duringThrottling.length + duringOutage.length);
    });
  });

  describe('Lambda throttling of the inference function', () => {
    it('API Gateway answers 500 to each throttled request (retryable; nothing served, the function never ran); throttling for 3 of 5 minutes pages on-call; then serves', async () => {
      const throttled = runtime.faults.inject({ service: 'lambda', kind: 'throttle', functionName: CHURN_FUNCTION });
      let sent = 0;
      const throttledRequest = async () => {
        sent++;
        const answer = await predict([holdout[sent % holdout.length]]);
        expect(answer.status).toBe(500);
        expect(answer.body).toMatchObject({ error: 'API_CONFIGURATION_ERROR', message: 'Internal server error' });
      };
      await throttledRequest();
      // The function stays throttled, as in a traffic peak, until Lambda's Throttles metric of the function has
      // breached in 3 of the last 5 minutes: the live version's throttles warning.
      const warning = alarmName(DEPLOYMENT, 'churn', '1', 'throttles', 'warning');
      await vi.waitFor(
        async () => {
          await throttledRequest();
          runtime.alarms.evaluate({ names: [warning] });
          expect(runtime.alarms.describeAlarms([warning]).MetricAlarms[0]?.StateValue).toBe('ALARM');
        },
        { timeout: 30_000, interval: 60_000 / TIME_SCALE },
      );
      throttled.clear();
      expect(throttled.hits).toBe(sent);
      await runtime.alarms.settle();
      expect(notices()).toContain(`ALARM: "${warning}" in US East (N. Virginia)`);
      expect(await serve(1, 0)).toHaveLength(1);
    });
  });

  describe('S3 during validation', () => {
    const validator = functionName(DEPLOYMENT, 'validate');

    it("S3 failing past the SDK's and the Validate task's retries: the upload fails as PIPELINE_ERROR, on-call told why, the lock released, routing unchanged", async () => {
      const outage = runtime.faults.inject({ service: 's3', kind: 'server-error', actions: ['GetObject'], caller: validator });
      const push = await cli(
        'push',
        changedBundle(work, 'v3', join(EXAMPLES, 'v2'), (m) => void (m.version = '3')),
        '--json',
      );
      outage.clear();
      expect(push.code, push.stdout + push.stderr).toBe(1);
      expect(JSON.parse(push.stdout)).toMatchObject({ status: 'rejected', reason: 'PIPELINE_ERROR', error: 'InternalError' });
      expect(outage.hits).toBeGreaterThanOrEqual(3 * 5); // the SDK's three attempts, in each of the task's five
      expect(await registry().getVersion('churn', '3')).toMatchObject({ status: 'rejected', reasons: ['PIPELINE_ERROR'], reasonText: expect.stringContaining('InternalError') });
      expect(notices()).toContain('modelgate churn v3 pipeline failed (PIPELINE_ERROR)');
      expect(await registry().getLock('churn')).toBeUndefined();
      await expectRoutingAsRegistry();
      expect((await predict([holdout[0]])).body.model?.version).toBe('1');
    });

    it("an S3 outage the Validate task's retries outlast: the candidate is validated and its canary starts", async () => {
      // The first attempt's three reads fail (the function fails with InternalError); the task runs it again.
      const outage = runtime.faults.inject({ service: 's3', kind: 'server-error', actions: ['GetObject'], caller: validator, times: 4 });
      const push = cli('push', canaryBundle('4', 300), '--json');
      await canaryOf('4');
      expect(outage.hits).toBe(4);
      await expectRoutingAsRegistry();
      // The next test stops this execution mid-rollout.
      runtime.pipeline.stepFunctions.stop((await registry().getLock('churn'))?.holder as string, 'Operator', 'stopped by hand');
      expect((await push).code).toBe(1);
    });
  });

  describe('a pipeline execution stopped mid-rollout (StopExecution: no Catch runs, as on AWS)', () => {
    it("routing stays where the registry says; the next operator command takes the stopped execution's lock over and rolls the canary back", async () => {
      const [stopped] = runtime.pipeline.stepFunctions.list(undefined, 'ABORTED');
      expect(stopped?.error).toBe('Operator');
      expect(await registry().getVersion('churn', '4')).toMatchObject({ status: 'canary' });
      await expectRoutingAsRegistry();
      // Its lock would be held for hours (no Catch released it): the operator's rollback sees the holder has ended.
      expect((await registry().getLock('churn'))?.holder).toBe(stopped?.executionArn);
      const operatorNotices = () => notices().filter((subject) => subject.endsWith('routing changed by an operator')).length;
      const before = operatorNotices();
      const rollback = await cli('rollback', 'churn', '--json');
      expect(rollback.code, rollback.stdout + rollback.stderr).toBe(0);
      expect(operatorNotices()).toBe(before + 1);
      const [operator] = runtime.pipeline.stepFunctions.list(undefined, 'SUCCEEDED');
      expect(operator?.events.filter((e) => e.type === 'StateEntered').map((e) => e.stateName)).toEqual(expect.arrayContaining(['ControlLockHolderStatus', 'ControlTakeOverLock']));
      expect(await registry().getVersion('churn', '4')).toMatchObject({ status: 'rolled-back' });
      expect(await registry().getLock('churn')).toBeUndefined();
      await expectRoutingAsRegistry();
      expect(runtime.lambda.getAlias(CHURN_FUNCTION, 'live').additionalVersionWeights).toEqual({});
    });
  });
});
