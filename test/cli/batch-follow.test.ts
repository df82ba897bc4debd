// How `modelgate batch` reads a running job's progress from S3 (cli/commands/batch-follow.ts), against s3rver:
// nothing but `_job.json` until the job is prepared, then each `_progress/` file read once however often it is
// listed, listing from after the unbroken run of batches; and `batch status` of a running job. Following a real
// job from the CLI is in test/e2e/local-runtime.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BATCH_OUTPUT, partName, type BatchJobInput, type BatchProgress } from '../../lambdas/contracts/batch-job';
import { localS3Client } from '../../local/aws-clients';
import { startS3, type LocalS3 } from '../../local/aws-services';
import { JobProgress, showJob } from '../../cli/commands/batch-follow';

const BUCKET = 'models';
const output = { bucket: BUCKET, prefix: 'batch/job-1/output/' };
const directory = mkdtempSync(join(tmpdir(), 'modelgate-batch-follow-'));
let server: LocalS3;
let s3: S3Client;
/** The keys of every GetObject and the StartAfter of every ListObjectsV2 the client sent. */
const sent = { gets: [] as string[], listedAfter: [] as (string | undefined)[] };

const put = (key: string, body: unknown) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${output.prefix}${key}`, Body: JSON.stringify(body) }));
const progressKey = (firstRow: number) => `${BATCH_OUTPUT.progress}${partName(firstRow, 'json')}`;
const putBatch = (progress: BatchProgress) => put(progressKey(progress.firstRow), progress);
const drain = () => {
  const drained = { gets: sent.gets.map((k) => k.slice(output.prefix.length)), listedAfter: sent.listedAfter.map((k) => k?.slice(output.prefix.length)) };
  sent.gets.length = 0;
  sent.listedAfter.length = 0;
  return drained;
};

beforeAll(async () => {
  server = await startS3({ directory, buckets: [BUCKET] });
  s3 = localS3Client(server.endpoint);
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Key?: string; StartAfter?: string };
      if (context.commandName === 'GetObjectCommand') sent.gets.push(input.Key as string);
      if (context.commandName === 'ListObjectsV2Command') sent.listedAfter.push(input.StartAfter);
      return next(args);
    },
    { step: 'initialize' },
  );
});

afterAll(async () => {
  await server?.close();
  rmSync(directory, { recursive: true, force: true });
});

describe('following a job', () => {
  const progress = () => new JobProgress(s3, output);
  let following: JobProgress;

  it('reads only _job.json while the job is being prepared', async () => {
    following = progress();
    await following.poll();
    expect(following.figures()).toEqual({ done: 0, rejected: 0 });
    expect(drain()).toEqual({ gets: [BATCH_OUTPUT.job], listedAfter: [] });
  });

  it('then the total, and each progress file once, listing from after the unbroken run from row 1', async () => {
    await put(BATCH_OUTPUT.job, { rows: 2000, startedAt: new Date(Date.now() - 100_000).toISOString() });
    await putBatch({ firstRow: 491, rows: 490, scored: 489, rejected: 1 });
    await putBatch({ firstRow: 1471, rows: 530, scored: 530, rejected: 0 });
    await following.poll();
    expect(following.figures()).toEqual({ total: 2000, done: 1020, rejected: 1 });
    expect(drain()).toEqual({ gets: [BATCH_OUTPUT.job, progressKey(491), progressKey(1471)], listedAfter: [undefined] });

    await putBatch({ firstRow: 1, rows: 490, scored: 488, rejected: 2 });
    await following.poll();
    expect(following.figures()).toEqual({ total: 2000, done: 1510, rejected: 3 });
    expect(drain()).toEqual({ gets: [progressKey(1)], listedAfter: [undefined] });

    await putBatch({ firstRow: 981, rows: 490, scored: 490, rejected: 0 });
    await following.poll();
    expect(following.figures()).toEqual({ total: 2000, done: 2000, rejected: 3 });
    expect(drain()).toEqual({ gets: [progressKey(981)], listedAfter: [progressKey(491)] });

    await following.poll();
    expect(drain()).toEqual({ gets: [], listedAfter: [progressKey(1471)] });
  });

  it('shows the same figures for `batch status` of a running job, its rate the average since it started', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    // The job started 100 s before this test (not before the file's first test: a loaded machine runs them slower).
    await put(BATCH_OUTPUT.job, { rows: 2000, startedAt: new Date(Date.now() - 100_000).toISOString() });
    try {
      const input: Pick<BatchJobInput, 'output'> = { output };
      const running = {
        executionArn: 'arn:aws:states:::execution:batch:job-1',
        stateMachineArn: 'arn:aws:states:::stateMachine:batch',
        status: 'RUNNING' as const,
        input: JSON.stringify(input),
        startDate: new Date(),
        $metadata: {},
      };
      expect(await showJob(s3, running, 'job-1', { json: false, limit: { percent: 1 } })).toBe(0);
      expect(log.mock.calls.at(-1)?.[0]).toMatch(/^job-1: RUNNING, 1 min 4\d s: 2,000 of 2,000 rows \(100%\), 3 rejected; writing the summary$/);
      expect(await showJob(s3, running, 'job-1', { json: true, limit: { percent: 1 } })).toBe(0);
      expect(JSON.parse(log.mock.calls.at(-1)?.[0] as string)).toEqual({
        job: 'job-1',
        status: 'RUNNING',
        rows: { input: 2000, done: 2000, scored: 1997, rejected: 3 },
        rowsPerSecond: expect.any(Number),
      });
      // 2,000 rows over the 100 s (and the moments this test took) since the job started.
      expect(JSON.parse(log.mock.calls.at(-1)?.[0] as string).rowsPerSecond).toBeGreaterThan(18);
      expect(JSON.parse(log.mock.calls.at(-1)?.[0] as string).rowsPerSecond).toBeLessThanOrEqual(20);
    } finally {
      log.mockRestore();
    }
  });
});
