import { open } from 'node:fs/promises';
import { BatchWriteItemCommand, ConditionalCheckFailedException, GetItemCommand, PutItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { toAttributeMap } from './attribute-values';
import { fallbackLine, type PredictionRecord } from '../core/prediction-record';

/** Where records go when the table cannot take them; must be durable before it resolves. */
export interface FallbackSink {
  write(records: readonly PredictionRecord[], reason: string): Promise<void>;
}

/** In Lambda: one JSON line per record on stdout, which the runtime ships to CloudWatch Logs. */
export class StdoutFallbackSink implements FallbackSink {
  async write(records: readonly PredictionRecord[], reason: string): Promise<void> {
    process.stdout.write(`${records.map((r) => fallbackLine(r, reason)).join('\n')}\n`);
  }
}

/** Locally: JSON lines appended to a file and flushed to disk before the answer is sent. */
export class FileFallbackSink implements FallbackSink {
  constructor(readonly path: string) {}

  async write(records: readonly PredictionRecord[], reason: string): Promise<void> {
    const file = await open(this.path, 'a');
    try {
      await file.appendFile(`${records.map((r) => fallbackLine(r, reason)).join('\n')}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
  }
}

export interface LogWriteResult {
  readonly stored: number;
  readonly fallback: number;
}

const BATCH_LIMIT = 25;
const UNPROCESSED_RETRIES = 3;

/**
 * Writes prediction records to DynamoDB. Whatever the table does not confirm (throttling after the SDK's
 * retries, errors, timeouts) goes to the fallback sink, so every answered prediction is durable
 * somewhere; the write only fails when the fallback fails too.
 */
export class PredictionLog {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly fallback: FallbackSink,
  ) {}

  async write(records: readonly PredictionRecord[]): Promise<LogWriteResult> {
    if (records.length === 1) return await this.writeOne(records[0] as PredictionRecord);
    const chunks: PredictionRecord[][] = [];
    for (let i = 0; i < records.length; i += BATCH_LIMIT) chunks.push(records.slice(i, i + BATCH_LIMIT));
    const results = await Promise.all(chunks.map((chunk) => this.writeBatch(chunk)));
    return results.reduce((a, b) => ({ stored: a.stored + b.stored, fallback: a.fallback + b.fallback }), { stored: 0, fallback: 0 });
  }

  private async writeOne(record: PredictionRecord): Promise<LogWriteResult> {
    try {
      await this.client.send(new PutItemCommand({ TableName: this.table, Item: toAttributeMap(record) }));
      return { stored: 1, fallback: 0 };
    } catch (error) {
      await this.fallback.write([record], describe(error));
      return { stored: 0, fallback: 1 };
    }
  }

  private async writeBatch(chunk: readonly PredictionRecord[]): Promise<LogWriteResult> {
    const byId = new Map(chunk.map((r) => [r.predictionId, r]));
    let pending: WriteRequest[] = chunk.map((r) => ({ PutRequest: { Item: toAttributeMap(r) } }));
    let reason = 'unprocessed after retries';
    try {
      for (let attempt = 0; pending.length > 0 && attempt <= UNPROCESSED_RETRIES; attempt++) {
        if (attempt > 0) await sleep(10 * 4 ** (attempt - 1));
        const response = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.table]: pending } }));
        pending = response.UnprocessedItems?.[this.table] ?? [];
      }
    } catch (error) {
      reason = describe(error);
    }
    if (pending.length === 0) return { stored: chunk.length, fallback: 0 };
    const failed = pending.map((request) => byId.get(request.PutRequest?.Item?.predictionId?.S as string) as PredictionRecord);
    await this.fallback.write(failed, reason);
    return { stored: chunk.length - failed.length, fallback: failed.length };
  }
}

export interface ReingestResult {
  readonly inserted: number;
  readonly alreadyPresent: number;
  /** Records the table will not take as they are (a number DynamoDB cannot store...), with its reason. */
  readonly refused: readonly { readonly record: PredictionRecord; readonly reason: string }[];
}

/**
 * Puts records that went to the fallback back into the table. Idempotent: a record already there
 * (re-ingested before, or written after all) is counted as present and left as it is, so running it again
 * resumes an interrupted run. A record the table refuses for what it holds is skipped and returned with
 * the reason (unless a corrected copy is in the table already); any other failure (the table unreachable,
 * throttled past the SDK's retries) stops the run.
 */
export async function reingestRecords(client: DynamoDBClient, table: string, records: readonly PredictionRecord[]): Promise<ReingestResult> {
  let inserted = 0;
  let alreadyPresent = 0;
  const refused: { record: PredictionRecord; reason: string }[] = [];
  for (const record of records) {
    let item;
    try {
      item = toAttributeMap(record);
    } catch (error) {
      refused.push({ record, reason: describe(error) });
      continue;
    }
    try {
      await client.send(new PutItemCommand({ TableName: table, Item: item, ConditionExpression: 'attribute_not_exists(predictionId)' }));
      inserted++;
    } catch (error) {
      const name = (error as Error).name;
      if (error instanceof ConditionalCheckFailedException || name === 'ConditionalCheckFailedException') alreadyPresent++;
      else if (name !== 'ValidationException') throw error;
      // The table validates the item before the condition: a corrected copy may be in already.
      else if (await isStored(client, table, record.predictionId)) alreadyPresent++;
      else refused.push({ record, reason: describe(error) });
    }
  }
  return { inserted, alreadyPresent, refused };
}

async function isStored(client: DynamoDBClient, table: string, predictionId: string): Promise<boolean> {
  const { Item } = await client.send(
    new GetItemCommand({ TableName: table, Key: { predictionId: { S: predictionId } }, ProjectionExpression: 'predictionId', ConsistentRead: true }),
  );
  return Item !== undefined;
}

function describe(error: unknown): string {
  const e = error as { name?: string; message?: string };
  return `${e.name ?? 'Error'}: ${e.message ?? String(error)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
