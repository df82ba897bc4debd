// The registry's status model of one model version and the transitions between statuses, as data. The
// registry adapter calls `transition` before every write so an impossible history cannot be recorded.

export const MODEL_STATUSES = ['candidate', 'validating', 'rejected', 'canary', 'experiment', 'shadow', 'live', 'retired', 'rolled-back'] as const;
export type ModelStatus = (typeof MODEL_STATUSES)[number];

/**
 * Allowed next statuses. A candidate is validated, then rejected (final: a version is never validated
 * twice) or enters the rollout its strategy starts with. A canary goes live or is rolled back; an experiment
 * ends by promotion, rollback, or being retired when the champion wins; a shadow is promoted (directly or
 * through a canary), rolled back or retired. A live version is retired when another takes over, or rolled
 * back. Retired and rolled-back versions stay registered: an explicit promote or rollback to them makes them
 * live again (directly or through a canary).
 */
export const TRANSITIONS: Readonly<Record<ModelStatus, readonly ModelStatus[]>> = {
  candidate: ['validating'],
  validating: ['rejected', 'canary', 'experiment', 'shadow', 'live'],
  rejected: [],
  canary: ['live', 'rolled-back'],
  experiment: ['live', 'rolled-back', 'retired'],
  shadow: ['live', 'canary', 'rolled-back', 'retired'],
  live: ['retired', 'rolled-back'],
  retired: ['live', 'canary'],
  'rolled-back': ['live', 'canary'],
};

export class StatusTransitionError extends Error {
  override readonly name = 'StatusTransitionError';
  constructor(
    readonly from: string,
    readonly to: string,
  ) {
    const allowed = isModelStatus(from) ? TRANSITIONS[from] : [];
    super(
      !isModelStatus(from)
        ? `unknown status "${from}" (statuses: ${MODEL_STATUSES.join(', ')})`
        : !isModelStatus(to)
          ? `unknown status "${to}" (statuses: ${MODEL_STATUSES.join(', ')})`
          : `a ${from} version cannot become ${to} (from ${from}: ${allowed.length > 0 ? allowed.join(', ') : 'no further status'})`,
    );
  }
}

export function isModelStatus(value: string): value is ModelStatus {
  return (MODEL_STATUSES as readonly string[]).includes(value);
}

export function canTransition(from: ModelStatus, to: ModelStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Returns `to` when a version in status `from` may move to it; throws StatusTransitionError naming both otherwise. */
export function transition(from: string, to: string): ModelStatus {
  if (!isModelStatus(from) || !isModelStatus(to) || !canTransition(from, to)) throw new StatusTransitionError(from, to);
  return to;
}
