import { oneBundleFolder } from '../bundle-folder';
import { defineCommand } from '../command';
import { checkTarget, jsonOption, targetOptions, targetUsage } from '../target-options';

export const pushOptions = {
  strategy: { type: 'string' },
  'allow-breaking-changes': { type: 'boolean' },
  'no-follow': { type: 'boolean' },
  ...jsonOption,
  ...targetOptions,
} as const;

export const pushSpec = defineCommand({
  name: 'push',
  summary: 'Upload a bundle as a candidate and follow the promotion pipeline to its verdict',
  usage: `usage: modelgate push <dir> [--strategy <s>] [--allow-breaking-changes] [--no-follow] [--json] [target options]

Uploads the bundle in <dir> (every file in it, manifest.json last) to candidates/<model>/<version>/ of the
target's model bucket, then follows the promotion pipeline's execution to its end, printing each step.

  --strategy <s>             rollout for this upload: canary | linear | ab-test | shadow | all-at-once
                             (default: the manifest's rollout)
  --allow-breaking-changes   accept input-schema changes that break the live version's clients
  --no-follow                upload and print the execution, without waiting for it
  --json                     print the outcome as JSON

Exit codes: 0 the version reached canary, experiment, shadow or live; 1 it was rejected (the reason is
printed, DUPLICATE_VERSION and MODEL_NOT_DECLARED included), rolled back, or the pipeline failed; 2 bad
usage, a folder that is not a bundle, or an unreachable target.

${targetUsage}`,
  options: pushOptions,
  positionals: true,
  preflight: ({ values, positionals }) => {
    oneBundleFolder('push', positionals, 'modelgate push examples/churn/v2');
    checkTarget(values);
  },
  load: () => import('../commands/push').then((m) => m.runPush),
});
