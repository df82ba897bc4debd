// Bring your own model (issue 10), as a new user does it on the local runtime: a model the stack has never
// served — the credit-default example, its own data, not churn — goes through the compiled CLI's `package` and
// `push` while a steady client keeps calling churn; the pipeline creates the model's stack, and its routes
// answer with the probabilities onnxruntime gives on the same rows. A restart keeps it; `retire` withdraws it
// (404 in the API's JSON form) and keeps its registry history; churn never fails a request.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { parseManifestJson, type Manifest } from '../../lambdas/core/manifest';
import { batchAlarmSpecs } from '../../lambdas/core/monitoring/alarms';
import { modelAlarmPrefix, modelFunctionName, modelStackName } from '../../lambdas/core/naming';
import { startRuntime, type Runtime, type RuntimeOptions } from '../../local/runtime';
import { runCli } from '../support/cli';
import { onnxProbabilities } from '../support/onnx-probabilities';

const ROOT = join(import.meta.dirname, '..', '..');
const CREDIT = join(ROOT, 'examples', 'credit');
const CHURN = join(ROOT, 'examples', 'churn', 'v1');
const DEPLOYMENT = 'modelgate-dev';
/** Rows of the credit holdout sent in one request: enough to compare the model on many inputs. */
const ROWS = 40;
/** The API answers with the float32 probabilities onnxruntime returns, printed as doubles: equal but for rounding. */
const FLOAT_DIGITS = 6;
/** Between two churn requests of the steady client. */
const CLIENT_PAUSE_MS = 20;

const churnRows = csvInstances(parseManifestJson(readFileSync(join(CHURN, 'manifest.json'), 'utf8')), parseCsv(readFileSync(join(CHURN, 'holdout.csv'), 'utf8')));
const creditHoldout = parseCsv(readFileSync(join(CREDIT, 'data', 'holdout.csv'), 'utf8'));
const sample = { header: creditHoldout.header, rows: creditHoldout.rows.slice(0, ROWS) };

const stateDir = mkdtempSync(join(tmpdir(), 'modelgate-e2e-byom-'));
const work = mkdtempSync(join(tmpdir(), 'modelgate-e2e-byom-bundle-'));
const bundle = join(work, 'credit-1');
// Nothing here waits (a first model rolls out all at once; nothing holds a lock), so x60 is plenty: every scheduled
// rule also runs x times as often (the monitor every 5 s), which costs CPU. Alarms are not re-evaluated.
const options: RuntimeOptions = { stateDir, port: 0, echoLogs: false, timeScale: 60, alarmTickMs: 3_600_000, print: () => undefined };
let runtime: Runtime;
let manifest: Manifest;
/** What onnxruntime gives for the sample rows, computed by the test from the example's model.onnx. */
let expected: number[][];

beforeAll(async () => {
  runtime = await startRuntime({ ...options, clean: true });
});

afterAll(async () => {
  await runtime?.close();
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

/** The compiled CLI against this runtime, as a user runs it. */
const modelgate = (...args: string[]) => runCli(args, { env: { MODELGATE_STATE_DIR: stateDir } });

const post = (path: string, body: unknown) =>
  fetch(`${runtime.apiUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': runtime.apiKeys.predict }, body: JSON.stringify(body) });

/**
 * A client calling churn at a steady pace until stopped; every answer that is not a 200 is a failure. Paced, not
 * flat out: the pipeline's validation times the candidate on the same two cores, against its latency budget.
 */
function steadyChurnClient(): { stop: () => Promise<{ total: number; failed: string[] }> } {
  let running = true;
  let total = 0;
  const failed: string[] = [];
  const loop = (async () => {
    for (let i = 0; running; i++) {
      try {
        const response = await post('/v1/models/churn/predict', { instances: [churnRows[i % churnRows.length]] });
        const text = await response.text();
        if (response.status !== 200) failed.push(`${response.status} ${text}`);
      } catch (error) {
        failed.push(String(error));
      }
      total++;
      await setTimeout(CLIENT_PAUSE_MS);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { total, failed };
    },
  };
}

interface PredictBody {
  model: { name: string; version: string };
  predictions: { predictionId: string; probabilities: Record<string, number>; label: number }[];
}

async function predictCredit(): Promise<PredictBody> {
  const response = await post('/v1/models/credit/predict', { instances: csvInstances(manifest, sample) });
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return JSON.parse(text) as PredictBody;
}

function expectOnnxProbabilities(body: PredictBody): void {
  expect(body.predictions).toHaveLength(ROWS);
  body.predictions.forEach((prediction, row) => {
    const [p0, p1] = expected[row] as [number, number];
    expect(prediction.probabilities['0']).toBeCloseTo(p0, FLOAT_DIGITS);
    expect(prediction.probabilities['1']).toBeCloseTo(p1, FLOAT_DIGITS);
    expect(prediction.label).toBe(p1 >= 0.5 ? 1 : 0);
  });
}

interface RegistryView {
  model: string;
  live: { version: string; weight: number }[];
  versions: { version: string; status: string; reason: string | null; memory?: { memoryMb: number; costPerMillion?: { total: number } }; history: { status: string }[] }[];
}

async function registryView(): Promise<RegistryView> {
  const response = await fetch(`${runtime.apiUrl}/v1/models/credit`, { headers: { 'x-api-key': runtime.apiKeys.predict } });
  expect(response.status).toBe(200);
  return (await response.json()) as RegistryView;
}

describe('bring your own model: credit, next to churn, on the local runtime', () => {
  it('churn answers; the stack has never served credit: no route, no stack', async () => {
    const churn = await post('/v1/models/churn/predict', { instances: [churnRows[0]] });
    const seeding = runtime.pipeline.stepFunctions.list().map((e) => `${e.status} ${e.error ?? ''} ${e.cause ?? ''}`);
    expect(churn.status, `the first start did not roll churn out: ${seeding.join('; ')}`).toBe(200);
    const response = await post('/v1/models/credit/predict', { instances: [{}] });
    expect(response.status).toBe(404);
    expect(runtime.cloudFormation.listStacks().map((s) => s.stackName)).not.toContain(modelStackName(DEPLOYMENT, 'credit'));
  });

  it('`modelgate package` makes a bundle of the ONNX model and its CSVs', async () => {
    const run = await modelgate(
      'package',
      ...['--onnx', join(CREDIT, 'model.onnx'), '--train', join(CREDIT, 'data', 'train.csv'), '--holdout', join(CREDIT, 'data', 'holdout.csv')],
      ...['--target', 'default.payment.next.month', '--exclude', 'ID', '--name', 'credit', '--version', '1', '--out', bundle],
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('credit version 1: binary-classification, class labels 0, 1');
    manifest = parseManifestJson(readFileSync(join(bundle, 'manifest.json'), 'utf8'));
    expect(manifest.features).toHaveLength(23);
    expect(manifest.classLabels).toEqual([0, 1]);
    expected = await onnxProbabilities(manifest, readFileSync(join(CREDIT, 'model.onnx')), sample);
  });

  it('`modelgate push` provisions its stack and takes it live while churn answers every request', async () => {
    const churn = steadyChurnClient();
    const push = await modelgate('push', bundle);
    const served = await churn.stop();
    expect(push.code, push.stdout + push.stderr).toBe(0);
    expect(push.stdout).toMatch(/\bProvision\b/);
    expect(push.stdout).toContain('credit v1: live (100% of traffic)');
    expect(served.failed).toEqual([]);
    expect(served.total).toBeGreaterThan(10);
    expect(runtime.cloudFormation.describeStack(modelStackName(DEPLOYMENT, 'credit')).status).toBe('CREATE_COMPLETE');
  });

  it('its routes answer with the probabilities onnxruntime gives on the same rows', async () => {
    const body = await predictCredit();
    expect(body.model).toEqual({ name: 'credit', version: '1' });
    expectOnnxProbabilities(body);

    const infer = await post('/v2/models/credit/infer', {
      inputs: manifest.features.map((feature) => ({
        name: feature.name,
        shape: [ROWS],
        datatype: 'INT64',
        data: sample.rows.map((row) => Number(row[sample.header.indexOf(feature.name)])),
      })),
    });
    expect(infer.status).toBe(200);
    const outputs = ((await infer.json()) as { outputs: { name: string; shape: number[]; data: number[] }[] }).outputs;
    const probabilities = outputs.find((o) => o.name === 'probabilities');
    expect(probabilities?.shape).toEqual([ROWS, 2]);
    probabilities?.data.forEach((p, i) => {
      expect(p).toBeCloseTo(expected[Math.floor(i / 2)]?.[i % 2] as number, FLOAT_DIGITS);
    });

    const metadata = await fetch(`${runtime.apiUrl}/v2/models/credit`, { headers: { 'x-api-key': runtime.apiKeys.predict } });
    expect(metadata.status).toBe(200);
    expect(await metadata.json()).toMatchObject({ name: 'credit', versions: ['1'] });
  });

  it('GET /v1/models/credit shows it live with the memory its function was given', async () => {
    const view = await registryView();
    expect(view.live).toEqual([expect.objectContaining({ version: '1', weight: 1 })]);
    const memoryMb = view.versions[0]?.memory?.memoryMb as number;
    expect(memoryMb % 128).toBe(0);
    expect(memoryMb).toBeLessThan(2048);
    expect(runtime.lambda.getFunction(modelFunctionName(DEPLOYMENT, 'credit')).definition.memoryMb).toBe(memoryMb);
  });

  it('`modelgate models credit` shows the memory chosen and the cost per million predictions', async () => {
    const run = await modelgate('models', 'credit');
    expect(run.code, run.stderr).toBe(0);
    const { memory } = (await registryView()).versions[0] ?? {};
    expect(run.stdout).toMatch(new RegExp(`^memory ${memory?.memoryMb} MB \\(`, 'm'));
    expect(run.stdout).toContain(`cost per million predictions: $${memory?.costPerMillion?.total.toFixed(2)} (`);
    expect(run.stdout).toMatch(/^1 +live +100%/m);
    // Without a name: every model of the stage, each with what serves it and what that costs.
    const all = await modelgate('models', '--json');
    expect(all.code, all.stderr).toBe(0);
    const summaries = JSON.parse(all.stdout) as { model: string; live: { version: string; weight: number }[]; memoryMb: number | null; costPerMillion: number | null }[];
    expect(summaries.map((s) => s.model)).toEqual(['churn', 'credit']);
    expect(summaries.find((s) => s.model === 'credit')).toMatchObject({
      live: [{ version: '1', weight: 1 }],
      memoryMb: memory?.memoryMb,
      costPerMillion: memory?.costPerMillion?.total,
    });
  });

  it('a restart keeps it', async () => {
    await runtime.close();
    runtime = await startRuntime(options);
    expect(runtime.gateway.routes().map((r) => `${r.method} ${r.resourcePath}`)).toContain('POST /v1/models/credit/predict');
    // The version's alarms are the pipeline's (PutMetricAlarm): no stack puts them back, the alarm store keeps them.
    // A version's alarms with the default thresholds, and the model's batch alarms (docs/monitoring.md).
    expect(runtime.alarms.describeAlarms().MetricAlarms.filter((a) => a.AlarmName.startsWith(modelAlarmPrefix(DEPLOYMENT, 'credit')))).toHaveLength(
      18 + batchAlarmSpecs(DEPLOYMENT, 'credit').length,
    );
    expectOnnxProbabilities(await predictCredit());
    expect((await registryView()).live).toEqual([expect.objectContaining({ version: '1', weight: 1 })]);
  });

  it('`modelgate retire` withdraws its routes (404 like any unknown model), keeps its history; churn answers throughout', async () => {
    const churn = steadyChurnClient();
    const retire = await modelgate('retire', 'credit');
    const served = await churn.stop();
    expect(retire.code, retire.stdout + retire.stderr).toBe(0);
    expect(retire.stdout).toContain('retire of credit: done');
    expect(served.failed).toEqual([]);

    const gone = await post('/v1/models/credit/predict', { instances: csvInstances(manifest, sample) });
    expect(gone.status).toBe(404);
    const unknown = await post('/v1/models/never-served/predict', { instances: [{}] });
    expect(unknown.status).toBe(404);
    const [goneBody, unknownBody] = [(await gone.json()) as Record<string, unknown>, (await unknown.json()) as Record<string, unknown>];
    expect(goneBody).toMatchObject({ error: 'NotFoundError', message: expect.stringContaining('/v1/models/credit/predict') });
    expect(Object.keys(goneBody).sort()).toEqual(Object.keys(unknownBody).sort());

    const view = await registryView();
    expect(view.live).toEqual([]);
    expect(view.versions[0]).toMatchObject({ version: '1', status: 'retired', reason: 'MODEL_RETIRED' });
    expect(view.versions[0]?.history.map((h) => h.status)).toEqual(['candidate', 'validating', 'live', 'retired']);
    expect(runtime.cloudFormation.listStacks().map((s) => s.stackName)).not.toContain(modelStackName(DEPLOYMENT, 'credit'));
    expect(runtime.alarms.describeAlarms().MetricAlarms.filter((a) => a.AlarmName.startsWith(modelAlarmPrefix(DEPLOYMENT, 'credit')))).toEqual([]);
    expect((await post('/v1/models/churn/predict', { instances: [churnRows[0]] })).status).toBe(200);
  });
});
