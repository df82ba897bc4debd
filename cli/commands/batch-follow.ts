// Following and reporting a batch job for `modelgate batch`: the progress line while it runs (rows done and
// rejected from the job's `_progress/` files, the total from `_job.json`: cli/batch-progress.ts has the
// arithmetic), its output written into a local folder, and the final result with its exit code.
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, type DescribeExecutionCommandOutput, type SFNClient } from '@aws-sdk/client-sfn';
import { BatchObjectError, BatchStore } from '../../lambdas/adapters/batch-store';
import { BATCH_OUTPUT, type BatchJobInput, type BatchProgress, type PreparedJob } from '../../lambdas/contracts/batch-job';
import type { BatchSummary } from '../../lambdas/core/batch/summary';
import { describeOverLimit, describeProgress, LogPace, ProgressTally, RateWindow, rejectedOverLimit, type ProgressFigures, type RejectedLimit } from '../batch-progress';
import { liveLine } from '../live-line';
import { UsageError } from '../usage-error';

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);
const POLL_MS = 2000;
/** Progress files read at once: a poll of a large job finds about MaxConcurrency new ones. */
const READS_IN_FLIGHT = 16;

type Output = BatchJobInput['output'];

export async function describeJob(sfn: SFNClient, executionArn: string, job: string): Promise<DescribeExecutionCommandOutput> {
  try {
    return await sfn.send(new DescribeExecutionCommand({ executionArn }));
  } catch (error) {
    if ((error as Error).name === 'ExecutionDoesNotExist') throw new UsageError(`no batch job "${job}"`, '`modelgate batch list` names the jobs');
    throw error;
  }
}

/**
 * Polls the job until it ends, showing its progress on stderr: redrawn in place on a terminal, a line now and
 * then in a log (LogPace), nothing with --json. Ctrl-C meanwhile leaves the job running and says how to stop it.
 */
export async function followJob(
  s3: S3Client,
  sfn: SFNClient,
  job: { readonly name: string; readonly executionArn: string; readonly output: Output },
  options: { readonly json: boolean; readonly limit: RejectedLimit },
): Promise<DescribeExecutionCommandOutput> {
  const line = !options.json && process.stderr.isTTY ? liveLine(process.stderr) : undefined;
  const pace = new LogPace();
  const onInterrupt = () => {
    line?.clear();
    console.error(`stopped following; job ${job.name} goes on (\`modelgate batch status ${job.name}\` shows it, \`modelgate batch stop ${job.name}\` stops it)`);
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  try {
    const progress = new JobProgress(s3, job.output);
    const rate = new RateWindow();
    const started = Date.now();
    for (;;) {
      const execution = await describeJob(sfn, job.executionArn, job.name);
      if (TERMINAL.has(execution.status ?? '')) return execution;
      await progress.poll();
      const now = Date.now();
      if (progress.total !== undefined) rate.add(now, progress.tally.rowsDone);
      const rowsPerSecond = rate.rowsPerSecond();
      const figures: ProgressFigures = { elapsedMs: now - started, ...progress.figures(), ...(rowsPerSecond === undefined ? {} : { rowsPerSecond }) };
      if (line) line.show(describeProgress(figures, options.limit));
      else if (!options.json && pace.due(now, figures)) console.error(describeProgress(figures, options.limit));
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    line?.clear();
    process.removeListener('SIGINT', onInterrupt);
  }
}

/** `modelgate batch status <job>`: the progress of a running job (its rate the average since it started), else its result. */
export async function showJob(
  s3: S3Client,
  execution: DescribeExecutionCommandOutput,
  job: string,
  options: { readonly json: boolean; readonly limit: RejectedLimit },
): Promise<number> {
  const { output } = JSON.parse(execution.input ?? '{}') as BatchJobInput;
  if (execution.status !== 'RUNNING') return reportJob(execution, job, { ...options, rejectedAt: `s3://${output.bucket}/${output.prefix}${BATCH_OUTPUT.rejected}` });
  const progress = new JobProgress(s3, output);
  await progress.poll();
  const startedAt = progress.startedAt ?? execution.startDate?.getTime() ?? Date.now();
  const elapsedMs = Date.now() - startedAt;
  const figures: ProgressFigures = { elapsedMs, ...progress.figures(), ...(elapsedMs >= 1000 ? { rowsPerSecond: (progress.tally.rowsDone * 1000) / elapsedMs } : {}) };
  if (options.json) {
    const { tally } = progress;
    console.log(
      JSON.stringify({
        job,
        status: execution.status,
        rows: { input: progress.total ?? null, done: tally.rowsDone, scored: tally.scored, rejected: tally.rejected },
        rowsPerSecond: figures.rowsPerSecond ?? null,
      }),
    );
  } else console.log(`${job}: RUNNING, ${describeProgress(figures, options.limit)}`);
  return 0;
}

/**
 * Prints the job's result (stdout: the summary with --json) and answers its exit code: 0 it succeeded, 1 it
 * failed or rejected more rows than --max-rejected allows (said on stderr, with where the rejected rows are).
 */
export function reportJob(
  execution: DescribeExecutionCommandOutput,
  job: string,
  options: { readonly json: boolean; readonly limit: RejectedLimit; readonly rejectedAt: string },
): number {
  const summary = execution.status === 'SUCCEEDED' && execution.output ? (JSON.parse(execution.output) as BatchSummary) : undefined;
  if (options.json) console.log(JSON.stringify(summary ?? { job, status: execution.status, error: execution.error ?? null, cause: execution.cause ?? null }));
  else if (summary) {
    const { rows } = summary;
    console.log(
      `${job}: done — ${rows.scored} of ${rows.input} rows scored by ${summary.model} v${summary.version}, ${rows.rejected} rejected${rows.unprocessed ? `, ${rows.unprocessed} in failed batches` : ''}, ${summary.durationSeconds.toFixed(1)} s; drift: ${summary.drift?.status ?? 'no baseline'}`,
    );
  } else console.log(`${job}: ${execution.status}${execution.error ? ` (${execution.error}: ${execution.cause ?? ''})` : ''}`);
  if (summary === undefined) return execution.status === 'RUNNING' ? 0 : 1;
  if (!rejectedOverLimit(options.limit, summary.rows.rejected, summary.rows.input)) return 0;
  console.error(describeOverLimit(summary.rows, options.limit, options.rejectedAt));
  return 1;
}

/** The job's parts, rejected rows and summary, into `folder`: the Distributed Map's result files and what a follower reads are left out. */
export async function downloadOutput(s3: S3Client, output: Output, folder: string): Promise<number> {
  const left = [BATCH_OUTPUT.results, BATCH_OUTPUT.progress, BATCH_OUTPUT.job, BATCH_OUTPUT.chunks];
  let written = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: output.bucket, Prefix: output.prefix, ContinuationToken: token }));
    for (const { Key } of page.Contents ?? []) {
      const name = relative(output.prefix, Key as string);
      if (left.some((l) => name === l || name.startsWith(l))) continue;
      const file = join(folder, name);
      mkdirSync(dirname(file), { recursive: true });
      const object = await s3.send(new GetObjectCommand({ Bucket: output.bucket, Key }));
      await pipeline(object.Body as NodeJS.ReadableStream, createWriteStream(file));
      written++;
    }
    token = page.NextContinuationToken;
  } while (token);
  return written;
}

/** What the job's output prefix says of its progress: `_job.json` once (the total), then each new `_progress/` file once. */
export class JobProgress {
  readonly tally = new ProgressTally();
  total: number | undefined;
  startedAt: number | undefined;
  private readonly store: BatchStore;

  constructor(
    private readonly s3: S3Client,
    private readonly output: Output,
  ) {
    this.store = new BatchStore(s3);
  }

  figures(): Pick<ProgressFigures, 'total' | 'done' | 'rejected'> {
    return { ...(this.total === undefined ? {} : { total: this.total }), done: this.tally.rowsDone, rejected: this.tally.rejected };
  }

  async poll(): Promise<void> {
    if (this.total === undefined) {
      const prepared = await this.read<PreparedJob>(`${this.output.prefix}${BATCH_OUTPUT.job}`);
      if (prepared === undefined) return;
      this.total = prepared.rows;
      this.startedAt = Date.parse(prepared.startedAt);
    }
    const fresh = await this.newProgressKeys();
    for (let i = 0; i < fresh.length; i += READS_IN_FLIGHT) {
      const batch = fresh.slice(i, i + READS_IN_FLIGHT);
      const read = await Promise.all(batch.map(async (key) => [key, await this.read<BatchProgress>(key)] as const));
      for (const [key, progress] of read) if (progress !== undefined) this.tally.add(key, progress);
    }
  }

  private async newProgressKeys(): Promise<string[]> {
    const keys: string[] = [];
    const after = this.tally.listAfter;
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.output.bucket, Prefix: `${this.output.prefix}${BATCH_OUTPUT.progress}`, ContinuationToken: token, StartAfter: after }),
      );
      for (const { Key } of page.Contents ?? []) if (Key && !this.tally.has(Key)) keys.push(Key);
      token = page.NextContinuationToken;
    } while (token);
    return keys;
  }

  private async read<T>(key: string): Promise<T | undefined> {
    try {
      return JSON.parse(await this.store.getText(this.output.bucket, key)) as T;
    } catch (error) {
      if (error instanceof BatchObjectError) return undefined;
      throw error;
    }
  }
}
