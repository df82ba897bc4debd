// The experiment aggregator: a batch of the prediction log's stream -> exposures and ground truth per arm of
// the running experiments (core/experiments/exposure.ts), added to the arms' counters exactly once.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { ExperimentStore } from '../../adapters/experiment-store';
import { sightingKey, streamDeltas, unitSightings, type UnitExposure } from '../../core/experiments/exposure';
import { compareSequenceNumbers, type StreamChange } from '../../core/monitoring/window';
import { mapLimit } from '../../contracts/experiment-environment';

export interface ExperimentAggregationDependencies {
  readonly store: Pick<ExperimentStore, 'list' | 'recordSighting' | 'addStreamDelta'>;
  readonly logger: Logger;
  readonly now?: () => Date;
}

const SIGHTING_CONCURRENCY = 16;

/**
 * Folds one shard's batch (in order) into the counters. Running experiments are read per batch, so one started
 * a moment ago is seen (its start delay covers the index's lag). Unit exposures are recorded first (each unit
 * once, a retry recognising its own sighting); then each touched arm takes one ADD that carries the batch's
 * sequence range, refused if the range was added before. A failure throws and Lambda retries the batch.
 */
export async function aggregateForExperiments(deps: ExperimentAggregationDependencies, shardId: string, changes: readonly StreamChange[]): Promise<{ experiments: number; sightings: number; updates: number; alreadyApplied: number }> {
  if (changes.length === 0) return { experiments: 0, sightings: 0, updates: 0, alreadyApplied: 0 };
  const experiments = await deps.store.list('running');
  if (experiments.length === 0) return { experiments: 0, sightings: 0, updates: 0, alreadyApplied: 0 };
  const now = (deps.now ?? (() => new Date()))();
  const byId = new Map(experiments.map((e) => [e.id, e]));
  const sightings = unitSightings(changes, experiments);
  const recorded = await mapLimit(sightings, SIGHTING_CONCURRENCY, (s) => deps.store.recordSighting(s, byId.get(s.experimentId)!, now));
  const exposures = new Map<string, UnitExposure>(sightings.map((s, i) => [sightingKey(s.experimentId, s.unitId), recorded[i]!]));
  const deltas = streamDeltas(changes, experiments, exposures);
  const sequences = changes.map((c) => c.sequenceNumber).sort(compareSequenceNumbers);
  const [first, last] = [sequences[0]!, sequences[sequences.length - 1]!];
  let updates = 0;
  let alreadyApplied = 0;
  for (const { experimentId, arm, delta } of deltas.values()) {
    if (await deps.store.addStreamDelta(experimentId, arm, shardId, first, last, delta)) updates++;
    else alreadyApplied++;
  }
  if (alreadyApplied > 0) deps.logger.info('batch added before (a retry): skipped', { shardId, first, last, alreadyApplied });
  return { experiments: experiments.length, sightings: sightings.length, updates, alreadyApplied };
}
