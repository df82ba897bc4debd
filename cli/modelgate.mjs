#!/usr/bin/env node
// Entry of `npx modelgate`: runs the CLI built to dist/cli/ (`npm ci` and `npm pack` build it, see cli/build.ts).
// Without a build (`npm ci --ignore-scripts`), it runs the TypeScript sources through tsx, much slower.
import { existsSync } from 'node:fs';
import module from 'node:module';

const built = new URL('../dist/cli/main.mjs', import.meta.url);
let main;
// The AWS SDK warns on every command under Node 20 that its releases after January 2027 need Node 22; this
// package pins the SDK it was tested with, so the warning says nothing about this CLI (docs/platform-notes.md).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Traces name the TypeScript lines (the build ships source maps); only when asked, as it slows loading.
if (process.argv.includes('--debug')) process.setSourceMapsEnabled(true);
if (existsSync(built)) {
  // Node 22.1+ keeps V8's compiled code of the chunks between runs; earlier versions go without.
  module.enableCompileCache?.();
  ({ main } = await import(built.href));
} else {
  process.stderr.write('modelgate: no build in dist/cli/, running the TypeScript sources (slow); `npm run build:cli` builds it\n');
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('./main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
