import { parseArgs } from 'node:util';
import { queryLabelledPredictions } from '../../lambdas/adapters/prediction-query';
import { errorAnalysis, type ErrorAnalysis } from '../../lambdas/core/monitoring/error-analysis';
import type { Command } from '../command';
import { monitoringTargetOptions, monitoringTargetUsage, parseDuration, resolveMonitoringTarget, versionsOf } from '../monitoring-target';
import { UsageError } from '../usage-error';

const usage = `usage: modelgate errors <model> [--since 24h] [--slice <feature>] [--version <v>] [--limit 20] [--json]

Wrong predictions and the error rate of a served model, from the predictions that received ground truth
(POST /v1/feedback) in the period, per version; with --slice, the error rate per value of a feature
(categories, or the baseline's bins for a number) with a 95% Wilson interval. Reads the prediction log's
byModelVersion index (one query per shard), so keep --since to what you need.

options:
  --since <duration>   30m, 24h (default), 7d...
  --slice <feature>    break the error rate down by this feature
  --version <v>        one version (default: every version seen in the period)
  --limit <n>          wrong predictions listed, most confident first (default 20; --json lists all)
  --shards <n>         PREDICTION_LOG_SHARDS of the deployment (default 4)
  --json               print JSON
${monitoringTargetUsage}`;

export const errorsCommand: Command = {
  name: 'errors',
  summary: 'Error analysis of a served model from ground truth: wrong predictions, error rate by slice',
  usage,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        since: { type: 'string', default: '24h' },
        slice: { type: 'string' },
        version: { type: 'string' },
        limit: { type: 'string', default: '20' },
        shards: { type: 'string', default: '4' },
        json: { type: 'boolean', default: false },
        ...monitoringTargetOptions,
      },
      allowPositionals: true,
    });
    if (positionals.length !== 1) throw new UsageError('name one model, e.g. `modelgate errors churn --since 24h`');
    const model = positionals[0] as string;
    const limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 0) throw new UsageError(`--limit must be a whole number, got: ${values.limit}`);
    const shards = Number(values.shards);
    if (!Number.isInteger(shards) || shards < 1) throw new UsageError(`--shards must be a positive whole number, got: ${values.shards}`);
    const now = Date.now();
    const from = new Date(now - parseDuration(values.since, '--since')).toISOString();
    const to = new Date(now).toISOString();
    const target = await resolveMonitoringTarget(values);
    if (!target.predictionTable) throw new UsageError('the prediction table is not known: give --prediction-table');
    const versions = await versionsOf(target.store, model, values.version, from);
    if (versions.length === 0) {
      console.error(`modelgate errors: no traffic of model ${model} since ${from}`);
      return 1;
    }
    const results: { version: string; analysis: ErrorAnalysis }[] = [];
    for (const version of versions) {
      const manifest = await target.manifestOf(model, version);
      if (values.slice !== undefined && !manifest.features.some((f) => f.name === values.slice)) {
        throw new UsageError(`--slice: ${model} v${version} has no feature "${values.slice}" (features: ${manifest.features.map((f) => f.name).join(', ')})`);
      }
      const records = await queryLabelledPredictions(target.dynamodb, target.predictionTable, { model, version, from, to, shards });
      results.push({ version, analysis: errorAnalysis(manifest, records, values.slice) });
    }
    if (values.json) {
      console.log(JSON.stringify({ model, from, to, slice: values.slice ?? null, versions: results.map(({ version, analysis }) => ({ version, ...analysis })) }, null, 2));
      return 0;
    }
    for (const { version, analysis } of results) {
      console.log(`${model} v${version}, ${from} .. ${to}: ${analysis.labelled} labelled predictions, ${analysis.wrong} wrong (error rate ${percent(analysis.errorRate)})`);
      if (analysis.slices.length > 0) {
        console.log('');
        console.log(columns([
          [values.slice as string, 'labelled', 'wrong', 'error rate', '95% interval'],
          ...analysis.slices.map((s) => [s.slice, String(s.count), String(s.wrong), percent(s.errorRate), `${percent(s.low)} - ${percent(s.high)}`]),
        ]));
      }
      if (analysis.wrongPredictions.length > 0 && limit > 0) {
        console.log('');
        console.log(columns([
          ['predictionId', 'time', 'predicted', 'actual', 'score', ...(values.slice ? [values.slice] : [])],
          ...analysis.wrongPredictions.slice(0, limit).map((w) => [
            w.predictionId,
            w.timestamp,
            String(w.predicted),
            String(w.actual),
            w.score === null ? '-' : w.score.toFixed(3),
            ...(values.slice ? [w.slice ?? ''] : []),
          ]),
        ]));
        if (analysis.wrongPredictions.length > limit) console.log(`... and ${analysis.wrongPredictions.length - limit} more (--limit, or --json for all)`);
      }
      console.log('');
    }
    return 0;
  },
};

function percent(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function columns(rows: readonly (readonly string[])[]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ').trimEnd()).join('\n');
}
