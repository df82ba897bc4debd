import { ConditionalCheckFailedException, GetItemCommand, PutItemCommand, QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { MonitoringWindow } from '../core/monitoring/window';

/**
 * The monitoring table: one item per model version and window (`pk = V#<model>#<version>`,
 * `sk = W#<windowStart>`), its aggregates as one JSON attribute, and one item per model version seen
 * (`pk = VERSIONS`, `sk = <model>#<version>`). Window items are written under optimistic concurrency
 * (`rev`), so aggregator invocations of different stream shards merge into the same window safely.
 */
export class MonitoringStore {
  static readonly PARTITION_KEY = 'pk';
  static readonly SORT_KEY = 'sk';

  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  async getWindow(model: string, version: string, windowStart: string): Promise<StoredWindow | undefined> {
    const { Item } = await this.client.send(new GetItemCommand({ TableName: this.table, Key: windowKey(model, version, windowStart), ConsistentRead: true }));
    return Item ? fromItem(Item) : undefined;
  }

  /**
   * Writes a window if nobody else wrote it since it was read at `rev` (undefined: it did not exist).
   * Returns false when someone did: read it again, fold again, retry.
   */
  async putWindow(window: MonitoringWindow, rev: number | undefined, expiresAt: number): Promise<boolean> {
    const { drift, quality, applied, ...summary } = window;
    const item: Record<string, AttributeValue> = {
      ...windowKey(window.model, window.version, window.windowStart),
      model: { S: summary.model },
      version: { S: summary.version },
      windowStart: { S: summary.windowStart },
      windowMinutes: { N: String(summary.windowMinutes) },
      predictions: { N: String(summary.predictions) },
      labels: { N: String(summary.labels) },
      skipped: { N: String(summary.skipped) },
      aggregates: { S: JSON.stringify({ drift, quality, applied }) },
      rev: { N: String((rev ?? 0) + 1) },
      expiresAt: { N: String(expiresAt) },
    };
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: item,
          ...(rev === undefined
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: '#rev = :rev', ExpressionAttributeNames: { '#rev': 'rev' }, ExpressionAttributeValues: { ':rev': { N: String(rev) } } }),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailure(error)) return false;
      throw error;
    }
  }

  /** The windows of one model version whose start is in [fromWindowStart, to). One Query, paginated. */
  async queryWindows(model: string, version: string, fromWindowStart: string, to: string): Promise<MonitoringWindow[]> {
    const windows: MonitoringWindow[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':pk': { S: versionKey(model, version) }, ':from': { S: `W#${fromWindowStart}` }, ':to': { S: `W#${to}` } },
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        const stored = fromItem(item);
        if (stored.window.windowStart < to) windows.push(stored.window);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return windows;
  }

  /** Records that a model version has windows (the monitor's list of what to report on). */
  async touchVersion(model: string, version: string, seenAt: string): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: { pk: { S: VERSIONS }, sk: { S: `${model}#${version}` }, model: { S: model }, version: { S: version }, lastSeen: { S: seenAt } },
      }),
    );
  }

  async listVersions(): Promise<{ model: string; version: string; lastSeen: string }[]> {
    const versions: { model: string; version: string; lastSeen: string }[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: VERSIONS } },
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        versions.push({ model: item.model?.S ?? '', version: item.version?.S ?? '', lastSeen: item.lastSeen?.S ?? '' });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return versions;
  }
}

export interface StoredWindow {
  readonly window: MonitoringWindow;
  readonly rev: number;
}

const VERSIONS = 'VERSIONS';

function versionKey(model: string, version: string): string {
  return `V#${model}#${version}`;
}

function windowKey(model: string, version: string, windowStart: string): Record<string, AttributeValue> {
  return { pk: { S: versionKey(model, version) }, sk: { S: `W#${windowStart}` } };
}

function fromItem(item: Record<string, AttributeValue>): StoredWindow {
  const aggregates = JSON.parse(item.aggregates?.S ?? '{}') as Pick<MonitoringWindow, 'drift' | 'quality' | 'applied'>;
  return {
    rev: Number(item.rev?.N ?? 0),
    window: {
      model: item.model?.S ?? '',
      version: item.version?.S ?? '',
      windowStart: item.windowStart?.S ?? '',
      windowMinutes: Number(item.windowMinutes?.N ?? 0),
      predictions: Number(item.predictions?.N ?? 0),
      labels: Number(item.labels?.N ?? 0),
      skipped: Number(item.skipped?.N ?? 0),
      drift: aggregates.drift ?? null,
      quality: aggregates.quality,
      applied: aggregates.applied ?? {},
    },
  };
}

export function isConditionalCheckFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException || (error as { name?: string } | null)?.name === 'ConditionalCheckFailedException';
}
