import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Folders whose files take longest, slowest first: the docs and end-to-end files start local runtimes and wait
 * on scaled time (a minute or more each), then the files that run the pipeline, pack the package, start
 * services or the CLI. The unit tests (milliseconds a file) come last, so the workers run out of work together.
 */
const SLOW_FOLDERS_FIRST = ['test/docs/', 'test/e2e/', 'test/pipeline/', 'test/package/', 'test/integration/', 'test/cli/'];

/**
 * Vitest orders files by their durations in its cache of earlier runs, or by size when it has none (a fresh
 * clone, as in CI), which would leave long end-to-end files for the end of the run. Folders first, then
 * vitest's order within a folder.
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
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/build-cli.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Vitest's default is one worker fewer than the CPUs: one on a 2-core machine, every file in turn. Most of
    // an end-to-end file's time is waiting (scaled time, replays at a fixed rate, the pipeline), not CPU.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    sequence: { sequencer: SlowFoldersFirst },
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
