// The baselines of `npm run load`, each behind a plain node:http server (no API Gateway emulation, no Lambda
// worker thread), run as a child process by bench/load.ts; prints "listening <url>" when ready.
//   --mode bare     the same ONNX session and request validation as the inference handler, nothing else:
//                   no prediction log, no metrics.
//   --mode handler  the inference handler itself (initServing: validation, session, durable prediction log
//                   write to dynalite through the AWS SDK, EMF metrics), dynalite in this same process as in
//                   the runtime: what the runtime costs on top of its handler.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { loadModel } from '../lambdas/adapters/onnx-runtime';
import { FileFallbackSink } from '../lambdas/adapters/prediction-log';
import { HttpError } from '../lambdas/core/errors';
import { parseManifestJson } from '../lambdas/core/manifest';
import { parsePredictRequest } from '../lambdas/core/request';
import { predictResponse } from '../lambdas/core/responses';
import { initServing } from '../lambdas/use-cases/serve-predictions';
import { proxyEvent } from '../local/api-gateway-event';
import { localDynamoClient, localS3Client } from '../local/aws-clients';
import { startDynamoDb, startS3 } from '../local/aws-services';
import { createTableInput, ensureTable } from '../local/dynamodb-tables';
import { predictionTableProperties } from '../local/template-tables';
import { servingConfig } from '../test/support/local-aws';

const { values } = parseArgs({
  options: { bundle: { type: 'string', default: 'examples/churn/v1' }, mode: { type: 'string', default: 'bare' }, port: { type: 'string', default: '0' } },
});
const manifest = parseManifestJson(readFileSync(join(values.bundle, 'manifest.json'), 'utf8'));
const limits = { maxBatchRows: 1000, maxBodyBytes: 1_048_576 };
const work = mkdtempSync(join(tmpdir(), 'modelgate-bare-'));
const cleanups: (() => Promise<void>)[] = [];

type Answer = { status: number; body: string };
let answer: (path: string, body: string) => Promise<Answer>;

if (values.mode === 'bare') {
  const model = await loadModel(manifest, new Uint8Array(readFileSync(join(values.bundle, manifest.model.file))));
  answer = async (_path, body) => {
    try {
      const { rows } = parsePredictRequest(manifest, body, limits);
      const predictions = await model.predict(rows);
      return {
        status: 200,
        body: JSON.stringify(
          predictResponse(
            manifest,
            rows.map(() => randomUUID()),
            predictions,
          ),
        ),
      };
    } catch (error) {
      const status = error instanceof HttpError ? error.statusCode : 500;
      return { status, body: JSON.stringify({ error: (error as Error).name, message: (error as Error).message }) };
    }
  };
} else if (values.mode === 'handler') {
  const dynamo = await startDynamoDb({ path: join(work, 'dynamodb') });
  const s3 = await startS3({ directory: join(work, 's3'), buckets: ['models'] });
  cleanups.push(
    () => dynamo.close(),
    () => s3.close(),
  );
  const dynamodb = localDynamoClient(dynamo.endpoint, { maxAttempts: 3 });
  await ensureTable(dynamodb, createTableInput('predictions', predictionTableProperties()));
  const s3Client = localS3Client(s3.endpoint);
  const prefix = `models/${manifest.name}/${manifest.version}/`;
  for (const file of readdirSync(values.bundle)) {
    await s3Client.send(new PutObjectCommand({ Bucket: 'models', Key: `${prefix}${file}`, Body: readFileSync(join(values.bundle, file)) }));
  }
  const serving = await initServing(servingConfig(prefix, { serviceName: 'predict' }), {
    s3: s3Client,
    dynamodb,
    fallback: new FileFallbackSink(join(work, 'fallback.jsonl')),
    logger: new Logger({ logLevel: 'WARN' }),
  });
  answer = async (path, body) => {
    const result = await serving.handle(proxyEvent({ method: 'POST', path, body }), { functionVersion: '1', awsRequestId: randomUUID() });
    return { status: result.statusCode, body: result.body };
  };
} else {
  throw new Error(`--mode must be bare or handler, got: ${values.mode}`);
}

const server = createServer(async (request, response) => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const { status, body } = await answer(new URL(request.url ?? '/', 'http://local').pathname, Buffer.concat(chunks).toString('utf8'));
  response.writeHead(status, { 'content-type': 'application/json' }).end(body);
});
server.listen(Number(values.port), '127.0.0.1', () => console.log(`listening http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () =>
  server.close(async () => {
    for (const cleanup of cleanups) await cleanup();
    rmSync(work, { recursive: true, force: true });
    process.exit(0);
  }),
);
