import type { Logger } from '@aws-lambda-powertools/logger';
import type { Manifest } from '../core/manifest';
import { reportMetrics, versionReport, type MetricDatum, type VersionReport } from '../core/monitoring/report';
import { windowStartOf } from '../core/monitoring/window';
import { ManifestUnavailableError, type ManifestStore } from '../adapters/manifest-store';
import type { MonitoringStore } from '../adapters/monitoring-store';
import type { MonitoringConfig } from '../contracts/monitoring-environment';

/**
 * What starts a monitor run: the EventBridge scheduled event (its `time`), or a direct invocation naming
 * the end of the period and optionally one model / version (tests, the CLI, a backfill).
 */
export interface MonitorEvent {
  readonly time?: string;
  readonly at?: string;
  readonly model?: string;
  readonly version?: string;
}

export interface MonitorDependencies {
  readonly store: MonitoringStore;
  readonly manifests: ManifestStore;
  readonly logger: Logger;
  readonly emit: (model: string, version: string, data: readonly MetricDatum[], periodStart: Date) => void;
  readonly now?: () => Date;
}

export interface MonitorRun {
  readonly at: string;
  readonly reports: readonly VersionReport[];
  readonly skipped: readonly { model: string; version: string; reason: string }[];
}

/**
 * The scheduled monitor: for every model version with windows, merges the windows of the last period
 * (drift) and of the quality lookback (labels arrive late) from the monitoring table — a fixed number of
 * items per version whatever the traffic — computes the report against the manifest's baseline and
 * holdout metrics, and emits the metrics the alarms watch.
 */
export function monitorHandler(config: MonitoringConfig, deps: MonitorDependencies): (event?: MonitorEvent | null) => Promise<MonitorRun> {
  const now = deps.now ?? (() => new Date());
  return async (event) => {
    const at = new Date(event?.at ?? event?.time ?? now().toISOString());
    const to = at.toISOString();
    const driftFrom = new Date(at.getTime() - config.periodMinutes * 60_000);
    const qualityFrom = new Date(at.getTime() - config.qualityLookbackHours * 3_600_000);
    const oldest = windowStartOf(Math.min(driftFrom.getTime(), qualityFrom.getTime()), config.windowMinutes);
    const driftStart = windowStartOf(driftFrom, config.windowMinutes);
    const versions = (await deps.store.listVersions()).filter(
      (v) => (event?.model === undefined || v.model === event.model) && (event?.version === undefined || v.version === event.version) && v.lastSeen >= oldest,
    );
    const reports: VersionReport[] = [];
    const skipped: MonitorRun['skipped'][number][] = [];
    for (const { model, version } of versions) {
      // S3 failing for one version's manifest must not cost the others their report; the next run tries again.
      const manifest: Manifest | { reason: string } = await deps.manifests.get(model, version).catch((error: unknown) => {
        if (error instanceof ManifestUnavailableError) return { reason: error.message };
        throw error;
      });
      if ('reason' in manifest) {
        skipped.push({ model, version, reason: manifest.reason });
        continue;
      }
      const windows = await deps.store.queryWindows(model, version, oldest, to);
      const recent = windows.filter((w) => w.windowStart >= driftStart);
      let driftReport: VersionReport;
      let qualityReport: VersionReport;
      try {
        driftReport = versionReport(manifest, recent, { from: driftStart, to }, config);
        qualityReport = versionReport(manifest, windows, { from: oldest, to }, config);
      } catch (error) {
        // One version's bad manifest settings (e.g. a drift method its feature cannot take) must not hide the others.
        skipped.push({ model, version, reason: `${(error as Error).name}: ${(error as Error).message}` });
        continue;
      }
      // Drift over the period; quality over the lookback, where the late labels of older windows count.
      const { qualitySkipped: _recentOnly, ...drift } = driftReport;
      const report: VersionReport = {
        ...drift,
        labels: qualityReport.labels,
        qualityFrom: oldest,
        quality: qualityReport.quality,
        ...(qualityReport.qualitySkipped ? { qualitySkipped: qualityReport.qualitySkipped } : {}),
        degradation: qualityReport.degradation,
      };
      deps.emit(model, version, reportMetrics(report), new Date(report.from));
      reports.push(report);
    }
    deps.logger.info('monitor run', {
      at: to,
      versions: reports.map((r) => ({ model: r.model, version: r.version, predictions: r.predictions, labels: r.labels, driftShare: r.drift?.driftShare, accuracy: r.quality?.accuracy })),
      skipped,
    });
    return { at: to, reports, skipped };
  };
}
