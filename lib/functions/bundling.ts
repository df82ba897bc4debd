import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { AssetHashType, DockerImage, type AssetOptions, type FingerprintOptions, type ILocalBundling } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { BuildOptions } from 'esbuild';

export const REPO_ROOT = path.join(import.meta.dirname, '..', '..');

/** Where the entry file of every deployed function lives: `lambdas/handlers/<handler>.ts`. */
export const HANDLERS_DIR = path.join(REPO_ROOT, 'lambdas', 'handlers');

/** The bundle's file and export: Lambda's handler setting `index.handler`. */
export const BUNDLE_HANDLER = 'index.handler';

/** Target architectures and the onnxruntime-node binary folder each one needs. */
export type OnnxPlatform = 'arm64' | 'x64';

export interface BundleOptions {
  /** Absolute path of the entry file. */
  readonly entry: string;
  /** Package onnxruntime-node's JavaScript and the linux/<platform> binaries beside the bundle. */
  readonly onnxPlatform?: OnnxPlatform;
}

/**
 * esbuild settings every modelgate function shares. Handlers initialise with top-level await, so the
 * bundle is ESM; CJS dependencies still call require(), which the banner provides. The AWS SDK is bundled
 * so functions run the version the code was tested with, not the one the runtime happens to carry.
 */
const ESBUILD_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  mainFields: ['module', 'main'],
  banner: { js: "import { createRequire as __modelgateCreateRequire } from 'node:module'; const require = __modelgateCreateRequire(import.meta.url);" },
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
};

/**
 * Bundles one function into `outputDir`: `index.mjs` (esbuild) and, for ONNX functions, the parts of
 * onnxruntime-node it loads at run time, copied from this checkout's node_modules — its JavaScript, its
 * `onnxruntime-common` dependency and the one native binary folder of the target. The package ships every
 * platform's binaries (~290 MB), which alone would break Lambda's 250 MB unzipped limit; copying instead of
 * `npm install` keeps synth offline and fast. Throws when the wanted binary is missing (e.g. a new napi
 * folder layout) rather than shipping a function that cannot load. Synchronous: CDK's local bundling hook is.
 */
export function bundleFunction(outputDir: string, options: BundleOptions): void {
  // esbuild is CommonJS and only needed at synth: loaded on first use, not when the app imports this module.
  const esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  esbuild.buildSync({
    ...ESBUILD_OPTIONS,
    entryPoints: [options.entry],
    outfile: path.join(outputDir, 'index.mjs'),
    external: options.onnxPlatform ? ['onnxruntime-node'] : [],
  });
  if (options.onnxPlatform) copyOnnxRuntime(outputDir, options.onnxPlatform);
}

function copyOnnxRuntime(outputDir: string, platform: OnnxPlatform): void {
  const source = packageDir('onnxruntime-node', import.meta.url);
  const binaries = path.join('bin', 'napi-v6', 'linux', platform);
  if (!fs.existsSync(path.join(source, binaries, 'onnxruntime_binding.node'))) {
    throw new Error(`onnxruntime-node binary for linux/${platform} not found under ${path.join(source, binaries)}`);
  }
  const target = path.join(outputDir, 'node_modules', 'onnxruntime-node');
  for (const part of ['package.json', 'dist', binaries]) fs.cpSync(path.join(source, part), path.join(target, part), { recursive: true });
  const common = packageDir('onnxruntime-common', path.join(source, 'package.json'));
  for (const part of ['package.json', 'dist']) fs.cpSync(path.join(common, part), path.join(outputDir, 'node_modules', 'onnxruntime-common', part), { recursive: true });
}

/** The folder of an installed package, resolved like Node resolves it from `from` (hoisting included). */
function packageDir(name: string, from: string): string {
  let dir = path.dirname(createRequire(from).resolve(name));
  // Nested package.json files (onnxruntime-common has dist/cjs/package.json) do not name the package.
  while (!isPackageRoot(dir, name)) {
    if (path.dirname(dir) === dir) throw new Error(`cannot find the folder of package ${name} (resolved from ${from})`);
    dir = path.dirname(dir);
  }
  return dir;
}

function isPackageRoot(dir: string, name: string): boolean {
  const file = path.join(dir, 'package.json');
  return fs.existsSync(file) && (JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string }).name === name;
}

/**
 * Asset options that bundle one handler on this machine at synth (no Docker: esbuild runs in-process). The
 * asset hash is the bundle's, so unchanged code does not redeploy. Skipped, like every CDK bundling, for
 * stacks outside `aws:cdk:bundling-stacks` (the local runtime runs the sources).
 */
export function bundlingOptions(options: BundleOptions): { path: string } & AssetOptions & Pick<FingerprintOptions, 'extraHash'> {
  const local: ILocalBundling = {
    tryBundle(outputDir) {
      bundleFunction(outputDir, options);
      return true;
    },
  };
  return {
    path: REPO_ROOT,
    assetHashType: AssetHashType.OUTPUT,
    // CDK reuses a bundling for every asset with the same source path and options, and the local bundler (a
    // function) is not part of that key: without what is bundled in it, every function got the first one's code.
    extraHash: JSON.stringify({ entry: path.relative(REPO_ROOT, options.entry), onnxPlatform: options.onnxPlatform ?? null }),
    bundling: { image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22'), local },
  };
}

/** The Lambda code of one handler (see bundlingOptions). */
export function bundledCode(options: BundleOptions): lambda.Code {
  const { path: source, ...assetOptions } = bundlingOptions(options);
  return lambda.Code.fromAsset(source, assetOptions);
}
