// How the local DynamoDB streams proxy writes: images taken from the write itself (ReturnValues) rather than
// reads around it, right for every StreamViewType; group commit of concurrent PutItems, each answered only
// once its batch is stored, a failed batch written again item by item; records in the order of each item's
// writes. Everything against dynalite on loopback, with a small interceptor between the proxy and dynalite
// that can hold requests back.
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { localDynamoClient } from '../../local/aws-clients';
import { startDynamoDb, type LocalService } from '../../local/aws-services';
import { startDynamoDbStreams, type LocalDynamoDbStreams, type StreamRecord, type StreamViewType } from '../../local/dynamodb-streams';

type Item = Record<string, AttributeValue>;

const TABLES: { name: string; viewType: StreamViewType }[] = [
  { name: 'both', viewType: 'NEW_AND_OLD_IMAGES' },
  { name: 'new', viewType: 'NEW_IMAGE' },
  { name: 'old', viewType: 'OLD_IMAGE' },
  { name: 'keys', viewType: 'KEYS_ONLY' },
];
const arn = (table: string) => `arn:aws:dynamodb:us-east-1:000000000000:table/${table}/stream/local`;

/** Forwards to dynalite; requests whose operation `hold` matches wait until released. */
class Interceptor {
  readonly seen: { operation: string; items: number }[] = [];
  hold: (operation: string) => boolean = () => false;
  private held: (() => void)[] = [];
  private server: Server | undefined;
  endpoint = '';

  constructor(private readonly target: string) {}

  async start(): Promise<void> {
    const target = new URL(this.target);
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks);
        const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
        const input = JSON.parse(body.toString('utf8') || '{}') as { RequestItems?: Record<string, unknown[]> };
        this.seen.push({ operation, items: operation === 'BatchWriteItem' ? Object.values(input.RequestItems ?? {}).flat().length : 1 });
        const send = () => {
          const headers: IncomingHttpHeaders = { ...request.headers, host: target.host };
          const outgoing = httpRequest({ host: target.hostname, port: target.port, method: request.method, path: request.url, headers }, (incoming) => {
            response.writeHead(incoming.statusCode ?? 500, incoming.headers);
            incoming.pipe(response);
          });
          outgoing.end(body);
        };
        if (this.hold(operation)) this.held.push(send);
        else send();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get heldCount(): number {
    return this.held.length;
  }

  release(): void {
    const held = this.held;
    this.held = [];
    for (const send of held) send();
  }

  async close(): Promise<void> {
    this.release();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('local DynamoDB streams proxy', () => {
  let dynamo: LocalService;
  let interceptor: Interceptor;
  let streams: LocalDynamoDbStreams;
  let direct: DynamoDBClient;
  let client: DynamoDBClient;
  const records = new Map<string, StreamRecord[]>(TABLES.map((t) => [t.name, []]));

  beforeAll(async () => {
    dynamo = await startDynamoDb();
    direct = localDynamoClient(dynamo.endpoint);
    for (const { name } of TABLES) {
      await direct.send(
        new CreateTableCommand({
          TableName: name,
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
    }
    interceptor = new Interceptor(dynamo.endpoint);
    await interceptor.start();
    streams = await startDynamoDbStreams({
      target: interceptor.endpoint,
      region: 'us-east-1',
      tables: TABLES.map(({ name, viewType }) => ({ tableName: name, streamArn: arn(name), viewType, keys: ['id'] })),
      // One batch in flight per table: the tests decide which puts share a batch.
      groupCommit: { maxInFlight: 1 },
      onError: () => undefined,
    });
    for (const { name } of TABLES) {
      streams.subscribe(
        { streamArn: arn(name), functionName: name, batchSize: 100, batchingWindowMs: 0, retryAttempts: 0, filters: [] },
        {
          invoke: async (_name, _qualifier, event) => {
            records.get(name)?.push(...(event as { Records: StreamRecord[] }).Records);
            return { result: null, executedVersion: '$LATEST' };
          },
        },
      );
    }
    client = localDynamoClient(streams.endpoint, { maxAttempts: 1 });
  });
  afterEach(() => {
    interceptor.hold = () => false;
    interceptor.release();
  });
  afterAll(async () => {
    client?.destroy();
    await streams?.close();
    await interceptor?.close();
    await dynamo?.close();
  });

  const stored = async (table: string, id: string) => (await direct.send(new GetItemCommand({ TableName: table, Key: { id: { S: id } }, ConsistentRead: true }))).Item;
  const recordsOf = (table: string, id: string) => (records.get(table) ?? []).filter((r) => r.dynamodb.Keys.id?.S === id);

  it('takes images from the write itself, right for each StreamViewType, and reads only for UpdateItem and BatchWriteItem', async () => {
    for (const { name } of TABLES) {
      const before = streams.stats().reads;
      const put1 = await client.send(new PutItemCommand({ TableName: name, Item: { id: { S: 'a' }, n: { N: '1.50' }, m: { M: { x: { N: '1e2' } } } } }));
      expect(put1.Attributes).toBeUndefined(); // ReturnValues the proxy added is not shown to the caller
      const put2 = await client.send(new PutItemCommand({ TableName: name, Item: { id: { S: 'a' }, n: { N: '2' } }, ReturnValues: 'ALL_OLD' }));
      expect(put2.Attributes).toEqual({ id: { S: 'a' }, n: { N: '1.5' }, m: { M: { x: { N: '100' } } } });
      expect(streams.stats().reads).toBe(before);
      const afterPuts = await stored(name, 'a');
      const update = await client.send(
        new UpdateItemCommand({
          TableName: name,
          Key: { id: { S: 'a' } },
          UpdateExpression: 'SET n = n + :one',
          ExpressionAttributeValues: { ':one': { N: '1' } },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      expect(update.Attributes).toEqual({ n: { N: '3' } });
      const afterUpdate = await stored(name, 'a');
      const created = await client.send(
        new UpdateItemCommand({ TableName: name, Key: { id: { S: 'b' } }, UpdateExpression: 'SET n = :n', ExpressionAttributeValues: { ':n': { N: '7' } } }),
      );
      expect(created.Attributes).toBeUndefined();
      await client.send(new DeleteItemCommand({ TableName: name, Key: { id: { S: 'a' } } }));
      await client.send(new DeleteItemCommand({ TableName: name, Key: { id: { S: 'never' } } })); // deletes nothing: no record
      await client.send(
        new BatchWriteItemCommand({ RequestItems: { [name]: [{ PutRequest: { Item: { id: { S: 'c' }, n: { N: '0.10' } } } }, { DeleteRequest: { Key: { id: { S: 'b' } } } }] } }),
      );
      await streams.idle();

      const includeNew = name === 'both' || name === 'new';
      const includeOld = name === 'both' || name === 'old';
      const image = (item: Item | undefined) => item;
      const expected = [
        { eventName: 'INSERT', id: 'a', NewImage: { id: { S: 'a' }, n: { N: '1.5' }, m: { M: { x: { N: '100' } } } }, OldImage: undefined },
        { eventName: 'MODIFY', id: 'a', NewImage: image(afterPuts), OldImage: { id: { S: 'a' }, n: { N: '1.5' }, m: { M: { x: { N: '100' } } } } },
        { eventName: 'MODIFY', id: 'a', NewImage: image(afterUpdate), OldImage: image(afterPuts) },
        { eventName: 'INSERT', id: 'b', NewImage: { id: { S: 'b' }, n: { N: '7' } }, OldImage: undefined },
        { eventName: 'REMOVE', id: 'a', NewImage: undefined, OldImage: image(afterUpdate) },
        { eventName: 'INSERT', id: 'c', NewImage: { id: { S: 'c' }, n: { N: '0.1' } }, OldImage: undefined },
        { eventName: 'REMOVE', id: 'b', NewImage: undefined, OldImage: { id: { S: 'b' }, n: { N: '7' } } },
      ];
      const got = records.get(name) ?? [];
      expect(got.map((r) => `${r.eventName} ${r.dynamodb.Keys.id?.S}`)).toEqual(expected.map((e) => `${e.eventName} ${e.id}`));
      got.forEach((record, i) => {
        const want = expected[i] as (typeof expected)[number];
        expect(record.dynamodb.StreamViewType).toBe(TABLES.find((t) => t.name === name)?.viewType);
        expect(record.dynamodb.Keys).toEqual({ id: { S: want.id } });
        expect(record.dynamodb.NewImage).toEqual(includeNew ? want.NewImage : undefined);
        expect(record.dynamodb.OldImage).toEqual(includeOld ? want.OldImage : undefined);
      });
      expect(await stored(name, 'c')).toEqual({ id: { S: 'c' }, n: { N: '0.1' } });
      // A write dynalite refuses gets dynalite's own answer (its read before refused too) and records nothing.
      const wrongKey = { id: { N: '1' } };
      await expect(
        client.send(new UpdateItemCommand({ TableName: name, Key: wrongKey, UpdateExpression: 'SET n = :n', ExpressionAttributeValues: { ':n': { N: '1' } } })),
      ).rejects.toMatchObject({ name: 'ValidationException' });
      await expect(client.send(new BatchWriteItemCommand({ RequestItems: { [name]: [{ DeleteRequest: { Key: wrongKey } }] } }))).rejects.toMatchObject({
        name: 'ValidationException',
      });
      await expect(client.send(new PutItemCommand({ TableName: name, Item: wrongKey }))).rejects.toMatchObject({ name: 'ValidationException' });
      await streams.idle();
      expect(records.get(name)).toHaveLength(expected.length);
      // One read for each UpdateItem (two for UPDATED_NEW, which returns neither whole image) and one BatchGetItem.
      // (and the two refused reads of the refused writes).
      expect(streams.stats().reads - before).toBe(6);
    }
  });

  it('commits concurrent PutItems in one BatchWriteItem and answers each only once the batch is stored', async () => {
    const table = 'new';
    const put = (id: string) => client.send(new PutItemCommand({ TableName: table, Item: { id: { S: id }, v: { N: '1' } } }));
    const settled = new Set<string>();
    const track = (id: string) => put(id).then(() => settled.add(id));
    // The first put is held at dynalite; nine more arrive meanwhile and queue as the next batch.
    interceptor.hold = (operation) => operation === 'PutItem' || operation === 'BatchWriteItem';
    const start = streams.stats();
    const first = track('g0');
    await until(() => interceptor.heldCount === 1, 'the first put to reach dynalite');
    const rest = Array.from({ length: 9 }, (_, i) => track(`g${i + 1}`));
    await until(() => streams.stats().writeRequests === start.writeRequests + 10, 'ten puts at the proxy');
    const seenBefore = interceptor.seen.length;
    interceptor.hold = (operation) => operation === 'BatchWriteItem';
    interceptor.release();
    await first;
    await until(() => interceptor.heldCount === 1, 'the batch of nine to reach dynalite');
    expect(interceptor.seen.slice(seenBefore).filter((s) => s.operation === 'BatchWriteItem')).toEqual([{ operation: 'BatchWriteItem', items: 9 }]);
    // Held: nothing of the batch is stored, and no caller has an answer.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect([...settled]).toEqual(['g0']);
    expect(await stored(table, 'g5')).toBeUndefined();
    interceptor.release();
    await Promise.all(rest);
    for (let i = 0; i < 10; i++) expect(await stored(table, `g${i}`)).toEqual({ id: { S: `g${i}` }, v: { N: '1' } });
    expect(streams.stats().groupedPuts - start.groupedPuts).toBe(9);
    await streams.idle();
    const inserts = (records.get(table) ?? []).filter((r) => r.dynamodb.Keys.id?.S?.startsWith('g'));
    expect(inserts.map((r) => r.eventName)).toEqual(Array(10).fill('INSERT'));
    expect(inserts.map((r) => r.dynamodb.NewImage)).toEqual(inserts.map((r) => ({ id: r.dynamodb.Keys.id, v: { N: '1' } })));
  });

  // Too large an item passes the BatchGetItem of the old items and fails the BatchWriteItem; a key of the
  // wrong type fails the BatchGetItem already. Either way the batch fails as a whole.
  it.each([
    { case: 'an item over 400 KB', bad: { id: { S: 'huge' }, blob: { S: 'x'.repeat(410_000) } } as Item, failsAt: 'BatchWriteItem' },
    { case: 'a key of the wrong type', bad: { id: { N: '3' } } as Item, failsAt: 'BatchGetItem' },
  ])('writes the puts of a batch that fails as a whole ($case) one by one, so each caller gets its own answer', async ({ bad, failsAt }) => {
    const table = 'both';
    const prefix = failsAt === 'BatchWriteItem' ? 'fw' : 'fg';
    const start = streams.stats();
    interceptor.hold = (operation) => operation === 'PutItem';
    const first = client.send(new PutItemCommand({ TableName: table, Item: { id: { S: `${prefix}0` } } }));
    await until(() => interceptor.heldCount === 1, 'the first put to reach dynalite');
    const items: Item[] = [{ id: { S: `${prefix}1` } }, bad, { id: { S: `${prefix}2` }, n: { N: '02.50' } }, { id: { S: `${prefix}3` } }];
    const outcomes = Promise.allSettled(items.map((Item) => client.send(new PutItemCommand({ TableName: table, Item }))));
    await until(() => streams.stats().writeRequests === start.writeRequests + 5, 'five puts at the proxy');
    const seenBefore = interceptor.seen.length;
    interceptor.hold = () => false;
    interceptor.release();
    await first;
    const [ok1, refused, ok2, ok3] = await outcomes;
    expect([ok1?.status, ok2?.status, ok3?.status]).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(refused?.status).toBe('rejected');
    expect(((refused as PromiseRejectedResult).reason as Error).name).toBe('ValidationException');
    expect(streams.stats().failedGroupBatches - start.failedGroupBatches).toBe(1);
    const sent = interceptor.seen.slice(seenBefore).map((s) => s.operation);
    // After the held first put: the batch of four fails where expected, then the four go one by one.
    expect(sent).toEqual([...(failsAt === 'BatchWriteItem' ? ['BatchGetItem', 'BatchWriteItem'] : ['BatchGetItem']), 'PutItem', 'PutItem', 'PutItem', 'PutItem']);
    expect(await stored(table, `${prefix}2`)).toEqual({ id: { S: `${prefix}2` }, n: { N: '2.5' } });
    expect(await stored(table, 'huge')).toBeUndefined();
    await streams.idle();
    expect([0, 1, 2, 3].map((i) => recordsOf(table, `${prefix}${i}`).map((r) => r.eventName))).toEqual([['INSERT'], ['INSERT'], ['INSERT'], ['INSERT']]);
    expect(recordsOf(table, `${prefix}2`)[0]?.dynamodb.NewImage).toEqual({ id: { S: `${prefix}2` }, n: { N: '2.5' } });
    expect((records.get(table) ?? []).some((r) => r.dynamodb.Keys.id?.N !== undefined || r.dynamodb.Keys.id?.S === 'huge')).toBe(false);
  });

  it("keeps each item's records in the order of its writes when concurrent puts and updates hit the same items", async () => {
    const table = 'both';
    const ids = ['o0', 'o1', 'o2', 'o3'];
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const id = ids[i % ids.length] as string;
        return i % 5 === 4
          ? client.send(new UpdateItemCommand({ TableName: table, Key: { id: { S: id } }, UpdateExpression: 'ADD hits :one', ExpressionAttributeValues: { ':one': { N: '1' } } }))
          : client.send(new PutItemCommand({ TableName: table, Item: { id: { S: id }, write: { N: String(i) } } }));
      }),
    );
    await streams.idle();
    const sequence = (records.get(table) ?? []).map((r) => BigInt(r.dynamodb.SequenceNumber));
    expect([...sequence].sort((x, y) => (x < y ? -1 : 1))).toEqual(sequence);
    for (const id of ids) {
      const chain = recordsOf(table, id);
      expect(chain).toHaveLength(10);
      expect(chain[0]?.eventName).toBe('INSERT');
      expect(chain.slice(1).every((r) => r.eventName === 'MODIFY')).toBe(true);
      // Each record's old image is the previous record's new image, and the last new image is what is stored.
      chain.slice(1).forEach((record, i) => {
        expect(record.dynamodb.OldImage).toEqual(chain[i]?.dynamodb.NewImage);
      });
      expect(chain.at(-1)?.dynamodb.NewImage).toEqual(await stored(table, id));
    }
  });
});
