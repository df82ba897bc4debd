// Explicit promote and rollback: from the registry's view of a model to the routing to write and the status
// each affected version moves to. Pure; the state machine applies the result under the model's lock.
import { canTransition, type ModelStatus } from '../promotion/status';
import type { ReasonCode, RoutedVersion, RoutingState, VersionRecord } from './registry-types';

export type ControlOperation = { readonly kind: 'promote'; readonly version: string } | { readonly kind: 'rollback'; readonly to?: string };

export interface StatusChange {
  readonly version: string;
  readonly from: ModelStatus;
  readonly to: ModelStatus;
  readonly reason: ReasonCode;
  readonly detail: string;
}

export interface ControlPlan {
  /** All traffic to this version afterwards (shadow and additional routing cleared). */
  readonly target: RoutedVersion;
  readonly changes: readonly StatusChange[];
  readonly summary: string;
}

/** The operation cannot be done: the message says why, for the CLI (exit 1). */
export class ControlError extends Error {
  override readonly name = 'ControlError';
}

/**
 * - promote <v>: v (canary, experiment, shadow, retired or rolled back) takes all traffic; the live version is
 *   retired; another challenger is retired (a canary is rolled back).
 * - rollback: a challenger (canary, experiment, shadow) is removed and the live version keeps serving; with no
 *   challenger, the live version is rolled back to the most recently registered retired version.
 * - rollback --to <v>: v (retired or rolled back) takes all traffic; the live version and any challenger are
 *   rolled back.
 */
export function planControl(operation: ControlOperation, routing: RoutingState | undefined, versions: readonly VersionRecord[]): ControlPlan {
  if (!routing) throw new ControlError('the model has no live version yet: nothing to promote over or roll back');
  const byVersion = new Map(versions.map((v) => [v.version, v]));
  const record = (version: string): VersionRecord => {
    const found = byVersion.get(version);
    if (!found) throw new ControlError(`version ${JSON.stringify(version)} is not registered (registered: ${versions.map((v) => v.version).join(', ') || 'none'})`);
    return found;
  };
  const routed = (v: VersionRecord): RoutedVersion => {
    if (!v.lineage.lambdaVersion) throw new ControlError(`version ${v.version} was never published (status ${v.status}): it cannot take traffic`);
    return { version: v.version, lambdaVersion: v.lineage.lambdaVersion };
  };
  const live = record(routing.primary.version);
  const challengers = [routing.additional?.version, routing.shadow?.version].filter((v): v is string => v !== undefined && v !== live.version).map(record);
  const changes: StatusChange[] = [];
  const change = (v: VersionRecord, to: ModelStatus, reason: ReasonCode, detail: string) => {
    if (v.status === to) return;
    if (!canTransition(v.status, to)) throw new ControlError(`version ${v.version} is ${v.status} and cannot become ${to}`);
    changes.push({ version: v.version, from: v.status, to, reason, detail });
  };

  if (operation.kind === 'promote') {
    const target = record(operation.version);
    if (target.version === live.version) throw new ControlError(`version ${target.version} is already live`);
    const promotable: ModelStatus[] = ['canary', 'experiment', 'shadow', 'retired', 'rolled-back'];
    if (!promotable.includes(target.status)) throw new ControlError(`version ${target.version} is ${target.status}: only ${promotable.join(', ')} versions can be promoted`);
    const detail = `promoted ${target.version} over ${live.version}`;
    change(target, 'live', 'OPERATOR_PROMOTE', detail);
    change(live, 'retired', 'OPERATOR_PROMOTE', detail);
    for (const other of challengers.filter((c) => c.version !== target.version)) {
      change(other, other.status === 'canary' ? 'rolled-back' : 'retired', 'OPERATOR_PROMOTE', detail);
    }
    return { target: routed(target), changes, summary: detail };
  }

  if (operation.to === undefined && challengers.length > 0) {
    const detail = `rolled back ${challengers.map((c) => c.version).join(', ')}; ${live.version} keeps serving`;
    for (const challenger of challengers) change(challenger, 'rolled-back', 'OPERATOR_ROLLBACK', detail);
    return { target: routed(live), changes, summary: detail };
  }
  const target =
    operation.to !== undefined
      ? record(operation.to)
      : [...versions].filter((v) => v.status === 'retired' && v.lineage.lambdaVersion !== undefined && v.version !== live.version).sort((a, b) => b.sequence - a.sequence)[0];
  if (!target) throw new ControlError(`no earlier version to roll back to: ${live.version} is the only version that was live (use promote, or rollback --to <version>)`);
  if (target.version === live.version) throw new ControlError(`version ${target.version} is already live`);
  if (target.status !== 'retired' && target.status !== 'rolled-back') {
    throw new ControlError(`version ${target.version} is ${target.status}: rollback --to takes a retired or rolled-back version (promote takes the others)`);
  }
  const detail = `rolled back ${live.version} to ${target.version}`;
  change(target, 'live', 'OPERATOR_ROLLBACK', detail);
  change(live, 'rolled-back', 'OPERATOR_ROLLBACK', detail);
  for (const challenger of challengers) change(challenger, 'rolled-back', 'OPERATOR_ROLLBACK', detail);
  return { target: routed(target), changes, summary: detail };
}
