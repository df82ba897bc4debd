// Unit-level (sticky) assignment: the arm of a unit is a pure function of (experiment id, unit id), so every
// request of one unit meets the same version, whichever function instance routes it, with no lookup.

/** FNV-1a, 32 bits, over UTF-16 code units (as GrowthBook's SDKs hash). */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * A uniform bucket in [0, 1) for a unit in an experiment: GrowthBook's hash version 2,
 * fnv1a32(String(fnv1a32(seed + unit))) mod 10000 / 10000. Hashing twice spreads sequential ids
 * (user-1, user-2, ...) that a single FNV pass leaves correlated in the low digits; the experiment id as
 * seed makes assignments of different experiments independent.
 */
export function unitBucket(experimentId: string, unitId: string): number {
  return (fnv1a32(String(fnv1a32(experimentId + unitId))) % 10_000) / 10_000;
}

/** The arm of a unit: the treatment for buckets below the treatment share, else the control. */
export function assignArm(experimentId: string, unitId: string, treatmentShare: number): 'control' | 'treatment' {
  return unitBucket(experimentId, unitId) < treatmentShare ? 'treatment' : 'control';
}

/** Header that carries the unit id of a request (the `unitId` field of a /v1 predict body works too). */
export const UNIT_ID_HEADER = 'x-modelgate-unit-id';
/**
 * Set at the top level of an event one version forwards to another with a direct Invoke: the receiver serves
 * it and never forwards it again. Outside `headers` on purpose: API Gateway builds its proxy events itself and
 * never sets a top-level field of this name, so only a caller allowed to invoke the function directly (the
 * function itself) can; a header anyone could send, and skip sticky assignment to pick an arm.
 */
export const ROUTED_MARKER = 'modelgateRoutedFrom';
/** Unit ids longer than this are refused (they become DynamoDB key parts). */
export const MAX_UNIT_ID_LENGTH = 256;

/**
 * The unit id of a request: the header (case-insensitive, as HTTP headers are), else a top-level string
 * `unitId` in a JSON body. The body is parsed only when it mentions unitId at all, so requests without one
 * pay for a substring search and nothing else.
 */
export function unitIdOf(headers: Readonly<Record<string, string | undefined>> | null | undefined, body: string | null | undefined): string | undefined {
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() === UNIT_ID_HEADER && value) return value.length <= MAX_UNIT_ID_LENGTH ? value : undefined;
  }
  if (!body?.includes('"unitId"')) return undefined;
  try {
    const parsed = JSON.parse(body) as { unitId?: unknown };
    const unitId = parsed?.unitId;
    return typeof unitId === 'string' && unitId !== '' && unitId.length <= MAX_UNIT_ID_LENGTH ? unitId : undefined;
  } catch {
    return undefined;
  }
}

/** Whether an event was forwarded by another version of the function (loop guard); headers do not count. */
export function wasRouted(event: object): boolean {
  return Object.hasOwn(event, ROUTED_MARKER) && typeof (event as Record<string, unknown>)[ROUTED_MARKER] === 'string';
}
