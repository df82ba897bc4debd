// The floor under the inference function's cold start (bench/cold-start.ts): a function that makes the same AWS
// SDK calls in the same order — the packed bundle from S3 with the registry read beside it, the running
// experiments query, the prediction log write with the first answer — and the same onnxruntime work (session,
// warm-up run, one run), and nothing else: no validation, no logging, no metrics. Bundled like the functions
// (lib/functions/bundling.ts); the session comes from the prepared model file the baseline reads, as unpacking
// and preparing the model is the inference function's own work.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SESSION_OPTIONS, readFeeds } from './cold-start-feeds.mjs';

performance.mark('modelgate:init');
const env = process.env;
const s3 = new S3Client({});
const dynamodb = new DynamoDBClient({});
const runtime = import('onnxruntime-node');
const [packed] = await Promise.all([
  s3.send(new GetObjectCommand({ Bucket: env.MODEL_BUCKET, Key: `${env.MODEL_PREFIX}${env.MODEL_PACKED_FILE}` })).then((object) => object.Body.transformToByteArray()),
  dynamodb.send(new GetItemCommand({ TableName: env.REGISTRY_TABLE, Key: { model: { S: env.MODEL_NAME }, item: { S: 'MODEL' } } })),
  runtime,
]);
if (packed.length === 0) throw new Error('floor: the packed bundle is empty');
const ort = await runtime;
const session = await ort.InferenceSession.create(readFileSync(env.COLD_START_MODEL_FILE), SESSION_OPTIONS);
const { feeds, fetches } = readFeeds(ort, env.COLD_START_FEEDS_FILE);
await session.run(feeds, fetches);
await dynamodb.send(
  new QueryCommand({
    TableName: env.EXPERIMENT_TABLE,
    IndexName: 'byStatus',
    KeyConditionExpression: '#status = :status AND begins_with(#modelStarted, :model)',
    ExpressionAttributeNames: { '#status': 'status', '#modelStarted': 'modelStarted' },
    ExpressionAttributeValues: { ':status': { S: 'running' }, ':model': { S: `${env.MODEL_NAME}#` } },
  }),
);

export async function handler() {
  const outputs = await session.run(feeds, fetches);
  const predictionId = randomUUID();
  await dynamodb.send(new PutItemCommand({ TableName: env.PREDICTION_TABLE, Item: { predictionId: { S: predictionId }, outputs: { S: JSON.stringify(Object.keys(outputs)) } } }));
  return { statusCode: 200, body: JSON.stringify({ predictionId }) };
}
