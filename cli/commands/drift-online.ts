import { versionReport, type VersionReport } from '../../lambdas/core/monitoring/report';
import { windowStartOf } from '../../lambdas/core/monitoring/window';
import { parseDuration, resolveMonitoringTarget, versionsOf, type MonitoringTargetFlags } from '../monitoring-target';
import { UsageError } from '../usage-error';
import { table } from './drift';

/**
 * `modelgate drift <model>`: the drift of a served model's recent windows against its baseline, per version,
 * computed by the monitor's own code from the monitoring table (no log scan).
 */
export async function onlineDrift(
  positionals: readonly string[],
  flags: MonitoringTargetFlags & { version?: string; window?: string; json?: boolean; method?: string; threshold?: string },
): Promise<number> {
  if (positionals.length > 1) throw new UsageError(`one model at a time, got: ${positionals.join(' ')}`);
  if (flags.method !== undefined || flags.threshold !== undefined) {
    throw new UsageError('--method and --threshold apply to the file form; a served model uses its manifest\'s drift settings');
  }
  const model = positionals[0] as string;
  const windowMs = parseDuration(flags.window ?? '1h', '--window');
  const now = new Date();
  const from = windowStartOf(now.getTime() - windowMs);
  const to = now.toISOString();
  const target = await resolveMonitoringTarget(flags);
  const versions = await versionsOf(target.store, model, flags.version, from);
  if (versions.length === 0) {
    console.error(`modelgate drift: no windows for model ${model} since ${from} (no traffic, or not aggregated yet)`);
    return 1;
  }
  const reports: VersionReport[] = [];
  for (const version of versions) {
    const manifest = await target.manifestOf(model, version);
    const windows = await target.store.queryWindows(model, version, from, to);
    reports.push(versionReport(manifest, windows, { from, to }, { minPredictions: 1, minLabels: 1 }));
  }
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
            ...(r.drift ? { features: r.drift.features, driftShare: r.drift.driftShare, datasetDrift: r.drift.datasetDrift, prediction: r.drift.prediction ?? null } : { features: {}, skipped: r.driftSkipped }),
          })),
        },
        null,
        2,
      ),
    );
    return 0;
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
      console.log(`prediction distribution: ${prediction.method} ${prediction.statistic?.toFixed(4) ?? '-'} (threshold ${prediction.threshold}): ${prediction.drifted ? 'DRIFT' : 'no drift'}`);
    }
    console.log('');
  }
  return 0;
}
