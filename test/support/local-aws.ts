import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { sha256Hex } from '../../lambdas/adapters/model-store';
import { FileFallbackSink } from '../../lambdas/adapters/prediction-log';
import type { Manifest } from '../../lambdas/core/manifest';
import type { ServingConfig } from '../../lambdas/contracts/environment';
import { initServing, type Serving } from '../../lambdas/use-cases/serve-predictions';
import { localDynamoClient, localS3Client } from '../../local/aws-clients';
import { startDynamoDb, startS3, type LocalS3, type LocalService } from '../../local/aws-services';
import { createTableInput, ensureTable } from '../../local/dynamodb-tables';
import { predictionTableProperties } from '../../local/template-tables';

export const BUCKET = 'models';
export const TABLE = 'predictions';

/** dynalite + s3rver on loopback with the stack's prediction table and a model bucket, for one test file. */
export interface LocalAws {
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
  readonly dynamoService: LocalService;
  readonly s3Service: LocalS3;
  readonly directory: string;
  readonly fallbackFile: string;
  close(): Promise<void>;
}

export async function startLocalAws(): Promise<LocalAws> {
  const directory = mkdtempSync(join(tmpdir(), 'modelgate-test-'));
  const dynamoService = await startDynamoDb();
  const s3Service = await startS3({ directory: join(directory, 's3'), buckets: [BUCKET] });
  const dynamodb = localDynamoClient(dynamoService.endpoint);
  await ensureTable(dynamodb, createTableInput(TABLE, predictionTableProperties()));
  return {
    s3: localS3Client(s3Service.endpoint),
    dynamodb,
    dynamoService,
    s3Service,
    directory,
    fallbackFile: join(directory, 'fallback.jsonl'),
    async close() {
      await Promise.all([dynamoService.close(), s3Service.close()]);
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Uploads a bundle under models/<name>/<version>/ and returns that prefix. */
export async function uploadBundle(aws: LocalAws, manifest: Manifest, modelBytes: Uint8Array): Promise<string> {
  const prefix = `models/${manifest.name}/${manifest.version}/`;
  await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}${manifest.model.file}`, Body: modelBytes }));
  await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}manifest.json`, Body: JSON.stringify(manifest) }));
  return prefix;
}

/** A manifest with the model's real sha256 filled in. */
export function withChecksum(manifest: Omit<Manifest, 'model'>, modelBytes: Uint8Array): Manifest {
  return { ...manifest, model: { file: 'model.onnx', sha256: sha256Hex(modelBytes) } } as Manifest;
}

export function servingConfig(prefix: string, overrides: Partial<ServingConfig> = {}): ServingConfig {
  return {
    bucket: BUCKET,
    prefix,
    table: TABLE,
    ttlDays: 90,
    logShards: 4,
    maxBatchRows: 1000,
    maxBodyBytes: 1_048_576,
    metricsNamespace: 'modelgate',
    serviceName: 'modelgate-test',
    ...overrides,
  };
}

/** Uploads the bundle and initialises the handler against it, as a Lambda container would. */
export async function serve(aws: LocalAws, manifest: Manifest, modelBytes: Uint8Array, overrides: Partial<ServingConfig> = {}): Promise<Serving> {
  const prefix = await uploadBundle(aws, manifest, modelBytes);
  return initServing(servingConfig(prefix, overrides), {
    s3: aws.s3,
    dynamodb: aws.dynamodb,
    fallback: new FileFallbackSink(aws.fallbackFile),
    logger: new Logger({ serviceName: 'modelgate-test', logLevel: 'SILENT' }),
  });
}

export const lambdaContext = { functionVersion: '1', awsRequestId: 'test-request' };
