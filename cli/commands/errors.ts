import { queryLabelledPredictions } from '../../lambdas/adapters/prediction-query';
import { errorAnalysis, type ErrorAnalysis } from '../../lambdas/core/monitoring/error-analysis';
import { oneModel, type CommandRun } from '../command';
import { parseDuration } from '../args';
import { resolveMonitoringTarget, versionsOf } from '../monitoring-target';
import type { errorsOptions } from '../specs/errors';
import { nearest } from '../suggest';
import { UsageError } from '../usage-error';
import { columns } from '../columns';

export const runErrors: CommandRun<typeof errorsOptions> = async ({ values, positionals }) => {
  const model = oneModel('errors', positionals, 'modelgate errors churn --since 24h');
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 0) throw new UsageError(`--limit must be a whole number, got: ${values.limit}`);
  const shards = Number(values.shards);
  if (!Number.isInteger(shards) || shards < 1) throw new UsageError(`--shards must be a positive whole number, got: ${values.shards}`);
  const now = Date.now();
  const from = new Date(now - parseDuration(values.since ?? '24h', '--since')).toISOString();
  const to = new Date(now).toISOString();
  const target = await resolveMonitoringTarget(values);
  if (!target.predictionTable) throw new UsageError('the prediction table is not known', 'give --prediction-table');
  const versions = await versionsOf(target, model, values.version, from);
  if (versions.length === 0) {
    if (values.json) console.log(JSON.stringify({ model, from, to, slice: values.slice ?? null, versions: [] }, null, 2));
    else console.log(`${model}: no traffic since ${from}, so no errors to analyse; look further back with --since`);
    return 0;
  }
  const results: { version: string; analysis: ErrorAnalysis }[] = [];
  for (const version of versions) {
    const manifest = await target.manifestOf(model, version);
    if (values.slice !== undefined && !manifest.features.some((f) => f.name === values.slice)) {
      const features = manifest.features.map((f) => f.name);
      const guess = nearest(values.slice, features);
      throw new UsageError(
        `--slice: ${model} v${version} has no feature "${values.slice}" (features: ${features.join(', ')})`,
        guess ? `did you mean "${guess}"?` : 'slice by one of its features',
      );
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
      console.log(
        columns([
          [values.slice as string, 'labelled', 'wrong', 'error rate', '95% interval'],
          ...analysis.slices.map((s) => [s.slice, String(s.count), String(s.wrong), percent(s.errorRate), `${percent(s.low)} - ${percent(s.high)}`]),
        ]),
      );
    }
    if (analysis.wrongPredictions.length > 0 && limit > 0) {
      console.log('');
      console.log(
        columns([
          ['predictionId', 'time', 'predicted', 'actual', 'score', ...(values.slice ? [values.slice] : [])],
          ...analysis.wrongPredictions
            .slice(0, limit)
            .map((w) => [
              w.predictionId,
              w.timestamp,
              String(w.predicted),
              String(w.actual),
              w.score === null ? '-' : w.score.toFixed(3),
              ...(values.slice ? [w.slice ?? ''] : []),
            ]),
        ]),
      );
      if (analysis.wrongPredictions.length > limit) console.log(`... and ${analysis.wrongPredictions.length - limit} more (--limit, or --json for all)`);
    }
    console.log('');
  }
  return 0;
};

function percent(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}
