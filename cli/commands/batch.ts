// `modelgate batch <model> --input … --output …`: starts a batch job (lib/batch/batch-scoring.ts), local files
// uploaded first, follows it with a progress line and writes the results back into a local output folder;
// `batch status <job>`, `batch list` and `batch stop <job>` manage jobs.
import { createWriteStream, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, ListExecutionsCommand, StartExecutionCommand, StopExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { BATCH_FORMATS, BATCH_OUTPUT, BATCH_PREFIX, type BatchFormat, type BatchJobInput } from '../../lambdas/contracts/batch-job';
import type { BatchSummary } from '../../lambdas/core/batch/summary';
import type { CommandRun } from '../command';
import { stepFunctionsClient } from '../pipeline-client';
import { registryOf, requireRegistered } from '../registry';
import type { batchOptions } from '../specs/batch';
import { requireOneOf } from '../suggest';
import { requireOutput, resolveTarget, type Target } from '../target';
import { UsageError } from '../usage-error';

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

export const runBatch: CommandRun<typeof batchOptions> = async ({ values, positionals }) => {
  const [first, second, ...extra] = positionals;
  if (first === undefined) throw new UsageError('which model?', 'e.g. `modelgate batch churn --input customers.csv --output out/`');
  if (first === 'labels') return (await import('./batch-labels')).runBatchLabels({ values, positionals: positionals.slice(1) });
  const target = await resolveTarget(values);
  const stateMachineArn = requireOutput(target, 'BatchStateMachineArn');
  const sfn = stepFunctionsClient(target);
  if (first === 'list') return list(sfn, stateMachineArn, values.json === true);
  if (first === 'status' || first === 'stop') {
    if (second === undefined || extra.length > 0)
      throw new UsageError(`batch ${first} takes one job`, `e.g. \`modelgate batch ${first} <job>\` (\`modelgate batch list\` names them)`);
    const executionArn = second.startsWith('arn:') ? second : `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${second}`;
    if (first === 'stop') {
      await describe(sfn, executionArn, second);
      await sfn.send(new StopExecutionCommand({ executionArn, cause: 'stopped with modelgate batch stop' }));
      console.log(values.json ? JSON.stringify({ job: second, status: 'ABORTED' }) : `${second}: stopped`);
      return 0;
    }
    const execution = await describe(sfn, executionArn, second);
    return report(execution, values.json === true, second);
  }
  if (second !== undefined) throw new UsageError(`one model at a time, got "${first}" and "${second}"`);
  return start(target, sfn, stateMachineArn, first, values);
};

async function start(target: Target, sfn: SFNClient, stateMachineArn: string, model: string, values: Parameters<typeof runBatch>[0]['values']): Promise<number> {
  if (values.input === undefined) throw new UsageError('--input is required', 'a local CSV or JSON Lines file, or s3://<model bucket>/batch/...');
  if (values.output === undefined) throw new UsageError('--output is required', 'a local folder, or s3://<model bucket>/batch/<prefix>/');
  const format = (values.format === undefined ? formatOf(values.input) : requireOneOf('--format', values.format, BATCH_FORMATS)) as BatchFormat;
  const maxConcurrency = integerFlag('--max-concurrency', values['max-concurrency'], 1, 10_000);
  const tolerated = integerFlag('--tolerated-failure-percentage', values['tolerated-failure-percentage'], 0, 100);
  await requireRegistered(registryOf(target), model, [values.version]);
  const bucket = requireOutput(target, 'ModelBucketName');
  const job = `${model}-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${Math.random().toString(36).slice(2, 6)}`;
  const log = values.json ? () => undefined : (line: string) => console.error(line);

  const input = values.input.startsWith('s3://') ? parseS3(values.input, '--input') : { bucket, key: `${BATCH_PREFIX}${job}/input.${format}` };
  if (!values.input.startsWith('s3://')) {
    if (!existsSync(values.input) || !statSync(values.input).isFile()) throw new UsageError(`--input ${values.input}: no such file`);
    log(`uploading ${values.input} to s3://${input.bucket}/${input.key}`);
    await target.s3.send(new PutObjectCommand({ Bucket: input.bucket, Key: input.key, Body: readFileSync(values.input) }));
  }
  const localOutput = values.output.startsWith('s3://') ? undefined : values.output;
  const output = localOutput === undefined ? parseS3(values.output, '--output') : { bucket, key: `${BATCH_PREFIX}${job}/output/` };
  const jobInput: BatchJobInput = {
    model,
    ...(values.version !== undefined ? { version: values.version } : {}),
    input,
    output: { bucket: output.bucket, prefix: output.key.endsWith('/') ? output.key : `${output.key}/` },
    format,
    ...(values['id-column'] !== undefined ? { idColumn: values['id-column'] } : {}),
    ...(maxConcurrency !== undefined ? { maxConcurrency } : {}),
    ...(tolerated !== undefined ? { toleratedFailurePercentage: tolerated } : {}),
  };
  const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, name: job, input: JSON.stringify(jobInput) }));
  log(`batch job ${job} started`);
  if (values['no-follow']) {
    console.log(values.json ? JSON.stringify({ job, executionArn }) : `follow it with \`modelgate batch status ${job}\`; stop it with \`modelgate batch stop ${job}\``);
    return 0;
  }
  process.once('SIGINT', () => {
    console.error(`\nstopped following; job ${job} goes on (\`modelgate batch stop ${job}\` stops it)`);
    process.exit(130);
  });
  const started = Date.now();
  let execution: Awaited<ReturnType<typeof describe>>;
  for (;;) {
    execution = await describe(sfn, executionArn as string, job);
    if (TERMINAL.has(execution.status ?? '')) break;
    const parts = await countKeys(target, jobInput.output.bucket, `${jobInput.output.prefix}${BATCH_OUTPUT.parts}`);
    log(`${job}: ${execution.status?.toLowerCase()}, ${parts} part(s) written, ${Math.round((Date.now() - started) / 1000)} s`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  if (localOutput !== undefined && execution.status === 'SUCCEEDED') {
    const written = await download(target, jobInput.output.bucket, jobInput.output.prefix, localOutput);
    log(`wrote ${written} file(s) into ${localOutput}`);
  }
  return report(execution, values.json === true, job);
}

function report(execution: Awaited<ReturnType<typeof describe>>, json: boolean, job: string): number {
  const summary = execution.output ? (JSON.parse(execution.output) as BatchSummary) : undefined;
  if (json)
    console.log(JSON.stringify(execution.status === 'SUCCEEDED' ? summary : { job, status: execution.status, error: execution.error ?? null, cause: execution.cause ?? null }));
  else if (execution.status === 'SUCCEEDED' && summary) {
    const { rows } = summary;
    console.log(
      `${job}: done — ${rows.scored} of ${rows.input} rows scored by ${summary.model} v${summary.version}, ${rows.rejected} rejected${rows.unprocessed ? `, ${rows.unprocessed} in failed batches` : ''}, ${summary.durationSeconds.toFixed(1)} s; drift: ${summary.drift?.status ?? 'no baseline'}`,
    );
  } else console.log(`${job}: ${execution.status}${execution.error ? ` (${execution.error}: ${execution.cause ?? ''})` : ''}`);
  if (execution.status === 'RUNNING') return 0;
  return execution.status === 'SUCCEEDED' ? 0 : 1;
}

async function list(sfn: SFNClient, stateMachineArn: string, json: boolean): Promise<number> {
  const { executions = [] } = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 50 }));
  const jobs = executions.map((e) => ({ job: e.name, status: e.status, startDate: e.startDate?.toISOString(), stopDate: e.stopDate?.toISOString() ?? null }));
  if (json) console.log(JSON.stringify(jobs));
  else if (jobs.length === 0) console.log('no batch jobs');
  else for (const j of jobs) console.log(`${j.job}  ${j.status}  ${j.startDate}${j.stopDate ? ` .. ${j.stopDate}` : ''}`);
  return 0;
}

async function describe(sfn: SFNClient, executionArn: string, job: string) {
  try {
    return await sfn.send(new DescribeExecutionCommand({ executionArn }));
  } catch (error) {
    if ((error as Error).name === 'ExecutionDoesNotExist') throw new UsageError(`no batch job "${job}"`, '`modelgate batch list` names the jobs');
    throw error;
  }
}

function formatOf(input: string): BatchFormat {
  const extension = extname(input.replace(/\/$/, '')).slice(1).toLowerCase();
  if (extension === 'csv') return 'csv';
  if (extension === 'jsonl' || extension === 'ndjson') return 'jsonl';
  throw new UsageError(`cannot tell the format of ${input} from its extension`, 'give --format csv or --format jsonl');
}

export function parseS3(uri: string, flag: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) throw new UsageError(`${flag} ${uri}: expected s3://<bucket>/<key>`);
  return { bucket: match[1] as string, key: match[2] as string };
}

function integerFlag(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

async function countKeys(target: Target, bucket: string, prefix: string): Promise<number> {
  let count = 0;
  let token: string | undefined;
  do {
    const page = await target.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    count += page.KeyCount ?? 0;
    token = page.NextContinuationToken;
  } while (token);
  return count;
}

/** The job's parts, rejected rows and summary, into `folder` (the Distributed Map's own result files left out). */
async function download(target: Target, bucket: string, prefix: string, folder: string): Promise<number> {
  let written = 0;
  let token: string | undefined;
  do {
    const page = await target.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const { Key } of page.Contents ?? []) {
      const name = relative(prefix, Key as string);
      if (name.startsWith(BATCH_OUTPUT.results)) continue;
      const file = join(folder, name);
      mkdirSync(dirname(file), { recursive: true });
      const object = await target.s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
      await pipeline(object.Body as NodeJS.ReadableStream, createWriteStream(file));
      written++;
    }
    token = page.NextContinuationToken;
  } while (token);
  return written;
}
