// Builds the CLI to dist/cli/: ESM, one bundle split per command (main.ts imports each command's implementation
// dynamically, so `modelgate --help` loads a few kilobytes and a command loads only its own chunks). Runs on
// `npm ci` / `npm install` and before `npm pack` (the `prepare` script), and before the tests (vitest's global
// setup). `npx tsx cli/build.ts` builds by hand.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
export const CLI_DIST = join(DIST, 'cli');
export const CLI_ENTRY = join(CLI_DIST, 'main.mjs');
/** esbuild's description of the build: which sources went into which chunk, and each chunk's imports. */
export const CLI_METAFILE = join(CLI_DIST, 'meta.json');

/**
 * Kept out of the bundle: onnxruntime-node loads its native binding from a path relative to its own files.
 * The AWS SDK and the rest are bundled: one file per chunk starts faster than Node resolving and reading
 * hundreds of small modules (measured in docs/cli.md).
 */
const EXTERNAL = ['onnxruntime-node'];

/** Builds into a fresh folder and swaps it in, so a concurrent run never sees half a build. */
export async function buildCli(): Promise<Metafile> {
  const staging = `${CLI_DIST}.building-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { main: 'cli/main.ts' },
    outdir: staging,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    // Bundled CommonJS packages call require(); an ES module has none unless it makes one.
    banner: { js: "import { createRequire as __cliRequire } from 'node:module'; const require = __cliRequire(import.meta.url);" },
    legalComments: 'none',
    // Used with --debug (cli/modelgate.mjs turns source maps on), so a trace names the TypeScript lines.
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  // Output paths as they will be once the folder is swapped in.
  writeFileSync(join(staging, 'meta.json'), JSON.stringify(result.metafile).replaceAll(relative(ROOT, staging), relative(ROOT, CLI_DIST)));
  mkdirSync(DIST, { recursive: true });
  // dist/ ignores itself in git; the root .gitignore does not list it, because npm packs nothing the root
  // .gitignore excludes, while an .npmignore in a folder overrides that folder's .gitignore.
  writeFileSync(join(DIST, '.gitignore'), '# Built by cli/build.ts; never committed.\n*\n');
  writeFileSync(join(DIST, '.npmignore'), '# Packed: the built CLI is what the modelgate bin runs (cli/build.ts); the build graph is for tests.\ncli/meta.json\n');
  rmSync(CLI_DIST, { recursive: true, force: true });
  renameSync(staging, CLI_DIST);
  return result.metafile;
}

/**
 * Whether dist/cli/ was built from the sources as they are: this script and every input esbuild read are
 * older than the build. A new file is imported by a changed one, and `npm ci` rewrites node_modules, so
 * this sees any change.
 */
export function cliBuildIsCurrent(): boolean {
  if (!existsSync(CLI_METAFILE)) return false;
  const built = statSync(CLI_METAFILE).mtimeMs;
  const metafile = JSON.parse(readFileSync(CLI_METAFILE, 'utf8')) as Metafile;
  return [fileURLToPath(import.meta.url), ...Object.keys(metafile.inputs).map((input) => join(ROOT, input))].every((path) => existsSync(path) && statSync(path).mtimeMs <= built);
}

// `--if-stale` (the prepare script): nothing to do when the build is current, so `npm pack` during a test run
// does not swap the build under the CLI tests.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  if (process.argv.includes('--if-stale') && cliBuildIsCurrent()) console.log(`modelgate CLI in ${CLI_DIST} is up to date`);
  else {
    await buildCli();
    console.log(`modelgate CLI built in ${CLI_DIST} (${Date.now() - started} ms)`);
  }
}
