// The steps around a batch job's Distributed Map (lib/batch/batch-scoring.ts): prepare (check the job, resolve
// the version, one pass over the input for its checksum, header and rows cut into chunks — a missing column fails
// the job before any scoring) and summarize the parts (the summary, then the job's drift metrics for the model's
// batch alarms). Scoring a chunk is in ./batch-scoring.ts.
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from '@aws-lambda-powertools/logger';
import {
  BATCH_FORMATS,
  BATCH_OUTPUT,
  BATCH_PREFIX,
  CHUNK_BYTES,
  DEFAULT_MAX_CONCURRENCY,
  DEFAULT_TOLERATED_FAILURE_PERCENTAGE,
  type BatchContext,
  type BatchJobInput,
  type BatchPartResult,
  type PreparedJob,
  type SummarizeEvent,
} from '../contracts/batch-job';
import { BatchInputError, checkColumns, checkJoinable, inputColumns } from '../core/batch/header';
import { RecordError } from '../core/batch/records';
import { batchMetrics, summarizeBatch, type BatchSummary } from '../core/batch/summary';
import type { MetricDatum } from '../core/monitoring/report';
import { parseManifestJson, type Manifest } from '../core/manifest';
import { bundlePrefixes, MANIFEST_FILE } from '../core/pipeline/candidate';
import { BatchObjectError, BatchStore } from '../adapters/batch-store';
import type { Registry } from '../adapters/registry';

export interface BatchDependencies {
  readonly s3: S3Client;
  /** The model bucket: bundles under models/, batch inputs and outputs under batch/. */
  readonly bucket: string;
}

/** Checks the execution input, resolves the version and reads the input once; throws BatchInputError naming what is wrong. */
export async function prepareJob(deps: BatchDependencies & { readonly registry: Registry }, input: BatchJobInput, now: Date): Promise<PreparedJob> {
  const problems = jobInputProblems(input, deps.bucket);
  if (problems.length > 0) throw new BatchInputError(`the batch job is invalid: ${problems.join('; ')}`);
  const record = await deps.registry.getModel(input.model);
  if (!record) throw new BatchInputError(`unknown model "${input.model}"`);
  const version = input.version ?? record.routing?.primary.version;
  if (version === undefined) throw new BatchInputError(`model "${input.model}" has no live version; name one with --version`);
  const store = new BatchStore(deps.s3);
  const manifest = await readManifest(store, deps.bucket, input.model, version);
  const where = `s3://${input.input.bucket}/${input.input.key}`;
  let scan: Awaited<ReturnType<BatchStore['scan']>>;
  try {
    scan = await store.scan(input.input.bucket, input.input.key, input.format, CHUNK_BYTES);
  } catch (error) {
    if (error instanceof BatchObjectError) throw new BatchInputError(error.message);
    if (error instanceof RecordError) throw new BatchInputError(`${where}: ${error.message}`);
    throw error;
  }
  const columns = inputColumns(scan.firstLine, input.format, where);
  checkColumns(manifest, columns, input.idColumn, where);
  if (input.joinInput === true && input.format === 'csv') checkJoinable(manifest, columns, input.idColumn, where);
  if (scan.rows === 0) throw new BatchInputError(`${where}: no data rows`);
  const chunks = { bucket: input.output.bucket, key: `${input.output.prefix}${BATCH_OUTPUT.chunks}` };
  await store.putText(chunks.bucket, chunks.key, JSON.stringify(scan.chunks), 'application/json');
  const batchInput: BatchContext = {
    model: input.model,
    version,
    format: input.format,
    input: input.input,
    ...(input.format === 'csv' ? { header: columns } : {}),
    output: input.output,
    ...(input.idColumn !== undefined ? { idColumn: input.idColumn } : {}),
    ...(input.joinInput === true ? { joinInput: true } : {}),
  };
  const prepared: PreparedJob = {
    model: input.model,
    version,
    input: input.input,
    output: input.output,
    format: input.format,
    ...(input.idColumn !== undefined ? { idColumn: input.idColumn } : {}),
    maxConcurrency: input.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY,
    toleratedFailurePercentage: input.toleratedFailurePercentage ?? DEFAULT_TOLERATED_FAILURE_PERCENTAGE,
    inputSha256: scan.sha256,
    rows: scan.rows,
    chunks,
    startedAt: now.toISOString(),
    batchInput,
    resultsPrefix: `${input.output.prefix}${BATCH_OUTPUT.results.replace(/\/$/, '')}`,
  };
  await store.putText(input.output.bucket, `${input.output.prefix}${BATCH_OUTPUT.job}`, `${JSON.stringify(prepared, null, 2)}\n`, 'application/json');
  return prepared;
}

/** Every problem of an execution input, each naming its field. */
export function jobInputProblems(input: BatchJobInput, bucket: string): string[] {
  const problems: string[] = [];
  const text = (value: unknown) => typeof value === 'string' && value !== '';
  if (!text(input?.model)) problems.push('model: is required');
  if (input?.version !== undefined && !/^[0-9]+$/.test(String(input.version))) problems.push(`version: must be a version number, got ${JSON.stringify(input.version)}`);
  if (!BATCH_FORMATS.includes(input?.format)) problems.push(`format: must be ${BATCH_FORMATS.join(' or ')}, got ${JSON.stringify(input?.format)}`);
  if (input?.input?.bucket !== bucket || !text(input.input.key) || !input.input.key.startsWith(BATCH_PREFIX)) {
    problems.push(`input: must be an object under s3://${bucket}/${BATCH_PREFIX}`);
  }
  if (input?.output?.bucket !== bucket || !text(input.output.prefix) || !input.output.prefix.startsWith(BATCH_PREFIX) || !input.output.prefix.endsWith('/')) {
    problems.push(`output: must be a prefix ending with "/" under s3://${bucket}/${BATCH_PREFIX}`);
  }
  if (input?.idColumn !== undefined && !text(input.idColumn)) problems.push('idColumn: must be a non-empty string');
  if (input?.joinInput !== undefined && typeof input.joinInput !== 'boolean') problems.push(`joinInput: must be true or false, got ${JSON.stringify(input.joinInput)}`);
  const max = input?.maxConcurrency;
  if (max !== undefined && !(Number.isSafeInteger(max) && max >= 1 && max <= 10_000)) problems.push(`maxConcurrency: must be an integer from 1 to 10000, got ${max}`);
  const tolerated = input?.toleratedFailurePercentage;
  if (tolerated !== undefined && !(typeof tolerated === 'number' && tolerated >= 0 && tolerated <= 100)) {
    problems.push(`toleratedFailurePercentage: must be a number from 0 to 100, got ${tolerated}`);
  }
  return problems;
}

async function readManifest(store: BatchStore, bucket: string, model: string, version: string): Promise<Manifest> {
  const key = `${bundlePrefixes(model, version).modelPrefix}${MANIFEST_FILE}`;
  try {
    return parseManifestJson(await store.getText(bucket, key));
  } catch (error) {
    if (error instanceof BatchObjectError) throw new BatchInputError(`model "${model}" has no version ${version} (${error.message})`);
    throw error;
  }
}

/** A child execution as the ResultWriter's result files list it (only what the summary reads). */
interface ChildResult {
  readonly Status: string;
  readonly Output?: string;
}

export interface SummarizeDependencies extends BatchDependencies {
  /** Emits a finished job's metrics (lambdas/adapters/monitor-metrics.ts, emitBatchMetrics). */
  readonly emitMetrics: (model: string, version: string, data: readonly MetricDatum[], at: Date) => void;
  readonly logger: Pick<Logger, 'error'>;
}

/**
 * Reads the ResultWriter's manifest and result files, merges the parts' results, writes the summary, then emits
 * the job's drift metrics. The summary is written first and a failure to emit is logged, not thrown: the job's
 * outputs are complete either way, and its drift is in the summary (the model's batch alarm then gets no datapoint).
 */
export async function summarizeJob(deps: SummarizeDependencies, event: SummarizeEvent, now: () => Date): Promise<BatchSummary> {
  const store = new BatchStore(deps.s3);
  const { Bucket, Key } = event.results.ResultWriterDetails;
  const resultManifest = JSON.parse(await store.getText(Bucket, Key)) as { ResultFiles?: Record<string, readonly { Key: string }[]> };
  const parts: BatchPartResult[] = [];
  let failed = 0;
  for (const [status, files] of Object.entries(resultManifest.ResultFiles ?? {})) {
    for (const file of files) {
      const children = JSON.parse(await store.getText(Bucket, file.Key)) as ChildResult[];
      for (const child of children) {
        if (status === 'SUCCEEDED' && child.Output !== undefined) parts.push(JSON.parse(child.Output) as BatchPartResult);
        else failed++;
      }
    }
  }
  const job = event.job;
  const manifest = await readManifest(store, deps.bucket, job.model, job.version);
  const summary = summarizeBatch(manifest, job, parts, failed, now());
  await store.putText(job.output.bucket, `${job.output.prefix}${BATCH_OUTPUT.summary}`, `${JSON.stringify(summary, null, 2)}\n`, 'application/json');
  try {
    deps.emitMetrics(summary.model, summary.version, batchMetrics(summary), new Date(summary.finishedAt));
  } catch (error) {
    deps.logger.error('the batch job metrics could not be emitted: the summary is written, the batch alarm gets no datapoint for this job', {
      model: summary.model,
      version: summary.version,
      output: `s3://${job.output.bucket}/${job.output.prefix}`,
      error: error as Error,
    });
  }
  return summary;
}
