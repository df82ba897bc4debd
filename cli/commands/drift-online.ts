import { versionReport, type VersionReport } from '../../lambdas/core/monitoring/report';
import { windowDriftViews, type DriftViews } from '../../lambdas/core/drift/feature-view';
import { mergeMonitoringWindows, windowStartOf } from '../../lambdas/core/monitoring/window';
import { writeDriftHtml, type DriftHtmlSection } from '../drift-html';
import { oneModel } from '../command';
import { parseDuration } from '../args';
import { resolveMonitoringTarget, versionsOf } from '../monitoring-target';
import { UsageError } from '../usage-error';
import { table, type DriftInput } from './drift';

const NO_VIEWS: DriftViews = { features: [], prediction: null };

/**
 * `modelgate drift <model>`: the drift of a served model's recent windows against its baseline, per version,
 * computed by the monitor's own code from the monitoring table (no log scan).
 */
export async function onlineDrift({ values: flags, positionals }: DriftInput): Promise<number> {
  const model = oneModel('drift', positionals, 'modelgate drift churn --since 1h');
  const fileFlag = (['method', 'threshold', 'columns', 'exclude'] as const).find((flag) => flags[flag] !== undefined);
  if (fileFlag) throw new UsageError(`--${fileFlag} applies to two CSV files; a served model uses its manifest's drift settings`, `drop --${fileFlag}`);
  const periodMs = parseDuration(flags.since ?? '1h', '--since');
  const now = new Date();
  const from = windowStartOf(now.getTime() - periodMs);
  const to = now.toISOString();
  const target = await resolveMonitoringTarget(flags);
  const versions = await versionsOf(target, model, flags.version, from);
  if (versions.length === 0) {
    if (flags.html !== undefined) {
      const skipped = `no traffic aggregated since ${from}, so nothing to compare`;
      await writeDriftHtml(flags.html, {
        title: `Drift of ${model}`,
        sections: [{ title: model, reference: '-', current: `${from} .. ${to}`, report: null, skipped, views: NO_VIEWS }],
      });
    }
    if (flags.json) console.log(JSON.stringify({ model, from, to, versions: [] }, null, 2));
    else console.log(`${model}: no traffic aggregated since ${from}, so nothing to compare; send predictions, or look further back with --since`);
    return 0;
  }
  const reports: VersionReport[] = [];
  const sections: DriftHtmlSection[] = [];
  for (const version of versions) {
    const manifest = await target.manifestOf(model, version);
    const windows = await target.store.queryWindows(model, version, from, to);
    const report = versionReport(manifest, windows, { from, to }, { minPredictions: 1, minLabels: 1 });
    reports.push(report);
    sections.push({
      title: `${model} v${version}`,
      reference: manifest.baseline ? `training baseline of the manifest, ${manifest.baseline.rows} rows` : 'none: the manifest has no baseline',
      current: `${report.predictions} predictions in ${report.windows} aggregation windows, ${from} .. ${to}`,
      report: report.drift ?? null,
      ...(report.driftSkipped ? { skipped: report.driftSkipped } : {}),
      views: windowDriftViews(report.drift, manifest.baseline, mergeMonitoringWindows(manifest, windows).drift),
    });
  }
  if (flags.html !== undefined) await writeDriftHtml(flags.html, { title: `Drift of ${model}, since ${from}`, sections });
  const outcome = flags['fail-on-drift'] && reports.some((r) => r.drift?.datasetDrift) ? 1 : 0;
  if (flags.json) {
    console.log(
      JSON.stringify(
        {
          model,
          from,
          to,
          versions: reports.map((r) => ({
            version: r.version,
            predictions: r.predictions,
            windows: r.windows,
            ...(r.drift
              ? {
                  features: r.drift.features,
                  assessed: r.drift.assessed,
                  driftShare: r.drift.driftShare,
                  status: r.drift.status,
                  datasetDrift: r.drift.datasetDrift,
                  prediction: r.drift.prediction ?? null,
                }
              : { features: {}, skipped: r.driftSkipped }),
          })),
        },
        null,
        2,
      ),
    );
    return outcome;
  }
  for (const report of reports) {
    console.log(`${model} v${report.version}: ${report.predictions} predictions in ${report.windows} windows, ${from} .. ${to}`);
    if (!report.drift) {
      console.log(`  no drift report: ${report.driftSkipped}\n`);
      continue;
    }
    console.log(table(report.drift));
    const prediction = report.drift.prediction;
    if (prediction) {
      const verdict =
        prediction.status === 'not-enough-data'
          ? `not enough data (${prediction.current.values} values, needs ${prediction.minimum ?? 'a larger reference'})`
          : prediction.drifted
            ? 'DRIFT'
            : 'no drift';
      console.log(`prediction distribution: ${prediction.method} ${prediction.statistic?.toFixed(4) ?? '-'} (threshold ${prediction.threshold}): ${verdict}`);
    }
    console.log('');
  }
  if (flags.html !== undefined) console.log(`report written to ${flags.html}`);
  return outcome;
}
