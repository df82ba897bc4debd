// Generated request bodies and paths for the fuzz tests (test/integration/fuzz.test.ts, in-process) and for
// `npm run fuzz` (bench/fuzz.ts, over HTTP against the local runtime). Seeded (core/random.ts), so a failing
// body can be made again from its seed and index. Each body starts from a valid one for its route and takes
// one to three mutations: a value replaced by an arbitrary JSON value, an extreme number (beyond DynamoDB's or
// float32's range, subnormal, unsafe integers), a hostile string or key (prototype member names, NUL, lone
// surrogates, 70,000 characters), a key removed or added, nesting 10,000 deep, literals JSON.stringify cannot
// make (1e999, a 400-digit integer), a batch past its limit; or, for a few, the text itself cut, prefixed or
// replaced. What every answer must be is in `classifyAnswer`.
import { type ExperimentDefinition, planExperiment } from '../../lambdas/core/experiments/definition';
import type { Manifest } from '../../lambdas/core/manifest';

export type Random = () => number;
export type Route = 'predict' | 'infer' | 'feedback' | 'events';

/** What a body is built from: the model it is sent to, valid rows, and ids the service knows. */
export interface FuzzContext {
  readonly manifest: Manifest;
  readonly rows: readonly Record<string, unknown>[];
  /** Prediction ids the log holds (feedback and events join on them). */
  readonly predictionIds: readonly string[];
  /** Unit ids, and the event names a running experiment measures. */
  readonly unitIds: readonly string[];
  readonly eventNames: readonly string[];
}

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const chance = (random: Random, p: number) => random() < p;

const NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  2.5,
  42,
  1e308,
  -1e308,
  5e-324,
  -5e-324,
  1e126,
  -1e126,
  9.999999999999999e125,
  1e-130,
  1e-131,
  -1e-200,
  3.4028234663852886e38,
  3.5e38,
  -1e39,
  1e39,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 63),
  1e21,
  // biome-ignore lint/correctness/noPrecisionLoss: a literal with more digits than a double holds is the point of the case
  123456789.123456789,
  Number.MAX_SAFE_INTEGER,
  1e-7,
];
const STRINGS = [
  '',
  ' ',
  '__proto__',
  'constructor',
  'toString',
  'prototype',
  'hasOwnProperty',
  'valueOf',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e999',
  'null',
  'true',
  '0',
  '1',
  'Yes',
  'No',
  'FP32',
  'FP64',
  'BYTES',
  'INT64',
  'BOOL',
  'UINT8',
  '\u0000',
  '\ud800',
  '\udfff\ud800',
  '💥',
  'e\u0301',
  '\u202e',
  'x'.repeat(300),
  'x'.repeat(70_000),
  '<script>alert(1)</script>',
  '%00',
  '../../etc/passwd',
  '${jndi:ldap://x}',
  "' OR 1=1 --",
  'conversion',
  'revenue',
];
const KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '',
  ' ',
  'instances',
  'inputs',
  'unitId',
  'id',
  'parameters',
  'feedback',
  'events',
  'name',
  'value',
  'data',
  'shape',
  'datatype',
  'actual',
  'predictionId',
  'eventId',
  'timestamp',
];

/** Text JSON.stringify cannot make, spliced in where a placeholder string stands. */
const RAW = [
  '1e999',
  '-1e999',
  `1${'0'.repeat(400)}`,
  `0.${'0'.repeat(400)}1`,
  '-0',
  '1E+308',
  '0e-400',
  `${'['.repeat(10_000)}${']'.repeat(10_000)}`,
  `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`,
  `${'['.repeat(10_000)}1${']'.repeat(10_000)}`,
];
const RAW_MARK = '\u0001raw:';

/** An arbitrary JSON value, at most `depth` levels of arrays and objects. */
export function arbitraryValue(random: Random, depth = 3): unknown {
  const kind = Math.floor(random() * (depth > 0 ? 9 : 6));
  switch (kind) {
    case 0:
      return null;
    case 1:
      return chance(random, 0.5);
    case 2:
      return pick(random, NUMBERS);
    case 3:
      return (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20);
    case 4:
      return pick(random, STRINGS);
    case 5:
      return `${RAW_MARK}${Math.floor(random() * RAW.length)}`;
    case 6:
    case 7:
      return Array.from({ length: Math.floor(random() * 4) }, () => arbitraryValue(random, depth - 1));
    default:
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, () => [pick(random, KEYS), arbitraryValue(random, depth - 1)]));
  }
}

/** A valid body for the route, as a value (mutations work on it before it becomes text). */
export function validBody(route: Route, random: Random, context: FuzzContext): unknown {
  const rows = Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({ ...pick(random, context.rows) }));
  switch (route) {
    case 'predict':
      return chance(random, 0.2) ? { instances: rows, unitId: pick(random, context.unitIds) } : { instances: rows };
    case 'infer': {
      const datatype = { number: 'FP64', integer: 'INT64', string: 'BYTES', boolean: 'BOOL' } as const;
      const inputs = context.manifest.features.map((f) => ({ name: f.name, shape: [rows.length], datatype: datatype[f.type], data: rows.map((r) => r[f.name] ?? null) }));
      return chance(random, 0.5) ? { id: `req-${Math.floor(random() * 1e6)}`, inputs } : { inputs };
    }
    case 'feedback': {
      const labels = context.manifest.classLabels ?? [0];
      const item = () => ({
        predictionId: pick(random, context.predictionIds),
        actual: pick(random, labels),
        ...(chance(random, 0.3) ? { eventId: `e-${Math.floor(random() * 1e6)}` } : {}),
      });
      return chance(random, 0.5) ? item() : { feedback: Array.from({ length: 1 + Math.floor(random() * 3) }, item) };
    }
    case 'events': {
      const event = () => ({
        ...(chance(random, 0.5) ? { predictionId: pick(random, context.predictionIds) } : { unitId: pick(random, context.unitIds) }),
        name: pick(random, context.eventNames),
        ...(chance(random, 0.6) ? { value: pick(random, [0, 1, 12.5, 99]) } : {}),
        ...(chance(random, 0.5) ? { eventId: `ev-${Math.floor(random() * 1e9)}` } : {}),
      });
      const events = Array.from({ length: 1 + Math.floor(random() * 3) }, event);
      return pick(random, [events[0], events, { events }]);
    }
  }
}

/** One to three mutations of a valid body, then (rarely) damage to the text itself. */
export function fuzzBody(route: Route, random: Random, context: FuzzContext): string {
  let value = validBody(route, random, context);
  const mutations = chance(random, 0.1) ? 0 : 1 + Math.floor(random() * 3);
  for (let m = 0; m < mutations; m++) value = mutate(value, random);
  // A root replaced by undefined is no body at all.
  let text = (JSON.stringify(value) ?? '').replace(/"\\u0001raw:(\d+)"/g, (_, i: string) => RAW[Number(i)] as string);
  if (chance(random, 0.05)) {
    text = pick(random, [
      text.slice(0, Math.floor(random() * text.length)),
      `\ufeff${text}`,
      `${text}${text}`,
      `${text} trailing`,
      '',
      ' ',
      'null',
      String.fromCharCode(...Array.from({ length: 32 }, () => Math.floor(random() * 0x10000))),
    ]);
  }
  return text;
}

/** The value with one change at a random place in it. */
function mutate(value: unknown, random: Random): unknown {
  const paths: (string | number)[][] = [];
  const walk = (node: unknown, path: (string | number)[]) => {
    paths.push(path);
    if (Array.isArray(node))
      node.forEach((child, i) => {
        walk(child, [...path, i]);
      });
    else if (node !== null && typeof node === 'object') for (const key of Object.keys(node)) walk((node as Record<string, unknown>)[key], [...path, key]);
  };
  walk(value, []);
  const path = pick(random, paths);
  const replace = (next: unknown): unknown => setAt(value, path, next);
  const current = getAt(value, path);
  switch (Math.floor(random() * 10)) {
    case 0:
    case 1:
      return replace(arbitraryValue(random));
    case 2:
      return replace(pick(random, NUMBERS));
    case 3:
      return replace(pick(random, STRINGS));
    case 4:
      return replace(`${RAW_MARK}${Math.floor(random() * RAW.length)}`);
    case 5:
      return path.length === 0 ? null : removeAt(value, path);
    case 6:
      return current !== null && typeof current === 'object' && !Array.isArray(current)
        ? replace({ ...current, [pick(random, KEYS)]: arbitraryValue(random) })
        : replace([current]);
    case 7:
      // Past a batch limit (1,000 rows, events or labels) or an empty list.
      return Array.isArray(current) ? replace(chance(random, 0.5) ? Array.from({ length: 1001 }, () => current[0] ?? null) : []) : replace(null);
    case 8:
      return replace(typeof current === 'number' ? String(current) : typeof current === 'string' ? Number(current) || current.length : current === null ? {} : null);
    default:
      return replace(undefined);
  }
}

function getAt(value: unknown, path: readonly (string | number)[]): unknown {
  return path.reduce<unknown>((node, key) => (node as Record<string | number, unknown>)[key], value);
}

function setAt(value: unknown, path: readonly (string | number)[], next: unknown): unknown {
  if (path.length === 0) return next;
  const [key, ...rest] = path as [string | number, ...(string | number)[]];
  const copy = (Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) }) as Record<string | number, unknown>;
  // defineProperty: a key named __proto__ must become a property, not the prototype.
  Object.defineProperty(copy, key, { value: setAt(copy[key], rest, next), enumerable: true, writable: true, configurable: true });
  return copy;
}

function removeAt(value: unknown, path: readonly (string | number)[]): unknown {
  const parent = getAt(value, path.slice(0, -1));
  const key = path[path.length - 1] as string | number;
  if (Array.isArray(parent))
    return setAt(
      value,
      path.slice(0, -1),
      parent.filter((_, i) => i !== key),
    );
  const { [key]: _removed, ...rest } = parent as Record<string | number, unknown>;
  return setAt(value, path.slice(0, -1), rest);
}

const PATH_BASES = ['/v1/models/churn/predict', '/v2/models/churn/infer', '/v2/models/churn', '/v1/feedback', '/v1/events'];
const SEGMENTS = [
  '..',
  '.',
  '',
  '%',
  '%zz',
  '%E0%A4%A',
  '%00',
  '%2F',
  '%2e%2e',
  '%C0%AE',
  '%FF',
  '%u0000',
  'churn%2Fpredict',
  '__proto__',
  'constructor',
  'toString',
  'x'.repeat(2000),
  encodeURIComponent('💥'),
  encodeURIComponent('\u202e'),
  'CHURN',
  'predict',
  'infer',
  'v1',
  'v2',
  'models',
  'local',
  'prod',
  ';',
  '%3B',
  '*',
  '~',
];
export const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'] as const;

/** A hostile path (with, sometimes, a query string) and a method. */
export function fuzzPath(random: Random): { method: (typeof METHODS)[number]; path: string } {
  const segments = pick(random, PATH_BASES).split('/').slice(1);
  const changes = 1 + Math.floor(random() * 3);
  for (let c = 0; c < changes; c++) {
    const at = Math.floor(random() * (segments.length + 1));
    switch (Math.floor(random() * 4)) {
      case 0:
        segments.splice(at, 0, pick(random, SEGMENTS));
        break;
      case 1:
        segments.splice(at, 1, pick(random, SEGMENTS));
        break;
      case 2:
        segments.splice(at, 1);
        break;
      default:
        segments[at] = `${segments[at] ?? ''}${pick(random, SEGMENTS)}`;
    }
  }
  const query = chance(random, 0.2) ? `?${pick(random, ['a=%', 'x=1&x=2', '__proto__[a]=1', `q=${'y'.repeat(1000)}`, '=', '&&'])}` : '';
  return { method: chance(random, 0.5) ? 'POST' : pick(random, METHODS), path: `/${segments.join('/')}${query}` };
}

export type AnswerClass = 'ok' | 'named' | 'unnamed' | 'server-error';

/**
 * 2xx is ok; a 4xx must be JSON `{error, message, issues: [{field, reason}, ...]}` with at least one issue
 * and every issue naming a field and a reason ("named"), else it is "unnamed"; 5xx is a server error.
 */
export function classifyAnswer(status: number, body: string): AnswerClass {
  if (status >= 500) return 'server-error';
  if (status < 400) return 'ok';
  try {
    const { issues } = JSON.parse(body) as { issues?: unknown };
    const named =
      Array.isArray(issues) && issues.length > 0 && issues.every((i) => typeof i?.field === 'string' && i.field !== '' && typeof i?.reason === 'string' && i.reason !== '');
    return named ? 'named' : 'unnamed';
  } catch {
    return 'unnamed';
  }
}

/**
 * The experiments the event route is fuzzed against, started a minute before `now`: one on churn (events on its
 * predictions count) and a unit-level one on another model (unit events look up exposures).
 */
export function fuzzExperiments(now: Date): ExperimentDefinition[] {
  const start = new Date(now.getTime() - 60_000);
  return [
    planExperiment({ id: 'churn-fuzz', model: 'churn', control: '1', treatment: '2', metric: 'conversion', guardrails: 'revenue:mean', startDelaySeconds: 0 }, start),
    planExperiment({ id: 'bank-fuzz', model: 'bank', control: 'a', treatment: 'b', metric: 'conversion', assignment: 'unit', startDelaySeconds: 0 }, start),
  ];
}
