// The inference handler against real AWS-protocol servers: the churn example bundle in s3rver, the
// prediction log in dynalite (tables created from the synthesized construct).
import { existsSync, readFileSync } from 'node:fs';
import { GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileFallbackSink, reingestRecords } from '../../lambdas/adapters/prediction-log';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { parseManifestJson, type Manifest } from '../../lambdas/core/manifest';
import { PACKED_BUNDLE_FILE, packBundle } from '../../lambdas/core/packed-bundle';
import { parseFallbackRecords, type PredictionRecord } from '../../lambdas/core/prediction-record';
import { initServing } from '../../lambdas/use-cases/serve-predictions';
import { proxyEvent } from '../../local/api-gateway-event';
import { localDynamoClient, localS3Client } from '../../local/aws-clients';
import { sha256Hex } from '../../lambdas/adapters/model-store';
import { BUCKET, TABLE, lambdaContext, serve, servingConfig, startLocalAws, uploadBundle, withChecksum, type LocalAws } from '../support/local-aws';
import { startTcpProxy } from '../support/tcp-proxy';

const bundleDir = new URL('../../examples/churn/v1/', import.meta.url);
const manifest = parseManifestJson(readFileSync(new URL('manifest.json', bundleDir), 'utf8'));
const modelBytes = new Uint8Array(readFileSync(new URL(manifest.model.file, bundleDir)));
const holdout = csvInstances(manifest, parseCsv(readFileSync(new URL('holdout.csv', bundleDir), 'utf8')));

const MIB = 1024 * 1024;

type Body = { model: { name: string; version: string }; predictions: { predictionId: string; label: string; probabilities: Record<string, number> }[] };

const predict = (instances: unknown[], name = manifest.name) => proxyEvent({ method: 'POST', path: `/v1/models/${name}/predict`, body: JSON.stringify({ instances }) });

async function getLogged(aws: LocalAws, predictionId: string): Promise<PredictionRecord | undefined> {
  const { Item } = await aws.dynamodb.send(new GetItemCommand({ TableName: TABLE, Key: { predictionId: { S: predictionId } } }));
  return Item ? (unmarshall(Item) as PredictionRecord) : undefined;
}

describe('inference handler with the churn model', () => {
  let aws: LocalAws;
  let handle: Awaited<ReturnType<typeof serve>>['handle'];

  beforeAll(async () => {
    aws = await startLocalAws();
    ({ handle } = await serve(aws, manifest, modelBytes));
  });
  afterAll(async () => aws?.close());

  it('answers a batch of holdout rows and logs every prediction', async () => {
    const response = await handle(predict(holdout.slice(0, 50)), lambdaContext);
    expect(response.statusCode, response.body).toBe(200);
    const body = JSON.parse(response.body) as Body;
    expect(body.model).toEqual({ name: 'churn', version: manifest.version });
    expect(body.predictions).toHaveLength(50);
    for (const prediction of body.predictions) {
      expect(['No', 'Yes']).toContain(prediction.label);
      expect((prediction.probabilities.No as number) + (prediction.probabilities.Yes as number)).toBeCloseTo(1, 5);
      expect(prediction.label).toBe((prediction.probabilities.Yes as number) >= (manifest.threshold ?? 0.5) ? 'Yes' : 'No');
    }
    const first = body.predictions[0]!;
    const logged = await getLogged(aws, first.predictionId);
    expect(logged).toMatchObject({
      predictionId: first.predictionId,
      model: 'churn',
      version: manifest.version,
      variant: '1',
      inputs: { ...holdout[0] },
      outputs: { label: first.label, probabilities: first.probabilities },
      batchRows: 50,
    });
    expect(logged!.latencyMs).toBeGreaterThan(0);
    expect(logged!.expiresAt - Date.parse(logged!.timestamp) / 1000).toBeCloseTo(90 * 86_400, -1);
    const stored = await Promise.all(body.predictions.map((p) => getLogged(aws, p.predictionId)));
    expect(stored.every(Boolean)).toBe(true);
  });

  it("finds one model version's predictions in a time window through the byModelVersion index", async () => {
    const from = new Date().toISOString();
    const response = await handle(predict(holdout.slice(0, 40)), lambdaContext);
    const ids = (JSON.parse(response.body) as Body).predictions.map((p) => p.predictionId);
    const to = new Date(Date.now() + 1000).toISOString();
    const found: string[] = [];
    for (let shard = 0; shard < 4; shard++) {
      const page = await aws.dynamodb.send(
        new QueryCommand({
          TableName: TABLE,
          IndexName: 'byModelVersion',
          KeyConditionExpression: 'modelVersionShard = :key AND ts BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':key': { S: `churn#${manifest.version}#${shard}` }, ':from': { S: from }, ':to': { S: to } },
        }),
      );
      found.push(...(page.Items ?? []).map((item) => item.predictionId?.S as string));
    }
    expect(found.sort()).toEqual([...ids].sort());
  });

  it('answers the Open Inference Protocol with the same predictions as /v1', async () => {
    const rows = holdout.slice(0, 3);
    const inputs = manifest.features
      .filter((f) => rows.every((row) => row[f.name] !== undefined))
      .map((f) => ({
        name: f.name,
        shape: [rows.length],
        datatype: f.type === 'string' ? 'BYTES' : f.type === 'integer' ? 'INT64' : 'FP32',
        data: rows.map((row) => row[f.name]),
      }));
    const response = await handle(proxyEvent({ method: 'POST', path: '/v2/models/churn/infer', body: JSON.stringify({ id: 'req-1', inputs }) }), lambdaContext);
    expect(response.statusCode, response.body).toBe(200);
    const body = JSON.parse(response.body) as { model_name: string; id: string; outputs: { name: string; shape: number[]; data: unknown[] }[] };
    expect(body).toMatchObject({ model_name: 'churn', model_version: manifest.version, id: 'req-1' });
    const v1 = JSON.parse((await handle(predict(rows), lambdaContext)).body) as Body;
    const labels = body.outputs.find((o) => o.name === 'label');
    const probabilities = body.outputs.find((o) => o.name === 'probabilities');
    expect(labels?.data).toEqual(v1.predictions.map((p) => p.label));
    expect(probabilities?.shape).toEqual([3, 2]);
    expect(probabilities?.data[1]).toBeCloseTo(v1.predictions[0]!.probabilities.Yes as number, 6);
  });

  it('describes the model at GET /v2/models/{name}', async () => {
    const response = await handle(proxyEvent({ method: 'GET', path: '/v2/models/churn' }), lambdaContext);
    expect(response.statusCode).toBe(200);
    const body = JSON.parse(response.body) as { name: string; inputs: { name: string }[] };
    expect(body.name).toBe('churn');
    expect(body.inputs.map((i) => i.name)).toEqual(manifest.features.map((f) => f.name));
  });

  const valid = holdout[0]!;
  const badRequests: { case: string; body: string; row?: number; field: string; reason: RegExp }[] = [
    { case: 'malformed JSON', body: '{"instances": [', field: 'body', reason: /malformed JSON/ },
    { case: 'wrong type', body: JSON.stringify({ instances: [valid, { ...valid, tenure: 'twelve' }] }), row: 1, field: 'tenure', reason: /expected a number|expected an integer/ },
    { case: 'unknown category', body: JSON.stringify({ instances: [{ ...valid, Contract: 'Weekly' }] }), row: 0, field: 'Contract', reason: /unknown category "Weekly"/ },
    { case: 'missing required field', body: JSON.stringify({ instances: [{ ...valid, Contract: undefined }] }), row: 0, field: 'Contract', reason: /is required/ },
    {
      case: 'Infinity',
      body: `{"instances": [${JSON.stringify(valid).replace(/"MonthlyCharges":[^,}]+/, '"MonthlyCharges":1e999')}]}`,
      row: 0,
      field: 'MonthlyCharges',
      reason: /finite/,
    },
    { case: 'NaN as a string', body: JSON.stringify({ instances: [{ ...valid, MonthlyCharges: 'NaN' }] }), row: 0, field: 'MonthlyCharges', reason: /expected a number/ },
    { case: 'unknown field', body: JSON.stringify({ instances: [{ ...valid, tenur: 3 }] }), row: 0, field: 'tenur', reason: /not a feature/ },
    { case: 'oversized batch', body: JSON.stringify({ instances: Array(1001).fill(valid) }), field: 'instances', reason: /limit is 1000/ },
    { case: 'body over the size limit', body: JSON.stringify({ instances: [{ ...valid, customer: 'x'.repeat(1_100_000) }] }), field: 'body', reason: /larger than the limit/ },
    { case: 'no instances', body: '{}', field: 'instances', reason: /is required/ },
  ];

  it.each(badRequests)('answers 400 naming the row, field and reason: $case', async ({ body, row, field, reason }) => {
    const response = await handle(proxyEvent({ method: 'POST', path: '/v1/models/churn/predict', body }), lambdaContext);
    expect(response.statusCode).toBe(400);
    const answer = JSON.parse(response.body) as { error: string; issues: { row?: number; field: string; reason: string }[] };
    expect(answer.error).toBe('ValidationError');
    const issue = answer.issues.find((i) => i.field === field);
    expect(issue, JSON.stringify(answer.issues)).toBeDefined();
    expect(issue!.row).toBe(row);
    expect(issue!.reason).toMatch(reason);
  });

  it('answers 404 for another model name and 405 for a wrong method', async () => {
    const unknown = await handle(predict([valid], 'fraud'), lambdaContext);
    expect(unknown.statusCode).toBe(404);
    expect(JSON.parse(unknown.body).message).toMatch(/model "fraud" is not served/);
    const wrongMethod = await handle(proxyEvent({ method: 'GET', path: '/v1/models/churn/predict' }), lambdaContext);
    expect(wrongMethod.statusCode).toBe(405);
  });

  it('never answers 5xx to hostile bodies', async () => {
    const bodies = [
      'null',
      '[]',
      '"x"',
      '{"instances": null}',
      '{"instances": [null]}',
      '{"instances": [[1,2]]}',
      '{"instances": [{"__proto__": {"x": 1}}]}',
      '\u0000',
      '{"instances":[{}]}',
    ];
    for (const body of bodies) {
      const response = await handle(proxyEvent({ method: 'POST', path: '/v1/models/churn/predict', body }), lambdaContext);
      expect(response.statusCode, body).toBe(400);
    }
  });

  it('never answers 5xx to hostile /v2 bodies', async () => {
    const input = (fields: Record<string, unknown>) => JSON.stringify({ inputs: [{ name: 'tenure', shape: [1], datatype: 'INT64', data: [1], ...fields }] });
    const bodies = [
      input({ datatype: 'toString' }),
      input({ datatype: '__proto__' }),
      input({ datatype: 'constructor' }),
      input({ data: 'x' }).replace('"x"', `${'['.repeat(10_000)}1${']'.repeat(10_000)}`),
      input({ name: '__proto__' }),
      input({ shape: { length: 1 } }),
      '{"inputs": [null]}',
      '{"inputs": {}}',
      '{"__proto__": {"inputs": []}}',
    ];
    for (const body of bodies) {
      const response = await handle(proxyEvent({ method: 'POST', path: '/v2/models/churn/infer', body }), lambdaContext);
      expect(response.statusCode, body.slice(0, 100)).toBe(400);
      expect(JSON.parse(response.body).issues[0], body.slice(0, 100)).toMatchObject({ field: expect.stringMatching(/^(inputs|body)/), reason: expect.any(String) });
    }
  });

  it('samples and redacts logged inputs as the manifest says', async () => {
    const redacting: Manifest = { ...manifest, version: `${manifest.version}-redacted`, logging: { redact: ['gender', 'SeniorCitizen'] } };
    const serving = await serve(aws, redacting, modelBytes);
    const response = await serving.handle(predict([valid]), lambdaContext);
    const [prediction] = (JSON.parse(response.body) as Body).predictions;
    const logged = await getLogged(aws, prediction!.predictionId);
    expect(logged?.inputs).toBeDefined();
    expect(logged?.inputs).not.toHaveProperty('gender');
    expect(logged?.inputs).not.toHaveProperty('SeniorCitizen');
    expect(logged?.inputs).toHaveProperty('tenure');

    const unsampled: Manifest = { ...manifest, version: `${manifest.version}-unsampled`, logging: { inputSampleRate: 0 } };
    const quiet = await serve(aws, unsampled, modelBytes);
    const answer = JSON.parse((await quiet.handle(predict([valid]), lambdaContext)).body) as Body;
    const record = await getLogged(aws, answer.predictions[0]!.predictionId);
    expect(record?.outputs).toBeDefined();
    expect(record).not.toHaveProperty('inputs');
  });

  it('fails init with a clear reason when the bundle is missing or corrupt', async () => {
    const deps = { s3: aws.s3, dynamodb: aws.dynamodb, fallback: new FileFallbackSink(aws.fallbackFile), logger: new Logger({ logLevel: 'SILENT' }) };
    await expect(initServing(servingConfig('models/churn/404/'), deps)).rejects.toThrow(/models\/churn\/404\/manifest.json does not exist/);

    const prefix = await uploadBundle(aws, { ...manifest, version: 'corrupt' }, modelBytes);
    await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}model.onnx`, Body: modelBytes.slice(0, 1000) }));
    await expect(initServing(servingConfig(prefix), deps)).rejects.toThrow(/sha256 is [0-9a-f]{64}, the manifest says/);

    await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'models/churn/bad/manifest.json', Body: JSON.stringify({ ...manifest, task: 'ranking' }) }));
    await expect(initServing(servingConfig('models/churn/bad/'), deps)).rejects.toThrow(/task: must be one of/);
  });

  it('reads the bundle packed in one object when the environment names it, with the same checks', async () => {
    const deps = { s3: aws.s3, dynamodb: aws.dynamodb, fallback: new FileFallbackSink(aws.fallbackFile), logger: new Logger({ logLevel: 'SILENT' }) };
    const put = (prefix: string, body: Uint8Array) => aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}${PACKED_BUNDLE_FILE}`, Body: body }));
    const config = (prefix: string) => servingConfig(prefix, { packedFile: PACKED_BUNDLE_FILE });
    // Only the packed object exists under this prefix: an answer proves it was read.
    await put('models/churn/packed/', packBundle(JSON.stringify({ ...manifest, version: 'packed' }), modelBytes));
    const serving = await initServing(config('models/churn/packed/'), deps);
    try {
      const response = await serving.handle(predict(holdout.slice(0, 3)), lambdaContext);
      expect(response.statusCode, response.body).toBe(200);
      expect(JSON.parse(response.body)).toMatchObject({ model: { name: 'churn', version: 'packed' }, predictions: [{}, {}, {}] });
    } finally {
      await serving.model.release();
    }

    await expect(initServing(config('models/churn/404/'), deps)).rejects.toThrow(/models\/churn\/404\/bundle.packed does not exist/);
    await put('models/churn/packed-corrupt/', packBundle(JSON.stringify(manifest), modelBytes.slice(0, 1000)));
    await expect(initServing(config('models/churn/packed-corrupt/'), deps)).rejects.toThrow(/bundle.packed \(model model.onnx\): sha256 is [0-9a-f]{64}, the manifest says/);
    await put('models/churn/not-packed/', modelBytes);
    await expect(initServing(config('models/churn/not-packed/'), deps)).rejects.toThrow(/not-packed\/bundle.packed: not a packed bundle/);
  });

  it("refuses at init a model larger than its manifest's limit from its size, without downloading it (plain and packed)", async () => {
    // S3 behind a proxy that counts what it hands the function: the refusal must come before the bytes do.
    const proxy = await startTcpProxy(aws.s3Service.endpoint);
    const deps = { s3: localS3Client(proxy.endpoint), dynamodb: aws.dynamodb, fallback: new FileFallbackSink(aws.fallbackFile), logger: new Logger({ logLevel: 'SILENT' }) };
    const large = new Uint8Array(64 * MIB).fill(7); // never loaded: refused before
    const limited = (version: string): Manifest => ({ ...withChecksum({ ...manifest, version }, large), model: { file: 'model.onnx', sha256: sha256Hex(large), maxBytes: MIB } });
    try {
      const prefix = await uploadBundle(aws, limited('large'), large);
      await aws.s3.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: `models/churn/large-packed/${PACKED_BUNDLE_FILE}`, Body: packBundle(JSON.stringify(limited('large-packed')), large) }),
      );
      const cases = [
        [servingConfig(prefix), `s3://${BUCKET}/${prefix}model.onnx`],
        [servingConfig('models/churn/large-packed/', { packedFile: PACKED_BUNDLE_FILE }), `s3://${BUCKET}/models/churn/large-packed/${PACKED_BUNDLE_FILE} (model model.onnx)`],
      ] as const;
      for (const [config, where] of cases) {
        const before = proxy.bytesToClient;
        await expect(initServing(config, deps)).rejects.toThrow(
          `MODEL_TOO_LARGE: ${where} is 64 MiB (67108864 bytes), above the model size limit of 1 MiB (1048576 bytes) (model.maxBytes); refused before reading it`,
        );
        const downloaded = proxy.bytesToClient - before;
        console.log(`${where}: ${(downloaded / MIB).toFixed(1)} MiB of 64 MiB through the proxy before the refusal`);
        expect(downloaded).toBeLessThan(4 * MIB);
      }
    } finally {
      await proxy.close();
    }
  });
});

describe('prediction log durability', () => {
  let aws: LocalAws;
  beforeAll(async () => {
    aws = await startLocalAws();
  });
  afterAll(async () => aws?.close());

  it('keeps every answered prediction when DynamoDB fails mid-run (table or fallback), and re-ingests the fallback', async () => {
    const proxy = await startTcpProxy(aws.dynamoService.endpoint);
    const serving = await initServing(servingConfig(await uploadBundle(aws, manifest, modelBytes)), {
      s3: aws.s3,
      // One attempt and short timeouts, as in Lambda: a dead table must not hold answers for long.
      dynamodb: localDynamoClient(proxy.endpoint, { maxAttempts: 1 }),
      fallback: new FileFallbackSink(aws.fallbackFile),
      logger: new Logger({ logLevel: 'SILENT' }),
    });
    const answered: string[] = [];
    for (let request = 0; request < 30; request++) {
      if (request === 10) proxy.cut();
      if (request === 20) proxy.restore();
      const rows = holdout.slice(request * 3, request * 3 + (request % 2 === 0 ? 1 : 3));
      const response = await serving.handle(predict(rows), lambdaContext);
      expect(response.statusCode, response.body).toBe(200);
      answered.push(...(JSON.parse(response.body) as Body).predictions.map((p) => p.predictionId));
    }
    await proxy.close();

    const fallback = existsSync(aws.fallbackFile) ? parseFallbackRecords(readFileSync(aws.fallbackFile, 'utf8')) : [];
    expect(fallback.length).toBeGreaterThan(0);
    const inTable = new Set<string>();
    for (const id of answered) if (await getLogged(aws, id)) inTable.add(id);
    const inFallback = new Set(fallback.map((r) => r.predictionId));
    expect(answered.filter((id) => !inTable.has(id) && !inFallback.has(id))).toEqual([]);

    const first = await reingestRecords(aws.dynamodb, TABLE, fallback);
    expect(first.inserted).toBe(fallback.filter((r) => !inTable.has(r.predictionId)).length);
    const again = await reingestRecords(aws.dynamodb, TABLE, fallback);
    expect(again).toEqual({ inserted: 0, alreadyPresent: fallback.length, refused: [] });
    for (const id of answered) expect(await getLogged(aws, id), id).toBeDefined();
  });
});

// A standard scaler divides by a scale below 1: an input near float32's limit overflows to Infinity inside the
// model. Such an answer was served (a label decided on NaN) and its log record refused by DynamoDB: the
// fallback, and a log-fallbacks alarm, from one client's request.
describe('answers that are not finite', () => {
  const scalerBytes = new Uint8Array(readFileSync(new URL('../fixtures/models/SklearnStandardScalerFloat32.model.onnx', import.meta.url)));
  const features = ['x0', 'x1', 'x2'].map((name) => ({ name, type: 'number' as const }));
  const scaler = (version: string, baseline?: Manifest['baseline']) =>
    withChecksum(
      {
        schemaVersion: '1',
        name: 'scaler',
        version,
        task: 'regression',
        features,
        inputs: [{ name: 'input', dtype: 'float32', features: ['x0', 'x1', 'x2'] }],
        outputs: { value: 'variable' },
        batchSize: 4,
        ...(baseline ? { baseline } : {}),
      },
      scalerBytes,
    );
  const numeric = { kind: 'numeric' as const, edges: [0, 10], counts: [1], underflow: 0, overflow: 0, missing: 0, count: 1, mean: 5, std: 1, min: 0, max: 10 };
  const request = (...instances: unknown[]) => proxyEvent({ method: 'POST', path: '/v1/models/scaler/predict', body: JSON.stringify({ instances }) });
  let aws: LocalAws;
  beforeAll(async () => {
    aws = await startLocalAws();
  });
  afterAll(async () => aws?.close());

  it('are refused, not served and not logged: 400 when an input is outside the training data, else 500', async () => {
    const trained = await serve(aws, scaler('trained', { rows: 1, features: { x0: numeric, x1: numeric, x2: numeric } }), scalerBytes);
    const fine = await trained.handle(request({ x0: 1, x1: 2, x2: 3 }), lambdaContext);
    expect(fine.statusCode, fine.body).toBe(200);
    for (const instances of [
      [{ x0: 3.4e38, x1: 1, x2: 1 }],
      [
        { x0: 1, x1: 2, x2: 3 },
        { x0: 3.4e38, x1: 1, x2: 1 },
      ],
    ]) {
      const refused = await trained.handle(request(...instances), lambdaContext);
      expect(refused.statusCode, refused.body).toBe(400);
      expect(JSON.parse(refused.body).issues).toEqual([
        {
          row: instances.length - 1,
          field: 'x0',
          reason: expect.stringMatching(
            /^the model computes no finite prediction for this row \(value\[0\] is -?Infinity\); 3\.4e\+38 is far outside the training data of x0 \(0 to 10\)$/,
          ),
        },
      ]);
    }
    // Without a baseline to tell whose fault it is, the model failed.
    const untrained = await serve(aws, scaler('untrained'), scalerBytes);
    expect((await untrained.handle(request({ x0: 3.4e38, x1: 1, x2: 1 }), lambdaContext)).statusCode).toBe(500);
    expect(existsSync(aws.fallbackFile) ? readFileSync(aws.fallbackFile, 'utf8') : '').toBe('');
  });
});
