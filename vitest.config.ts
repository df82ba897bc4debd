import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/build-cli.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    env: {
      // EMF lines would flood the test output; the metrics test turns them on for itself.
      POWERTOOLS_METRICS_DISABLED: 'true',
      // aws-cdk-lib's built-in CloudFormation validation (a WebAssembly linter, on by default) takes about two
      // thirds of every synth: the local runtime's, each construct test's. It only reports (errors are downgraded
      // to warnings) and no test reads its report; cdk-nag's packs, which the tests do check, still run.
      CDK_VALIDATION: 'false',
    },
  },
});
