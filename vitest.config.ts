import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/build-cli.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // EMF lines would flood the test output; the metrics test turns them on for itself.
    env: { POWERTOOLS_METRICS_DISABLED: 'true' },
  },
});
