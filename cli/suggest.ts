// "Did you mean": the nearest known word to a typo, for flags, commands, models, versions and experiment ids.
import { UsageError } from './usage-error';

/**
 * Edit distance counting an insertion, a deletion, a substitution or a swap of two neighbours as one edit
 * (optimal string alignment), so `chrun` is one edit from `churn`.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const columns = b.length + 1;
  const d: number[] = new Array<number>(rows * columns).fill(0);
  const at = (i: number, j: number) => d[i * columns + j] as number;
  for (let i = 0; i < rows; i++) d[i * columns] = i;
  for (let j = 0; j < columns; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < columns; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      d[i * columns + j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The known word closest to `word`, when it is close enough to be a typo of it: at most a third of the
 * word's length in edits (at least 2), and fewer edits than the word has characters (so "9" never
 * suggests "1"). Ties go to the earlier word in `known`.
 */
export function nearest(word: string, known: readonly string[]): string | undefined {
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: { word: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance <= limit && distance < word.length && (!best || distance < best.distance)) best = { word: candidate, distance };
  }
  return best?.word;
}

/**
 * A name the target does not know, as a usage error (exit 2) that lists the known names (the first 20)
 * and ends with the nearest one: `unknown model "chrun" (known models: churn, fraud); did you mean "churn"?`.
 * `known` is undefined when they could not be listed; `whenNone` is the next step when none are known.
 */
export function unknownName(kind: string, name: string, known: readonly string[] | undefined, options: { plural?: string; whenNone?: string } = {}): UsageError {
  const plural = options.plural ?? `${kind}s`;
  const guess = known && nearest(name, known);
  const listed =
    known === undefined
      ? `the known ${plural} could not be listed`
      : known.length === 0
        ? `no ${plural} are known yet`
        : `known ${plural}: ${known.slice(0, 20).join(', ')}${known.length > 20 ? `, and ${known.length - 20} more` : ''}`;
  const next = guess ? `did you mean "${guess}"?` : known?.length === 0 && options.whenNone ? options.whenNone : `give one of the known ${plural}`;
  return new UsageError(`unknown ${kind} "${name}" (${listed})`, next);
}

/** `value` when it is one of `allowed`; otherwise a usage error that lists them and suggests the nearest. */
export function requireOneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value);
  if (found !== undefined) return found;
  const guess = nearest(value, allowed);
  throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got "${value}"`, guess ? `did you mean "${guess}"?` : 'choose one of them');
}
