// Pass-through fields (manifest `passThrough`): request fields that are not features — an entity id such as
// customerID — accepted, logged and returned with each prediction; the one marked `joinKey` lets ground truth
// name the entity instead of a predictionId. What a value may be and how the log keys it, defined once for the
// request path, the prediction log and the feedback join.
import type { Manifest } from './manifest-types';

/** The pass-through values one instance carried, as the client sent them. */
export type PassThroughValues = Readonly<Record<string, string | number>>;

/** A pass-through value is an identifier: a non-empty string of at most this many characters, or a finite number. */
export const MAX_PASS_THROUGH_LENGTH = 256;

/** Why `value` cannot be a pass-through value (or a feedback join key), or undefined when it can. */
export function passThroughProblem(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `expected a finite number, got ${value}`;
  if (typeof value === 'string') {
    return value.length > 0 && value.length <= MAX_PASS_THROUGH_LENGTH ? undefined : `expected a non-empty string of at most ${MAX_PASS_THROUGH_LENGTH} characters`;
  }
  return `expected a string or a number, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`;
}

/** The manifest's join-key field (`passThrough[].joinKey`), if it declares one. */
export function joinKeyField(manifest: Pick<Manifest, 'passThrough'>): string | undefined {
  return manifest.passThrough?.find((field) => field.joinKey)?.name;
}

/**
 * The byJoinKey partition of one entity of one model in the prediction log: `<model>#<field>#<value>` (model
 * names and pass-through field names hold no `#`). A number and its decimal string are one key (`42` and
 * `"42"`), so a label can name the id as the client's other systems spell it.
 */
export function joinKeyOf(model: string, field: string, value: string | number): string {
  return `${model}#${field}#${String(value)}`;
}
