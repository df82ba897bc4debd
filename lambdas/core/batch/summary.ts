// The summary of a batch job (`_SUCCESS.json` under the output prefix): the parts' counts added up, the
// prediction distribution, and drift of the batch against the model's baseline computed by the online
// monitor's drift core from the parts' mergeable aggregates.
import type { BatchPartResult, PreparedJob } from '../../contracts/batch-job';
import { mergeWindows, type FeatureAggregate, type WindowAggregate } from '../drift/aggregate';
import { driftReportFromAggregates, driftSettings, type DriftReport } from '../drift/report';
import type { Manifest } from '../manifest';
import { METRIC } from '../monitoring/alarms';
import { driftVerdictMetrics, type MetricDatum } from '../monitoring/report';
import { idColumnName } from './output';

export interface BatchSummary {
  readonly model: string;
  readonly version: string;
  readonly input: { readonly bucket: string; readonly key: string; readonly format: string; readonly sha256: string };
  /** Where the output is, its id column (`row` when the input had none) and whether its rows repeat the input's. */
  readonly output: { readonly bucket: string; readonly prefix: string; readonly idColumn: string; readonly joinedInput: boolean };
  readonly rows: {
    /** Data rows of the input. */
    readonly input: number;
    readonly scored: number;
    readonly rejected: number;
    /** Rows of batches that failed (tolerated by toleratedFailurePercentage): neither scored nor rejected. */
    readonly unprocessed: number;
  };
  /** Parts written (batches with at least one scored row). */
  readonly parts: number;
  /** Batches the Distributed Map ran, and how many of them failed. */
  readonly batches: { readonly succeeded: number; readonly failed: number };
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationSeconds: number;
  readonly predictions: {
    /** Scored rows per label (classification). */
    readonly labels: Readonly<Record<string, number>>;
    /** The distribution the baseline's prediction distribution describes (binned like it), when it has one. */
    readonly distribution?: FeatureAggregate;
  };
  /** Drift of the batch against the model's baseline (null without a baseline). */
  readonly drift: DriftReport | null;
}

/** The parts' results merged into the job's summary. `failedBatches` are the children the Map tolerated failing. */
export function summarizeBatch(manifest: Manifest, job: PreparedJob, parts: readonly BatchPartResult[], failedBatches: number, finishedAt: Date): BatchSummary {
  let scored = 0;
  let rejected = 0;
  let written = 0;
  const labels: Record<string, number> = {};
  let window: WindowAggregate | null = null;
  for (const part of parts) {
    scored += part.scored;
    rejected += part.rejected;
    if (part.partKey !== undefined) written++;
    for (const [label, count] of Object.entries(part.labels)) labels[label] = (labels[label] ?? 0) + count;
    if (part.drift) window = window ? mergeWindows(window, part.drift) : part.drift;
  }
  const drift = manifest.baseline && window && scored + rejected > 0 ? driftReportFromAggregates(manifest.baseline, window, { settings: driftSettings(manifest.features) }) : null;
  return {
    model: job.model,
    version: job.version,
    input: { ...job.input, format: job.format, sha256: job.inputSha256 },
    output: { ...job.output, idColumn: idColumnName(job.idColumn), joinedInput: job.batchInput.joinInput === true },
    rows: { input: job.rows, scored, rejected, unprocessed: Math.max(0, job.rows - scored - rejected) },
    parts: written,
    batches: { succeeded: parts.length, failed: failedBatches },
    startedAt: job.startedAt,
    finishedAt: finishedAt.toISOString(),
    durationSeconds: (finishedAt.getTime() - new Date(job.startedAt).getTime()) / 1000,
    predictions: { labels, ...(window?.prediction ? { distribution: window.prediction } : {}) },
    drift,
  };
}

/**
 * The metrics of a finished job, dimensioned by the emitter (service `batch`, model; and version): its drift
 * share and dataset drift flag, and whether its prediction distribution drifted — what the model's batch alarms
 * watch (core/monitoring/alarms.ts, batchAlarmSpecs). As the monitor's, a verdict without enough data emits
 * nothing: no datapoint is no page.
 */
export function batchMetrics(summary: Pick<BatchSummary, 'drift'>): MetricDatum[] {
  return summary.drift
    ? driftVerdictMetrics(summary.drift, { driftShare: METRIC.batchDriftShare, datasetDrift: METRIC.batchDatasetDrift, predictionDrift: METRIC.batchPredictionDrift })
    : [];
}
