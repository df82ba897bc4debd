import type { Logger } from '@aws-lambda-powertools/logger';
import type { Manifest } from '../core/manifest';
import { monitorReport, reportMetrics, type MetricDatum, type VersionReport } from '../core/monitoring/report';
import { slidingWindow, windowStartOf } from '../core/monitoring/window';
import { ManifestUnavailableError, type ManifestStore } from '../adapters/manifest-store';
import type { MonitoringStore } from '../adapters/monitoring-store';
import type { MonitoringConfig } from '../contracts/monitoring-environment';

/**
 * What starts a monitor run: the EventBridge scheduled event (its `time`; its `version` is the event format's,
 * "0", not a model version), or a direct invocation naming the end of the period and optionally one model /
 * version (tests, the CLI, a backfill).
 */
export type MonitorEvent = ScheduledEvent | DirectMonitorEvent;

export interface ScheduledEvent {
  readonly 'detail-type': string;
  readonly time: string;
}

export interface DirectMonitorEvent {
  readonly at?: string;
  readonly time?: string;
  readonly model?: string;
  readonly version?: string;
}

export interface MonitorDependencies {
  readonly store: MonitoringStore;
  readonly manifests: ManifestStore;
  readonly logger: Logger;
  /** Emits a version's metrics, timestamped at the run (the end of the window they describe). */
  readonly emit: (model: string, version: string, data: readonly MetricDatum[], at: Date) => void;
  readonly now?: () => Date;
}

export interface MonitorRun {
  readonly at: string;
  readonly reports: readonly VersionReport[];
  readonly skipped: readonly { model: string; version: string; reason: string }[];
}

/** The longest sliding window a manifest may ask for (`monitoring.windowMinutes`, its JSON Schema's maximum). */
const MAX_WINDOW_MINUTES = 1440;

/**
 * The scheduled monitor (every 5 minutes by default): for every model version with windows, merges the
 * newest windows of its sliding window (the manifest's `monitoring.windowMinutes`, else the configured
 * default; the window in progress included) for drift and estimated quality, and the windows of the
 * quality lookback for realized quality (labels arrive late) — a fixed number of items per version whatever
 * the traffic — computes the report against the manifest's baseline and holdout metrics, and emits the
 * metrics the alarms watch, timestamped at the run.
 */
export function monitorHandler(config: MonitoringConfig, deps: MonitorDependencies): (event?: MonitorEvent | null) => Promise<MonitorRun> {
  const now = deps.now ?? (() => new Date());
  const minute = config.minuteMs;
  const startOf = (ms: number) => windowStartOf(ms, config.windowMinutes, minute);
  return async (event) => {
    const direct: DirectMonitorEvent = event && !('detail-type' in event) ? event : {};
    const at = new Date(direct.at ?? event?.time ?? now().toISOString());
    const to = at.toISOString();
    const qualityFrom = startOf(at.getTime() - config.qualityLookbackHours * 60 * minute);
    const seenSince = startOf(Math.min(Date.parse(qualityFrom), at.getTime() - MAX_WINDOW_MINUTES * minute));
    const versions = (await deps.store.listVersions()).filter(
      (v) => (direct.model === undefined || v.model === direct.model) && (direct.version === undefined || v.version === direct.version) && v.lastSeen >= seenSince,
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
      const { from } = slidingWindow(at.getTime(), manifest.monitoring?.windowMinutes ?? config.driftWindowMinutes, config.windowMinutes, minute);
      const oldest = from < qualityFrom ? from : qualityFrom;
      const windows = await deps.store.queryWindows(model, version, oldest, to);
      let report: VersionReport;
      try {
        report = monitorReport(
          manifest,
          { recent: windows.filter((w) => w.windowStart >= from), lookback: windows.filter((w) => w.windowStart >= qualityFrom) },
          { from, to, qualityFrom },
          config,
        );
      } catch (error) {
        // One version's bad manifest settings (e.g. a drift method its feature cannot take) must not hide the others.
        skipped.push({ model, version, reason: `${(error as Error).name}: ${(error as Error).message}` });
        continue;
      }
      deps.emit(model, version, reportMetrics(report), at);
      reports.push(report);
    }
    deps.logger.info('monitor run', {
      at: to,
      versions: reports.map((r) => ({
        model: r.model,
        version: r.version,
        predictions: r.predictions,
        labels: r.labels,
        driftShare: r.drift?.driftShare,
        accuracy: r.quality?.accuracy,
      })),
      skipped,
    });
    return { at: to, reports, skipped };
  };
}
