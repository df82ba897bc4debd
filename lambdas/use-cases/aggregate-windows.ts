import type { Logger } from '@aws-lambda-powertools/logger';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Manifest } from '../core/manifest';
import { emptyWindow, foldChanges, windowKeyOf, type LoggedRecord, type StreamChange } from '../core/monitoring/window';
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
}

const MAX_CONFLICT_RETRIES = 8;

/**
 * The aggregator: folds a stream batch into per-window aggregates in the monitoring table. Each window the
 * batch touches is read, folded (changes at or below the shard's mark skipped) and written back under
 * optimistic concurrency; a failure throws, Lambda retries the same batch, and the marks keep the retry
 * from counting twice. Cost: one read and one write per touched window per batch, whatever the batch size.
 */
export function aggregatorHandler(deps: AggregatorDependencies): (event: StreamBatchEvent) => Promise<AggregationResult> {
  const now = deps.now ?? (() => new Date());
  return async (event) => {
    const shardId = event.shardId ?? `unknown-shard:${event.eventSourceARN ?? ''}`;
    if (!event.shardId && event.Records.length > 0) {
      deps.logger.warn('the stream event names no shard (no tumbling window on the event source mapping): retries may count twice');
    }
    const groups = new Map<string, { model: string; version: string; windowStart: string; changes: StreamChange[] }>();
    for (const record of event.Records) {
      const change = toChange(record, shardId);
      if (!change) continue;
      const key = windowKeyOf(change, deps.windowMinutes, deps.minuteMs);
      if (!key) continue;
      const id = `${key.model}#${key.version}#${key.windowStart}`;
      const group = groups.get(id) ?? { ...key, changes: [] };
      group.changes.push(change);
      groups.set(id, group);
    }
    let counted = 0;
    const skipped = new Set<string>();
    const touched = new Map<string, { model: string; version: string }>();
    for (const group of groups.values()) {
      const manifest = await deps.manifests.get(group.model, group.version);
      if ('reason' in manifest) {
        // No manifest, no baseline to bin against: the changes cannot be aggregated (logged, not retried).
        skipped.add(`${group.model}#${group.version}`);
        deps.logger.error('changes of a model version without a readable manifest are not aggregated', { reason: manifest.reason, changes: group.changes.length });
        continue;
      }
      counted += await foldIntoStore(deps, manifest, group.windowStart, group.changes);
      touched.set(`${group.model}#${group.version}`, { model: group.model, version: group.version });
    }
    const seenAt = now().toISOString();
    for (const { model, version } of touched.values()) await deps.store.touchVersion(model, version, seenAt);
    return { records: event.Records.length, counted, windows: groups.size, skippedVersions: [...skipped] };
  };
}

async function foldIntoStore(deps: AggregatorDependencies, manifest: Manifest, windowStart: string, changes: readonly StreamChange[]): Promise<number> {
  const expiresAt = Math.floor(Date.parse(windowStart) / 1000) + deps.windowTtlDays * 86_400;
  for (let attempt = 0; attempt <= MAX_CONFLICT_RETRIES; attempt++) {
    const stored = await deps.store.getWindow(manifest.name, manifest.version, windowStart);
    const window = stored?.window ?? emptyWindow(manifest, windowStart, deps.windowMinutes);
    const counted = foldChanges(window, changes, manifest);
    if (counted === 0 && stored) return 0;
    if (await deps.store.putWindow(window, stored?.rev, expiresAt)) return counted;
    await new Promise((resolve) => setTimeout(resolve, 5 * 2 ** attempt * Math.random()));
  }
  throw new Error(`window ${manifest.name} v${manifest.version} ${windowStart}: still conflicting after ${MAX_CONFLICT_RETRIES} retries`);
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
