import { defineCommand, oneModel } from '../command';
import { checkTarget, jsonOption, monitoringTargetOptions, monitoringTargetUsage, SINCE_RENAMED, sinceOption } from '../target-options';

export const errorsOptions = {
  slice: { type: 'string' },
  version: { type: 'string' },
  limit: { type: 'string', default: '20' },
  shards: { type: 'string', default: '4' },
  ...sinceOption,
  ...jsonOption,
  ...monitoringTargetOptions,
} as const;

export const errorsSpec = defineCommand({
  name: 'errors',
  summary: 'Error analysis of a served model from ground truth: wrong predictions, error rate by slice',
  usage: `usage: modelgate errors <model> [--since 24h] [--slice <feature>] [--version <v>] [--limit 20] [--json]

Wrong predictions and the error rate of a served model, from the predictions that received ground truth
(POST /v1/feedback) in the period, per version; with --slice, the error rate per value of a feature
(categories, or the baseline's bins for a number) with a 95% Wilson interval. Reads the prediction log's
byModelVersion index (one query per shard), so keep --since to what you need.

  --since <duration>   how far back to look: 30m, 24h (default), 7d... (--window is its old name)
  --slice <feature>    break the error rate down by this feature
  --version <v>        one version (default: every version seen in the period)
  --limit <n>          wrong predictions listed, most confident first (default 20; --json lists all)
  --shards <n>         PREDICTION_LOG_SHARDS of the deployment (default 4)
  --json               print JSON
${monitoringTargetUsage}

Exit codes: 0 analysed (also with no traffic in the period), 2 bad usage, an unknown model, version or
feature, or an unreachable target.`,
  options: errorsOptions,
  renamed: SINCE_RENAMED,
  positionals: true,
  preflight: ({ values, positionals }) => {
    oneModel('errors', positionals, 'modelgate errors churn --since 24h');
    if (values['dynamodb-endpoint'] === undefined) checkTarget(values);
  },
  load: () => import('../commands/errors').then((m) => m.runErrors),
});
