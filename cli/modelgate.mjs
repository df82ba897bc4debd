#!/usr/bin/env node
// Entry of `npx modelgate`: loads the TypeScript CLI through tsx so the CLI and the Lambda code share sources.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
