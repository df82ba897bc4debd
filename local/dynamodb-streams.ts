// DynamoDB Streams for the local runtime. dynalite has no streams, so a small HTTP proxy sits in front of it:
// reads pass through unchanged, and every successful write to a table with a stream (PutItem, UpdateItem,
// DeleteItem, BatchWriteItem) appends a stream record. The proxy learns the item's old state from the write
// itself where DynamoDB can return it (ReturnValues ALL_OLD on PutItem and DeleteItem, ALL_NEW on UpdateItem,
// stripped from the answer when the caller did not ask for it) and reads only where it cannot (one read for an
// UpdateItem, one BatchGetItem for a BatchWriteItem). Concurrent plain PutItems to a table are committed
// together (group commit: one BatchGetItem and one BatchWriteItem of up to 25 items), each answered only once
// its batch is stored. Records are delivered in batches to the functions the template subscribes with
// AWS::Lambda::EventSourceMapping, through the local Lambda service, one batch at a time per mapping and in
// order, filtered, retried on failure — the parts of Lambda's stream polling the monitoring code relies on.
// docs/local-runtime.md describes the proxy; docs/monitoring.md lists what differs from the service.
import { randomBytes, randomUUID } from 'node:crypto';
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { LocalService } from './aws-services';
import { matchesPattern } from './event-pattern';
import type { LocalLambdaService } from './lambda-service';

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
  /** LATEST: only records written after the mapping is created; TRIM_HORIZON (default): every record still held. */
  readonly startingPosition?: 'LATEST' | 'TRIM_HORIZON';
  /**
   * FunctionResponseTypes has ReportBatchItemFailures: the function's `batchItemFailures` name the first record
   * it could not process; the records before it are done and the batch is delivered again from it.
   */
  readonly reportBatchItemFailures?: boolean;
  /** BisectBatchOnFunctionError: a batch whose invocation fails is halved and each half delivered (not counted as a retry). */
  readonly bisectOnError?: boolean;
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
/** DynamoDB's limits: items per BatchWriteItem, keys per BatchGetItem. */
const BATCH_WRITE_LIMIT = 25;
const BATCH_GET_LIMIT = 100;
/** Retries of a group commit's unprocessed items before they are written one by one. */
const UNPROCESSED_RETRIES = 3;

export interface GroupCommitOptions {
  /** Items per BatchWriteItem, at most 25 (default 25). */
  readonly maxBatchItems?: number;
  /** Batches of one table in flight at once (default 2); puts arriving meanwhile wait for the next batch. */
  readonly maxInFlight?: number;
}

/** What the proxy sent to dynalite, for tests and benchmarks. */
export interface DynamoDbStreamsStats {
  /** Writes the proxy recorded: PutItem, UpdateItem, DeleteItem, BatchWriteItem requests of its callers. */
  readonly writeRequests: number;
  /** PutItems committed in a group (BatchWriteItem of two or more). */
  readonly groupedPuts: number;
  /** BatchWriteItem requests a group commit sent, and how many of them failed as a whole (then written one by one). */
  readonly groupBatches: number;
  readonly failedGroupBatches: number;
  /** Reads the proxy made itself to build records (GetItem, BatchGetItem). */
  readonly reads: number;
  /** Records every mapping dropped after their retries, summed over the mappings. */
  readonly discardedRecords: number;
  /** Records the shards hold now (unread by some mapping), and how many were trimmed before a mapping read them. */
  readonly retainedRecords: number;
  readonly trimmedUnread: number;
}

export interface LocalDynamoDbStreams extends LocalService {
  /** Writes to this table produce records from now on (a table created with a StreamSpecification). */
  addTable(table: StreamedTable): void;
  /** The table's stream ends (the table was deleted): its mappings stop. */
  removeTable(tableName: string): void;
  /** Delivers the table's future records to a function; returns what ends the delivery (DeleteEventSourceMapping). */
  subscribe(subscription: StreamSubscription, lambda: Pick<LocalLambdaService, 'invoke'>): () => void;
  /** Resolves when every record written so far has been delivered (or dropped after its retries). */
  idle(): Promise<void>;
  stats(): DynamoDbStreamsStats;
}

type Item = Record<string, AttributeValue>;
type Headers = Record<string, string | string[]>;
/** An HTTP answer as dynalite gave it (or as the proxy composes it for a caller). */
interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
}

/** One item a write request touches on a streamed table. */
interface Touched {
  readonly table: StreamedTable;
  readonly key: Item;
  /** Identifies the item across requests: table name and normalised key. */
  readonly id: string;
  /** The item a put writes; undefined for a delete or an update. */
  readonly item?: Item;
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
  /** Group commit of concurrent plain PutItems (default on); false writes each PutItem on its own. */
  readonly groupCommit?: GroupCommitOptions | false;
  /** Records a table's shard holds at most (its retention as a count). @default SHARD_RETENTION_RECORDS */
  readonly shardRetentionRecords?: number;
}): Promise<LocalDynamoDbStreams> {
  const tables = new Map(options.tables.map((table) => [table.tableName, table]));
  const byArn = new Map(options.tables.map((table) => [table.streamArn, table]));
  const dynalite = new DynaliteConnection(options.target);
  const logError = options.onError ?? ((message: string) => console.error(`local DynamoDB streams: ${message}`));
  const shards = new Map<string, Shard>(options.tables.map((table) => [table.streamArn, new Shard(table.tableName, logError, options.shardRetentionRecords)]));
  const consumers: Consumer[] = [];
  const stats = { writeRequests: 0, groupedPuts: 0, groupBatches: 0, failedGroupBatches: 0, reads: 0 };
  let sequence = 0n;
  // Writes to the same item pass one at a time, so its records come in the order of its writes (the order
  // DynamoDB Streams guarantees, per item); writes to different items run concurrently.
  const itemTails = new Map<string, Promise<unknown>>();

  const append = (table: StreamedTable, eventName: StreamRecord['eventName'], keys: Item, newImage?: Item, oldImage?: Item) => {
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
  /** The record of a put, given the item it replaced (if any). */
  const appendPut = (touched: Touched, old: Item | undefined) => {
    const item = normalizeItem(touched.item as Item);
    append(touched.table, old ? 'MODIFY' : 'INSERT', keyOf(touched.table, item), item, old);
  };

  /** Reads the current items (consistently), by id: whole items when a view needs the old image, else keys only. */
  const readItems = async (touched: readonly Touched[], headers: IncomingHttpHeaders): Promise<Map<string, Item>> => {
    const found = new Map<string, Item>();
    const byTable = new Map<StreamedTable, Touched[]>();
    for (const t of touched) byTable.set(t.table, [...(byTable.get(t.table) ?? []), t]);
    for (const [table, list] of byTable) {
      for (let i = 0; i < list.length; i += BATCH_GET_LIMIT) {
        let keys: Item[] = list.slice(i, i + BATCH_GET_LIMIT).map((t) => t.key);
        for (let attempt = 0; keys.length > 0; attempt++) {
          if (attempt > UNPROCESSED_RETRIES) throw new Error(`BatchGetItem left ${keys.length} keys of ${table.tableName} unprocessed`);
          if (attempt > 0) await sleep(10 * 4 ** (attempt - 1));
          stats.reads++;
          const output = await dynalite.call('BatchGetItem', { RequestItems: { [table.tableName]: { Keys: keys, ConsistentRead: true, ...projection(table) } } }, headers);
          const page = output as { Responses?: Record<string, Item[]>; UnprocessedKeys?: Record<string, { Keys?: Item[] }> };
          for (const item of page.Responses?.[table.tableName] ?? []) found.set(itemId(table, keyOf(table, item)), item);
          keys = page.UnprocessedKeys?.[table.tableName]?.Keys ?? [];
        }
      }
    }
    return found;
  };
  /** Reads one item (consistently): keys only when the view needs no old image, unless `whole` asks for all of it. */
  const readItem = async (touched: Touched, headers: IncomingHttpHeaders, whole = false): Promise<Item | undefined> => {
    stats.reads++;
    const output = (await dynalite.call(
      'GetItem',
      { TableName: touched.table.tableName, Key: touched.key, ConsistentRead: true, ...(whole ? {} : projection(touched.table)) },
      headers,
    )) as { Item?: Item };
    return output.Item;
  };

  /** PutItem or DeleteItem, with ReturnValues ALL_OLD: the old item comes with the answer, no read needed. */
  const writeReturningOld = async (operation: 'PutItem' | 'DeleteItem', input: Record<string, unknown>, touched: Touched, headers: IncomingHttpHeaders): Promise<Answer> => {
    const asked = input.ReturnValues ?? 'NONE';
    const added = asked === 'NONE';
    const answer = await dynalite.send(added ? { ...input, ReturnValues: 'ALL_OLD' } : input, headers);
    if (answer.status !== 200) return answer;
    const output = JSON.parse(answer.body.toString('utf8')) as { Attributes?: Item };
    const old = asked === 'ALL_OLD' || added ? output.Attributes : undefined;
    if (operation === 'PutItem') appendPut(touched, old);
    else if (old) append(touched.table, 'REMOVE', touched.key, undefined, old);
    if (!added || output.Attributes === undefined) return answer;
    delete output.Attributes;
    return rewritten(answer, output);
  };

  /**
   * The proxy's own read before a write. When dynalite refuses it (a key of the wrong type, an unknown table),
   * it would refuse the write too: the caller gets dynalite's answer to the write itself, not an internal error.
   */
  const refusedRead = async <T>(read: () => Promise<T>, headers: IncomingHttpHeaders, body: Buffer): Promise<{ item: T } | Answer> => {
    try {
      return { item: await read() };
    } catch (error) {
      const answer = await dynalite.forward(headers, body);
      if (answer.status !== 200) return answer;
      throw new Error(`the write succeeded but its stream record is lost: the read before it failed: ${(error as Error).message}`);
    }
  };

  /** UpdateItem: the new item comes with the answer (ALL_NEW); whether there was an old one takes one read. */
  const updateItem = async (input: Record<string, unknown>, touched: Touched, headers: IncomingHttpHeaders, body: Buffer): Promise<Answer> => {
    const asked = String(input.ReturnValues ?? 'NONE');
    const needsBefore = asked !== 'ALL_OLD';
    const needsAfter = asked !== 'NONE' && asked !== 'ALL_NEW';
    let old: Item | undefined;
    if (needsBefore) {
      const read = await refusedRead(() => readItem(touched, headers), headers, body);
      if ('status' in read) return read;
      old = read.item;
    }
    const added = asked === 'NONE';
    const answer = await dynalite.send(added ? { ...input, ReturnValues: 'ALL_NEW' } : input, headers);
    if (answer.status !== 200) return answer;
    const output = JSON.parse(answer.body.toString('utf8')) as { Attributes?: Item };
    const before = asked === 'ALL_OLD' ? output.Attributes : old;
    const after = asked === 'NONE' || asked === 'ALL_NEW' ? output.Attributes : needsAfter ? await readItem(touched, headers, true) : undefined;
    if (after) append(touched.table, before ? 'MODIFY' : 'INSERT', touched.key, after, before);
    if (!added) return answer;
    delete output.Attributes;
    return rewritten(answer, output);
  };

  /** A caller's BatchWriteItem: one BatchGetItem for the old items, then the write as the caller sent it. */
  const batchWrite = async (touched: readonly Touched[], headers: IncomingHttpHeaders, body: Buffer): Promise<Answer> => {
    const read = await refusedRead(() => readItems(touched, headers), headers, body);
    if ('status' in read) return read;
    const before = read.item;
    const answer = await dynalite.forward(headers, body);
    if (answer.status !== 200) return answer;
    const output = JSON.parse(answer.body.toString('utf8')) as { UnprocessedItems?: Record<string, { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[]> };
    const unprocessed = new Set(
      Object.entries(output.UnprocessedItems ?? {}).flatMap(([name, list]) => {
        const table = tables.get(name);
        return table ? list.map((entry) => itemId(table, keyOf(table, entry.PutRequest?.Item ?? entry.DeleteRequest?.Key ?? {}))) : [];
      }),
    );
    for (const t of touched) {
      if (unprocessed.has(t.id)) continue;
      const old = before.get(t.id);
      if (t.item) appendPut(t, old);
      else if (old) append(t.table, 'REMOVE', t.key, undefined, old);
    }
    return answer;
  };

  const groups = new Map<string, GroupCommit>();
  const group =
    options.groupCommit === false
      ? undefined
      : { maxBatchItems: Math.min(options.groupCommit?.maxBatchItems ?? BATCH_WRITE_LIMIT, BATCH_WRITE_LIMIT), maxInFlight: options.groupCommit?.maxInFlight ?? 2 };
  /** Commits a batch of plain PutItems of one table: one BatchGetItem (old items) and one BatchWriteItem. */
  const commit = async (batch: readonly PendingPut[]): Promise<void> => {
    if (batch.length === 1) {
      const [only] = batch as [PendingPut];
      await writeReturningOld('PutItem', only.input, only.touched, only.headers).then(only.resolve, only.reject);
      return;
    }
    const { table } = (batch[0] as PendingPut).touched;
    const headers = (batch[0] as PendingPut).headers;
    let pending = [...batch];
    let failed = false;
    try {
      const before = await readItems(
        batch.map((p) => p.touched),
        headers,
      );
      for (let attempt = 0; pending.length > 0 && attempt <= UNPROCESSED_RETRIES; attempt++) {
        if (attempt > 0) await sleep(10 * 4 ** (attempt - 1));
        stats.groupBatches++;
        const answer = await dynalite.send({ RequestItems: { [table.tableName]: pending.map((p) => ({ PutRequest: { Item: p.touched.item } })) } }, headers, 'BatchWriteItem');
        if (answer.status !== 200) {
          failed = true;
          break;
        }
        const output = JSON.parse(answer.body.toString('utf8')) as { UnprocessedItems?: Record<string, { PutRequest?: { Item: Item } }[]> };
        const left = new Set((output.UnprocessedItems?.[table.tableName] ?? []).map((entry) => itemId(table, keyOf(table, entry.PutRequest?.Item ?? {}))));
        for (const p of pending) {
          if (left.has(p.touched.id)) continue;
          stats.groupedPuts++;
          appendPut(p.touched, before.get(p.touched.id));
          p.resolve(emptyAnswer());
        }
        pending = pending.filter((p) => left.has(p.touched.id));
      }
    } catch {
      failed = true; // e.g. an item dynalite refuses fails the BatchGetItem: the puts below get their own answers
    }
    if (failed) stats.failedGroupBatches++;
    // Whatever the batch did not store (it failed as a whole, or left items unprocessed) is written one by one,
    // so each caller gets its own answer or error.
    await Promise.all(pending.map((p) => writeReturningOld('PutItem', p.input, p.touched, p.headers).then(p.resolve, p.reject)));
  };

  /** Writes a request touching streamed items, once earlier writes to the same items are done. */
  const write = async (operation: string, input: Record<string, unknown>, touched: readonly Touched[], headers: IncomingHttpHeaders, body: Buffer): Promise<Answer> => {
    stats.writeRequests++;
    const previous = touched.length === 1 ? itemTails.get((touched[0] as Touched).id) : Promise.all(touched.map((t) => itemTails.get(t.id)));
    const run = Promise.resolve(previous).then((): Promise<Answer> => {
      const [first] = touched as [Touched];
      if (operation === 'PutItem') {
        if (group && isPlainPut(input, first)) {
          let commitGroup = groups.get(first.table.tableName);
          if (!commitGroup) groups.set(first.table.tableName, (commitGroup = new GroupCommit(group.maxBatchItems, group.maxInFlight, commit)));
          return commitGroup.put({ input, touched: first, headers });
        }
        return writeReturningOld('PutItem', input, first, headers);
      }
      if (operation === 'DeleteItem') return writeReturningOld('DeleteItem', input, first, headers);
      if (operation === 'UpdateItem') return updateItem(input, first, headers, body);
      return batchWrite(touched, headers, body);
    });
    const settled = run.catch(() => undefined);
    for (const t of touched) itemTails.set(t.id, settled);
    void settled.then(() => {
      for (const t of touched) if (itemTails.get(t.id) === settled) itemTails.delete(t.id);
    });
    return run;
  };

  const server: Server = createServer(async (request, response) => {
    try {
      const body = await readAll(request);
      const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      let answer: Answer | undefined;
      if (WRITE_OPERATIONS.has(operation)) {
        const input = parseObject(body);
        const touched = input ? touchedItems(operation, input, tables) : [];
        if (input && touched.length > 0) answer = await write(operation, input, touched, request.headers, body);
      }
      answer ??= await dynalite.forward(request.headers, body, request.url, request.method);
      response.writeHead(answer.status, answer.headers);
      response.end(answer.body);
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
    addTable(table) {
      tables.set(table.tableName, table);
      byArn.set(table.streamArn, table);
      if (!shards.has(table.streamArn)) shards.set(table.streamArn, new Shard(table.tableName, logError));
    },
    removeTable(tableName) {
      const table = tables.get(tableName);
      if (!table) return;
      tables.delete(tableName);
      byArn.delete(table.streamArn);
      shards.delete(table.streamArn);
      for (const consumer of consumers.filter((c) => c.subscription.streamArn === table.streamArn)) consumer.stop();
    },
    subscribe(subscription, lambda) {
      if (!byArn.has(subscription.streamArn)) throw new Error(`no streamed table has the stream ${subscription.streamArn}`);
      const shard = shards.get(subscription.streamArn) as Shard;
      const consumer = new Consumer(subscription, shard, lambda, logError);
      if (subscription.startingPosition === 'LATEST') consumer.position = shard.end;
      consumers.push(consumer);
      consumer.wake();
      return () => {
        consumer.stop();
        consumers.splice(consumers.indexOf(consumer), 1);
      };
    },
    async idle() {
      await Promise.all(itemTails.values());
      await Promise.all(consumers.map((consumer) => consumer.idle()));
    },
    stats: () => ({
      ...stats,
      discardedRecords: consumers.reduce((sum, consumer) => sum + consumer.discarded, 0),
      retainedRecords: [...shards.values()].reduce((sum, shard) => sum + shard.held, 0),
      trimmedUnread: [...shards.values()].reduce((sum, shard) => sum + shard.trimmedUnread, 0),
    }),
    async close() {
      for (const consumer of consumers) consumer.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      dynalite.close();
    },
  };
}

interface PendingPut {
  readonly input: Record<string, unknown>;
  readonly touched: Touched;
  readonly headers: IncomingHttpHeaders;
  resolve(answer: Answer): void;
  reject(error: unknown): void;
}

/**
 * The queue of one table's plain PutItems. Puts that arrive while the event loop turns are committed together
 * at the end of the turn; while `maxInFlight` batches are being stored, new puts wait and form the next batch
 * (the busier the table, the larger its batches). A put resolves only once its batch is stored.
 */
class GroupCommit {
  private readonly queue: PendingPut[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly maxBatchItems: number,
    private readonly maxInFlight: number,
    private readonly commit: (batch: readonly PendingPut[]) => Promise<void>,
  ) {}

  put(put: Omit<PendingPut, 'resolve' | 'reject'>): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      this.queue.push({ ...put, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
        const batch = this.queue.splice(0, this.maxBatchItems);
        this.inFlight++;
        void this.commit(batch)
          .catch((error: unknown) => {
            for (const put of batch) put.reject(error);
          })
          .finally(() => {
            this.inFlight--;
            this.schedule();
          });
      }
    });
  }
}

/**
 * The local stream's retention, as a count: DynamoDB Streams trims a record 24 hours after it was written;
 * locally a table's shard holds at most this many records and trims the oldest beyond them. A mapping that
 * had not read a trimmed record loses it, as a mapping more than 24 hours behind does on AWS (logged, and
 * counted in stats().trimmedUnread). A stream record of a prediction takes a few kilobytes: 100,000 of
 * them bound the local runtime's memory to a few hundred megabytes however far its consumers fall behind,
 * where 24 hours of records would be millions (docs/local-runtime.md).
 */
export const SHARD_RETENTION_RECORDS = 100_000;
/** The most records a shard drops at once (and at most an eighth of its retention). */
const MAX_DROP_STEP = 1024;

/** A mapping's place in a shard: the absolute position of the next record it reads. */
export interface ShardReader {
  readonly position: number;
  /** Who reads (the mapping's function), for the log. */
  readonly name: string;
}

/**
 * A table's records in order. Positions are absolute (the n-th record ever appended). Records every
 * subscribed mapping has read are dropped, and the shard never holds more than its retention, so a
 * long-running stack under load keeps only what is still unread, and at most that.
 */
export class Shard {
  private records: StreamRecord[] = [];
  /** Absolute position of records[0]. */
  private base = 0;
  private readonly readers = new Set<ShardReader>();
  private readonly warned = new Set<string>();
  /** Records trimmed before some mapping had read them. */
  trimmedUnread = 0;
  /** Records dropped at once: the array is cut in steps, not shifted on every write or batch. */
  private readonly step: number;

  constructor(
    private readonly tableName: string,
    private readonly logError: (message: string) => void,
    private readonly retention = SHARD_RETENTION_RECORDS,
  ) {
    this.step = Math.min(MAX_DROP_STEP, Math.ceil(retention / 8));
  }

  /** Position after the last record. */
  get end(): number {
    return this.base + this.records.length;
  }

  /** Records still held: what some mapping has not read yet, at most the retention. */
  get held(): number {
    return this.records.length;
  }

  push(record: StreamRecord): void {
    this.records.push(record);
    if (this.records.length > this.retention) this.trim(this.end - (this.retention - this.step));
  }

  /** Records from `from` (absolute) on, at most `count`; a reader that fell behind a trim starts at the oldest held. */
  read(from: number, count: number): { records: StreamRecord[]; next: number } {
    const start = Math.max(from, this.base);
    const records = this.records.slice(start - this.base, start - this.base + count);
    return { records, next: start + records.length };
  }

  addReader(reader: ShardReader): void {
    this.readers.add(reader);
  }

  removeReader(reader: ShardReader): void {
    this.readers.delete(reader);
  }

  /** Drops what every reader has passed. */
  compact(): void {
    let lowest = Number.POSITIVE_INFINITY;
    for (const reader of this.readers) lowest = Math.min(lowest, reader.position);
    if (lowest !== Number.POSITIVE_INFINITY && lowest - this.base >= this.step) this.drop(lowest);
  }

  /** Drops the records before `upTo` past the retention, saying (once per reader) who had not read them. */
  private trim(upTo: number): void {
    const unread = [...this.readers].filter((reader) => reader.position < upTo);
    if (this.readers.size === 0 && !this.warned.has('')) {
      this.warned.add('');
      this.logError(`${this.tableName}: no mapping reads this stream; keeping its newest ${this.retention} records`);
    }
    for (const reader of unread) {
      this.trimmedUnread += upTo - Math.max(reader.position, this.base);
      if (this.warned.has(reader.name)) continue;
      this.warned.add(reader.name);
      this.logError(
        `${this.tableName}: the stream holds at most ${this.retention} records (its local retention; 24 hours on AWS): ${reader.name} fell behind and loses the oldest it had not read`,
      );
    }
    this.drop(upTo);
  }

  private drop(upTo: number): void {
    this.records = this.records.slice(upTo - this.base);
    this.base = upTo;
  }
}

/** Reads a mapping's batches off its shard and invokes the function with them, one batch at a time. */
class Consumer implements ShardReader {
  position = 0;
  /** Records dropped after their retries (what AWS sends to the on-failure destination). */
  discarded = 0;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    readonly subscription: StreamSubscription,
    private readonly shard: Shard,
    private readonly lambda: Pick<LocalLambdaService, 'invoke'>,
    private readonly logError: (message: string) => void,
  ) {
    shard.addReader(this);
  }

  get name(): string {
    return this.subscription.functionName;
  }

  wake(): void {
    if (this.running || this.stopped) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.position < this.shard.end && !this.stopped) this.wake();
    });
  }

  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  stop(): void {
    this.stopped = true;
    this.shard.removeReader(this);
  }

  private async drain(): Promise<void> {
    const { subscription } = this;
    while (this.position < this.shard.end && !this.stopped) {
      if (this.shard.end - this.position < subscription.batchSize) {
        await sleep(Math.min(subscription.batchingWindowMs, MAX_LOCAL_BATCHING_WINDOW_MS));
      }
      const { records: batch, next } = this.shard.read(this.position, subscription.batchSize);
      this.position = next;
      this.shard.compact();
      const records = batch.filter(
        (record) => subscription.filters.length === 0 || subscription.filters.some((pattern) => matchesPattern(pattern as Record<string, unknown>, record)),
      );
      if (records.length === 0) continue;
      await this.invoke(records);
    }
  }

  /**
   * Delivers a batch as Lambda's stream polling does: a failed invocation is retried (halved first with
   * bisectOnError); with reportBatchItemFailures a partial answer completes the records before the first it
   * names and delivers the rest again. A batch out of retries is dropped (logged: the on-failure destination).
   */
  private async invoke(records: readonly StreamRecord[], attempt = 0): Promise<void> {
    const { subscription } = this;
    const event = {
      Records: records,
      ...(subscription.tumblingWindowSeconds === undefined ? {} : tumblingFields(subscription, records)),
    };
    let outcome: BatchOutcome;
    try {
      const { result } = await this.lambda.invoke(subscription.functionName, subscription.qualifier, event);
      outcome = subscription.reportBatchItemFailures ? partialOutcome(result, records) : { done: true };
    } catch (error) {
      outcome = { error: (error as Error).message };
    }
    if ('done' in outcome) return;
    if ('error' in outcome && subscription.bisectOnError && records.length > 1) {
      const middle = Math.ceil(records.length / 2);
      await this.invoke(records.slice(0, middle), attempt);
      await this.invoke(records.slice(middle), attempt);
      return;
    }
    const rest = 'failedAt' in outcome ? records.slice(outcome.failedAt) : records;
    const reason = 'error' in outcome ? outcome.error : outcome.reason;
    const retries = subscription.retryAttempts < 0 ? LOCAL_MAX_RETRIES : Math.min(subscription.retryAttempts, LOCAL_MAX_RETRIES);
    if (attempt >= retries || this.stopped) {
      this.discarded += rest.length;
      const range = `${rest[0]?.dynamodb.SequenceNumber}..${rest[rest.length - 1]?.dynamodb.SequenceNumber}`;
      this.logError(`${subscription.functionName}: dropped ${rest.length} records (${range}) after ${attempt + 1} attempts (on AWS: to the on-failure destination): ${reason}`);
      return;
    }
    await sleep(100 * 2 ** attempt);
    await this.invoke(rest, attempt + 1);
  }
}

type BatchOutcome = { readonly done: true } | { readonly error: string } | { readonly failedAt: number; readonly reason: string };

/**
 * A function's answer under ReportBatchItemFailures: done when `batchItemFailures` is absent or empty; else the
 * position of the lowest sequence number it names. An identifier that is not one of the batch's sequence
 * numbers fails the whole batch, as on AWS.
 */
function partialOutcome(result: unknown, records: readonly StreamRecord[]): BatchOutcome {
  const failures = (result as { batchItemFailures?: unknown } | null | undefined)?.batchItemFailures;
  if (failures === undefined || failures === null || (Array.isArray(failures) && failures.length === 0)) return { done: true };
  const positions = Array.isArray(failures)
    ? failures.map((failure) => records.findIndex((r) => r.dynamodb.SequenceNumber === (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier))
    : [-1];
  if (positions.includes(-1)) return { error: `batchItemFailures names no record of the batch: ${JSON.stringify(failures).slice(0, 200)}` };
  const failedAt = Math.min(...positions);
  return { failedAt, reason: `the function reported record ${records[failedAt]?.dynamodb.SequenceNumber} failed` };
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

/** The items a write request touches on streamed tables, with their normalised keys (and, for a put, the item). */
function touchedItems(operation: string, input: Record<string, unknown>, tables: ReadonlyMap<string, StreamedTable>): Touched[] {
  const touched = (table: StreamedTable, source: Item, isPut: boolean): Touched => {
    const key = normalizeItem(keyOf(table, source), true);
    return { table, key, id: itemId(table, key), ...(isPut ? { item: source } : {}) };
  };
  if (operation === 'BatchWriteItem') {
    const requests = (input.RequestItems ?? {}) as Record<string, { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[]>;
    return Object.entries(requests).flatMap(([name, list]) => {
      const table = tables.get(name);
      if (!table || !Array.isArray(list)) return [];
      return list.map((entry) => touched(table, entry?.PutRequest?.Item ?? entry?.DeleteRequest?.Key ?? {}, entry?.PutRequest !== undefined));
    });
  }
  const table = tables.get(String(input.TableName));
  if (!table) return [];
  const source = (operation === 'PutItem' ? input.Item : input.Key) as Item | undefined;
  return source && typeof source === 'object' ? [touched(table, source, operation === 'PutItem')] : [];
}

/**
 * A PutItem the proxy may commit in a group: nothing but the table and the item (ReturnValues and the
 * capacity reports at NONE), with its key attributes present.
 */
function isPlainPut(input: Record<string, unknown>, touched: Touched): boolean {
  const plain = Object.entries(input).every(
    ([name, value]) =>
      name === 'TableName' || name === 'Item' || ((name === 'ReturnValues' || name === 'ReturnConsumedCapacity' || name === 'ReturnItemCollectionMetrics') && value === 'NONE'),
  );
  return plain && touched.item !== undefined && touched.table.keys.every((name) => touched.key[name] !== undefined);
}

function keyOf(table: StreamedTable, item: Item): Item {
  const key: Item = {};
  for (const name of table.keys) key[name] = item[name] as AttributeValue;
  return key;
}

function itemId(table: StreamedTable, key: Item): string {
  return `${table.tableName}\u0000${JSON.stringify(key)}`;
}

/** Reads of the proxy's own: whole items when the view carries old images, else only the keys (existence). */
function projection(table: StreamedTable): { ProjectionExpression?: string; ExpressionAttributeNames?: Record<string, string> } {
  if (table.viewType === 'OLD_IMAGE' || table.viewType === 'NEW_AND_OLD_IMAGES') return {};
  return { ProjectionExpression: table.keys.map((_, i) => `#k${i}`).join(', '), ExpressionAttributeNames: Object.fromEntries(table.keys.map((name, i) => [`#k${i}`, name])) };
}

// dynalite stores numbers in the canonical form big.js prints (as DynamoDB does: "1.50" is stored as "1.5",
// "1e2" as "100"); images built from a request's item are normalised the same way, with dynalite's own big.js.
const Big = createRequire(createRequire(import.meta.url).resolve('dynalite'))('big.js') as (value: string) => { toFixed(): string };

function canonicalNumber(value: string, lenient: boolean): string {
  try {
    return Big(value).toFixed();
  } catch (error) {
    if (lenient) return value; // not a number: dynalite will refuse the request
    throw error;
  }
}

/** The item as dynalite stores it: numbers (N, NS, nested in M and L) in canonical form. */
function normalizeItem(item: Item, lenient = false): Item {
  const normalized: Item = {};
  for (const [name, value] of Object.entries(item)) normalized[name] = value === undefined ? value : normalizeValue(value, lenient);
  return normalized;
}

function normalizeValue(value: AttributeValue, lenient: boolean): AttributeValue {
  if (value.N !== undefined) return { N: canonicalNumber(value.N, lenient) };
  if (value.NS !== undefined) return { NS: value.NS.map((n) => canonicalNumber(n, lenient)) };
  if (value.M !== undefined) return { M: normalizeItem(value.M, lenient) };
  if (value.L !== undefined) return { L: value.L.map((v) => normalizeValue(v, lenient)) };
  return value;
}

function parseObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8') || '{}') as unknown;
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // dynalite answers the SerializationException
  }
}

/** An answer with a changed body (ReturnValues the caller did not ask for, stripped): length and checksum follow. */
function rewritten(answer: Answer, output: unknown): Answer {
  const body = Buffer.from(JSON.stringify(output));
  return { status: answer.status, headers: { ...answer.headers, 'content-length': String(body.length), 'x-amz-crc32': String(crc32(body)) }, body };
}

const EMPTY_OUTPUT = Buffer.from('{}');

/** What dynalite answers a plain PutItem: `{}`, with DynamoDB's headers. */
function emptyAnswer(): Answer {
  const requestId = randomBytes(39).toString('base64').toUpperCase().replace(/\+|\//g, '0');
  return {
    status: 200,
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'content-length': String(EMPTY_OUTPUT.length),
      'x-amz-crc32': String(crc32(EMPTY_OUTPUT)),
      'x-amzn-requestid': requestId,
    },
    body: EMPTY_OUTPUT,
  };
}

/** HTTP to dynalite over kept-alive connections, with the caller's headers (dynalite checks their form, not the signature). */
class DynaliteConnection {
  private readonly url: URL;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });

  constructor(target: string) {
    this.url = new URL(target);
  }

  /** `input` as the body of the caller's request, or of `operation` when given. */
  send(input: unknown, headers: IncomingHttpHeaders, operation?: string): Promise<Answer> {
    const target = operation ? { 'x-amz-target': `DynamoDB_20120810.${operation}` } : {};
    return this.forward({ ...headers, ...target }, Buffer.from(JSON.stringify(input)));
  }

  /** An operation of the proxy's own; rejects unless dynalite answers 200. */
  async call(operation: string, input: unknown, headers: IncomingHttpHeaders): Promise<unknown> {
    const answer = await this.send(input, headers, operation);
    if (answer.status !== 200) throw new Error(`${operation} answered ${answer.status}: ${answer.body.toString('utf8')}`);
    return JSON.parse(answer.body.toString('utf8')) as unknown;
  }

  forward(headers: IncomingHttpHeaders, body: Buffer, path = '/', method = 'POST'): Promise<Answer> {
    const outgoingHeaders: IncomingHttpHeaders = { ...headers, host: this.url.host, 'content-length': String(body.length) };
    delete outgoingHeaders['transfer-encoding'];
    const attempt = (): Promise<Answer> =>
      new Promise((resolve, reject) => {
        const outgoing = httpRequest({ host: this.url.hostname, port: this.url.port, method, path, headers: outgoingHeaders, agent: this.agent }, (incoming: IncomingMessage) => {
          readAll(incoming)
            .then((data) => resolve({ status: incoming.statusCode ?? 500, headers: incoming.headers as Headers, body: data }))
            .catch(reject);
        });
        outgoing.on('error', (error: NodeJS.ErrnoException) => {
          // A kept-alive socket dynalite closed as idle just as the request went out: the request never
          // reached it, so sending it again on a fresh socket is safe, writes included (Node's documented idiom).
          if (outgoing.reusedSocket && error.code === 'ECONNRESET') attempt().then(resolve, reject);
          else reject(error);
        });
        outgoing.end(body);
      });
    return attempt();
  }

  close(): void {
    this.agent.destroy();
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The stream of an AWS::DynamoDB::Table (resolved properties), if it has a StreamSpecification. */
export function streamedTable(tableName: string, streamArn: string, properties: Readonly<Record<string, unknown>>): StreamedTable | undefined {
  const { StreamSpecification, KeySchema } = properties as { StreamSpecification?: { StreamViewType: StreamViewType }; KeySchema: { AttributeName: string; KeyType: string }[] };
  if (!StreamSpecification) return undefined;
  const keys = [...KeySchema].sort((a, b) => (a.KeyType === 'HASH' ? -1 : b.KeyType === 'HASH' ? 1 : 0)).map((k) => k.AttributeName);
  return { tableName, streamArn, viewType: StreamSpecification.StreamViewType, keys };
}

/** An AWS::Lambda::EventSourceMapping (resolved properties) on a DynamoDB stream, its function as a local name and qualifier. */
export function streamSubscription(properties: Readonly<Record<string, unknown>>): StreamSubscription {
  const p = properties as {
    EventSourceArn?: string;
    FunctionName: string;
    BatchSize?: number;
    MaximumBatchingWindowInSeconds?: number;
    TumblingWindowInSeconds?: number;
    MaximumRetryAttempts?: number;
    StartingPosition?: string;
    FunctionResponseTypes?: string[];
    BisectBatchOnFunctionError?: boolean;
    FilterCriteria?: { Filters?: { Pattern: string }[] };
  };
  // A function name or an ARN, possibly with a version or alias.
  const arn = /:function:([^:]+)(?::(.+))?$/.exec(p.FunctionName);
  return {
    streamArn: String(p.EventSourceArn),
    functionName: arn ? (arn[1] as string) : p.FunctionName,
    ...(arn?.[2] ? { qualifier: arn[2] } : {}),
    batchSize: Number(p.BatchSize ?? 100),
    batchingWindowMs: Number(p.MaximumBatchingWindowInSeconds ?? 0) * 1000,
    ...(p.TumblingWindowInSeconds ? { tumblingWindowSeconds: Number(p.TumblingWindowInSeconds) } : {}),
    retryAttempts: Number(p.MaximumRetryAttempts ?? -1),
    ...(p.StartingPosition === 'LATEST' ? { startingPosition: 'LATEST' as const } : {}),
    reportBatchItemFailures: (p.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'),
    bisectOnError: p.BisectBatchOnFunctionError === true,
    filters: (p.FilterCriteria?.Filters ?? []).map((filter) => JSON.parse(filter.Pattern) as unknown),
  };
}
