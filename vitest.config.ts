import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that start local runtimes. They run one at a time, as they always have, after the other files (a
 * project with one worker is vitest's sequential group, which runs last): two runtimes at once on 2 cores push
 * what they measure past its bounds (the pipeline's p99 latency gate, the monitoring test's page time, the e2e
 * timeouts), as a run with both workers on them showed.
 */
const RUNTIME_FILES = ['test/e2e/**/*.test.ts', 'test/docs/examples.test.ts', 'test/integration/cloudformation.test.ts'];

/**
 * Folders whose files take longest, slowest first (the pipeline branches, packing the package, services, the
 * CLI in subprocesses); the unit tests (milliseconds a file) last, so the workers run out of work together.
 */
const SLOW_FOLDERS_FIRST = ['test/pipeline/', 'test/package/', 'test/integration/', 'test/cli/'];

/**
 * Vitest orders files by their durations in its cache of earlier runs, or by size when it has none (a fresh
 * clone, as in CI). Folders first, then vitest's order within a folder.
 */
class SlowFoldersFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const index = SLOW_FOLDERS_FIRST.findIndex((folder) => file.moduleId.includes(`/${folder}`));
      return index === -1 ? SLOW_FOLDERS_FIRST.length : index;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    globalSetup: ['test/support/build-cli.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    sequence: { sequencer: SlowFoldersFirst },
    env: {
      // EMF lines would flood the test output; the metrics test turns them on for itself.
      POWERTOOLS_METRICS_DISABLED: 'true',
      // aws-cdk-lib's built-in CloudFormation validation (a WebAssembly linter, on by default) takes about two
      // thirds of every synth: the local runtime's, each construct test's. It only reports (errors are downgraded
      // to warnings) and no test reads its report; cdk-nag's packs, which the tests do check, still run.
      CDK_VALIDATION: 'false',
    },
    projects: [
      { extends: true, test: { name: 'runtime', include: RUNTIME_FILES, maxWorkers: 1, sequence: { groupOrder: 0 } } },
      {
        extends: true,
        test: {
          name: 'rest',
          include: ['test/**/*.test.ts'],
          exclude: RUNTIME_FILES,
          // Vitest's default is one worker fewer than the CPUs: one on a 2-core machine, every file in turn.
          maxWorkers: Math.max(2, availableParallelism() - 1),
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
