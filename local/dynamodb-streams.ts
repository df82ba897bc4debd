// DynamoDB Streams for the local runtime. dynalite has no streams, so a small HTTP proxy sits in front of it:
// every request passes through unchanged, and after a successful write to a table with a stream
// (PutItem, UpdateItem, DeleteItem, BatchWriteItem) the proxy reads the item back and appends a stream
// record. Records are delivered in batches to the functions the template subscribes with
// AWS::Lambda::EventSourceMapping, through the local Lambda service, one batch at a time per mapping and
// in order, filtered, retried on failure — the parts of Lambda's stream polling the monitoring code relies on.
// docs/monitoring.md lists what differs from the service.
import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { localDynamoClient } from './aws-clients';
import type { LocalService } from './aws-services';
import { matchesPattern } from './event-pattern';
import type { LocalLambdaService } from './lambda-service';
import { resolveValue, resourcesOfType, type CfnTemplate, type ResolutionContext } from './template';

export type StreamViewType = 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES' | 'KEYS_ONLY';

/** A table whose writes produce stream records. */
export interface StreamedTable {
  readonly tableName: string;
  readonly streamArn: string;
  readonly viewType: StreamViewType;
  /** Key attribute names (partition, then sort). */
  readonly keys: readonly string[];
}

/** An event source mapping of a table's stream onto a function (AWS::Lambda::EventSourceMapping). */
export interface StreamSubscription {
  readonly streamArn: string;
  readonly functionName: string;
  readonly qualifier?: string;
  readonly batchSize: number;
  /** How long to wait for a batch to fill; capped locally (see MAX_LOCAL_BATCHING_WINDOW_MS). */
  readonly batchingWindowMs: number;
  /** Set when the mapping has a tumbling window: the event then carries shardId, window and state. */
  readonly tumblingWindowSeconds?: number;
  /** Retries of a failed batch before it is dropped (logged); -1 in the template means "until it expires". */
  readonly retryAttempts: number;
  /** Event patterns (FilterCriteria, matched as EventBridge does: local/event-pattern.ts); a record is delivered when any matches, or always when there are none. */
  readonly filters: readonly unknown[];
}

export interface StreamRecord {
  readonly eventID: string;
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly eventVersion: '1.1';
  readonly eventSource: 'aws:dynamodb';
  readonly awsRegion: string;
  readonly eventSourceARN: string;
  readonly dynamodb: {
    readonly ApproximateCreationDateTime: number;
    readonly Keys: Record<string, AttributeValue>;
    readonly NewImage?: Record<string, AttributeValue>;
    readonly OldImage?: Record<string, AttributeValue>;
    readonly SequenceNumber: string;
    readonly SizeBytes: number;
    readonly StreamViewType: StreamViewType;
  };
}

/** Locally a batch waits at most this long to fill, whatever the mapping says (tests should not wait 30 s). */
export const MAX_LOCAL_BATCHING_WINDOW_MS = 250;
/** One shard per table: every record of a table is in order. */
export const LOCAL_SHARD_ID = 'shardId-00000000000000000000-local';
const LOCAL_MAX_RETRIES = 3;
const WRITE_OPERATIONS = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);

export interface LocalDynamoDbStreams extends LocalService {
  /** Delivers the table's future records to a function. */
  subscribe(subscription: StreamSubscription, lambda: Pick<LocalLambdaService, 'invoke'>): void;
  /** Resolves when every record written so far has been delivered (or dropped after its retries). */
  idle(): Promise<void>;
}

/**
 * Starts the proxy in front of `target` (dynalite). Point clients (the functions' AWS_ENDPOINT_URL_DYNAMODB)
 * at its `endpoint` for their writes to produce stream records.
 */
export async function startDynamoDbStreams(options: {
  readonly target: string;
  readonly tables: readonly StreamedTable[];
  readonly region: string;
  readonly host?: string;
  readonly port?: number;
  readonly onError?: (message: string) => void;
}): Promise<LocalDynamoDbStreams> {
  const tables = new Map(options.tables.map((table) => [table.tableName, table]));
  const byArn = new Map(options.tables.map((table) => [table.streamArn, table]));
  const client = localDynamoClient(options.target);
  const target = new URL(options.target);
  const logError = options.onError ?? ((message: string) => console.error(`local DynamoDB streams: ${message}`));
  const shards = new Map<string, StreamRecord[]>(options.tables.map((table) => [table.streamArn, []]));
  const consumers: Consumer[] = [];
  let sequence = 0n;
  // Writes to the same item pass one at a time, so its records come in the order of its writes (the order
  // DynamoDB Streams guarantees, per item); writes to different items run concurrently.
  const itemTails = new Map<string, Promise<unknown>>();

  const append = (table: StreamedTable, eventName: StreamRecord['eventName'], keys: Record<string, AttributeValue>, newImage?: Record<string, AttributeValue>, oldImage?: Record<string, AttributeValue>) => {
    sequence += 1n;
    const includeNew = table.viewType === 'NEW_IMAGE' || table.viewType === 'NEW_AND_OLD_IMAGES';
    const includeOld = table.viewType === 'OLD_IMAGE' || table.viewType === 'NEW_AND_OLD_IMAGES';
    const record: StreamRecord = {
      eventID: randomUUID().replace(/-/g, ''),
      eventName,
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: options.region,
      eventSourceARN: table.streamArn,
      dynamodb: {
        ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
        Keys: keys,
        ...(includeNew && newImage ? { NewImage: newImage } : {}),
        ...(includeOld && oldImage ? { OldImage: oldImage } : {}),
        SequenceNumber: sequence.toString().padStart(21, '0'),
        SizeBytes: JSON.stringify(newImage ?? keys).length,
        StreamViewType: table.viewType,
      },
    };
    shards.get(table.streamArn)?.push(record);
    for (const consumer of consumers) if (consumer.subscription.streamArn === table.streamArn) consumer.wake();
  };

  const server: Server = createServer(async (request, response) => {
    try {
      const body = await readAll(request);
      const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      const input = WRITE_OPERATIONS.has(operation) ? (JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>) : undefined;
      const touched = input ? touchedKeys(operation, input, tables) : [];
      if (touched.length === 0) {
        const forwarded = await forward(target, request, body);
        response.writeHead(forwarded.status, forwarded.headers);
        response.end(forwarded.body);
        return;
      }
      const itemIds = touched.map(({ table, key }) => `${table.tableName}\u0000${JSON.stringify(key)}`);
      const previous = Promise.all(itemIds.map((id) => itemTails.get(id)));
      const run = previous.then(async () => {
        const before = await Promise.all(touched.map(({ table, key }) => readItem(client, table.tableName, key)));
        const forwarded = await forward(target, request, body);
        if (forwarded.status === 200) {
          const after = await Promise.all(touched.map(({ table, key }) => readItem(client, table.tableName, key)));
          touched.forEach(({ table, key }, i) => {
            const old = before[i];
            const current = after[i];
            if (current) append(table, old ? 'MODIFY' : 'INSERT', key, current, old);
            else if (old) append(table, 'REMOVE', key, undefined, old);
          });
        }
        return forwarded;
      });
      const settled = run.catch(() => undefined);
      for (const id of itemIds) itemTails.set(id, settled);
      void settled.then(() => {
        for (const id of itemIds) if (itemTails.get(id) === settled) itemTails.delete(id);
      });
      const forwarded = await run;
      response.writeHead(forwarded.status, forwarded.headers);
      response.end(forwarded.body);
    } catch (error) {
      logError(`proxy failed: ${(error as Error).message}`);
      response.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: (error as Error).message }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://${options.host ?? '127.0.0.1'}:${port}`,
    subscribe(subscription, lambda) {
      if (!byArn.has(subscription.streamArn)) throw new Error(`no streamed table has the stream ${subscription.streamArn}`);
      const consumer = new Consumer(subscription, shards.get(subscription.streamArn) as StreamRecord[], lambda, logError);
      consumers.push(consumer);
      consumer.wake();
    },
    async idle() {
      await Promise.all(itemTails.values());
      await Promise.all(consumers.map((consumer) => consumer.idle()));
    },
    async close() {
      for (const consumer of consumers) consumer.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      client.destroy();
    },
  };
}

/** Reads a mapping's batches off its shard and invokes the function with them, one batch at a time. */
class Consumer {
  private position = 0;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    readonly subscription: StreamSubscription,
    private readonly shard: readonly StreamRecord[],
    private readonly lambda: Pick<LocalLambdaService, 'invoke'>,
    private readonly logError: (message: string) => void,
  ) {}

  wake(): void {
    if (this.running || this.stopped) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.position < this.shard.length && !this.stopped) this.wake();
    });
  }

  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  stop(): void {
    this.stopped = true;
  }

  private async drain(): Promise<void> {
    const { subscription } = this;
    while (this.position < this.shard.length && !this.stopped) {
      if (this.shard.length - this.position < subscription.batchSize) {
        await sleep(Math.min(subscription.batchingWindowMs, MAX_LOCAL_BATCHING_WINDOW_MS));
      }
      const batch = this.shard.slice(this.position, this.position + subscription.batchSize);
      this.position += batch.length;
      const records = batch.filter((record) => subscription.filters.length === 0 || subscription.filters.some((pattern) => matchesPattern(pattern as Record<string, unknown>, record)));
      if (records.length === 0) continue;
      await this.invoke(records);
    }
  }

  private async invoke(records: readonly StreamRecord[]): Promise<void> {
    const { subscription } = this;
    const event = {
      Records: records,
      ...(subscription.tumblingWindowSeconds === undefined ? {} : tumblingFields(subscription, records)),
    };
    const attempts = subscription.retryAttempts < 0 ? LOCAL_MAX_RETRIES : Math.min(subscription.retryAttempts, LOCAL_MAX_RETRIES);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.lambda.invoke(subscription.functionName, subscription.qualifier, event);
        return;
      } catch (error) {
        if (attempt >= attempts || this.stopped) {
          this.logError(`${subscription.functionName}: dropped a batch of ${records.length} records after ${attempt + 1} attempts: ${(error as Error).message}`);
          return;
        }
        await sleep(100 * 2 ** attempt);
      }
    }
  }
}

function tumblingFields(subscription: StreamSubscription, records: readonly StreamRecord[]) {
  const size = (subscription.tumblingWindowSeconds as number) * 1000;
  const start = Math.floor(((records[0]?.dynamodb.ApproximateCreationDateTime ?? 0) * 1000) / size) * size;
  return {
    shardId: LOCAL_SHARD_ID,
    eventSourceARN: subscription.streamArn,
    window: { start: new Date(start).toISOString(), end: new Date(start + size).toISOString() },
    state: {},
    isFinalInvokeForWindow: false,
    isWindowTerminatedEarly: false,
  };
}

/** The items a write request touches on streamed tables, by key. */
function touchedKeys(operation: string, input: Record<string, unknown>, tables: ReadonlyMap<string, StreamedTable>): { table: StreamedTable; key: Record<string, AttributeValue> }[] {
  const keyOf = (table: StreamedTable, item: Record<string, AttributeValue>) =>
    Object.fromEntries(table.keys.map((name) => [name, item[name] as AttributeValue]));
  if (operation === 'BatchWriteItem') {
    const requests = (input.RequestItems ?? {}) as Record<string, { PutRequest?: { Item: Record<string, AttributeValue> }; DeleteRequest?: { Key: Record<string, AttributeValue> } }[]>;
    return Object.entries(requests).flatMap(([name, list]) => {
      const table = tables.get(name);
      if (!table) return [];
      return list.map((entry) => ({ table, key: keyOf(table, entry.PutRequest?.Item ?? entry.DeleteRequest?.Key ?? {}) }));
    });
  }
  const table = tables.get(String(input.TableName));
  if (!table) return [];
  const source = (operation === 'PutItem' ? input.Item : input.Key) as Record<string, AttributeValue> | undefined;
  return source ? [{ table, key: keyOf(table, source) }] : [];
}

async function readItem(client: DynamoDBClient, tableName: string, key: Record<string, AttributeValue>): Promise<Record<string, AttributeValue> | undefined> {
  const { Item } = await client.send(new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true }));
  return Item;
}

async function forward(target: URL, request: IncomingMessage, body: Buffer): Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { host: target.hostname, port: target.port, method: request.method, path: request.url, headers: { ...request.headers, host: target.host } },
      (incoming) => {
        readAll(incoming)
          .then((data) => resolve({ status: incoming.statusCode ?? 500, headers: incoming.headers as Record<string, string | string[]>, body: data }))
          .catch(reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The template's tables with a StreamSpecification, by physical name. */
export function streamedTablesFromTemplate(template: CfnTemplate, names: ReadonlyMap<string, string>, context: ResolutionContext): StreamedTable[] {
  return resourcesOfType(template, 'AWS::DynamoDB::Table').flatMap(([id, resource]) => {
    const properties = resource.Properties as { StreamSpecification?: { StreamViewType: StreamViewType }; KeySchema: { AttributeName: string; KeyType: string }[] };
    if (!properties.StreamSpecification) return [];
    const keys = [...properties.KeySchema].sort((a, b) => (a.KeyType === 'HASH' ? -1 : b.KeyType === 'HASH' ? 1 : 0)).map((k) => k.AttributeName);
    return [{ tableName: names.get(id) as string, streamArn: String(context.attributes.get(`${id}.StreamArn`)), viewType: properties.StreamSpecification.StreamViewType, keys }];
  });
}

/** The template's event source mappings on DynamoDB streams, resolved to local function names. */
export function streamSubscriptionsFromTemplate(template: CfnTemplate, context: ResolutionContext): StreamSubscription[] {
  return resourcesOfType(template, 'AWS::Lambda::EventSourceMapping').flatMap(([id, resource]) => {
    const properties = resource.Properties as {
      EventSourceArn?: unknown;
      FunctionName: unknown;
      BatchSize?: number;
      MaximumBatchingWindowInSeconds?: number;
      TumblingWindowInSeconds?: number;
      MaximumRetryAttempts?: number;
      FilterCriteria?: { Filters?: { Pattern: string }[] };
    };
    const streamArn = String(resolveValue(properties.EventSourceArn, context, `${id}.EventSourceArn`));
    if (!streamArn.includes(':dynamodb:')) return [];
    // A function name (Ref) or an ARN, possibly with a version or alias.
    const target = String(resolveValue(properties.FunctionName, context, `${id}.FunctionName`));
    const arn = /:function:([^:]+)(?::(.+))?$/.exec(target);
    const functionName = arn ? (arn[1] as string) : target;
    const qualifier = arn?.[2];
    return [
      {
        streamArn,
        functionName,
        ...(qualifier ? { qualifier } : {}),
        batchSize: properties.BatchSize ?? 100,
        batchingWindowMs: (properties.MaximumBatchingWindowInSeconds ?? 0) * 1000,
        ...(properties.TumblingWindowInSeconds ? { tumblingWindowSeconds: properties.TumblingWindowInSeconds } : {}),
        retryAttempts: properties.MaximumRetryAttempts ?? -1,
        filters: (properties.FilterCriteria?.Filters ?? []).map((filter) => JSON.parse(filter.Pattern) as unknown),
      },
    ];
  });
}
