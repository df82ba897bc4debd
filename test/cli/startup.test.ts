// The built CLI loads a command's code only when that command runs: top-level help, a command's help and a
// command that fails before its work (no runtime) never load the AWS SDK, onnxruntime, the local runtime or
// any command's implementation. Checked on the bundle graph esbuild wrote (what main.mjs imports statically)
// and on the files a real run loads (recorded by a module hook).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Metafile } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_DIST, CLI_ENTRY, CLI_METAFILE } from '../../cli/build';
import { runCli } from '../support/cli';

const root = fileURLToPath(new URL('../..', import.meta.url));
const metafile = JSON.parse(readFileSync(CLI_METAFILE, 'utf8')) as Metafile;
const directory = mkdtempSync(join(tmpdir(), 'modelgate-startup-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** Sources that only a command's own work needs. */
const HEAVY: readonly RegExp[] = [
  /node_modules\/@aws-sdk\//,
  /node_modules\/@smithy\//,
  /node_modules\/onnxruntime-node\//,
  /node_modules\/ajv\//,
  /^local\/runtime\.ts$/,
  /^lambdas\/adapters\//,
  /^cli\/commands\//,
];

/** The sources bundled into the given output files (paths relative to the repository root). */
function sourcesOf(outputs: Iterable<string>): string[] {
  return [...outputs].flatMap((output) => Object.keys(metafile.outputs[output]?.inputs ?? {}));
}

/** Output files main.mjs loads before it runs anything: its static imports, transitively. */
function staticClosure(output: string): Set<string> {
  const seen = new Set<string>();
  const pending = [output];
  while (pending.length > 0) {
    const next = pending.pop() as string;
    if (seen.has(next)) continue;
    seen.add(next);
    for (const imported of metafile.outputs[next]?.imports ?? []) if (imported.kind === 'import-statement' && !imported.external) pending.push(imported.path);
  }
  return seen;
}

/** Runs the built CLI with a module hook recording every file it loads; returns the bundle's outputs among them. */
async function loadedOutputs(args: readonly string[], expectedCode: number): Promise<{ outputs: Set<string>; externals: string[] }> {
  const log = join(directory, `loaded-${args.join('-').replace(/[^a-z0-9-]/gi, '')}.txt`);
  const hook = `import { registerHooks } from 'node:module'; import { appendFileSync } from 'node:fs';
registerHooks({ load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); } });`;
  const run = await runCli(args, { cwd: root, env: { NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(hook)}` } });
  expect(run.code, run.stderr).toBe(expectedCode);
  const files = readFileSync(log, 'utf8')
    .split('\n')
    .filter((url) => url.startsWith('file:'))
    .map((url) => fileURLToPath(url));
  return {
    outputs: new Set(files.filter((file) => file.startsWith(CLI_DIST)).map((file) => relative(root, file))),
    externals: files.filter((file) => file.includes('/node_modules/')),
  };
}

describe('the built CLI', () => {
  it('main.mjs imports no command implementation or heavy module statically', () => {
    const main = relative(root, CLI_ENTRY);
    expect(metafile.outputs[main]?.entryPoint).toBe('cli/main.ts');
    const closure = staticClosure(main);
    const heavy = sourcesOf(closure).filter((source) => HEAVY.some((pattern) => pattern.test(source)));
    expect(heavy).toEqual([]);
    const externals = [...closure].flatMap((output) => (metafile.outputs[output]?.imports ?? []).filter((i) => i.external).map((i) => i.path));
    expect(externals.filter((path) => !path.startsWith('node:'))).toEqual([]);
  });

  it('splits each command into its own chunk', () => {
    const entries = Object.values(metafile.outputs)
      .map((output) => output.entryPoint)
      .filter((entry) => entry?.startsWith('cli/commands/'));
    expect(entries).toEqual(
      expect.arrayContaining(['cli/commands/models.ts', 'cli/commands/push.ts', 'cli/commands/drift.ts', 'cli/commands/experiment.ts', 'cli/commands/package.ts']),
    );
  });

  it.each([
    [['--help'], 0],
    [['models', '--help'], 0],
    [['drift', 'churn', '--state-dir', directory], 2],
    [['push', '--stratgy', 'canary'], 2],
    [['validate', 'examples/churn'], 2],
  ])('modelgate %j loads none of it', async (args, code) => {
    const { outputs, externals } = await loadedOutputs(args, code);
    expect(outputs.has(relative(root, CLI_ENTRY))).toBe(true);
    expect(sourcesOf(outputs).filter((source) => HEAVY.some((pattern) => pattern.test(source)))).toEqual([]);
    expect(externals).toEqual([]);
  });

  it('a command that runs loads its own implementation, and only that one', async () => {
    const { outputs } = await loadedOutputs(['abtest', '--srm', '1000,1200'], 0);
    const commands = sourcesOf(outputs).filter((source) => source.startsWith('cli/commands/'));
    expect(commands).toEqual(['cli/commands/abtest.ts']);
  });
});
