// Builds `modelgate/cdk` to dist/cdk/: the construct and what it imports as one ES module (esbuild; packages stay
// imports, so the team's aws-cdk-lib and constructs are the ones the construct extends), and its TypeScript
// declarations (tsc). Runs with the CLI's build on `npm ci` / `npm install` and before `npm pack` (the `prepare`
// script); `npx tsx lib/build.ts` builds by hand. The functions' handlers are not built here: the construct
// bundles them from lambdas/ at synth, as in this repository.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = 'lib/index.ts';
export const CDK_DIST = join(ROOT, 'dist', 'cdk');
/** The source files the last build read (JavaScript and declarations), relative to the root: for `--if-stale`. */
const INPUTS_FILE = join(CDK_DIST, 'inputs.json');

/** Builds into a fresh folder and swaps it in, so a concurrent reader never sees half a build. */
export async function buildCdk(): Promise<void> {
  const staging = `${CDK_DIST}.building-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const { metafile } = await build({
    absWorkingDir: ROOT,
    entryPoints: { index: ENTRY },
    outdir: staging,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    legalComments: 'none',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const declared = emitDeclarations(join(staging, 'types'));
  const inputs = [...new Set([...Object.keys(metafile.inputs), ...declared])].filter((input) => !input.startsWith('node_modules/')).sort();
  writeFileSync(join(staging, 'inputs.json'), `${JSON.stringify(inputs, null, 1)}\n`);
  // Packed: the module and its declarations; the inputs list is for this script. (dist/.gitignore, written by the
  // CLI's build, keeps dist/ out of git; an .npmignore here overrides it for npm.)
  writeFileSync(join(staging, '.npmignore'), 'inputs.json\n');
  mkdirSync(dirname(CDK_DIST), { recursive: true });
  rmSync(CDK_DIST, { recursive: true, force: true });
  renameSync(staging, CDK_DIST);
}

/**
 * The declarations of the entry and of every file its types reach, under `outDir` as in the sources
 * (`types/lib/index.d.ts`). The sources import without extensions (bundler resolution); the declarations get
 * `.js` extensions, which both bundler and node16 resolution read.
 */
function emitDeclarations(outDir: string): string[] {
  const configFile = ts.findConfigFile(ROOT, ts.sys.fileExists, 'tsconfig.json') as string;
  const { config } = ts.readConfigFile(configFile, ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, ROOT);
  const program = ts.createProgram([join(ROOT, ENTRY)], { ...options, noEmit: false, declaration: true, emitDeclarationOnly: true, outDir, rootDir: ROOT, incremental: false });
  // Type errors are `tsc --noEmit`'s to report (npm test runs it); here only what stops the declarations.
  const result = program.emit();
  const errors = result.diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0) throw new Error(ts.formatDiagnostics(errors, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => '\n' }));
  for (const file of readdirSync(outDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts'))) {
    const path = join(outDir, file);
    writeFileSync(path, withJsExtensions(readFileSync(path, 'utf8'), dirname(path)));
  }
  return program
    .getSourceFiles()
    .map((file) => relative(ROOT, file.fileName))
    .filter((file) => !file.startsWith('..'));
}

/**
 * Whether dist/cdk/ was built from the sources as they are: this script and every file the build read are
 * older than the build (`npm ci` rewrites node_modules, and a new source is imported by a changed one).
 */
export function cdkBuildIsCurrent(): boolean {
  if (!existsSync(INPUTS_FILE)) return false;
  const built = statSync(INPUTS_FILE).mtimeMs;
  const inputs = JSON.parse(readFileSync(INPUTS_FILE, 'utf8')) as string[];
  return [fileURLToPath(import.meta.url), join(ROOT, 'package.json'), join(ROOT, 'package-lock.json'), ...inputs.map((input) => join(ROOT, input))].every(
    (path) => existsSync(path) && statSync(path).mtimeMs <= built,
  );
}

/** `from './x'` -> `from './x.js'` (or `'./x/index.js'` for a folder), in imports, exports and import types. */
function withJsExtensions(source: string, dir: string): string {
  return source.replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]*?)(['"])/g, (match, head: string, specifier: string, tail: string) => {
    if (/\.(m?js|json)$/.test(specifier)) return match;
    if (existsSync(join(dir, `${specifier}.d.ts`))) return `${head}${specifier}.js${tail}`;
    if (existsSync(join(dir, specifier, 'index.d.ts'))) return `${head}${specifier}/index.js${tail}`;
    throw new Error(`declaration import ${specifier} in ${dir} resolves to no declaration file`);
  });
}

// `--if-stale` (the prepare script): nothing to do when the build is current.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  if (process.argv.includes('--if-stale') && cdkBuildIsCurrent()) console.log(`modelgate/cdk in ${CDK_DIST} is up to date`);
  else {
    await buildCdk();
    console.log(`modelgate/cdk built in ${CDK_DIST} (${Date.now() - started} ms)`);
  }
}
