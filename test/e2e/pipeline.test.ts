// The promotion pipeline end to end in the local runtime (a clean state folder, time scaled x600): uploads
// through `modelgate push`, EventBridge -> Step Functions -> the pipeline functions -> the Lambda API -> the
// live alias, with client traffic running; a rollback triggered by an alarm; each rejection with a real bad
// bundle. The first start seeds churn v1 through the same path (the stack's bucket deployment uploads it to
// candidates/).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sha256Hex } from '../../lambdas/adapters/model-store';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { parseManifestJson } from '../../lambdas/core/manifest';
import { modelFunctionName } from '../../lambdas/core/naming';
import { unpackBundle } from '../../lambdas/core/packed-bundle';
import type { VersionView } from '../../lambdas/core/pipeline/model-view';
import { main } from '../../cli/main';
import { localS3Client } from '../../local/aws-clients';
import { startRuntime, type Runtime } from '../../local/runtime';
import { changedBundle } from '../support/bundles';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples', 'churn');
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'models');
const holdout = csvInstances(parseManifestJson(readFileSync(join(EXAMPLES, 'v1', 'manifest.json'), 'utf8')), parseCsv(readFileSync(join(EXAMPLES, 'v1', 'holdout.csv'), 'utf8')));

let runtime: Runtime;
let stateDir: string;
let work: string;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'modelgate-e2e-'));
  work = mkdtempSync(join(tmpdir(), 'modelgate-e2e-bundles-'));
  // Bakes of 30 minutes take 3 s; alarm checks run every 0.1 s. Alarms are not re-evaluated from metrics
  // during the test, so a state set by the test stays until the pipeline reads it.
  runtime = await startRuntime({ stateDir, clean: true, port: 0, echoLogs: false, timeScale: 600, alarmTickMs: 3_600_000, print: () => undefined });
});

afterAll(async () => {
  await runtime?.close();
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

/** Runs the CLI in-process; returns its exit code and what it printed. */
async function cli(...args: string[]): Promise<{ code: number; out: string; json: () => unknown }> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void lines.push(parts.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => void lines.push(parts.join(' ')));
  try {
    const code = await main([...args, '--state-dir', stateDir]);
    const out = lines.join('\n');
    return { code, out, json: () => JSON.parse(out) as unknown };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

async function versions(): Promise<VersionView[]> {
  return (await cli('models', 'churn', '--json')).json() as VersionView[];
}

const predict = (rows: unknown[]) =>
  fetch(`${runtime.apiUrl}/v1/models/churn/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': runtime.apiKeys.predict },
    body: JSON.stringify({ instances: rows }),
  });

/** Clients calling the API until stopped: every status is counted, by the model version that answered. */
function traffic(clients = 2): { stop: () => Promise<{ total: number; failed: number; byVersion: Record<string, number> }> } {
  let running = true;
  let total = 0;
  let failed = 0;
  const byVersion: Record<string, number> = {};
  const loops = Array.from({ length: clients }, async (_, c) => {
    for (let i = c; running; i += clients) {
      const response = await predict([holdout[i % holdout.length]]);
      total++;
      if (response.status !== 200) failed++;
      else {
        const body = (await response.json()) as { model: { version: string } };
        byVersion[body.model.version] = (byVersion[body.model.version] ?? 0) + 1;
      }
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return { total, failed, byVersion };
    },
  };
}

const bundle = (name: string, from: string, change: (manifest: Record<string, unknown>, dir: string) => void) => changedBundle(work, name, from, change);

const liveAlias = () => runtime.lambda.getFunction(modelFunctionName(runtime.stack.stackName, 'churn')).aliases.find((a) => a.name === 'live');
const notices = () => runtime.sns.recentNotifications().map((n) => n.Subject ?? '');

describe('the promotion pipeline in the local runtime', () => {
  it('the first start rolled churn v1 out through the pipeline: registered, live, serving', async () => {
    const [v1] = await versions();
    expect(v1).toMatchObject({ version: '1', status: 'live', weight: 1 });
    expect(v1?.history.map((h) => h.status)).toEqual(['candidate', 'validating', 'live']);
    const response = await predict([holdout[0]]);
    expect(response.status).toBe(200);
    const registry = (await (await fetch(`${runtime.apiUrl}/v1/models/churn`, { headers: { 'x-api-key': runtime.apiKeys.predict } })).json()) as {
      live: { version: string; weight: number }[];
    };
    expect(registry.live).toEqual([expect.objectContaining({ version: '1', weight: 1 })]);
  });

  it('v2: validated -> canary -> live with traffic running and zero failed requests', async () => {
    const load = traffic();
    // Requests logged before the upload are what the validation replays.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const push = await cli('push', join(EXAMPLES, 'v2'));
    const served = await load.stop();
    expect(push.code, push.out).toBe(0);
    expect(push.out).toContain('churn v2: live (100% of traffic)');
    expect(push.out).toMatch(/CheckAlarms \(\d+\)/);
    expect(served.failed).toBe(0);
    expect(served.total).toBeGreaterThan(20);
    expect(served.byVersion['2']).toBeGreaterThan(0);

    const [v2, v1] = await versions();
    expect(v2).toMatchObject({ version: '2', status: 'live', weight: 1, strategy: 'canary' });
    expect(v2?.history.map((h) => h.status)).toEqual(['candidate', 'validating', 'canary', 'live']);
    expect(v2?.metrics?.rocAuc).toBeCloseTo(0.8342, 3);
    expect(v2?.validation?.replay?.requests).toBeGreaterThan(0);
    expect(v2?.validation?.champion?.rocAuc).toBeCloseTo(0.8277, 3);
    expect(v1).toMatchObject({ version: '1', status: 'retired', weight: 0 });
    expect(liveAlias()).toMatchObject({ functionVersion: v2?.lambdaVersion, additionalVersionWeights: {} });
    expect(notices()).toContain('modelgate churn v2 is live');
    // The published version reads its bundle from the one packed object the publish step wrote.
    const churn = runtime.lambda.getFunction(modelFunctionName(runtime.stack.stackName, 'churn'));
    const published = churn.versions.find((v) => v.version === v2?.lambdaVersion);
    expect(published?.environment).toMatchObject({ MODEL_PREFIX: 'models/churn/2/', MODEL_PACKED_FILE: 'bundle.packed' });
    const s3 = localS3Client(runtime.s3Endpoint);
    const packed = await s3.send(new GetObjectCommand({ Bucket: runtime.outputs.ModelBucketName as string, Key: 'models/churn/2/bundle.packed' }));
    const { manifestText, modelBytes } = unpackBundle(await (packed.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    expect(JSON.parse(manifestText)).toMatchObject({ name: 'churn', version: '2' });
    expect(Buffer.from(modelBytes).equals(readFileSync(join(EXAMPLES, 'v2', 'model.onnx')))).toBe(true);
  });

  it('a second upload of v2 is rejected as a duplicate; v2 stays live', async () => {
    const push = await cli('push', join(EXAMPLES, 'v2'), '--json');
    expect(push.code).toBe(1);
    expect(push.json()).toMatchObject({ status: 'rejected', reason: 'DUPLICATE_VERSION' });
    expect((await versions())[0]).toMatchObject({ version: '2', status: 'live' });
    expect(notices()).toContain('modelgate churn v2 rejected as a duplicate (DUPLICATE_VERSION)');
  });

  it('a canary is rolled back when its version-scoped alarm fires; the champion keeps serving', async () => {
    const dir = bundle('v3', join(EXAMPLES, 'v2'), (m) => void (m.version = '3'));
    const pushing = cli('push', dir, '--json');
    // The pipeline creates the candidate's alarms before it takes traffic; fire one during the bake.
    const alarm = 'modelgate-dev/churn/v3/error-rate-critical';
    await vi.waitFor(() => expect(runtime.alarms.describeAlarms().MetricAlarms.map((a) => a.AlarmName)).toContain(alarm), { timeout: 30_000, interval: 50 });
    await vi.waitFor(() => expect(liveAlias()?.additionalVersionWeights).not.toEqual({}), { timeout: 30_000, interval: 20 });
    runtime.alarms.setAlarmState(alarm, 'ALARM', 'e2e: errors above threshold');
    const push = await pushing;
    expect(push.code).toBe(1);
    expect(push.json()).toMatchObject({ status: 'rolled-back', reason: 'ALARM' });
    const [v3, v2] = await versions();
    expect(v3).toMatchObject({ version: '3', status: 'rolled-back', reason: 'ALARM', weight: 0 });
    expect(v2).toMatchObject({ version: '2', status: 'live', weight: 1 });
    expect(liveAlias()).toMatchObject({ functionVersion: v2?.lambdaVersion, additionalVersionWeights: {} });
    expect(notices()).toContain('modelgate churn v3 rolled back (ALARM)');
  });

  const v2 = () => join(EXAMPLES, 'v2');
  const rejections: [string, string, () => string][] = [
    [
      'a corrupt ONNX file',
      'MODEL_LOAD_FAILED',
      () =>
        bundle('corrupt', v2(), (m, dir) => {
          const garbage = new TextEncoder().encode('this is not an ONNX protobuf');
          writeFileSync(join(dir, 'model.onnx'), garbage);
          Object.assign(m, { version: '10', model: { file: 'model.onnx', sha256: sha256Hex(garbage) } });
        }),
    ],
    ['a checksum mismatch', 'CHECKSUM_MISMATCH', () => bundle('checksum', v2(), (m) => Object.assign(m, { version: '11', model: { file: 'model.onnx', sha256: '0'.repeat(64) } }))],
    [
      'a manifest missing fields',
      'MANIFEST_INVALID',
      () =>
        bundle('fields', v2(), (m) => {
          m.version = '12';
          delete m.features;
          delete m.outputs;
        }),
    ],
    [
      'an incompatible input schema',
      'SCHEMA_INCOMPATIBLE',
      () =>
        bundle('schema', v2(), (m) => {
          m.version = '13';
          const features = m.features as { name: string; categories?: string[] }[];
          const contract = features.find((f) => f.name === 'Contract') as { categories: string[] };
          contract.categories = contract.categories.filter((c) => c !== 'Two year');
        }),
    ],
    [
      'metrics below the gate',
      'METRIC_BELOW_GATE',
      () => bundle('gate', v2(), (m) => Object.assign(m, { version: '14', validation: { ...(m.validation as object), gates: { rocAuc: { min: 0.95 } } } })),
    ],
    [
      'a model worse than the champion',
      'WORSE_THAN_CHAMPION',
      () => bundle('worse', join(EXAMPLES, 'v1'), (m) => Object.assign(m, { version: '15', validation: { ...(m.validation as object), nonInferiorityMargin: 0.001 } })),
    ],
    [
      'text_pipeline_tfidf.onnx (fails to load)',
      'MODEL_LOAD_FAILED',
      () =>
        bundle('tfidf', v2(), (m, dir) => {
          const bytes = readFileSync(join(FIXTURES, 'text_pipeline_tfidf.onnx'));
          writeFileSync(join(dir, 'model.onnx'), bytes);
          Object.assign(m, {
            version: '16',
            task: 'multiclass-classification',
            features: [
              { name: 'x0', type: 'number' },
              { name: 'x1', type: 'number' },
              { name: 'text', type: 'string' },
            ],
            inputs: [
              { name: 'input', dtype: 'float32', features: ['x0', 'x1'] },
              { name: 'text', dtype: 'string', features: ['text'] },
            ],
            outputs: { label: 'label', probabilities: 'probabilities' },
            classLabels: [0, 1, 2],
            model: { file: 'model.onnx', sha256: sha256Hex(bytes) },
          });
          delete m.positiveClass;
          delete m.threshold;
          delete m.baseline;
          delete m.validation;
        }),
    ],
  ];

  it.each(rejections)('rejects %s (%s): registry, notification, the champion keeps serving', async (_what, code, make) => {
    const dir = make();
    const version = (JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { version: string }).version;
    const push = await cli('push', dir, '--json');
    expect(push.code, push.out).toBe(1);
    expect(push.json()).toMatchObject({ status: 'rejected', reason: code });
    const record = (await versions()).find((v) => v.version === version);
    expect(record).toMatchObject({ status: 'rejected', reason: code, weight: 0, lambdaVersion: null });
    expect(record?.reasons).toContain(code);
    expect(notices().find((s) => s.startsWith(`modelgate churn v${version} rejected`))).toContain(code);
    const response = await predict([holdout[1]]);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { model: { version: string } }).model.version).toBe('2');
  });

  it('shadow: v4 gets mirrored requests and logs its own predictions; clients get v2 only; rollback removes it', async () => {
    const dir = bundle('v4', join(EXAMPLES, 'v2'), (m) => void (m.version = '4'));
    const push = await cli('push', dir, '--strategy', 'shadow', '--json');
    expect(push.code, push.out).toBe(0);
    expect(push.json()).toMatchObject({ status: 'shadow', weight: 0 });
    const registry = (await (await fetch(`${runtime.apiUrl}/v1/models/churn`, { headers: { 'x-api-key': runtime.apiKeys.predict } })).json()) as {
      live: { version: string }[];
      shadow: { version: string; sampleRate: number };
    };
    expect(registry.live.map((l) => l.version)).toEqual(['2']);
    expect(registry.shadow).toMatchObject({ version: '4', sampleRate: 1 });
    // The inference function reads the shadow setting at init and every 15 s: a fresh environment sees it now.
    await runtime.lambda.close();
    for (let i = 0; i < 5; i++) {
      const response = await predict([holdout[i]]);
      expect(((await response.json()) as { model: { version: string } }).model.version).toBe('2');
    }
    const table = runtime.outputs.PredictionTableName as string;
    const { recentRequests } = await import('../../lambdas/adapters/prediction-replay');
    const { localDynamoClient } = await import('../../local/aws-clients');
    await vi.waitFor(async () => expect((await recentRequests(localDynamoClient(runtime.dynamoDbEndpoint), table, 'churn', '4', 4, 50)).length).toBeGreaterThanOrEqual(5), {
      timeout: 30_000,
      interval: 200,
    });

    const rollback = await cli('rollback', 'churn', '--json');
    expect(rollback.code, rollback.out).toBe(0);
    const v4 = (await versions()).find((v) => v.version === '4');
    expect(v4).toMatchObject({ status: 'rolled-back', reason: 'OPERATOR_ROLLBACK', shadow: false });
  });

  it('explicit rollback to v1 and promote back to v2', async () => {
    const rollback = await cli('rollback', 'churn', '--to', '1', '--json');
    expect(rollback.code, rollback.out).toBe(0);
    let [first] = (await versions()).filter((v) => v.weight > 0);
    expect(first).toMatchObject({ version: '1', status: 'live', weight: 1 });
    const promote = await cli('promote', 'churn', '2', '--json');
    expect(promote.code, promote.out).toBe(0);
    [first] = (await versions()).filter((v) => v.weight > 0);
    expect(first).toMatchObject({ version: '2', status: 'live', weight: 1 });
    const impossible = await cli('promote', 'churn', '12', '--json');
    expect(impossible.code).toBe(1);
    expect(impossible.json()).toMatchObject({ status: 'FAILED', error: 'ControlError' });
    // An unknown version or model is bad input: refused before any execution starts.
    const unknown = await cli('promote', 'churn', '99', '--json');
    expect(unknown.code, unknown.out).toBe(2);
    expect(unknown.out).toMatch(/unknown churn version "99" \(known churn versions: /);
    const unknownModel = await cli('rollback', 'fraud');
    expect(unknownModel.code, unknownModel.out).toBe(2);
    expect(unknownModel.out).toMatch(/unknown model "fraud" \(known models: churn\)/);
  });
});
