// The model registry in DynamoDB (lib/model-registry-table.ts). Keys:
//   model (S, partition)  item (S, sort): "VERSION#<version>" | "MODEL" | "LOCK"
//   sequenceKey (S): on version items only, the zero-padded registration number: the `bySequence` local index
//                    lists a model's versions newest first.
// Every status change is checked against core/promotion/status.ts and written with a condition on the status
// it was read in, so two writers cannot both move a version.
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { LockRecord, ModelRecord, RoutingState, VersionRecord, HistoryEntry } from '../core/pipeline/registry-types';
import { transition } from '../core/promotion/status';

export const REGISTRY_KEYS = {
  partition: 'model',
  sort: 'item',
  sequence: 'sequenceKey',
  bySequenceIndex: 'bySequence',
} as const;

const MODEL_ITEM = 'MODEL';
const LOCK_ITEM = 'LOCK';
const versionItem = (version: string) => `VERSION#${version}`;
const sequenceKey = (sequence: number) => String(sequence).padStart(10, '0');

/** A registry write that lost a race (the version moved since it was read); retrying reads it again. */
export class RegistryConflictError extends Error {
  override readonly name = 'RegistryConflictError';
}

export type RegisterResult = { readonly duplicate: false; readonly record: VersionRecord } | { readonly duplicate: true; readonly existing: VersionRecord };

export type LockResult = { readonly acquired: true; readonly lock: LockRecord } | { readonly acquired: false; readonly holder: string; readonly expiresAt: string };

/** Fields a status change may set besides status and history. */
export type VersionUpdate = Partial<Pick<VersionRecord, 'strategy' | 'reasons' | 'reasonText' | 'metrics' | 'gates'>> & {
  readonly lineage?: Partial<VersionRecord['lineage']>;
};

export class Registry {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  /**
   * Registers a new version as `candidate`, numbered after the model's last registration. A version that is
   * registered already is a duplicate: nothing is written and the existing record is returned — unless
   * `replaces(existing)` says that record may be written over (a version refused before anything ran).
   */
  async register(model: string, version: string, lineage: VersionRecord['lineage'], now: Date, replaces?: (existing: VersionRecord) => boolean): Promise<RegisterResult> {
    const existing = await this.getVersion(model, version);
    if (existing && !replaces?.(existing)) return { duplicate: true, existing };
    const { Attributes } = await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(model, MODEL_ITEM),
        UpdateExpression: 'ADD #sequence :one',
        ExpressionAttributeNames: { '#sequence': 'sequence' },
        ExpressionAttributeValues: { ':one': { N: '1' } },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const sequence = Number(Attributes?.sequence?.N);
    const at = now.toISOString();
    const record: VersionRecord = {
      model,
      version,
      status: 'candidate',
      history: [{ status: 'candidate', at, executionId: lineage.executionId }],
      sequence,
      lineage,
      updatedAt: at,
    };
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { ...this.key(model, versionItem(version)), [REGISTRY_KEYS.sequence]: { S: sequenceKey(sequence) }, ...toItem(record) },
          // A new version, or the replaceable record as it was read.
          ...(existing
            ? {
                ConditionExpression: '#updatedAt = :updatedAt',
                ExpressionAttributeNames: { '#updatedAt': 'updatedAt' },
                ExpressionAttributeValues: { ':updatedAt': { S: existing.updatedAt } },
              }
            : { ConditionExpression: 'attribute_not_exists(#item)', ExpressionAttributeNames: { '#item': REGISTRY_KEYS.sort } }),
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // Registered (or replaced) by a concurrent upload of the same version between the read and the write.
      return { duplicate: true, existing: (await this.getVersion(model, version)) as VersionRecord };
    }
    return { duplicate: false, record };
  }

  async getVersion(model: string, version: string): Promise<VersionRecord | undefined> {
    const { Item } = await this.client.send(new GetItemCommand({ TableName: this.table, Key: this.key(model, versionItem(version)), ConsistentRead: true }));
    return Item ? fromVersionItem(Item) : undefined;
  }

  /** The model's versions, newest registration first. */
  async listVersions(model: string, limit?: number): Promise<VersionRecord[]> {
    const records: VersionRecord[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: REGISTRY_KEYS.bySequenceIndex,
          KeyConditionExpression: '#model = :model',
          ExpressionAttributeNames: { '#model': REGISTRY_KEYS.partition },
          ExpressionAttributeValues: { ':model': { S: model } },
          ScanIndexForward: false,
          ...(limit !== undefined ? { Limit: limit - records.length } : {}),
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      records.push(...(page.Items ?? []).map(fromVersionItem));
      start = page.LastEvaluatedKey;
    } while (start && (limit === undefined || records.length < limit));
    return records;
  }

  /**
   * Every model with a registration, sorted: a scan that keeps the one model item per model. The registry
   * holds a few items per version, so this stays small; the CLI lists these when a name is unknown.
   */
  async listModels(): Promise<string[]> {
    const models: string[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({
          TableName: this.table,
          FilterExpression: '#item = :model',
          ProjectionExpression: '#model',
          ExpressionAttributeNames: { '#item': REGISTRY_KEYS.sort, '#model': REGISTRY_KEYS.partition },
          ExpressionAttributeValues: { ':model': { S: MODEL_ITEM } },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      models.push(...(page.Items ?? []).map((item) => item[REGISTRY_KEYS.partition]?.S as string));
      start = page.LastEvaluatedKey;
    } while (start);
    return models.sort();
  }

  async getModel(model: string): Promise<ModelRecord | undefined> {
    const { Item } = await this.client.send(new GetItemCommand({ TableName: this.table, Key: this.key(model, MODEL_ITEM), ConsistentRead: true }));
    if (!Item) return undefined;
    const raw = unmarshall(Item) as { sequence?: number; routing?: RoutingState; retired?: ModelRecord['retired'] };
    return { model, sequence: raw.sequence ?? 0, ...(raw.routing ? { routing: raw.routing } : {}), ...(raw.retired ? { retired: raw.retired } : {}) };
  }

  /** Moves a version to `to` (checked against the status model), appending to its history. */
  async transition(
    model: string,
    version: string,
    to: VersionRecord['status'],
    entry: Omit<HistoryEntry, 'status' | 'at'>,
    now: Date,
    update: VersionUpdate = {},
  ): Promise<VersionRecord> {
    const current = await this.getVersion(model, version);
    if (!current) throw new RegistryConflictError(`${model} version ${version} is not registered`);
    transition(current.status, to);
    return this.write(current, to, { ...entry, status: to, at: now.toISOString() }, now, update);
  }

  /** Records measurements without a status change (e.g. the validation's metrics of an accepted candidate). */
  async annotate(model: string, version: string, now: Date, update: VersionUpdate): Promise<VersionRecord> {
    const current = await this.getVersion(model, version);
    if (!current) throw new RegistryConflictError(`${model} version ${version} is not registered`);
    return this.write(current, current.status, undefined, now, update);
  }

  private async write(current: VersionRecord, to: VersionRecord['status'], entry: HistoryEntry | undefined, now: Date, update: VersionUpdate): Promise<VersionRecord> {
    const next: VersionRecord = {
      ...current,
      ...update,
      status: to,
      history: entry ? [...current.history, clean(entry)] : current.history,
      lineage: { ...current.lineage, ...update.lineage },
      updatedAt: now.toISOString(),
    };
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { ...this.key(current.model, versionItem(current.version)), [REGISTRY_KEYS.sequence]: { S: sequenceKey(current.sequence) }, ...toItem(next) },
          ConditionExpression: '#status = :status AND #updatedAt = :updatedAt',
          ExpressionAttributeNames: { '#status': 'status', '#updatedAt': 'updatedAt' },
          ExpressionAttributeValues: { ':status': { S: current.status }, ':updatedAt': { S: current.updatedAt } },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) throw new RegistryConflictError(`${current.model} version ${current.version} changed while it was being updated; retry`);
      throw error;
    }
    return next;
  }

  async setRouting(model: string, routing: RoutingState): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(model, MODEL_ITEM),
        // Routing again after a retirement: the model serves again.
        UpdateExpression: 'SET #routing = :routing REMOVE #retired',
        ExpressionAttributeNames: { '#routing': 'routing', '#retired': 'retired' },
        ExpressionAttributeValues: { ':routing': { M: marshall(routing, { removeUndefinedValues: true }) } },
      }),
    );
  }

  /** The whole model is retired: it has no routing any more, and the record says when and by whom. */
  async retireModel(model: string, executionId: string, now: Date): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(model, MODEL_ITEM),
        UpdateExpression: 'SET #retired = :retired REMOVE #routing',
        ExpressionAttributeNames: { '#routing': 'routing', '#retired': 'retired' },
        ExpressionAttributeValues: { ':retired': { M: marshall({ at: now.toISOString(), executionId }) } },
      }),
    );
  }

  /**
   * Takes the model's lock for `holder` when it is free, already the holder's, or expired. With `preempt`,
   * a busy lock is asked to yield (the holder's next bake check sees the request and releases it).
   */
  async acquireLock(model: string, holder: string, now: Date, ttlSeconds: number, preempt = false): Promise<LockResult> {
    const lock = await this.writeLock(model, holder, now, ttlSeconds, 'attribute_not_exists(#holder) OR #holder = :holder OR #expiresAt < :now', {
      ':now': { S: now.toISOString() },
    });
    if (lock) return { acquired: true, lock };
    const busy = await this.getLock(model);
    if (!busy) return this.acquireLock(model, holder, now, ttlSeconds, preempt);
    if (preempt && busy.preemptRequestedBy === undefined) {
      await this.client
        .send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: this.key(model, LOCK_ITEM),
            UpdateExpression: 'SET #preempt = :holder',
            ConditionExpression: 'attribute_exists(#holder)',
            ExpressionAttributeNames: { '#holder': 'holder', '#preempt': 'preemptRequestedBy' },
            ExpressionAttributeValues: { ':holder': { S: holder } },
          }),
        )
        .catch((error: unknown) => {
          if (!isConditionFailure(error)) throw error;
        });
    }
    return { acquired: false, holder: busy.holder, expiresAt: busy.expiresAt };
  }

  /** Writes `holder`'s lock, fresh for `ttlSeconds`, where `condition` holds (#holder, #expiresAt, :holder and `values`); undefined where it does not. */
  private async writeLock(
    model: string,
    holder: string,
    now: Date,
    ttlSeconds: number,
    condition: string,
    values: Record<string, AttributeValue>,
  ): Promise<LockRecord | undefined> {
    const lock: LockRecord = { model, holder, acquiredAt: now.toISOString(), expiresAt: new Date(now.getTime() + ttlSeconds * 1000).toISOString() };
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: this.key(model, LOCK_ITEM),
          UpdateExpression: 'SET #holder = :holder, #acquiredAt = :acquiredAt, #expiresAt = :expiresAt REMOVE #preempt',
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#holder': 'holder', '#acquiredAt': 'acquiredAt', '#expiresAt': 'expiresAt', '#preempt': 'preemptRequestedBy' },
          ExpressionAttributeValues: { ':holder': { S: holder }, ':acquiredAt': { S: lock.acquiredAt }, ':expiresAt': { S: lock.expiresAt }, ...values },
        }),
      );
      return lock;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /** Extends the holder's lock (a heartbeat during long bakes); says whether an operator asked it to yield. */
  async renewLock(model: string, holder: string, now: Date, ttlSeconds: number): Promise<{ held: boolean; preemptRequestedBy?: string }> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: this.key(model, LOCK_ITEM),
          UpdateExpression: 'SET #expiresAt = :expiresAt',
          ConditionExpression: '#holder = :holder',
          ExpressionAttributeNames: { '#holder': 'holder', '#expiresAt': 'expiresAt' },
          ExpressionAttributeValues: { ':holder': { S: holder }, ':expiresAt': { S: new Date(now.getTime() + ttlSeconds * 1000).toISOString() } },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const preempt = Attributes?.preemptRequestedBy?.S;
      return { held: true, ...(preempt ? { preemptRequestedBy: preempt } : {}) };
    } catch (error) {
      if (isConditionFailure(error)) return { held: false };
      throw error;
    }
  }

  /**
   * Takes the lock from `from`, an execution that ended without freeing it, if `from` still has it. The same answer
   * as acquireLock: taken, or who holds it now.
   */
  async takeOverLock(model: string, from: string, holder: string, now: Date, ttlSeconds: number): Promise<LockResult> {
    const lock = await this.writeLock(model, holder, now, ttlSeconds, '#holder = :from', { ':from': { S: from } });
    if (lock) return { acquired: true, lock };
    const busy = await this.getLock(model);
    return busy ? { acquired: false, holder: busy.holder, expiresAt: busy.expiresAt } : this.acquireLock(model, holder, now, ttlSeconds);
  }

  /** Frees the lock if `holder` has it; releasing a lock one does not hold is a no-op. */
  async releaseLock(model: string, holder: string): Promise<boolean> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: this.key(model, LOCK_ITEM),
          ConditionExpression: '#holder = :holder',
          ExpressionAttributeNames: { '#holder': 'holder' },
          ExpressionAttributeValues: { ':holder': { S: holder } },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async getLock(model: string): Promise<LockRecord | undefined> {
    const { Item } = await this.client.send(new GetItemCommand({ TableName: this.table, Key: this.key(model, LOCK_ITEM), ConsistentRead: true }));
    return Item ? (unmarshall(Item) as LockRecord) : undefined;
  }

  private key(model: string, item: string): Record<string, AttributeValue> {
    return { [REGISTRY_KEYS.partition]: { S: model }, [REGISTRY_KEYS.sort]: { S: item } };
  }
}

function toItem(record: VersionRecord): Record<string, AttributeValue> {
  const { model: _model, ...rest } = record;
  return marshall({ ...rest, kind: 'version' }, { removeUndefinedValues: true, convertClassInstanceToMap: true });
}

function fromVersionItem(item: Record<string, AttributeValue>): VersionRecord {
  const raw = unmarshall(item) as Record<string, unknown>;
  const { item: _item, sequenceKey: _sequence, kind: _kind, ...record } = raw;
  return record as unknown as VersionRecord;
}

function clean<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function isConditionFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException || (error as { name?: string }).name === 'ConditionalCheckFailedException';
}
