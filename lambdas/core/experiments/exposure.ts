// What a batch of the prediction log's stream changes adds to the running experiments: exposures (each
// prediction an arm served after the experiment's start; in unit mode, each unit once) and ground truth
// (each label that feedback writes onto a prediction, per arm). Pure: the aggregator handler looks up and
// records unit exposures, then adds the deltas planned here.
import type { StreamChange } from '../monitoring/window';
import { armOfVersion, metricsOf, type ExperimentDefinition } from './definition';
import { addDelta, exposureDelta, groundTruthDelta, type TallyDelta } from './tally';

/** A unit seen in a unit-mode experiment, to record (once) as exposed to `arm`. */
export interface UnitSighting {
  readonly experimentId: string;
  readonly unitId: string;
  readonly arm: 'control' | 'treatment';
  /** `<shard>/<sequence number>`: the change that saw it; a retried batch recognises its own first sighting. */
  readonly seenBy: string;
}

/** The recorded exposure of a unit after the sighting: first (this change created it) and the unit's arm. */
export interface UnitExposure {
  readonly first: boolean;
  readonly arm: 'control' | 'treatment';
}

export function sightingKey(experimentId: string, unitId: string): string {
  return `${experimentId}\u0000${unitId}`;
}

/** The experiment a logged prediction belongs to, if any: a running one of its model, one of whose arms served it after the start. */
function experimentOf(change: StreamChange, experiments: readonly ExperimentDefinition[]): { experiment: ExperimentDefinition; arm: 'control' | 'treatment' } | undefined {
  const image = change.image;
  if (!image || typeof image.timestamp !== 'string') return undefined;
  for (const experiment of experiments) {
    if (experiment.model !== image.model || image.timestamp < experiment.startedAt) continue;
    if (experiment.endedAt !== undefined && image.timestamp >= experiment.endedAt) continue;
    const arm = armOfVersion(experiment, image.version);
    if (!arm) continue;
    if (experiment.assignment === 'unit' && !image.unitId) continue;
    return { experiment, arm };
  }
  return undefined;
}

/** The units a batch exposes in unit-mode experiments: the first INSERT of each unit, in stream order. */
export function unitSightings(changes: readonly StreamChange[], experiments: readonly ExperimentDefinition[]): UnitSighting[] {
  const sightings = new Map<string, UnitSighting>();
  for (const change of changes) {
    if (change.eventName !== 'INSERT') continue;
    const found = experimentOf(change, experiments);
    if (found?.experiment.assignment !== 'unit') continue;
    const unitId = change.image?.unitId as string;
    const key = sightingKey(found.experiment.id, unitId);
    if (!sightings.has(key)) sightings.set(key, { experimentId: found.experiment.id, unitId, arm: found.arm, seenBy: `${change.shardId}/${change.sequenceNumber}` });
  }
  return [...sightings.values()];
}

/**
 * The deltas of a batch per (experiment, arm). An INSERT adds an exposure; a change carrying a label
 * (the MODIFY feedback makes, once per prediction) adds the ground-truth metrics the experiment reads, to
 * the arm that served the prediction. `exposures` holds the recorded exposure of every unit sighting: a
 * unit whose sighting created its exposure counts once, at its first INSERT in the batch.
 */
export function streamDeltas(
  changes: readonly StreamChange[],
  experiments: readonly ExperimentDefinition[],
  exposures: ReadonlyMap<string, UnitExposure>,
): Map<string, { experimentId: string; arm: 'control' | 'treatment'; delta: TallyDelta }> {
  const deltas = new Map<string, { experimentId: string; arm: 'control' | 'treatment'; delta: TallyDelta }>();
  const add = (experimentId: string, arm: 'control' | 'treatment', delta: TallyDelta) => {
    if (Object.keys(delta).length === 0) return;
    const key = `${experimentId}\u0000${arm}`;
    const entry = deltas.get(key) ?? { experimentId, arm, delta: {} };
    addDelta(entry.delta, delta);
    deltas.set(key, entry);
  };
  const counted = new Set<string>();
  for (const change of changes) {
    const found = experimentOf(change, experiments);
    if (!found) continue;
    const { experiment, arm } = found;
    const image = change.image!;
    if (change.eventName === 'INSERT') {
      if (experiment.assignment === 'request') {
        add(experiment.id, arm, exposureDelta('request', image.batchRows, false, false));
      } else {
        const key = sightingKey(experiment.id, image.unitId as string);
        const exposure = exposures.get(key);
        const first = exposure?.first === true && !counted.has(key);
        if (first) counted.add(key);
        // The unit's arm is the one it was first exposed to (intention to treat); serving it by the other
        // version is a crossover, counted where the unit belongs.
        const unitArm = exposure?.arm ?? arm;
        add(experiment.id, unitArm, exposureDelta('unit', image.batchRows, first, unitArm !== arm));
      }
    }
    if ((change.eventName === 'INSERT' || change.eventName === 'MODIFY') && image.actual !== undefined && image.actual !== null) {
      add(
        experiment.id,
        arm,
        groundTruthDelta(
          metricsOf(experiment).map((m) => m.metric),
          image.outputs,
          image.actual,
        ),
      );
    }
  }
  return deltas;
}
