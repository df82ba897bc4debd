// The experiment aggregator: a batch of the prediction log's stream -> exposures and ground truth per arm of
// the running experiments (core/experiments/exposure.ts), added to the arms' counters exactly once.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { ExperimentStore } from '../../adapters/experiment-store';
import { dynamoNumberProblem } from '../../core/dynamodb-number';
import type { ExperimentDefinition } from '../../core/experiments/definition';
import { sightingKey, streamDeltas, unitSightings, type UnitExposure } from '../../core/experiments/exposure';
import { compareSequenceNumbers, type StreamChange } from '../../core/monitoring/window';
import { firstFailure, type FailedRecord } from '../../core/stream-batch';
import { mapLimit } from '../../contracts/experiment-environment';
import { toChange, type StreamBatchEvent } from '../aggregate-windows';

export interface ExperimentAggregationDependencies {
  readonly store: Pick<ExperimentStore, 'list' | 'recordSighting' | 'addStreamDelta'>;
  readonly logger: Logger;
  readonly now?: () => Date;
}

export interface ExperimentAggregation {
  readonly experiments: number;
  readonly sightings: number;
  readonly updates: number;
  readonly alreadyApplied: number;
  /** The first change the counters cannot take (a malformed record): the changes before it were added. */
  readonly poison?: { readonly position: number; readonly reason: string };
}

const SIGHTING_CONCURRENCY = 16;

/**
 * Folds one shard's batch (in order) into the counters. Running experiments are read per batch, so one started
 * a moment ago is seen (its start delay covers the index's lag). Unit exposures are recorded first (each unit
 * once, a retry recognising its own sighting); then each touched arm takes one ADD that carries the batch's
 * sequence range, refused if the range was added before. A change the counters cannot take ends the range
 * before it and is returned as `poison`; a failure of the table throws and Lambda retries (or halves) the batch.
 */
export async function aggregateForExperiments(deps: ExperimentAggregationDependencies, shardId: string, changes: readonly StreamChange[]): Promise<ExperimentAggregation> {
  if (changes.length === 0) return { experiments: 0, sightings: 0, updates: 0, alreadyApplied: 0 };
  const experiments = await deps.store.list('running');
  if (experiments.length === 0) return { experiments: 0, sightings: 0, updates: 0, alreadyApplied: 0 };
  const poison = firstPoison(changes, experiments);
  const counted = poison ? changes.slice(0, poison.position) : changes;
  if (counted.length === 0) return { experiments: experiments.length, sightings: 0, updates: 0, alreadyApplied: 0, ...(poison ? { poison } : {}) };
  const now = (deps.now ?? (() => new Date()))();
  const byId = new Map(experiments.map((e) => [e.id, e]));
  const sightings = unitSightings(counted, experiments);
  const recorded = await mapLimit(sightings, SIGHTING_CONCURRENCY, (s) => deps.store.recordSighting(s, byId.get(s.experimentId)!, now));
  const exposures = new Map<string, UnitExposure>(sightings.map((s, i) => [sightingKey(s.experimentId, s.unitId), recorded[i]!]));
  const deltas = streamDeltas(counted, experiments, exposures);
  const sequences = counted.map((c) => c.sequenceNumber).sort(compareSequenceNumbers);
  const [first, last] = [sequences[0]!, sequences[sequences.length - 1]!];
  let updates = 0;
  let alreadyApplied = 0;
  for (const { experimentId, arm, delta } of deltas.values()) {
    if (await deps.store.addStreamDelta(experimentId, arm, shardId, first, last, delta)) updates++;
    else alreadyApplied++;
  }
  if (alreadyApplied > 0) deps.logger.info('batch added before (a retry): skipped', { shardId, first, last, alreadyApplied });
  return { experiments: experiments.length, sightings: sightings.length, updates, alreadyApplied, ...(poison ? { poison } : {}) };
}

/**
 * The first change whose exposure or ground truth cannot be computed, or comes out as a number the counters
 * cannot store (a record without batchRows makes NaN), if any. Pure: no writes.
 */
function firstPoison(changes: readonly StreamChange[], experiments: readonly ExperimentDefinition[]): ExperimentAggregation['poison'] {
  for (let position = 0; position < changes.length; position++) {
    const change = changes[position] as StreamChange;
    let reason: string | undefined;
    try {
      compareSequenceNumbers(change.sequenceNumber, '0');
      unitSightings([change], experiments);
      for (const { delta } of streamDeltas([change], experiments, new Map()).values()) {
        const bad = Object.entries(delta).find(([, amount]) => dynamoNumberProblem(amount) !== undefined);
        if (bad) reason = `${bad[0]}: ${dynamoNumberProblem(bad[1])}`;
      }
    } catch (error) {
      reason = `${(error as Error).name}: ${(error as Error).message}`;
    }
    if (reason !== undefined) return { position, reason: `the record cannot be counted: ${reason}` };
  }
  return undefined;
}

/**
 * A stream batch as Lambda delivers it: its records decoded in order up to the first that cannot be, counted,
 * and the first record not counted (`failed`), from which the mapping delivers the batch again.
 */
export async function aggregateExperimentBatch(
  deps: ExperimentAggregationDependencies,
  event: StreamBatchEvent,
): Promise<ExperimentAggregation & { readonly failed?: FailedRecord }> {
  const shardId = event.shardId ?? `unknown-shard:${event.eventSourceARN ?? ''}`;
  if (!event.shardId && event.Records.length > 0) deps.logger.warn('the stream event names no shard (no tumbling window on the mapping): a retried batch may count twice');
  const changes: { index: number; change: StreamChange }[] = [];
  let failed: FailedRecord | undefined;
  for (const [index, record] of event.Records.entries()) {
    try {
      const change = toChange(record, shardId);
      if (change) changes.push({ index, change });
    } catch (error) {
      failed = { index, sequenceNumber: record.dynamodb?.SequenceNumber ?? '', reason: `the record cannot be read: ${(error as Error).name}: ${(error as Error).message}` };
      break;
    }
  }
  const result = await aggregateForExperiments(
    deps,
    shardId,
    changes.map((c) => c.change),
  );
  if (result.poison) {
    const { index, change } = changes[result.poison.position] as { index: number; change: StreamChange };
    failed = firstFailure(failed, { index, sequenceNumber: change.sequenceNumber, reason: result.poison.reason });
  }
  if (failed) deps.logger.error('records not counted: the batch comes again from the first', { ...failed, records: event.Records.length });
  return { ...result, ...(failed ? { failed } : {}) };
}
