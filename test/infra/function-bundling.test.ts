// What bundling does to the code a function runs: the manifest schema check, which the sources compile with ajv
// and bundles carry as ajv's standalone code generated at build, must judge every manifest alike.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManifestError } from '../../lambdas/core/errors';
import * as source from '../../lambdas/core/manifest';
import { bundleFunction } from '../../lib/functions/bundling';
import { PACKAGE_ROOT } from '../../lib/package-root';

let outputDir: string;
let bundled: typeof source;
let bundleText: string;

beforeAll(async () => {
  outputDir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-bundling-'));
  bundleFunction(outputDir, { entry: path.join(PACKAGE_ROOT, 'lambdas', 'core', 'manifest.ts') });
  bundleText = fs.readFileSync(path.join(outputDir, 'index.mjs'), 'utf8');
  bundled = (await import(pathToFileURL(path.join(outputDir, 'index.mjs')).href)) as typeof source;
});
afterAll(() => fs.rmSync(outputDir, { recursive: true, force: true }));

/** The churn example, its baseline cut to one numeric and one categorical feature (the rest repeat their shape). */
const example = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'examples', 'churn', 'v1', 'manifest.json'), 'utf8')) as Record<string, unknown> & {
  baseline: { features: Record<string, { kind: string }> };
};
example.baseline.features = Object.fromEntries(['numeric', 'categorical'].map((kind) => Object.entries(example.baseline.features).find(([, f]) => f.kind === kind)!));
/** The example, and it reaching the schema's other task branches. */
const bases = [example, ...['regression', 'multiclass-classification'].map((task) => ({ ...example, task }))];

/**
 * Every field of `value` removed and set to a value of each JSON type, and an unknown field beside each object's;
 * of an array's items the first two (bin edges and counts run to hundreds of numbers alike).
 */
function* mutations(value: unknown, at: (string | number)[] = []): Generator<{ at: string; edit: (root: unknown) => void }> {
  if (value === null || typeof value !== 'object') return;
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.slice(0, 2).map((v, i) => [i, v]) : Object.entries(value);
  const parentOf = (root: unknown) =>
    at.reduce<Record<string | number, unknown>>((node, key) => node[key] as Record<string | number, unknown>, root as Record<string | number, unknown>);
  if (!Array.isArray(value)) yield { at: `${at.join('.')}+unknown`, edit: (root) => (parentOf(root).unexpectedField = 1) };
  for (const [key, child] of entries) {
    const where = [...at, key].join('.');
    if (!Array.isArray(value)) yield { at: `${where} removed`, edit: (root) => delete parentOf(root)[key] };
    for (const replacement of [null, 'text', -1.5, 7, true, [], {}]) {
      yield { at: `${where} = ${JSON.stringify(replacement)}`, edit: (root) => (parentOf(root)[key] = structuredClone(replacement)) };
    }
    yield* mutations(child, [...at, key]);
  }
}

function outcome<Input>(parse: (input: Input) => unknown, raw: Input): unknown {
  try {
    return { accepted: parse(raw) };
  } catch (error) {
    const { name, message, issues } = error as ManifestError;
    return { name, message, issues };
  }
}

describe('a bundled function', () => {
  it('checks manifests with standalone code: ajv compiles no schema at load, and its compiler is not in the bundle', () => {
    // Messages that only ajv's compiler holds (strict mode, schema registration).
    expect(bundleText).not.toContain('strict mode');
    expect(bundleText).not.toContain('already exists');
  });

  it('accepts and rejects every manifest like the sources, with the same issues', () => {
    let compared = 0;
    let rejected = 0;
    const differences: { at: string; expected: unknown; actual: unknown }[] = [];
    for (const base of bases) {
      expect(outcome(bundled.parseManifest, base)).toEqual(outcome(source.parseManifest, base));
      for (const { at, edit } of mutations(base)) {
        const manifest = structuredClone(base);
        edit(manifest);
        const expected = outcome(source.parseManifest, manifest);
        const actual = outcome(bundled.parseManifest, manifest);
        if (JSON.stringify(actual) !== JSON.stringify(expected)) differences.push({ at, expected, actual });
        compared++;
        if ((expected as { name?: string }).name === 'ManifestError') rejected++;
      }
    }
    expect(differences.slice(0, 5)).toEqual([]);
    // The corpus reaches the schema: most edits break it.
    expect(rejected).toBeGreaterThan(compared / 2);
  });

  it('reads a manifest file the same way, including one that is not JSON', () => {
    for (const text of ['{', '[]', JSON.stringify(example)]) {
      expect(outcome(bundled.parseManifestJson, text)).toEqual(outcome(source.parseManifestJson, text));
    }
  });
});
