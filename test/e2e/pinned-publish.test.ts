// What validation read is what goes live, and a model too large for its manifest never gets that far: the
// pipeline's own validate and publish functions, invoked as the state machine invokes them, in the local
// runtime (its versioned model bucket, the functions' roles). A model uploaded over the candidate between
// validation and publish does not change what the published Lambda version serves.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../lambdas/adapters/model-store';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { parseManifestJson, type Manifest } from '../../lambdas/core/manifest';
import { functionName, modelFunctionName } from '../../lambdas/core/naming';
import { unpackBundle } from '../../lambdas/core/packed-bundle';
import type { ValidationOutput } from '../../lambdas/contracts/pipeline-state';
import { proxyEvent } from '../../local/api-gateway-event';
import { localS3Client } from '../../local/aws-clients';
import { FunctionError } from '../../local/lambda-service';
import { startRuntime, type Runtime } from '../../local/runtime';

const stateDir = mkdtempSync(join(tmpdir(), 'modelgate-pinned-'));
let runtime: Runtime;
let bucket: string;
const s3 = () => localS3Client(runtime.s3Endpoint);

const v2Model = new Uint8Array(readFileSync('examples/churn/v2/model.onnx'));
const v1Model = new Uint8Array(readFileSync('examples/churn/v1/model.onnx'));
/** churn's v2 model as version `version` (the manifest must name the version its upload path does). */
const candidate = (version: string, edit: (m: Manifest) => Manifest = (m) => m): Manifest =>
  edit({ ...parseManifestJson(readFileSync('examples/churn/v2/manifest.json', 'utf8')), version });

/** Uploads a bundle under candidates/churn/<version>/ without starting the pipeline: the test runs its steps. */
async function upload(manifest: Manifest, model: Uint8Array) {
  const prefix = `candidates/churn/${manifest.version}/`;
  runtime.pipeline.eventBridge.setBucketEvents(bucket, false);
  try {
    await s3().send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}model.onnx`, Body: model }));
    await s3().send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}holdout.csv`, Body: readFileSync('examples/churn/v2/holdout.csv') }));
    await s3().send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}manifest.json`, Body: JSON.stringify(manifest) }));
  } finally {
    runtime.pipeline.eventBridge.setBucketEvents(bucket, true);
  }
  return { model: 'churn', version: manifest.version, bucket, candidatePrefix: prefix, modelPrefix: `models/churn/${manifest.version}/` };
}

const invoke = async (handler: 'validate' | 'publish', payload: object) => (await runtime.lambda.invoke(functionName(runtime.stack.stackName, handler), undefined, payload)).result;

beforeAll(async () => {
  runtime = await startRuntime({ clean: true, stateDir, port: 0, echoLogs: false, print: () => undefined });
  bucket = runtime.outputs.ModelBucketName as string;
}, 12 * 60_000);

afterAll(async () => {
  await runtime?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('publish, pinned to what validation read', () => {
  it('copies the validated object versions: a model uploaded over the candidate after validation does not go live', async () => {
    const ref = await upload(candidate('7'), v2Model);
    const validation = (await invoke('validate', { ...ref, executionId: 'arn:test:pinned-7' })) as ValidationOutput;
    expect(validation.verdict, validation.summary).toBe('accepted');
    expect(Object.keys(validation.objectVersions).sort()).toEqual(['holdout.csv', 'manifest.json', 'model.onnx']);
    expect(validation.files).toEqual(['model.onnx', 'holdout.csv', 'manifest.json']);

    // Between validation and publish, someone uploads another model over the candidate.
    await s3().send(new PutObjectCommand({ Bucket: bucket, Key: `${ref.candidatePrefix}model.onnx`, Body: v1Model }));

    const published = (await invoke('publish', { ...ref, executionId: 'arn:test:pinned-7', files: validation.files, objectVersions: validation.objectVersions })) as {
      lambdaVersion: string;
    };
    const copied = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: `${ref.modelPrefix}model.onnx` }));
    expect(sha256Hex(await copied.Body!.transformToByteArray())).toBe(sha256Hex(v2Model));
    const packed = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: `${ref.modelPrefix}bundle.packed` }));
    expect(sha256Hex(unpackBundle(await packed.Body!.transformToByteArray()).modelBytes)).toBe(sha256Hex(v2Model));

    // The published version serves them: its cold start checks the model's sha256 against the validated manifest.
    const rows = csvInstances(candidate('7'), parseCsv(readFileSync('examples/churn/v2/holdout.csv', 'utf8'))).slice(0, 2);
    const { result } = await runtime.lambda.invoke(
      modelFunctionName(runtime.stack.stackName, 'churn'),
      published.lambdaVersion,
      proxyEvent({ method: 'POST', path: '/v1/models/churn/predict', body: JSON.stringify({ instances: rows }) }),
    );
    const answer = result as { statusCode: number; body: string };
    expect(answer.statusCode, answer.body).toBe(200);
    expect(JSON.parse(answer.body).model).toEqual({ name: 'churn', version: '7' });
  });

  it('refuses to publish a file validation read no version of, rather than whatever is there now', async () => {
    const ref = await upload(candidate('8'), v2Model);
    const publishing = invoke('publish', { ...ref, executionId: 'arn:test:pinned-8', files: ['model.onnx', 'manifest.json'], objectVersions: {} });
    await expect(publishing).rejects.toBeInstanceOf(FunctionError);
    await expect(publishing).rejects.toMatchObject({
      error: { name: 'UnvalidatedVersionError', message: expect.stringContaining('validation recorded no S3 object version of candidates/churn/8/model.onnx') },
    });
  });
});

describe('the model size limit', () => {
  it('rejects a model larger than model.maxBytes as MODEL_TOO_LARGE, naming its size and the limit', async () => {
    const ref = await upload(
      candidate('9', (m) => ({ ...m, model: { ...m.model, maxBytes: v2Model.length - 1 } })),
      v2Model,
    );
    const validation = (await invoke('validate', { ...ref, executionId: 'arn:test:too-large-9' })) as ValidationOutput;
    expect(validation).toMatchObject({ verdict: 'rejected', reasons: ['MODEL_TOO_LARGE'], metrics: {} });
    expect(validation.gates.slice(0, 2)).toEqual([
      { rule: 'manifest', passed: true, observed: 0, threshold: 0, bound: 'max' },
      { rule: 'model-size', passed: false, reason: 'MODEL_TOO_LARGE', observed: v2Model.length, threshold: v2Model.length - 1, bound: 'max' },
    ]);
    expect(validation.summary).toContain(`FAIL  model size: ${Number((v2Model.length / 1024 / 1024).toPrecision(4))} MiB (${v2Model.length} bytes), above the limit`);
  });
});
