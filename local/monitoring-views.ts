// What the local dashboard shows of monitoring, as JSON-ready data: drift per feature over time (one point
// per window) and quality per model version. Reads the monitoring table's windows, as the monitor does, with
// the same core; call it with the runtime's endpoints and stack outputs.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { ManifestStore } from '../lambdas/adapters/manifest-store';
import { MonitoringStore } from '../lambdas/adapters/monitoring-store';
import { driftReportFromAggregates, driftSettings } from '../lambdas/core/drift/report';
import type { QualityMetricName, QualityMetrics } from '../lambdas/core/monitoring/quality';
import { versionReport } from '../lambdas/core/monitoring/report';
import { windowStartOf } from '../lambdas/core/monitoring/window';

export interface DriftPoint {
  readonly windowStart: string;
  readonly predictions: number;
  /** Null when the window has too few predictions for a report (fewer than `minPredictions`). */
  readonly driftShare: number | null;
  readonly features: Readonly<Record<string, { readonly method: string; readonly statistic: number | null; readonly drifted: boolean }>>;
}

export interface VersionQuality {
  readonly model: string;
  readonly version: string;
  readonly predictions: number;
  readonly labels: number;
  readonly quality: QualityMetrics | null;
  readonly baseline: Partial<Record<QualityMetricName, number>>;
  readonly degradation: Partial<Record<QualityMetricName, number>>;
}

export interface MonitoringViews {
  /** Model versions with windows, most recently seen first. */
  versions(): Promise<{ model: string; version: string; lastSeen: string }[]>;
  /** Drift per feature per window of one model version over the last `hours`. */
  driftTimeline(model: string, version: string, hours?: number): Promise<DriftPoint[]>;
  /** Quality of every version of a model over the last `hours` (labels count in their prediction's window). */
  quality(model: string, hours?: number): Promise<VersionQuality[]>;
}

export function monitoringViews(options: {
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
  /** Stack outputs MonitoringTableName and ModelBucketName. */
  readonly monitoringTable: string;
  readonly modelBucket: string;
  /** Windows with fewer predictions get no drift report (noise). @default 30 */
  readonly minPredictions?: number;
}): MonitoringViews {
  const store = new MonitoringStore(options.dynamodb, options.monitoringTable);
  const manifests = new ManifestStore(options.s3, options.modelBucket, 5_000);
  const manifestOf = async (model: string, version: string) => {
    const manifest = await manifests.get(model, version);
    if ('reason' in manifest) throw new Error(manifest.reason);
    return manifest;
  };
  const since = (hours: number) => windowStartOf(Date.now() - hours * 3_600_000);
  return {
    async versions() {
      return (await store.listVersions()).sort((a, b) => (a.lastSeen < b.lastSeen ? 1 : -1));
    },
    async driftTimeline(model, version, hours = 24) {
      const manifest = await manifestOf(model, version);
      const windows = await store.queryWindows(model, version, since(hours), new Date().toISOString());
      return windows.map((window): DriftPoint => {
        if (!manifest.baseline || !window.drift || window.predictions < (options.minPredictions ?? 30)) {
          return { windowStart: window.windowStart, predictions: window.predictions, driftShare: null, features: {} };
        }
        const report = driftReportFromAggregates(manifest.baseline, window.drift, { settings: driftSettings(manifest.features) });
        return {
          windowStart: window.windowStart,
          predictions: window.predictions,
          driftShare: report.driftShare,
          features: Object.fromEntries(Object.entries(report.features).map(([name, f]) => [name, { method: f.method, statistic: f.statistic, drifted: f.drifted }])),
        };
      });
    },
    async quality(model, hours = 24) {
      const from = since(hours);
      const to = new Date().toISOString();
      const versions = (await store.listVersions()).filter((v) => v.model === model && v.lastSeen >= from);
      const result: VersionQuality[] = [];
      for (const { version } of versions) {
        const manifest = await manifestOf(model, version);
        const report = versionReport(manifest, await store.queryWindows(model, version, from, to), { from, to }, { minLabels: 1 });
        result.push({ model, version, predictions: report.predictions, labels: report.labels, quality: report.quality, baseline: report.baseline, degradation: report.degradation });
      }
      return result;
    },
  };
}
