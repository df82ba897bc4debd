import { defineCommand, oneModel } from '../command';
import { checkTarget, jsonOption, monitoringTargetOptions, monitoringTargetUsage, SINCE_RENAMED, sinceOption } from '../target-options';

export const driftOptions = {
  reference: { type: 'string' },
  current: { type: 'string' },
  method: { type: 'string' },
  threshold: { type: 'string' },
  columns: { type: 'string' },
  exclude: { type: 'string' },
  version: { type: 'string' },
  'fail-on-drift': { type: 'boolean' },
  html: { type: 'string' },
  ...sinceOption,
  ...jsonOption,
  ...monitoringTargetOptions,
} as const;

export const driftSpec = defineCommand({
  name: 'drift',
  summary: 'Data drift: of a served model against its baseline, or between two CSV files (PSI, KS, Wasserstein, chi-squared, JS)',
  usage: `usage: modelgate drift <model> [--version <v>] [--since 1h] [--fail-on-drift] [--html <file>] [--json] [target options]
       modelgate drift --reference <a.csv> --current <b.csv> [--html <file>] [options]

The first form prints the per-feature drift of a served model's recent traffic against its manifest
baseline, from the monitoring table's window aggregates (as the scheduled monitor computes it): every
version seen in the period, or --version.

  --since <duration>    how far back to look: 30m, 1h (default), 24h, 7d... (--window is its old name)
  --version <v>         one version (default: every version seen in the period)
${monitoringTargetUsage}

The second form compares each column of the reference CSV with the same column of the current CSV. A
column is numeric when every non-empty cell of the reference is a number; empty cells are missing values.

  --reference <file>    the sample drift is measured against (e.g. the training split)
  --current <file>      the sample to compare (e.g. recent traffic)
  --method <method>     psi | ks | chisquare | jensenshannon | wasserstein, for every column
                        (default: chosen per column as Evidently does, see docs/drift.md)
  --threshold <x>       drift threshold for every column (default: the method's; p <= 0.05 for
                        ks and chisquare, statistic >= 0.1 for psi, jensenshannon, wasserstein)
  --columns <a,b,...>   compare only these columns (default: every column of the reference)
  --exclude <a,b,...>   leave these columns out (e.g. identifiers)

Both forms:
  --fail-on-drift       exit 1 when dataset drift is found (for CI and scheduled checks)
  --html <file>         also write the report as one self-contained HTML file (inline style and
                        charts, no script, no request): the summary first, then per feature its
                        verdict and the reference and current distributions
  --json                print the report as JSON

Exit codes: 0 report printed (drift or not, or no traffic in the period), 1 dataset drift found with
--fail-on-drift, 2 bad usage, a bad file, an unknown model or version, or an unreachable target.`,
  options: driftOptions,
  renamed: SINCE_RENAMED,
  positionals: true,
  preflight: ({ values, positionals }) => {
    if (positionals.length === 0) return;
    oneModel('drift', positionals, 'modelgate drift churn --since 1h');
    if (values['dynamodb-endpoint'] === undefined) checkTarget(values);
  },
  load: () => import('../commands/drift').then((m) => m.runDrift),
});
