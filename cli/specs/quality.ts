import { requireBundleFolder } from '../bundle-folder';
import { defineCommand } from '../command';
import { UsageError } from '../usage-error';
import { jsonOption } from '../target-options';

export const QUALITY_EXAMPLE = 'modelgate quality --bundle examples/churn/v1 --current examples/churn/v1/holdout.csv';

export const qualityOptions = {
  bundle: { type: 'string' },
  current: { type: 'string' },
  target: { type: 'string' },
  ...jsonOption,
} as const;

export const qualitySpec = defineCommand({
  name: 'quality',
  summary: "Estimate a classifier's quality on unlabeled rows (CBPE), as the monitor does before labels arrive",
  usage: `usage: modelgate quality --bundle <dir> --current <file.csv> [--target <column>] [--json]

Runs the bundle's model (onnxruntime, locally) on every row of the CSV and estimates its accuracy,
precision, recall, F1 and ROC AUC from the probabilities alone, with the calibration stored in the
bundle: the monitor's own estimate (confidence-based performance estimation, docs/monitoring.md), each
with its interval (+- 3 standard errors). For binary and multiclass classifiers with a probabilities output.

  --bundle <dir>       the bundle folder (manifest.json and the model)
  --current <file>     the rows to estimate on: a CSV with a header naming the model's features
                       (other columns are ignored)
  --target <column>    the CSV's label column: also print the realized metrics beside the estimate
  --json               print the result as JSON

Exit codes: 0 estimate printed, 2 bad usage, a folder that is not a bundle, a model that cannot be
estimated (a regression, no probabilities output), or a CSV that does not fit the model (every bad
row and column named).`,
  options: qualityOptions,
  positionals: false,
  preflight: ({ values }) => {
    for (const flag of ['bundle', 'current'] as const) {
      if (values[flag] === undefined) throw new UsageError(`--${flag} is required`, `e.g. \`${QUALITY_EXAMPLE}\``);
    }
    requireBundleFolder(values.bundle as string, '--bundle');
  },
  load: () => import('../commands/quality').then((m) => m.runQuality),
});
