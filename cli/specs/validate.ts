import { oneBundleFolder, requireBundleFolder } from '../bundle-folder';
import { defineCommand } from '../command';
import { jsonOption } from '../target-options';

export const VALIDATE_EXAMPLE = 'modelgate validate examples/churn/v2 --champion examples/churn/v1';

export const validateOptions = { champion: { type: 'string' }, ...jsonOption } as const;

export const validateSpec = defineCommand({
  name: 'validate',
  summary: "Run the pipeline's validation gates on a bundle folder, locally (CI, before push)",
  usage: `usage: modelgate validate <dir> [--champion <dir>] [--json]

Runs the promotion pipeline's validation on a bundle folder: manifest, checksum, the model loads and
answers its contract, init time and p99 latency, holdout metrics against the manifest's gates and, with
--champion (the live version's bundle), schema compatibility and non-inferiority on the same holdout.
(Replay of logged requests needs the deployed prediction log: the pipeline does it.)

  --champion <dir>   the bundle it will be compared with
  --json             print the result as JSON

Exit codes: 0 the bundle would be accepted, 1 rejected (every failed gate printed), 2 bad usage or a
folder that is not a bundle.`,
  options: validateOptions,
  positionals: true,
  preflight: ({ values, positionals }) => {
    oneBundleFolder('validate', positionals, VALIDATE_EXAMPLE);
    if (values.champion !== undefined) requireBundleFolder(values.champion, '--champion');
  },
  load: () => import('../commands/validate').then((m) => m.runValidate),
});
