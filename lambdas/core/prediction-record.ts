import type { FeatureValue, Manifest } from './manifest';
import { joinKeyField, joinKeyOf, type PassThroughValues } from './pass-through';
import type { Row } from './request';
import type { RowPrediction } from './tensors';

/**
 * One served prediction as stored in the prediction log. Keys: `predictionId` (ground-truth join by
 * GetItem), `modelVersionShard` + `ts` (the byModelVersion index: one model version's predictions in
 * a time window, one Query per shard) and, on predictions that carry the model's join key, `joinKey` + `ts`
 * (the sparse byJoinKey index: the latest prediction of an entity). See docs/infrastructure.md for the
 * access patterns.
 */
export interface PredictionRecord {
  readonly predictionId: string;
  readonly model: string;
  readonly version: string;
  /** Which deployment answered: the Lambda version that ran (e.g. "7"), or "local". */
  readonly variant: string;
  /** ISO-8601 time the prediction was answered. */
  readonly timestamp: string;
  /** `<model>#<version>#<shard>`: spreads one version's writes over several index partitions. */
  readonly modelVersionShard: string;
  /** `<timestamp>#<predictionId>`: sorts the index by time and keeps keys unique. */
  readonly ts: string;
  /** The validated inputs, without redacted features; absent when not sampled. */
  readonly inputs?: Readonly<Record<string, FeatureValue | null>>;
  readonly outputs: RowPrediction;
  /** Model run time of the request that carried this row, in milliseconds. */
  readonly latencyMs: number;
  /** Rows in that request. */
  readonly batchRows: number;
  readonly requestId?: string;
  /** The experiment unit the request named (header x-modelgate-unit-id or field unitId): sticky assignment joins on it. */
  readonly unitId?: string;
  /** The pass-through values the instance sent (manifest `passThrough`); logged whatever the input sampling. */
  readonly passThrough?: PassThroughValues;
  /** `<model>#<field>#<value>` of the manifest's join-key field (joinKeyOf); only then is the item in the byJoinKey index. */
  readonly joinKey?: string;
  /** Epoch seconds after which DynamoDB's TTL deletes the record. */
  readonly expiresAt: number;
}

export interface RecordSettings {
  readonly ttlDays: number;
  readonly shards: number;
}

export interface ServedBatch {
  readonly manifest: Manifest;
  readonly rows: readonly Row[];
  readonly predictions: readonly RowPrediction[];
  readonly predictionIds: readonly string[];
  readonly variant: string;
  readonly answeredAt: Date;
  readonly latencyMs: number;
  readonly requestId?: string;
  readonly unitId?: string;
  /** Per row, the pass-through values the instance sent (ValidatedInstances.passThrough). */
  readonly passThrough?: readonly (PassThroughValues | undefined)[];
  /** Uniform [0, 1) source deciding input sampling (Math.random in production, seeded in tests). */
  readonly random: () => number;
}

/** Builds the log records of one request, applying the manifest's input sampling and redaction. */
export function buildPredictionRecords(batch: ServedBatch, settings: RecordSettings): PredictionRecord[] {
  const { manifest, rows, predictions, predictionIds, answeredAt } = batch;
  const timestamp = answeredAt.toISOString();
  const expiresAt = Math.floor(answeredAt.getTime() / 1000) + Math.round(settings.ttlDays * 86_400);
  const sampleRate = manifest.logging?.inputSampleRate ?? 1;
  const redact = manifest.logging?.redact ?? [];
  const versionShard = `${manifest.name}#${manifest.version}#`;
  const joinField = joinKeyField(manifest);
  const records: PredictionRecord[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const predictionId = predictionIds[i] as string;
    const record: Mutable<PredictionRecord> = {
      predictionId,
      model: manifest.name,
      version: manifest.version,
      variant: batch.variant,
      timestamp,
      modelVersionShard: `${versionShard}${shardOf(predictionId, settings.shards)}`,
      ts: `${timestamp}#${predictionId}`,
      outputs: predictions[i] as RowPrediction,
      latencyMs: batch.latencyMs,
      batchRows: rows.length,
      expiresAt,
    };
    if (sampleRate >= 1 || batch.random() < sampleRate) record.inputs = redacted(rows[i] as Row, redact);
    if (batch.requestId !== undefined) record.requestId = batch.requestId;
    if (batch.unitId !== undefined) record.unitId = batch.unitId;
    const passThrough = batch.passThrough?.[i];
    if (passThrough !== undefined) {
      record.passThrough = passThrough;
      const key = joinField === undefined ? undefined : passThrough[joinField];
      if (key !== undefined) record.joinKey = joinKeyOf(manifest.name, joinField as string, key);
    }
    records[i] = record;
  }
  return records;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function redacted(row: Row, redact: readonly string[]): Row {
  if (redact.length === 0) return row;
  const copy: Row = { ...row };
  for (const name of redact) delete copy[name];
  return copy;
}

/** A stable shard in [0, shards) from the id's last hex digits (ids are random UUIDs). */
export function shardOf(predictionId: string, shards: number): number {
  return Number.parseInt(predictionId.slice(-4), 16) % shards;
}

/** Marks a prediction record written to the fallback (stdout / file) because the log table was unavailable. */
export const FALLBACK_MARKER = 'modelgate.prediction-log.fallback.v1';

/** One self-contained JSON line for the fallback sink. */
export function fallbackLine(record: PredictionRecord, reason: string): string {
  return JSON.stringify({ [FALLBACK_MARKER]: true, reason, record });
}

/**
 * Finds the fallback records in text: a fallback file, or a CloudWatch Logs export where each line may
 * carry a timestamp and request id before the JSON. Lines without the marker are skipped.
 */
export function parseFallbackRecords(text: string): PredictionRecord[] {
  const records: PredictionRecord[] = [];
  for (const line of text.split('\n')) {
    const start = line.indexOf('{');
    if (start === -1 || !line.includes(FALLBACK_MARKER)) continue;
    try {
      const parsed = JSON.parse(line.slice(start)) as { record?: PredictionRecord };
      if (parsed.record?.predictionId) records.push(parsed.record);
    } catch {
      // A line cut by the log pipeline cannot be re-ingested; the count of records found tells the operator.
    }
  }
  return records;
}
