// The experiment table (lib/experiment-table.ts). One partition per experiment, `pk = EXP#<id>`:
//   sk DEFINITION           the current definition (JSON), its revision and every earlier revision; carries the
//                           `byStatus` index keys (status, modelStarted = <model>#<startedAt>#<id>)
//   sk ARM#<arm>#<shard>    running counters (core/experiments/tally.ts), spread over COUNTER_SHARDS items per arm
//                           so that no single item takes every write; `mark:<stream shard>` attributes make the
//                           stream aggregator's additions exactly-once
//   sk OUT#<metric>#<unit>  a unit's total for an event metric and the event ids counted into it (idempotency)
//   sk UNIT#<unit id>       unit assignment: the arm a unit was first exposed to, and which stream change saw it
//   sk SNAP#<ISO time>      an analysis snapshot (CIs over time)
// and one lock item per model with a running experiment, `pk = MODEL#<model>`, `sk = RUNNING`.
import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { fnv1a32 } from '../core/experiments/assignment';
import type { ExperimentDefinition, ExperimentStatus } from '../core/experiments/definition';
import type { EarlyEvent, EventWrite, PredictionFacts } from '../core/experiments/events';
import type { UnitExposure, UnitSighting } from '../core/experiments/exposure';
import type { AnalysisSnapshot, ArmTallies } from '../core/experiments/report';
import { eventDelta, sumTallies, TALLY, type TallyDelta } from '../core/experiments/tally';

export const EXPERIMENT_KEYS = {
  partition: 'pk',
  sort: 'sk',
  byStatusIndex: 'byStatus',
  statusKey: 'status',
  modelStartedKey: 'modelStarted',
  ttl: 'expiresAt',
} as const;

/** Counter items per arm: writes spread over them, a read sums them (2 x 8 small items per analysis). */
export const COUNTER_SHARDS = 8;

/** A change of the stored definition, kept with it. */
export interface ExperimentRevision {
  readonly revision: number;
  readonly at: string;
  readonly change: 'created' | 'stopped' | 'concluded';
  readonly by: string;
  readonly definition: ExperimentDefinition;
}

export class ExperimentConflictError extends Error {
  override readonly name = 'ExperimentConflictError';
}

/** Days the per-unit items outlive an experiment's maximum duration (late events, audits), then TTL removes them. */
const UNIT_ITEM_RETENTION_DAYS = 90;

export class ExperimentStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  /**
   * Stores a new experiment. At most one runs per model (the model's lock item): starting a second one is a
   * conflict that names the first.
   */
  async create(definition: ExperimentDefinition, by: string): Promise<void> {
    const lock = { pk: { S: `MODEL#${definition.model}` }, sk: { S: 'RUNNING' } };
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { ...lock, experimentId: { S: definition.id }, since: { S: definition.createdAt } },
          ConditionExpression: 'attribute_not_exists(pk) OR experimentId = :id',
          ExpressionAttributeValues: { ':id': { S: definition.id } },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const { Item } = await this.client.send(new GetItemCommand({ TableName: this.table, Key: lock, ConsistentRead: true }));
      throw new ExperimentConflictError(`model ${definition.model} already has a running experiment: ${Item?.experimentId?.S ?? '(unknown)'}; stop it first`);
    }
    const revision: ExperimentRevision = { revision: 1, at: definition.createdAt, change: 'created', by, definition };
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { ...definitionKey(definition.id), ...definitionAttributes(definition), revisions: { L: [{ S: JSON.stringify(revision) }] } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      await this.client
        .send(new DeleteItemCommand({ TableName: this.table, Key: lock, ConditionExpression: 'experimentId = :id', ExpressionAttributeValues: { ':id': { S: definition.id } } }))
        .catch(() => undefined);
      if (isConditionFailure(error)) throw new ExperimentConflictError(`an experiment with id ${definition.id} exists already`);
      throw error;
    }
  }

  async get(id: string): Promise<{ definition: ExperimentDefinition; revisions: ExperimentRevision[] } | undefined> {
    const { Item } = await this.client.send(new GetItemCommand({ TableName: this.table, Key: definitionKey(id), ConsistentRead: true }));
    if (!Item) return undefined;
    return {
      definition: JSON.parse(Item.definition?.S ?? '{}') as ExperimentDefinition,
      revisions: (Item.revisions?.L ?? []).map((entry) => JSON.parse(entry.S ?? '{}') as ExperimentRevision),
    };
  }

  /**
   * Writes the next revision of a definition if nobody else did since `current` was read, and frees the
   * model's lock when the experiment no longer runs.
   */
  async revise(
    current: ExperimentDefinition,
    next: Omit<ExperimentDefinition, 'revision'>,
    change: ExperimentRevision['change'],
    by: string,
    at: Date,
  ): Promise<ExperimentDefinition> {
    const definition: ExperimentDefinition = { ...next, revision: current.revision + 1 };
    const revision: ExperimentRevision = { revision: definition.revision, at: at.toISOString(), change, by, definition };
    const attributes = definitionAttributes(definition);
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: definitionKey(current.id),
          UpdateExpression: 'SET #definition = :definition, #status = :status, #modelStarted = :modelStarted, #revision = :revision, #revisions = list_append(#revisions, :entry)',
          ConditionExpression: '#revision = :previous',
          ExpressionAttributeNames: { '#definition': 'definition', '#status': 'status', '#modelStarted': 'modelStarted', '#revision': 'revision', '#revisions': 'revisions' },
          ExpressionAttributeValues: {
            ':definition': attributes.definition,
            ':status': attributes.status,
            ':modelStarted': attributes.modelStarted,
            ':revision': attributes.revision,
            ':previous': { N: String(current.revision) },
            ':entry': { L: [{ S: JSON.stringify(revision) }] },
          },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) throw new ExperimentConflictError(`experiment ${current.id} changed since it was read (revision ${current.revision}); read it again`);
      throw error;
    }
    if (definition.status !== 'running') {
      await this.client
        .send(
          new DeleteItemCommand({
            TableName: this.table,
            Key: { pk: { S: `MODEL#${definition.model}` }, sk: { S: 'RUNNING' } },
            ConditionExpression: 'experimentId = :id',
            ExpressionAttributeValues: { ':id': { S: definition.id } },
          }),
        )
        .catch((error: unknown) => {
          if (!isConditionFailure(error)) throw error;
        });
    }
    return definition;
  }

  /** Experiments in a status, newest start first; optionally of one model. One Query of the status index. */
  async list(status: ExperimentStatus, model?: string): Promise<ExperimentDefinition[]> {
    const found: ExperimentDefinition[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: EXPERIMENT_KEYS.byStatusIndex,
          KeyConditionExpression: model === undefined ? '#status = :status' : '#status = :status AND begins_with(#modelStarted, :model)',
          ExpressionAttributeNames: { '#status': 'status', ...(model === undefined ? {} : { '#modelStarted': 'modelStarted' }) },
          ExpressionAttributeValues: { ':status': { S: status }, ...(model === undefined ? {} : { ':model': { S: `${model}#` } }) },
          ScanIndexForward: false,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      found.push(...(page.Items ?? []).map((item) => JSON.parse(item.definition?.S ?? '{}') as ExperimentDefinition));
      start = page.LastEvaluatedKey;
    } while (start);
    return found;
  }

  /** The arms' counters, each summed over its shards: one strongly consistent Query. */
  async tallies(id: string): Promise<ArmTallies> {
    const shards: Record<'control' | 'treatment', Record<string, number>[]> = { control: [], treatment: [] };
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :arm)',
          ExpressionAttributeValues: { ':pk': { S: `EXP#${id}` }, ':arm': { S: 'ARM#' } },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        const arm = item.sk?.S?.split('#')[1];
        if (arm !== 'control' && arm !== 'treatment') continue;
        const counters: Record<string, number> = {};
        for (const [name, value] of Object.entries(item)) {
          if (value.N !== undefined && !name.startsWith('mark:')) counters[name] = Number(value.N);
        }
        shards[arm].push(counters);
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return { control: sumTallies(shards.control), treatment: sumTallies(shards.treatment) };
  }

  /**
   * Counts one outcome event for its unit, at most once per event id. First the unit's item takes the
   * event id and the value (one conditional UpdateItem: a second delivery of the id fails the condition and
   * is a duplicate) and returns the unit's previous total; then the arm's counters take the difference it
   * makes (eventDelta). If the counters cannot be written, the unit's item is put back and the event is
   * answered `retry`, so a resend counts it. Without transactions (the local DynamoDB has none), a process
   * that dies between the two writes loses that one event: docs/experiments.md.
   */
  async countEvent(
    write: EventWrite,
    definition: Pick<ExperimentDefinition, 'startedAt' | 'maxDurationDays'>,
  ): Promise<{ status: 'accepted' | 'duplicate' | 'retry'; reason?: string }> {
    const key = { pk: { S: `EXP#${write.experimentId}` }, sk: { S: `OUT#${write.metric.name}#${write.unitKey}` } };
    let previousTotal: number | undefined;
    try {
      const { Attributes } = await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: 'ADD #total :value, #ids :id SET #arm = if_not_exists(#arm, :arm), #expires = if_not_exists(#expires, :expires)',
          ConditionExpression: 'NOT contains(#ids, :eventId)',
          ExpressionAttributeNames: { '#total': 'total', '#ids': 'eventIds', '#arm': 'arm', '#expires': EXPERIMENT_KEYS.ttl },
          ExpressionAttributeValues: {
            ':value': { N: String(write.value) },
            ':id': { SS: [write.eventId] },
            ':eventId': { S: write.eventId },
            ':arm': { S: write.arm },
            ':expires': { N: String(unitItemExpiry(definition)) },
          },
          ReturnValues: 'UPDATED_OLD',
        }),
      );
      previousTotal = Attributes?.total?.N === undefined ? undefined : Number(Attributes.total.N);
    } catch (error) {
      if (isConditionFailure(error)) return { status: 'duplicate' };
      return { status: 'retry', reason: `the event could not be recorded (${describe(error)}): send it again` };
    }
    try {
      await this.addToArm(write.experimentId, write.arm, counterShard(write.unitKey), eventDelta(write.metric, previousTotal, write.value));
      return { status: 'accepted' };
    } catch (error) {
      await this.client
        .send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: key,
            UpdateExpression: 'ADD #total :minus DELETE #ids :id',
            ConditionExpression: 'contains(#ids, :eventId)',
            ExpressionAttributeNames: { '#total': 'total', '#ids': 'eventIds' },
            ExpressionAttributeValues: { ':minus': { N: String(-write.value) }, ':id': { SS: [write.eventId] }, ':eventId': { S: write.eventId } },
          }),
        )
        .catch(() => undefined);
      return { status: 'retry', reason: `the arm's counters could not be updated (${describe(error)}): send the event again` };
    }
  }

  /**
   * Counts an event that came before the experiment started counting (`TALLY.earlyEvents`), for the analysis
   * to report: one ADD, not idempotent (a resend counts again; the number is for people, not statistics).
   */
  async countEarlyEvent(early: EarlyEvent): Promise<void> {
    await this.addToArm(early.experimentId, early.arm, counterShard(early.eventId), { [TALLY.earlyEvents]: 1 });
  }

  /**
   * Adds a stream batch's delta to one counter item, exactly once: the item remembers, per stream shard, the
   * last sequence number added, and refuses a batch that starts at or below it (a retried batch). Returns
   * false when the batch was added before.
   */
  async addStreamDelta(
    experimentId: string,
    arm: 'control' | 'treatment',
    streamShardId: string,
    firstSequence: string,
    lastSequence: string,
    delta: TallyDelta,
  ): Promise<boolean> {
    const names: Record<string, string> = { '#mark': `mark:${streamShardId}` };
    const values: Record<string, AttributeValue> = { ':first': { S: padSequence(firstSequence) }, ':last': { S: padSequence(lastSequence) } };
    const adds = Object.entries(delta).map(([name, amount], i) => {
      names[`#c${i}`] = name;
      values[`:c${i}`] = { N: String(amount) };
      return `#c${i} :c${i}`;
    });
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: counterKey(experimentId, arm, counterShard(streamShardId)),
          UpdateExpression: `SET #mark = :last${adds.length > 0 ? ` ADD ${adds.join(', ')}` : ''}`,
          ConditionExpression: 'attribute_not_exists(#mark) OR #mark < :first',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /**
   * Records that a unit was exposed, once: the first sighting creates the unit's item with its arm; later
   * ones find it. A sighting recognises the item it created itself (a retried batch), so it still counts.
   */
  async recordSighting(sighting: UnitSighting, definition: Pick<ExperimentDefinition, 'startedAt' | 'maxDurationDays'>, at: Date): Promise<UnitExposure> {
    const key = { pk: { S: `EXP#${sighting.experimentId}` }, sk: { S: `UNIT#${sighting.unitId}` } };
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            ...key,
            arm: { S: sighting.arm },
            seenBy: { S: sighting.seenBy },
            firstSeen: { S: at.toISOString() },
            [EXPERIMENT_KEYS.ttl]: { N: String(unitItemExpiry(definition)) },
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { first: true, arm: sighting.arm };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    const { Item } = await this.client.send(new GetItemCommand({ TableName: this.table, Key: key, ConsistentRead: true }));
    const arm = Item?.arm?.S === 'treatment' ? 'treatment' : 'control';
    return { first: Item?.seenBy?.S === sighting.seenBy, arm };
  }

  /** The recorded arm of each (experiment, unit) asked for; units never exposed are absent. */
  async exposures(lookups: readonly { experimentId: string; unitId: string }[]): Promise<Map<string, 'control' | 'treatment'>> {
    const keys = lookups.map(({ experimentId, unitId }) => ({ pk: { S: `EXP#${experimentId}` }, sk: { S: `UNIT#${unitId}` } }));
    const found = new Map<string, 'control' | 'treatment'>();
    for (const item of await batchGet(this.client, this.table, keys, 'pk, sk, arm')) {
      const experimentId = (item.pk?.S ?? '').slice('EXP#'.length);
      const unitId = (item.sk?.S ?? '').slice('UNIT#'.length);
      found.set(`${experimentId}\u0000${unitId}`, item.arm?.S === 'treatment' ? 'treatment' : 'control');
    }
    return found;
  }

  async putSnapshot(id: string, snapshot: AnalysisSnapshot): Promise<void> {
    await this.client.send(
      new PutItemCommand({ TableName: this.table, Item: { pk: { S: `EXP#${id}` }, sk: { S: `SNAP#${snapshot.at}` }, snapshot: { S: JSON.stringify(snapshot) } } }),
    );
  }

  /** Snapshots oldest first, at most `limit` (the newest ones). */
  async snapshots(id: string, limit = 1000): Promise<AnalysisSnapshot[]> {
    const { Items } = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :snap)',
        ExpressionAttributeValues: { ':pk': { S: `EXP#${id}` }, ':snap': { S: 'SNAP#' } },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (Items ?? []).map((item) => JSON.parse(item.snapshot?.S ?? '{}') as AnalysisSnapshot).reverse();
  }

  private async addToArm(experimentId: string, arm: 'control' | 'treatment', shard: number, delta: TallyDelta): Promise<void> {
    const names: Record<string, string> = {};
    const values: Record<string, AttributeValue> = {};
    const adds = Object.entries(delta).map(([name, amount], i) => {
      names[`#c${i}`] = name;
      values[`:c${i}`] = { N: String(amount) };
      return `#c${i} :c${i}`;
    });
    if (adds.length === 0) return;
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: counterKey(experimentId, arm, shard),
        UpdateExpression: `ADD ${adds.join(', ')}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }
}

/**
 * What the prediction log holds about predictions, for attributing events (BatchGetItem by predictionId,
 * only the attributes attribution needs).
 */
export async function predictionFacts(client: DynamoDBClient, table: string, predictionIds: readonly string[]): Promise<Map<string, PredictionFacts>> {
  const keys = [...new Set(predictionIds)].map((id) => ({ predictionId: { S: id } }));
  const found = new Map<string, PredictionFacts>();
  const items = await batchGet(client, table, keys, 'predictionId, #model, #version, #timestamp, unitId', { '#model': 'model', '#version': 'version', '#timestamp': 'timestamp' });
  for (const item of items) {
    found.set(item.predictionId?.S as string, {
      model: item.model?.S ?? '',
      version: item.version?.S ?? '',
      timestamp: item.timestamp?.S ?? '',
      ...(item.unitId?.S ? { unitId: item.unitId.S } : {}),
    });
  }
  return found;
}

const BATCH_GET_LIMIT = 100;
const UNPROCESSED_RETRIES = 4;

async function batchGet(
  client: DynamoDBClient,
  table: string,
  allKeys: Record<string, AttributeValue>[],
  projection: string,
  names?: Record<string, string>,
): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  for (let i = 0; i < allKeys.length; i += BATCH_GET_LIMIT) {
    let keys = allKeys.slice(i, i + BATCH_GET_LIMIT);
    for (let attempt = 0; keys.length > 0; attempt++) {
      if (attempt > UNPROCESSED_RETRIES) throw new Error(`BatchGetItem left ${keys.length} keys unprocessed after ${UNPROCESSED_RETRIES} retries`);
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt));
      const response = await client.send(
        new BatchGetItemCommand({
          RequestItems: { [table]: { Keys: keys, ProjectionExpression: projection, ...(names ? { ExpressionAttributeNames: names } : {}), ConsistentRead: true } },
        }),
      );
      items.push(...(response.Responses?.[table] ?? []));
      keys = (response.UnprocessedKeys?.[table]?.Keys ?? []) as Record<string, AttributeValue>[];
    }
  }
  return items;
}

/** Which of an arm's counter items a key writes to. */
export function counterShard(key: string): number {
  return fnv1a32(key) % COUNTER_SHARDS;
}

function counterKey(experimentId: string, arm: 'control' | 'treatment', shard: number): Record<string, AttributeValue> {
  return { pk: { S: `EXP#${experimentId}` }, sk: { S: `ARM#${arm}#${shard}` } };
}

function definitionKey(id: string): Record<string, AttributeValue> {
  return { pk: { S: `EXP#${id}` }, sk: { S: 'DEFINITION' } };
}

function definitionAttributes(definition: ExperimentDefinition): Record<'definition' | 'status' | 'modelStarted' | 'revision' | 'model', AttributeValue> {
  return {
    definition: { S: JSON.stringify(definition) },
    status: { S: definition.status },
    modelStarted: { S: `${definition.model}#${definition.startedAt}#${definition.id}` },
    revision: { N: String(definition.revision) },
    model: { S: definition.model },
  };
}

function unitItemExpiry(definition: Pick<ExperimentDefinition, 'startedAt' | 'maxDurationDays'>): number {
  return Math.floor(Date.parse(definition.startedAt) / 1000) + Math.ceil((definition.maxDurationDays + UNIT_ITEM_RETENTION_DAYS) * 86_400);
}

/** Stream sequence numbers are decimal strings of up to 40 digits: padded, string order is number order. */
function padSequence(sequence: string): string {
  return sequence.padStart(40, '0');
}

function isConditionFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException || (error as { name?: string } | null)?.name === 'ConditionalCheckFailedException';
}

function describe(error: unknown): string {
  const e = error as { name?: string; message?: string };
  return `${e.name ?? 'Error'}: ${e.message ?? String(error)}`;
}
