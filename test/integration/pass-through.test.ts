// Pass-through fields against dynalite and s3rver: the churn model declares `customerID` as a pass-through join
// key; the inference handler accepts, logs and returns it, the prediction lands in the byJoinKey index, and
// feedback that names the model and the customer joins the latest prediction of that customer at or before
// the label's time. Tables come from the synthesized construct, as in the local runtime.
import { readFileSync } from 'node:fs';
import { DescribeTableCommand, GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeedbackStore } from '../../lambdas/adapters/feedback-store';
import { ManifestStore } from '../../lambdas/adapters/manifest-store';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { parseManifest, parseManifestJson, type Manifest } from '../../lambdas/core/manifest';
import type { PredictionRecord } from '../../lambdas/core/prediction-record';
import { feedbackHandler } from '../../lambdas/use-cases/record-ground-truth';
import { proxyEvent } from '../../local/api-gateway-event';
import { localDynamoClient } from '../../local/aws-clients';
import type { DesiredResource, Provisioner } from '../../local/cloudformation/provisioner';
import { provisioners, type ProvisionerServices } from '../../local/cloudformation/provisioners';
import { createTableInput, ensureTable, type CfnTableProperties } from '../../local/dynamodb-tables';
import { startDynamoDbStreams, type LocalDynamoDbStreams } from '../../local/dynamodb-streams';
import { predictionTableProperties } from '../../local/template-tables';
import { BUCKET, TABLE, lambdaContext, serve, startLocalAws, type LocalAws } from '../support/local-aws';

const bundleDir = new URL('../../examples/churn/v1/', import.meta.url);
const example = parseManifestJson(readFileSync(new URL('manifest.json', bundleDir), 'utf8'));
const manifest: Manifest = parseManifest({ ...example, passThrough: [{ name: 'customerID', joinKey: true }] });
const modelBytes = new Uint8Array(readFileSync(new URL(manifest.model.file, bundleDir)));
const holdoutTable = parseCsv(readFileSync(new URL('holdout.csv', bundleDir), 'utf8'));
const holdout = csvInstances(manifest, holdoutTable);
const silent = new Logger({ serviceName: 'modelgate-test', logLevel: 'SILENT' });

type Prediction = { predictionId: string; label: string; passThrough?: Record<string, string | number> };

describe('pass-through fields: served, logged, indexed, joined by feedback', () => {
  let aws: LocalAws;
  let handle: Awaited<ReturnType<typeof serve>>['handle'];
  let feedback: ReturnType<typeof feedbackHandler>;
  let clock = new Date();

  beforeAll(async () => {
    aws = await startLocalAws();
    ({ handle } = await serve(aws, manifest, modelBytes));
    feedback = feedbackHandler({ store: new FeedbackStore(aws.dynamodb, TABLE), manifests: new ManifestStore(aws.s3, BUCKET), logger: silent, now: () => clock });
  });
  afterAll(async () => aws?.close());

  const predict = async (instances: unknown[]) => {
    const response = await handle(proxyEvent({ method: 'POST', path: '/v1/models/churn/predict', body: JSON.stringify({ instances }) }), lambdaContext);
    return { status: response.statusCode, body: JSON.parse(response.body) as { predictions: Prediction[]; issues?: { row?: number; field: string; reason: string }[] } };
  };
  const logged = async (predictionId: string) => {
    const { Item } = await aws.dynamodb.send(new GetItemCommand({ TableName: TABLE, Key: { predictionId: { S: predictionId } } }));
    return Item ? (unmarshall(Item) as PredictionRecord & { actual?: string }) : undefined;
  };
  const post = async (body: unknown) => {
    const response = await feedback(proxyEvent({ method: 'POST', path: '/v1/feedback', body: JSON.stringify(body) }));
    return {
      status: response.statusCode,
      body: JSON.parse(response.body) as Record<string, unknown> & { results?: Record<string, unknown>[]; issues?: { field: string; reason: string }[] },
    };
  };
  /** One prediction for `customerID`, answered at least a millisecond after the previous one. */
  const predictFor = async (customerID: string | number, row = 0) => {
    await new Promise((resolve) => setTimeout(resolve, 3));
    const { status, body } = await predict([{ ...holdout[row], customerID }]);
    expect(status).toBe(200);
    const prediction = body.predictions[0] as Prediction;
    return { ...prediction, timestamp: (await logged(prediction.predictionId))?.timestamp as string };
  };

  it('returns the pass-through value with each prediction, and a row without it gets none', async () => {
    const { status, body } = await predict([{ ...holdout[0], customerID: '3668-QPYBK' }, holdout[1]]);
    expect(status).toBe(200);
    expect(body.predictions[0]?.passThrough).toEqual({ customerID: '3668-QPYBK' });
    expect(body.predictions[1]).not.toHaveProperty('passThrough');
  });

  it('logs it with the prediction and puts the item in the byJoinKey index, and only the item that carries it', async () => {
    const { body } = await predict([{ ...holdout[2], customerID: 'index-1' }, holdout[3]]);
    const [keyed, plain] = body.predictions as [Prediction, Prediction];
    expect(await logged(keyed.predictionId)).toMatchObject({ passThrough: { customerID: 'index-1' }, joinKey: 'churn#customerID#index-1', inputs: { ...holdout[2] } });
    expect(await logged(plain.predictionId)).not.toHaveProperty('joinKey');
    const { Items } = await aws.dynamodb.send(
      new QueryCommand({
        TableName: TABLE,
        IndexName: 'byJoinKey',
        KeyConditionExpression: 'joinKey = :key',
        ExpressionAttributeValues: { ':key': { S: 'churn#customerID#index-1' } },
      }),
    );
    // Keys only: the table's key and the index's.
    expect(Items?.map((item) => unmarshall(item))).toEqual([
      { predictionId: keyed.predictionId, joinKey: 'churn#customerID#index-1', ts: expect.stringMatching(new RegExp(`#${keyed.predictionId}$`)) },
    ]);
  });

  it('still answers 400 naming any other unknown field, and a pass-through value that is not an identifier', async () => {
    const unknown = await predict([{ ...holdout[0], customerID: 'x', salary: 1 }]);
    expect(unknown.status).toBe(400);
    expect(unknown.body.issues).toEqual([{ row: 0, field: 'salary', reason: 'is neither a feature nor a pass-through field (customerID) of this model' }]);
    const bad = await predict([{ ...holdout[0], customerID: ['a'] }]);
    expect(bad.status).toBe(400);
    expect(bad.body.issues).toEqual([{ row: 0, field: 'customerID', reason: 'expected a string or a number, got an array' }]);
  });

  it("joins a label to the customer's latest prediction at or before the label's time, not a later one", async () => {
    const first = await predictFor('join-1');
    const second = await predictFor('join-1', 1);
    expect(second.timestamp > first.timestamp).toBe(true);
    clock = new Date();
    // The outcome happened at the first prediction's instant: the second, later prediction is not the one.
    const early = await post({ model: 'churn', customerID: 'join-1', actual: 'Yes', timestamp: first.timestamp });
    expect(early.status).toBe(200);
    expect(early.body.results).toEqual([{ index: 0, predictionId: first.predictionId, key: { customerID: 'join-1' }, status: 'accepted' }]);
    expect((await logged(first.predictionId))?.actual).toBe('Yes');
    expect((await logged(second.predictionId))?.actual).toBeUndefined();
    // Without a timestamp the label joins at its arrival: the latest prediction.
    const late = await post({ model: 'churn', customerID: 'join-1', actual: 'No' });
    expect(late.body.results).toEqual([{ index: 0, predictionId: second.predictionId, key: { customerID: 'join-1' }, status: 'accepted' }]);
    expect((await logged(second.predictionId))?.actual).toBe('No');
  });

  it('takes a number and its decimal string as one key', async () => {
    const numeric = await predictFor(7590);
    clock = new Date();
    const answer = await post({ model: 'churn', customerID: '7590', actual: 'Yes' });
    expect(answer.body.results?.[0]).toMatchObject({ predictionId: numeric.predictionId, status: 'accepted' });
  });

  it('answers 404 naming the key when no prediction of it is at or before the label, per item in a batch', async () => {
    const later = await predictFor('join-2');
    const before = new Date(Date.parse(later.timestamp) - 1).toISOString();
    const missing = await post({ model: 'churn', customerID: 'join-2', actual: 'Yes', timestamp: before });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({
      error: 'NotFoundError',
      message: `no prediction of customerID "join-2" of model churn at or before ${before} in the prediction log (unknown, or expired)`,
      issues: [{ field: 'customerID', reason: expect.stringContaining('customerID "join-2"') }],
    });
    expect((await logged(later.predictionId))?.actual).toBeUndefined();
    const batch = await post({ feedback: [{ model: 'churn', customerID: 'nobody', actual: 'Yes' }] });
    expect(batch.status).toBe(200);
    expect(batch.body.results).toEqual([
      { index: 0, key: { customerID: 'nobody' }, status: 'not_found', reason: expect.stringContaining('no prediction of customerID "nobody" of model churn') },
    ]);
  });

  it('answers 400 when the model declares no such join key, and writes nothing of the request', async () => {
    const target = await predictFor('join-3');
    clock = new Date();
    const answer = await post({
      feedback: [
        { model: 'churn', customerID: 'join-3', actual: 'Yes' },
        { model: 'churn', accountId: 'a-1', actual: 'No' },
      ],
    });
    expect(answer.status).toBe(400);
    expect(answer.body.issues).toEqual([
      { field: 'feedback[1].accountId', reason: 'model churn declares no pass-through join key "accountId" (its join key is "customerID"; manifest passThrough[].joinKey)' },
    ]);
    expect((await logged(target.predictionId))?.actual).toBeUndefined();
    const unknownModel = await post({ model: 'fraud', customerID: 'join-3', actual: 'Yes' });
    expect(unknownModel.status).toBe(400);
    expect(unknownModel.body.issues?.[0]?.reason).toContain('no served version of it declares a join key');
  });
});

describe('the local runtime gives a kept table the index the template added', () => {
  let aws: LocalAws;
  let streams: LocalDynamoDbStreams;
  let tables: Provisioner;
  beforeAll(async () => {
    aws = await startLocalAws();
    streams = await startDynamoDbStreams({ target: aws.dynamoService.endpoint, region: 'us-east-1', tables: [] });
    // The table provisioner of the local CloudFormation, with the services it uses (the others are for other types).
    const services = { region: 'us-east-1', accountId: '000000000000', dynamodb: aws.dynamodb, streams } as unknown as ProvisionerServices;
    tables = provisioners(services).get('AWS::DynamoDB::Table') as Provisioner;
  });
  afterAll(async () => {
    await streams?.close();
    await aws?.close();
  });

  const properties = predictionTableProperties();
  const before = { ...properties, GlobalSecondaryIndexes: properties.GlobalSecondaryIndexes?.filter((index) => index.IndexName !== 'byJoinKey') };
  const item = { predictionId: { S: 'p-1' }, modelVersionShard: { S: 'churn#1#0' }, ts: { S: '2026-01-01T00:00:00.000Z#p-1' }, joinKey: { S: 'churn#customerID#c-1' } };
  const indexes = async (table: string) =>
    (await aws.dynamodb.send(new DescribeTableCommand({ TableName: table }))).Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName).sort();
  const joined = async (table: string) =>
    (
      await aws.dynamodb.send(
        new QueryCommand({
          TableName: table,
          IndexName: 'byJoinKey',
          KeyConditionExpression: 'joinKey = :key',
          ExpressionAttributeValues: { ':key': { S: 'churn#customerID#c-1' } },
        }),
      )
    ).Items?.map((found) => found.predictionId?.S);
  const desired = (table: string, props: CfnTableProperties) =>
    ({
      stackName: 'modelgate-dev',
      logicalId: 'PredictionLogTable',
      type: 'AWS::DynamoDB::Table',
      properties: { ...props, TableName: table },
      metadata: {},
      physicalName: table,
    }) as DesiredResource;

  it('adds byJoinKey on a stack update, as CloudFormation would, keeping the items and the stream', async () => {
    const created = await tables.create(desired('update-log', before as CfnTableProperties));
    await aws.dynamodb.send(new PutItemCommand({ TableName: 'update-log', Item: item }));
    expect(await indexes('update-log')).toEqual(['byModelVersion']);

    await tables.update?.({ ...desired('update-log', before as CfnTableProperties), ...created, attributes: created.attributes ?? {} }, desired('update-log', properties));
    expect(await indexes('update-log')).toEqual(['byJoinKey', 'byModelVersion']);
    expect(await joined('update-log')).toEqual(['p-1']);
    const { Item } = await aws.dynamodb.send(new GetItemCommand({ TableName: 'update-log', Key: { predictionId: { S: 'p-1' } } }));
    expect(Item).toEqual(item);
    // The stream goes on: a prediction written through the streams proxy after the rebuild reaches a consumer.
    const delivered: unknown[] = [];
    streams.subscribe(
      { streamArn: String(created.attributes?.StreamArn), functionName: 'consumer', batchSize: 10, batchingWindowMs: 0, retryAttempts: 0, startingPosition: 'LATEST', filters: [] },
      {
        invoke: async (_name, _qualifier, event) => {
          delivered.push(...(event as { Records: unknown[] }).Records);
          return { result: {}, executedVersion: '$LATEST' };
        },
      },
    );
    await localDynamoClient(streams.endpoint).send(new PutItemCommand({ TableName: 'update-log', Item: { ...item, predictionId: { S: 'p-2' } } }));
    await streams.idle();
    expect(delivered).toEqual([expect.objectContaining({ eventName: 'INSERT', dynamodb: expect.objectContaining({ Keys: { predictionId: { S: 'p-2' } } }) })]);
  });

  it('gives a table kept from an earlier runtime the index when the stack creates it again', async () => {
    await ensureTable(aws.dynamodb, createTableInput('kept-log', before as CfnTableProperties));
    await aws.dynamodb.send(new PutItemCommand({ TableName: 'kept-log', Item: item }));
    await tables.create(desired('kept-log', properties));
    expect(await indexes('kept-log')).toEqual(['byJoinKey', 'byModelVersion']);
    expect(await joined('kept-log')).toEqual(['p-1']);
  });
});
