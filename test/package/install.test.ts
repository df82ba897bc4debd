// A team adds modelgate to its own repository: `npm pack` (the prepare script builds the CLI and the construct),
// the tarball unpacked into a fresh project's node_modules as npm installs it, with only the dependencies the
// packed package.json declares beside it (linked from this checkout: nothing is downloaded), so a module the
// package uses without declaring it fails here. There the `modelgate` bin runs `--help` and `package`, a CDK app
// synthesizes `ModelgateStack` from `modelgate/cdk` with one model declared in its own modelgate.config.json
// (every function bundled from the installed sources), and tsc checks a TypeScript app against the declarations.
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const CHURN = join(ROOT, 'examples', 'churn');
const work = mkdtempSync(join(tmpdir(), 'modelgate-package-'));
const project = join(work, 'team-app');
const installed = join(project, 'node_modules', 'modelgate');
const bin = join(project, 'node_modules', '.bin', 'modelgate');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(file: string, args: readonly string[], cwd: string): Promise<Run> {
  // The checkout's own settings stay out of the team's project (npm passes them to scripts as variables).
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('npm_') && !name.startsWith('MODELGATE_')));
  try {
    const { stdout, stderr } = await promisify(execFile)(file, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout: string; stderr: string };
    return { code: failed.code ?? -1, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** Links `name` from this checkout's node_modules into the project's, as an install would have put it there. */
function provide(name: string): void {
  const target = join(project, 'node_modules', name);
  mkdirSync(dirname(target), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules', name), target);
}

let tarball: string;
let packedFiles: string[];
let packed: { private?: boolean; bin: Record<string, string>; exports: Record<string, unknown>; dependencies: Record<string, string>; peerDependencies: Record<string, string> };
let synth: Promise<Run>;
let typecheck: Promise<Run>;

beforeAll(async () => {
  const pack = await run('npm', ['pack', '--pack-destination', work], ROOT);
  expect(pack.stderr).not.toMatch(/npm error/);
  expect(pack.code).toBe(0);
  tarball = join(work, readdirSync(work).find((file) => file.endsWith('.tgz')) as string);
  mkdirSync(installed, { recursive: true });
  const list = await run('tar', ['-tzf', tarball], work);
  packedFiles = list.stdout
    .split('\n')
    .filter(Boolean)
    .map((file) => file.replace(/^package\//, ''));
  expect((await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1'], work)).code).toBe(0);
  packed = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as typeof packed;
  for (const name of [...Object.keys(packed.dependencies), ...Object.keys(packed.peerDependencies)]) provide(name);
  // The team's own tools.
  provide('typescript');
  // What npm does with "bin": a link in node_modules/.bin to the executable file.
  mkdirSync(dirname(bin), { recursive: true });
  symlinkSync(join('..', 'modelgate', packed.bin.modelgate as string), bin);
  chmodSync(join(installed, packed.bin.modelgate as string), 0o755);

  // The team's repository: its model, and the models it declares.
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'team-app', private: true, type: 'module' }));
  mkdirSync(join(project, 'training'));
  for (const file of ['model.onnx', 'holdout.csv']) copyFileSync(join(CHURN, 'v1', file), join(project, 'training', file));
  writeFileSync(
    join(project, 'modelgate.config.json'),
    JSON.stringify({ stages: { dev: { allowUndeclaredModels: false, models: { churn: { bundle: 'models/churn/v1', memorySize: 1024 } } } } }),
  );
  writeFileSync(
    join(project, 'app.mjs'),
    [
      "import { App } from 'aws-cdk-lib';",
      "import { InvalidPropsError, ModelgateStack, readStageModels } from 'modelgate/cdk';",
      'const app = new App({ outdir: process.argv[2] });',
      "const { models, problems } = readStageModels('modelgate.config.json', 'dev');",
      "if (problems.length > 0) throw new InvalidPropsError('modelgate.config.json', problems);",
      "new ModelgateStack(app, 'team-models-dev', { ...models, env: { account: '111111111111', region: 'eu-west-1' } });",
      'app.synth();',
    ].join('\n'),
  );
  writeFileSync(
    join(project, 'app.ts'),
    [
      "import { App } from 'aws-cdk-lib';",
      "import { ModelgateStack, type DeclaredModel, type ModelDeclaration, type ModelgateStackProps } from 'modelgate/cdk';",
      "const churn: DeclaredModel = { bundlePath: 'models/churn/v1', memorySize: 1024, rollout: { strategy: 'canary', canary: { weight: 0.1, bakeMinutes: 30 } } };",
      'const fraud: ModelDeclaration = { reservedConcurrency: 5, alarms: { errorRate: { critical: 0.05 } } };',
      'const props: ModelgateStackProps = { models: { churn, fraud }, allowUndeclaredModels: false };',
      "export const stack: ModelgateStack = new ModelgateStack(new App(), 'team-models-dev', props);",
      '// @ts-expect-error memory is a number of MB: fails only while the declarations are typed',
      "export const wrong: ModelDeclaration = { memorySize: '1GB' };",
    ].join('\n'),
  );
  // A CDK app's usual settings; aws-cdk-lib's declarations use the Disposable type.
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', lib: ['ES2023', 'ESNext.Disposable'], module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: [] },
      files: ['app.ts'],
    }),
  );
}, 300_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('npm pack', () => {
  it('packs the bin, the built CLI and construct with their declarations, the handlers the construct bundles and the inference Dockerfile; not the checkout', () => {
    expect(packed.private).toBeUndefined();
    expect(packed.bin).toEqual({ modelgate: 'cli/modelgate.mjs' });
    expect(packed.exports['./cdk']).toEqual({ types: './dist/cdk/types/lib/index.d.ts', default: './dist/cdk/index.mjs' });
    for (const file of [
      'cli/modelgate.mjs',
      'dist/cli/main.mjs',
      'dist/cdk/index.mjs',
      'dist/cdk/types/lib/index.d.ts',
      'lambdas/handlers/inference.ts',
      'lambdas/core/manifest.v1.schema.json',
      'lib/serving/inference-image/Dockerfile',
      'README.md',
    ]) {
      expect(packedFiles).toContain(file);
    }
    // The construct builds the inference image from the Dockerfile (a model declared with packaging: image).
    const dockerfile = 'lib/serving/inference-image/Dockerfile';
    expect(packedFiles.filter((file) => /^(test|local|bench|examples|docs|bin|lib|cli\/commands)\//.test(file) && file !== dockerfile)).toEqual([]);
    expect(packedFiles.filter((file) => /(meta|inputs)\.json$|\.npmignore$|\.gitignore$/.test(file))).toEqual([]);
  });
});

describe("in a team's project", () => {
  it('modelgate --help runs from node_modules/.bin', async () => {
    const help = await run(bin, ['--help'], project);
    expect(help.stderr).toBe('');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: modelgate <command> \[options\]$/m);
    expect(help.stdout).toMatch(/^ {2}package +Build a model bundle/m);
  });

  it("modelgate package builds a bundle of the team's model (onnxruntime from the installed dependency)", async () => {
    const packaged = await run(
      bin,
      [
        'package',
        '--onnx',
        'training/model.onnx',
        '--train',
        join(CHURN, 'data', 'telco-customer-churn.csv'),
        '--target',
        'Churn',
        '--exclude',
        'customerID',
        '--holdout',
        'training/holdout.csv',
        '--name',
        'churn',
        '--version',
        '1',
        '--out',
        'models/churn/v1',
        '--json',
      ],
      project,
    );
    expect(packaged.stderr).toBe('');
    expect(packaged.code).toBe(0);
    expect(JSON.parse(packaged.stdout)).toMatchObject({ name: 'churn', version: '1' });
    const manifest = JSON.parse(readFileSync(join(project, 'models', 'churn', 'v1', 'manifest.json'), 'utf8')) as { name: string; version: string; model: { file: string } };
    expect(manifest).toMatchObject({ name: 'churn', version: '1', model: { file: 'model.onnx' } });
    expect(existsSync(join(project, 'models', 'churn', 'v1', 'model.onnx'))).toBe(true);
    // The bundle the CDK app declares is there now: synthesize and type-check side by side (two processes, two cores).
    synth = run(process.execPath, ['app.mjs', join(work, 'cdk.out')], project);
    typecheck = run(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], project);
  }, 120_000);

  it('a CDK app synthesizes ModelgateStack from modelgate/cdk with the model its config file declares, every function bundled', async () => {
    const synthesized = await synth;
    expect(synthesized.stderr).not.toMatch(/Error/);
    expect(synthesized.code).toBe(0);
    const out = join(work, 'cdk.out');
    const template = JSON.parse(readFileSync(join(out, 'team-models-dev.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const resources = Object.values(template.Resources);
    const prefixes = resources.filter((r) => r.Type === 'Custom::CDKBucketDeployment').map((r) => r.Properties.DestinationBucketKeyPrefix);
    expect(prefixes).toContain('candidates/churn/1/');
    const functions = resources.filter((r) => r.Type === 'AWS::Lambda::Function' && (r.Properties.Handler as string) === 'index.handler');
    expect(functions.length).toBeGreaterThan(10);
    const assets = readdirSync(out)
      .filter((entry) => entry.startsWith('asset.'))
      .map((entry) => join(out, entry));
    const declarations = assets.map((asset) => join(asset, 'config', 'models.json')).find(existsSync) as string;
    expect(JSON.parse(readFileSync(declarations, 'utf8'))).toEqual({ deployment: 'team-models-dev', allowUndeclaredModels: false, models: { churn: { memorySize: 1024 } } });
    // The inference function: bundled from the installed handler sources, with onnxruntime's Linux binary beside it.
    expect(
      assets.some(
        (asset) =>
          existsSync(join(asset, 'index.mjs')) && existsSync(join(asset, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'arm64', 'onnxruntime_binding.node')),
      ),
    ).toBe(true);
  }, 240_000);

  it("tsc checks a TypeScript app against the package's declarations (NodeNext resolution, no skipLibCheck)", async () => {
    const checked = await typecheck;
    expect(checked.stdout).toBe('');
    expect(checked.code).toBe(0);
  }, 240_000);
});
