// The local DynamoDB streams proxy: records as the service writes them, in order, batched, filtered with the
// patterns the stack's event source mapping carries, and a failed batch retried.
import { BatchWriteItemCommand, DeleteItemCommand, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { localDynamoClient } from '../../local/aws-clients';
import { startDynamoDbStreams, streamSubscription, type LocalDynamoDbStreams, type StreamRecord } from '../../local/dynamodb-streams';
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
    streams.subscribe(
      { ...base, functionName: 'all', batchSize: 3, tumblingWindowSeconds: 60, filters: [] },
      {
        invoke: async (_name, _qualifier, event) => {
          const { Records, shardId } = event as { Records: StreamRecord[]; shardId?: string };
          all.push({ records: Records, ...(shardId ? { shardId } : {}) });
          return { result: null, executedVersion: '$LATEST' };
        },
      },
    );
    streams.subscribe(
      { ...base, functionName: 'filtered', batchSize: 100, filters: [INSERT, LABELLED] },
      {
        invoke: async (_name, _qualifier, event) => {
          // The first delivery fails: the same batch must come again.
          if (failures-- > 0) throw new Error('transient');
          filtered.push((event as { Records: StreamRecord[] }).Records);
          return { result: null, executedVersion: '$LATEST' };
        },
      },
    );
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
    await client.send(
      new UpdateItemCommand({ TableName: TABLE, Key: { predictionId: { S: 'a' } }, UpdateExpression: 'SET actual = :a', ExpressionAttributeValues: { ':a': { S: 'Yes' } } }),
    );
    await client.send(
      new UpdateItemCommand({ TableName: TABLE, Key: { predictionId: { S: 'b' } }, UpdateExpression: 'SET note = :n', ExpressionAttributeValues: { ':n': { S: 'x' } } }),
    );
    await client.send(new DeleteItemCommand({ TableName: TABLE, Key: { predictionId: { S: 'c' } } }));
    // A failed conditional write changes nothing and records nothing.
    await expect(client.send(new PutItemCommand({ TableName: TABLE, Item: item('a'), ConditionExpression: 'attribute_not_exists(predictionId)' }))).rejects.toThrow();
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

  it("filters with the mapping's patterns and retries a failed batch", () => {
    const delivered = filtered.flat().map((r) => `${r.eventName} ${r.dynamodb.Keys.predictionId?.S}`);
    expect(delivered).toEqual(['INSERT a', 'INSERT b', 'INSERT c', 'MODIFY a']);
    expect(failures).toBeLessThan(0);
  });
});

// Lambda's stream error handling as the mapping configures it (FunctionResponseTypes ReportBatchItemFailures,
// BisectBatchOnFunctionError, MaximumRetryAttempts): a poison record must not hold up the records after it.
describe('local DynamoDB streams: partial batch failures and bisection', () => {
  let aws: LocalAws;
  let streams: LocalDynamoDbStreams;
  const dropped: string[] = [];
  const item = (id: string) => ({ predictionId: { S: id }, model: { S: 'churn' }, version: { S: '1' }, modelVersionShard: { S: 'churn#1#0' }, ts: { S: `t#${id}` } });
  const idOf = (record: StreamRecord) => record.dynamodb.Keys.predictionId?.S as string;

  beforeAll(async () => {
    aws = await startLocalAws();
  });
  // A stream per test: a mapping subscribed later starts at the oldest record held (TRIM_HORIZON).
  beforeEach(async () => {
    dropped.length = 0;
    streams = await startDynamoDbStreams({
      target: aws.dynamoService.endpoint,
      region: 'us-east-1',
      tables: [{ tableName: TABLE, streamArn: STREAM, viewType: 'NEW_IMAGE', keys: ['predictionId'] }],
      onError: (message) => dropped.push(message),
    });
  });
  afterEach(async () => streams?.close());
  afterAll(async () => aws?.close());

  /** Subscribes a consumer that fails on `poison`, as `answer` says; returns every batch it was given. */
  function consumer(functionName: string, options: { reportBatchItemFailures?: boolean; bisectOnError?: boolean }, answer: (batch: StreamRecord[], poison: number) => unknown) {
    const batches: string[][] = [];
    const done: string[] = [];
    streams.subscribe(
      { streamArn: STREAM, functionName, batchSize: 10, batchingWindowMs: 1000, retryAttempts: 2, filters: [], ...options },
      {
        invoke: async (_name, _qualifier, event) => {
          const batch = (event as { Records: StreamRecord[] }).Records;
          batches.push(batch.map(idOf));
          const poison = batch.findIndex((r) => idOf(r).startsWith('poison'));
          const result = answer(batch, poison);
          done.push(...batch.slice(0, poison === -1 ? batch.length : poison).map(idOf));
          return { result, executedVersion: '$LATEST' };
        },
      },
    );
    return { batches, done };
  }

  it('delivers the rest of a batch again from the first record a partial answer names, and bisects a failing one until the poison is alone', async () => {
    const partial = consumer('partial', { reportBatchItemFailures: true, bisectOnError: true }, (batch, poison) => {
      if (poison === -1) return { batchItemFailures: [] };
      // The head of a batch of several is thrown (core/stream-batch.ts): the invocation fails, the batch is halved.
      if (poison === 0 && batch.length > 1) throw new Error('poison at the head');
      return { batchItemFailures: [{ itemIdentifier: batch[poison]?.dynamodb.SequenceNumber }] };
    });
    const whole = consumer('whole', {}, (_batch, poison) => {
      if (poison !== -1) throw new Error('poison somewhere');
      return null;
    });
    const client = localDynamoClient(streams.endpoint);
    const ids = ['a', 'b', 'c', 'poison', 'd', 'e', 'f', 'g', 'h', 'i'];
    await client.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: ids.map((id) => ({ PutRequest: { Item: item(id) } })) } }));
    await streams.idle();

    // a-c are done with the first delivery; the batch comes again from the poison (the first retry), which is
    // then at its head: halved until it is alone (halving is no retry), retried once more, dropped after three
    // attempts in all. Every other record is done.
    expect(partial.batches[0]).toEqual(ids);
    expect(partial.batches[1]).toEqual(['poison', 'd', 'e', 'f', 'g', 'h', 'i']);
    expect(partial.batches.filter((b) => b.length === 1 && b[0] === 'poison')).toHaveLength(2);
    expect([...new Set(partial.done)].sort()).toEqual(ids.filter((id) => id !== 'poison').sort());
    // Without either setting the whole batch fails every time and is dropped: the poison takes nine records with it.
    expect(whole.batches).toEqual([ids, ids, ids]);
    expect(whole.done).toEqual([]);
    expect(dropped.filter((m) => m.startsWith('partial:'))).toEqual([expect.stringMatching(/^partial: dropped 1 records \(\d+\.\.\d+\) after 3 attempts/)]);
    expect(dropped.filter((m) => m.startsWith('whole:'))).toEqual([expect.stringMatching(/^whole: dropped 10 records/)]);
    expect(streams.stats().discardedRecords).toBe(11);
  });

  it('fails the whole batch when batchItemFailures names no record of it, and ignores it without ReportBatchItemFailures', async () => {
    const strict = consumer('strict', { reportBatchItemFailures: true }, () => ({ batchItemFailures: [{ itemIdentifier: 'not-a-sequence-number' }] }));
    const ignoring = consumer('ignoring', {}, (batch) => ({ batchItemFailures: [{ itemIdentifier: batch[0]?.dynamodb.SequenceNumber }] }));
    const client = localDynamoClient(streams.endpoint);
    await client.send(new PutItemCommand({ TableName: TABLE, Item: item('x') }));
    await streams.idle();
    expect(strict.batches).toEqual([['x'], ['x'], ['x']]);
    expect(ignoring.batches).toEqual([['x']]);
  });
});

describe('event source mappings from the template', () => {
  it('read the error handling settings: ReportBatchItemFailures, BisectBatchOnFunctionError', () => {
    const mapping = {
      EventSourceArn: STREAM,
      FunctionName: 'aggregate',
      BatchSize: 100,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
    };
    expect(streamSubscription(mapping)).toEqual(
      expect.objectContaining({ functionName: 'aggregate', batchSize: 100, retryAttempts: 10, reportBatchItemFailures: true, bisectOnError: true }),
    );
    expect(streamSubscription({ EventSourceArn: STREAM, FunctionName: 'other' })).toEqual(
      expect.objectContaining({ functionName: 'other', batchSize: 100, retryAttempts: -1, reportBatchItemFailures: false, bisectOnError: false }),
    );
  });
});

// The local runtime's memory grew from 1.34 GB to 3.99 GB over 120,000 logged predictions: the stream kept
// every record a slow mapping had not read. A shard now holds at most its retention (a count standing for
// DynamoDB's 24 hours), and drops what every mapping has read.
describe('local DynamoDB streams: bounded memory', () => {
  let aws: LocalAws;
  beforeAll(async () => {
    aws = await startLocalAws();
  });
  afterAll(async () => aws?.close());

  it('holds at most its retention however far a mapping falls behind, and nothing a mapping has read', async () => {
    const messages: string[] = [];
    const streams = await startDynamoDbStreams({
      target: aws.dynamoService.endpoint,
      region: 'us-east-1',
      tables: [{ tableName: TABLE, streamArn: STREAM, viewType: 'NEW_IMAGE', keys: ['predictionId'] }],
      shardRetentionRecords: 1_000,
      onError: (message) => messages.push(message),
    });
    try {
      let release: () => void = () => undefined;
      const stuck = new Promise<void>((resolve) => (release = resolve));
      const delivered = { slow: 0, fast: 0 };
      const subscription = { streamArn: STREAM, batchSize: 100, batchingWindowMs: 0, retryAttempts: 0, filters: [] };
      streams.subscribe(
        { ...subscription, functionName: 'slow' },
        {
          invoke: async (_name, _qualifier, event) => {
            await stuck;
            delivered.slow += (event as { Records: unknown[] }).Records.length;
            return { result: null, executedVersion: '$LATEST' };
          },
        },
      );
      streams.subscribe(
        { ...subscription, functionName: 'fast' },
        {
          invoke: async (_name, _qualifier, event) => {
            delivered.fast += (event as { Records: unknown[] }).Records.length;
            return { result: null, executedVersion: '$LATEST' };
          },
        },
      );
      const client = localDynamoClient(streams.endpoint);
      const item = (n: number) => ({
        PutRequest: {
          Item: {
            predictionId: { S: `p-${n}` },
            model: { S: 'churn' },
            version: { S: '1' },
            modelVersionShard: { S: 'churn#1#0' },
            ts: { S: `t#${n}` },
            inputs: { S: 'x'.repeat(500) },
          },
        },
      });
      let most = 0;
      // Four writers at a time, 25 items a request: 4,000 records, four times the retention.
      for (let n = 0; n < 4_000; n += 100) {
        await Promise.all(
          [0, 25, 50, 75].map((offset) => client.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: Array.from({ length: 25 }, (_, i) => item(n + offset + i)) } }))),
        );
        most = Math.max(most, streams.stats().retainedRecords);
      }
      expect(most).toBeLessThanOrEqual(1_000);
      expect(streams.stats().trimmedUnread).toBeGreaterThanOrEqual(4_000 - 1_000 - 100);
      expect(messages).toEqual([expect.stringMatching(/^predictions: the stream holds at most 1000 records \(its local retention; 24 hours on AWS\): slow fell behind/)]);

      release();
      await streams.idle();
      // The fast mapping read everything; the slow one what was still held when it caught up (and one stuck batch).
      expect(delivered.fast).toBe(4_000);
      expect(delivered.slow).toBeLessThanOrEqual(1_000 + 100);
      // Once every mapping has read them, records are dropped (in steps of an eighth of the retention here).
      expect(streams.stats().retainedRecords).toBeLessThan(125);
    } finally {
      await streams.close();
    }
  });
});
