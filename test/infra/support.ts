// Shared set-up for the construct tests. Two kinds of app:
// - `fastStack()`: bundling skipped (CDK's `aws:cdk:bundling-stacks` context set to none), for the many
//   template and validation tests; the function's asset is then a placeholder.
// - `bundledApp()`: the one real synth of the whole stack, esbuild + npm install of onnxruntime-node
//   included; used by modelgate-stack.test.ts only, so the suite bundles once.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { ModelgateStack, type ModelgateStackProps } from '../../lib/modelgate-stack';

export const FIXTURE_BUNDLE = path.join(import.meta.dirname, 'fixtures', 'churn-bundle');

export function fastStack(): Stack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new Stack(app, 'Test');
}

/** A whole deployment named like the dev stage, bundling skipped (the template and validation tests). */
export function fastDeployment(props: ModelgateStackProps = {}, stackName = 'modelgate-dev'): ModelgateStack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new ModelgateStack(app, stackName, { env: { account: '123456789012', region: 'eu-west-1' }, ...props });
}

export interface BundledApp {
  readonly app: App;
  readonly stack: ModelgateStack;
  readonly template: Template;
  readonly assembly: CloudAssembly;
  readonly outdir: string;
  readonly synthSeconds: number;
}

/** Like a deploy: an environment (account and region appear literally in some ARNs) and a local bundle. */
export const BUNDLED_STACK_PROPS: ModelgateStackProps = {
  models: { churn: { bundlePath: FIXTURE_BUNDLE } },
  allowUndeclaredModels: true,
  env: { account: '123456789012', region: 'eu-west-1' },
};

let bundled: BundledApp | undefined;

/** Synthesizes the full stack once per test file that asks for it (one file does). */
export function bundledApp(): BundledApp {
  if (bundled) return bundled;
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-infra-'));
  const started = performance.now();
  const app = new App({ outdir });
  const stack = new ModelgateStack(app, 'Modelgate', BUNDLED_STACK_PROPS);
  const assembly = app.synth();
  const synthSeconds = (performance.now() - started) / 1000;
  bundled = { app, stack, template: Template.fromStack(stack), assembly, outdir, synthSeconds };
  return bundled;
}

/** Total size of the files under `dir` (symlinks counted as links, not followed). */
export function directorySize(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += fs.statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/** The error a constructor throws, for "fails when" tests. */
export function thrownBy(build: () => unknown): Error {
  try {
    build();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the construct to throw');
}
