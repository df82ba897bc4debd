// Scoring one chunk of a batch job's input, one child of the Distributed Map (lib/batch/batch-scoring.ts), with the
// serving session code, and writing its part and its rejected rows under the job's output prefix.
import { BATCH_OUTPUT, partName, type BatchEvent, type BatchPartResult, type BatchProgress } from '../contracts/batch-job';
import { formatPredictions, formatRejections } from '../core/batch/output';
import { chunkRows } from '../core/batch/rows';
import { batchColumns, scoreBatch } from '../core/batch/score';
import { PACKED_BUNDLE_FILE } from '../core/packed-bundle';
import { bundlePrefixes } from '../core/pipeline/candidate';
import { BatchStore } from '../adapters/batch-store';
import { fetchBundle } from '../adapters/model-store';
import { loadModel, type LoadedModel } from '../adapters/onnx-runtime';
import type { BatchDependencies } from './batch-jobs';

const CONTENT_TYPES = { csv: 'text/csv', jsonl: 'application/x-ndjson' } as const;

/** The scoring function's loaded models, by model and version: a container scores the batches of one job after another. */
export class ModelCache {
  private readonly loaded = new Map<string, Promise<LoadedModel>>();

  constructor(private readonly deps: BatchDependencies) {}

  get(model: string, version: string): Promise<LoadedModel> {
    const key = `${model}@${version}`;
    let entry = this.loaded.get(key);
    if (entry === undefined) {
      // One model at a time: a container that moves on to another job's model frees the last one's session.
      for (const [other, previous] of this.loaded) {
        this.loaded.delete(other);
        void previous.then((m) => m.release()).catch(() => undefined);
      }
      entry = fetchBundle(this.deps.s3, this.deps.bucket, bundlePrefixes(model, version).modelPrefix, PACKED_BUNDLE_FILE).then((bundle) =>
        loadModel(bundle.manifest, bundle.modelBytes),
      );
      entry.catch(() => this.loaded.delete(key));
      this.loaded.set(key, entry);
    }
    return entry;
  }
}

/**
 * Scores one chunk of the input — its bytes read from S3, its rows cut from them (no per-row objects for CSV) —
 * and writes its part, its rejected rows and its progress file; the answer is the part's counts and statistics.
 */
export async function scoreBatchEvent(deps: BatchDependencies, models: ModelCache, event: BatchEvent): Promise<BatchPartResult> {
  const { chunk, job } = event;
  const store = new BatchStore(deps.s3);
  const [model, bytes] = await Promise.all([models.get(job.model, job.version), store.getRange(job.input.bucket, job.input.key, chunk.start, chunk.end)]);
  const rows = chunkRows(bytes, job.format, chunk.firstRow, batchColumns(model.manifest, job.idColumn), job.header);
  if (rows.length !== chunk.rows) {
    throw new Error(
      `s3://${job.input.bucket}/${job.input.key} changed since the job started: bytes ${chunk.start}-${chunk.end - 1} hold ${rows.length} rows, the job counted ${chunk.rows}`,
    );
  }
  const options = { format: job.format, ...(job.idColumn !== undefined ? { idColumn: job.idColumn } : {}) };
  const scored = await scoreBatch(model.manifest, model.run, rows, options);
  const { bucket, prefix } = job.output;
  const name = partName(chunk.firstRow, job.format);
  const partKey = scored.predictions.length > 0 ? `${prefix}${BATCH_OUTPUT.parts}${name}` : undefined;
  const rejectedKey = scored.rejected.length > 0 ? `${prefix}${BATCH_OUTPUT.rejected}${name}` : undefined;
  const joined = job.joinInput === true ? { rows, header: job.header } : undefined;
  await Promise.all([
    partKey && store.putText(bucket, partKey, formatPredictions(model.manifest, scored, job.format, job.idColumn, joined), CONTENT_TYPES[job.format]),
    rejectedKey && store.putText(bucket, rejectedKey, formatRejections(scored.rejected, job.format, job.idColumn), CONTENT_TYPES[job.format]),
  ]);
  const labels: Record<string, number> = {};
  for (const prediction of scored.predictions) {
    if (prediction.label !== undefined) labels[String(prediction.label)] = (labels[String(prediction.label)] ?? 0) + 1;
  }
  const progress: BatchProgress = { firstRow: chunk.firstRow, rows: rows.length, scored: scored.predictions.length, rejected: new Set(scored.rejected.map((r) => r.row)).size };
  // Written after the part: a follower that counts this chunk as done finds its rows in the output.
  await store.putText(bucket, `${prefix}${BATCH_OUTPUT.progress}${partName(chunk.firstRow, 'json')}`, JSON.stringify(progress), 'application/json');
  return {
    ...progress,
    ...(partKey ? { partKey } : {}),
    ...(rejectedKey ? { rejectedKey } : {}),
    drift: scored.drift,
    labels,
  };
}
