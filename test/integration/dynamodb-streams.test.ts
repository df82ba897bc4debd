// The local DynamoDB streams proxy: records as the service writes them, in order, batched, filtered with the
// patterns the stack's event source mapping carries, and a failed batch retried.
import { BatchWriteItemCommand, DeleteItemCommand, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDynamoClient } from '../../local/aws-clients';
import { startDynamoDbStreams, type LocalDynamoDbStreams, type StreamRecord } from '../../local/dynamodb-streams';
import { startLocalAws, TABLE, type LocalAws } from '../support/local-aws';

const STREAM = 'arn:aws:dynamodb:us-east-1:000000000000:table/predictions/stream/local';
const INSERT = { eventName: ['INSERT'] };
const LABELLED = { eventName: ['MODIFY'], dynamodb: { NewImage: { actual: { S: [{ exists: true }] } } } };

describe('local DynamoDB streams', () => {
  let aws: LocalAws;
  let streams: LocalDynamoDbStreams;
  const all: { records: StreamRecord[]; shardId?: string }[] = [];
  const filtered: StreamRecord[][] = [];
  let failures = 1;

  beforeAll(async () => {
    aws = await startLocalAws();
    streams = await startDynamoDbStreams({
      target: aws.dynamoService.endpoint,
      region: 'us-east-1',
      tables: [{ tableName: TABLE, streamArn: STREAM, viewType: 'NEW_IMAGE', keys: ['predictionId'] }],
    });
    const base = { streamArn: STREAM, batchingWindowMs: 0, retryAttempts: 2 };
    streams.subscribe({ ...base, functionName: 'all', batchSize: 3, tumblingWindowSeconds: 60, filters: [] }, {
      invoke: async (_name, _qualifier, event) => {
        const { Records, shardId } = event as { Records: StreamRecord[]; shardId?: string };
        all.push({ records: Records, ...(shardId ? { shardId } : {}) });
        return { result: null, executedVersion: '$LATEST' };
      },
    });
    streams.subscribe({ ...base, functionName: 'filtered', batchSize: 100, filters: [INSERT, LABELLED] }, {
      invoke: async (_name, _qualifier, event) => {
        // The first delivery fails: the same batch must come again.
        if (failures-- > 0) throw new Error('transient');
        filtered.push((event as { Records: StreamRecord[] }).Records);
        return { result: null, executedVersion: '$LATEST' };
      },
    });
  });
  afterAll(async () => {
    await streams?.close();
    await aws?.close();
  });

  it('records each write through the proxy, in order, and delivers them in batches', async () => {
    const client = localDynamoClient(streams.endpoint);
    const item = (id: string) => ({ predictionId: { S: id }, model: { S: 'churn' }, version: { S: '1' }, modelVersionShard: { S: 'churn#1#0' }, ts: { S: `t#${id}` } });
    await client.send(new PutItemCommand({ TableName: TABLE, Item: item('a') }));
    await client.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: [{ PutRequest: { Item: item('b') } }, { PutRequest: { Item: item('c') } }] } }));
    await client.send(new UpdateItemCommand({ TableName: TABLE, Key: { predictionId: { S: 'a' } }, UpdateExpression: 'SET actual = :a', ExpressionAttributeValues: { ':a': { S: 'Yes' } } }));
    await client.send(new UpdateItemCommand({ TableName: TABLE, Key: { predictionId: { S: 'b' } }, UpdateExpression: 'SET note = :n', ExpressionAttributeValues: { ':n': { S: 'x' } } }));
    await client.send(new DeleteItemCommand({ TableName: TABLE, Key: { predictionId: { S: 'c' } } }));
    // A failed conditional write changes nothing and records nothing.
    await expect(
      client.send(new PutItemCommand({ TableName: TABLE, Item: item('a'), ConditionExpression: 'attribute_not_exists(predictionId)' })),
    ).rejects.toThrow();
    // Reads pass through untouched.
    expect((await client.send(new GetItemCommand({ TableName: TABLE, Key: { predictionId: { S: 'a' } } }))).Item?.actual).toEqual({ S: 'Yes' });
    await streams.idle();

    const records = all.flatMap((batch) => batch.records);
    expect(records.map((r) => `${r.eventName} ${r.dynamodb.Keys.predictionId?.S}`)).toEqual(['INSERT a', 'INSERT b', 'INSERT c', 'MODIFY a', 'MODIFY b', 'REMOVE c']);
    expect(all.every((batch) => batch.records.length <= 3 && batch.shardId)).toBe(true);
    const sequence = records.map((r) => BigInt(r.dynamodb.SequenceNumber));
    expect([...sequence].sort((x, y) => (x < y ? -1 : 1))).toEqual(sequence);
    expect(records[3]?.dynamodb.NewImage?.actual).toEqual({ S: 'Yes' });
    expect(records[5]?.dynamodb.NewImage).toBeUndefined();
    expect(records[0]).toMatchObject({ eventSource: 'aws:dynamodb', eventSourceARN: STREAM, dynamodb: { StreamViewType: 'NEW_IMAGE' } });
  });

  it('filters with the mapping\'s patterns and retries a failed batch', () => {
    const delivered = filtered.flat().map((r) => `${r.eventName} ${r.dynamodb.Keys.predictionId?.S}`);
    expect(delivered).toEqual(['INSERT a', 'INSERT b', 'INSERT c', 'MODIFY a']);
    expect(failures).toBeLessThan(0);
  });
});
