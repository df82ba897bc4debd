import * as path from 'node:path';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { OutputFormat, type BundlingOptions, type NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';

export const REPO_ROOT = path.join(import.meta.dirname, '..');

/**
 * esbuild settings every modelgate function shares. Handlers initialise with top-level await, so the
 * bundle is ESM; CJS dependencies still call require(), which the banner provides. The SDK is bundled
 * so functions run the version the code was tested with, not the one the runtime happens to carry.
 */
export const ESM_BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node22',
  mainFields: ['module', 'main'],
  banner: "import { createRequire as __modelgateCreateRequire } from 'node:module'; const require = __modelgateCreateRequire(import.meta.url);",
  bundleAwsSDK: true,
} as const satisfies BundlingOptions;

/**
 * Names the handler's source file in the template, so the local runtime runs that source instead of the
 * bundle (docs/local-runtime.md).
 */
export function markHandlerSource(fn: NodejsFunction, entry: string, handler = 'handler'): void {
  const cfn = fn.node.defaultChild as lambda.CfnFunction;
  cfn.addMetadata('modelgate:entry', path.relative(REPO_ROOT, entry).split(path.sep).join('/'));
  cfn.addMetadata('modelgate:handler', handler);
}
