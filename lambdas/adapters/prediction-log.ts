import { open } from 'node:fs/promises';
import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  PutItemCommand,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
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


/**
 * Puts records that went to the fallback back into the table. Idempotent: a record already there
 * (re-ingested before, or written after all) is counted as present and left as it is.
 */
export async function reingestRecords(
  client: DynamoDBClient,
  table: string,
  records: readonly PredictionRecord[],
): Promise<{ inserted: number; alreadyPresent: number }> {
  let inserted = 0;
  let alreadyPresent = 0;
  for (const record of records) {
    try {
      await client.send(
        new PutItemCommand({ TableName: table, Item: toAttributeMap(record), ConditionExpression: 'attribute_not_exists(predictionId)' }),
      );
      inserted++;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException')) throw error;
      alreadyPresent++;
    }
  }
  return { inserted, alreadyPresent };
}

function describe(error: unknown): string {
  const e = error as { name?: string; message?: string };
  return `${e.name ?? 'Error'}: ${e.message ?? String(error)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
