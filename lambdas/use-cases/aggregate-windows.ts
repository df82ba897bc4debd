import type { Logger } from '@aws-lambda-powertools/logger';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Manifest } from '../core/manifest';
import { emptyWindow, foldChanges, windowKeyOf, type LoggedRecord, type StreamChange } from '../core/monitoring/window';
import { firstFailure, type FailedRecord } from '../core/stream-batch';
import type { ManifestStore } from '../adapters/manifest-store';
import type { MonitoringStore } from '../adapters/monitoring-store';

/**
 * A DynamoDB stream batch as Lambda delivers it with a tumbling window configured on the event source
 * mapping: the records of one shard, in order, and that shard's id (which is why the mapping sets a
 * tumbling window: only then does the event name its shard).
 */
export interface StreamBatchEvent {
  readonly Records: readonly {
    readonly eventName?: string;
    readonly dynamodb?: { readonly NewImage?: Record<string, unknown>; readonly SequenceNumber?: string };
  }[];
  readonly shardId?: string;
  readonly eventSourceARN?: string;
}

export interface AggregatorDependencies {
  readonly store: MonitoringStore;
  readonly manifests: ManifestStore;
  readonly logger: Logger;
  readonly windowMinutes: number;
  /** The length of a minute in ms: 60000, shorter under the local runtime's time scale. @default 60000 */
  readonly minuteMs?: number;
  readonly windowTtlDays: number;
  readonly now?: () => Date;
}

export interface AggregationResult {
  readonly records: number;
  readonly counted: number;
  readonly windows: number;
  readonly skippedVersions: readonly string[];
  /** The first record that was not aggregated (a later try may succeed): the batch is delivered again from it. */
  readonly failed?: FailedRecord;
}

const MAX_CONFLICT_RETRIES = 8;

/**
 * The aggregator: folds a stream batch into per-window aggregates in the monitoring table. Each window the
 * batch touches is read, folded (changes at or below the shard's mark skipped) and written back under
 * optimistic concurrency. A window that fails (its manifest unreadable for now, the table failing, a record
 * it cannot fold) does not stop the others: they are written, and the result names the first record not
 * aggregated, from which the mapping delivers the batch again (the marks keep the rest from counting twice).
 * Cost: one read and one write per touched window per batch, whatever the batch size.
 */
export function aggregatorHandler(deps: AggregatorDependencies): (event: StreamBatchEvent) => Promise<AggregationResult> {
  const now = deps.now ?? (() => new Date());
  return async (event) => {
    const shardId = event.shardId ?? `unknown-shard:${event.eventSourceARN ?? ''}`;
    if (!event.shardId && event.Records.length > 0) {
      deps.logger.warn('the stream event names no shard (no tumbling window on the mapping): retries may count twice');
    }
    let failed: FailedRecord | undefined;
    const groups = new Map<string, { model: string; version: string; windowStart: string; changes: IndexedChange[] }>();
    event.Records.forEach((record, index) => {
      let change: StreamChange | undefined;
      let key: ReturnType<typeof windowKeyOf>;
      try {
        change = toChange(record, shardId);
        if (change) key = windowKeyOf(change, deps.windowMinutes, deps.minuteMs);
      } catch (error) {
        failed = firstFailure(failed, { index, sequenceNumber: record.dynamodb?.SequenceNumber ?? '', reason: `the record cannot be read: ${describe(error)}` });
        return;
      }
      if (!change || !key) return;
      const id = `${key.model}#${key.version}#${key.windowStart}`;
      const group = groups.get(id) ?? { ...key, changes: [] };
      group.changes.push({ index, change });
      groups.set(id, group);
    });
    let counted = 0;
    const skipped = new Set<string>();
    const touched = new Map<string, { model: string; version: string }>();
    for (const group of groups.values()) {
      const [head] = group.changes as [IndexedChange];
      try {
        const manifest = await deps.manifests.get(group.model, group.version);
        if ('reason' in manifest) {
          // No manifest, no baseline to bin against: the changes cannot be aggregated (logged, not retried).
          skipped.add(`${group.model}#${group.version}`);
          deps.logger.error('changes of a model version without a readable manifest are not aggregated', { reason: manifest.reason, changes: group.changes.length });
          continue;
        }
        const folded = await foldIntoStore(deps, manifest, group.windowStart, group.changes);
        counted += folded.counted;
        failed = firstFailure(failed, folded.failed);
      } catch (error) {
        failed = firstFailure(failed, {
          index: head.index,
          sequenceNumber: head.change.sequenceNumber,
          reason: `window ${group.model} v${group.version} ${group.windowStart}: ${describe(error)}`,
        });
        continue;
      }
      touched.set(`${group.model}#${group.version}`, { model: group.model, version: group.version });
    }
    const seenAt = now().toISOString();
    for (const { model, version } of touched.values()) await deps.store.touchVersion(model, version, seenAt);
    if (failed) deps.logger.error('records not aggregated: the batch comes again from the first', { ...failed, records: event.Records.length });
    return { records: event.Records.length, counted, windows: groups.size, skippedVersions: [...skipped], ...(failed ? { failed } : {}) };
  };
}

interface IndexedChange {
  /** Position in the event's Records. */
  readonly index: number;
  readonly change: StreamChange;
}

/**
 * Folds a window's changes and writes it. A change that cannot be folded (an exception from the fold: its
 * record is malformed) is found by folding one change at a time; the changes before it are written and it is
 * returned as failed, so the batch comes again from it and it reaches the on-failure destination alone.
 */
async function foldIntoStore(
  deps: AggregatorDependencies,
  manifest: Manifest,
  windowStart: string,
  changes: readonly IndexedChange[],
): Promise<{ counted: number; failed?: FailedRecord }> {
  const expiresAt = Math.floor(Date.parse(windowStart) / 1000) + deps.windowTtlDays * 86_400;
  for (let attempt = 0; attempt <= MAX_CONFLICT_RETRIES; attempt++) {
    const stored = await deps.store.getWindow(manifest.name, manifest.version, windowStart);
    let window = stored?.window ?? emptyWindow(manifest, windowStart, deps.windowMinutes);
    let counted: number;
    let failed: FailedRecord | undefined;
    try {
      counted = foldChanges(
        window,
        changes.map((c) => c.change),
        manifest,
      );
    } catch {
      window = stored?.window ?? emptyWindow(manifest, windowStart, deps.windowMinutes);
      counted = 0;
      for (const { index, change } of changes) {
        const trial = structuredClone(window);
        try {
          counted += foldChanges(trial, [change], manifest);
        } catch (error) {
          failed = { index, sequenceNumber: change.sequenceNumber, reason: `the record cannot be aggregated: ${describe(error)}` };
          break;
        }
        window = trial;
      }
    }
    if (counted === 0 && stored) return { counted, ...(failed ? { failed } : {}) };
    if (await deps.store.putWindow(window, stored?.rev, expiresAt)) return { counted, ...(failed ? { failed } : {}) };
    await new Promise((resolve) => setTimeout(resolve, 5 * 2 ** attempt * Math.random()));
  }
  throw new Error(`window ${manifest.name} v${manifest.version} ${windowStart}: still conflicting after ${MAX_CONFLICT_RETRIES} retries`);
}

function describe(error: unknown): string {
  return `${(error as Error).name}: ${(error as Error).message}`;
}

export function toChange(record: StreamBatchEvent['Records'][number], shardId: string): StreamChange | undefined {
  const eventName = record.eventName;
  const sequenceNumber = record.dynamodb?.SequenceNumber;
  if ((eventName !== 'INSERT' && eventName !== 'MODIFY' && eventName !== 'REMOVE') || !sequenceNumber) return undefined;
  const newImage = record.dynamodb?.NewImage;
  return {
    eventName,
    shardId,
    sequenceNumber,
    ...(newImage ? { image: unmarshall(newImage as Record<string, AttributeValue>) as LoggedRecord } : {}),
  };
}
