// EventBridge event-pattern matching, as AWS documents it (eb-event-patterns, eb-create-pattern-operators),
// for the local runtime's rules. No maintained npm package implements it (AWS's own matcher, event-ruler, is
// Java), so this is the subset CDK's `events.Match` can produce, kept small and tested
// (test/local/event-pattern.test.ts): exact values, prefix, suffix, wildcard, anything-but (values, prefix,
// suffix), exists, numeric ranges, equals-ignore-case, and $or. Anything else is an error, not a silent miss.

type Pattern = { readonly [key: string]: unknown };

export class EventPatternError extends Error {
  override readonly name = 'EventPatternError';
}

/** Whether `event` matches `pattern`: every field of the pattern must match (AND); a list is any of (OR). */
export function matchesPattern(pattern: Pattern, event: unknown): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    if (key === '$or') {
      if (!Array.isArray(expected)) throw new EventPatternError('$or must be a list of patterns');
      return expected.some((alternative) => matchesPattern(alternative as Pattern, event));
    }
    const value = event !== null && typeof event === 'object' ? (event as Record<string, unknown>)[key] : undefined;
    if (Array.isArray(expected)) return matchesLeaf(expected, value);
    if (expected !== null && typeof expected === 'object') {
      return value !== null && typeof value === 'object' && !Array.isArray(value) && matchesPattern(expected as Pattern, value);
    }
    throw new EventPatternError(`pattern field "${key}" must be a list of matchers or a nested pattern, got: ${JSON.stringify(expected)}`);
  });
}

/** A leaf: the event value (or, for an array value, any of its elements) matches any matcher of the list. */
function matchesLeaf(matchers: readonly unknown[], value: unknown): boolean {
  const exists = matchers.find((m) => isObject(m) && 'exists' in m) as { exists: boolean } | undefined;
  if (exists) return exists.exists ? value !== undefined : value === undefined;
  if (value === undefined) return false;
  const values = Array.isArray(value) ? value : [value];
  return matchers.some((matcher) => values.some((v) => matchOne(matcher, v)));
}

function matchOne(matcher: unknown, value: unknown): boolean {
  if (!isObject(matcher)) return matcher === value;
  const [operator, argument] = Object.entries(matcher)[0] ?? [];
  switch (operator) {
    case 'prefix':
      return (
        typeof value === 'string' &&
        (isObject(argument) ? value.toLowerCase().startsWith(String(argument['equals-ignore-case']).toLowerCase()) : value.startsWith(String(argument)))
      );
    case 'suffix':
      return (
        typeof value === 'string' && (isObject(argument) ? value.toLowerCase().endsWith(String(argument['equals-ignore-case']).toLowerCase()) : value.endsWith(String(argument)))
      );
    case 'equals-ignore-case':
      return typeof value === 'string' && value.toLowerCase() === String(argument).toLowerCase();
    case 'wildcard':
      return typeof value === 'string' && wildcard(String(argument)).test(value);
    case 'anything-but': {
      if (Array.isArray(argument)) return !argument.includes(value);
      if (isObject(argument)) return !matchOne(argument, value);
      return value !== argument;
    }
    case 'numeric':
      return typeof value === 'number' && numeric(argument as readonly unknown[], value);
    default:
      throw new EventPatternError(`unsupported event pattern matcher: ${JSON.stringify(matcher)}`);
  }
}

/** `*` matches any run of characters (slashes included, as in EventBridge); `\*` is a literal star. */
function wildcard(pattern: string): RegExp {
  const source = pattern
    .split(/(?<!\\)\*/)
    .map((part) => part.replace(/\\\*/g, '*').replace(/[.+?^${}()|[\]\\*]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 's');
}

function numeric(conditions: readonly unknown[], value: number): boolean {
  for (let i = 0; i < conditions.length; i += 2) {
    const operator = conditions[i];
    const bound = Number(conditions[i + 1]);
    const ok =
      operator === '<'
        ? value < bound
        : operator === '<='
          ? value <= bound
          : operator === '>'
            ? value > bound
            : operator === '>='
              ? value >= bound
              : operator === '='
                ? value === bound
                : undefined;
    if (ok === undefined) throw new EventPatternError(`unsupported numeric operator: ${JSON.stringify(operator)}`);
    if (!ok) return false;
  }
  return true;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
