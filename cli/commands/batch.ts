// `modelgate batch <model> --input … --output …`: starts a batch job (lib/batch/batch-scoring.ts), local files
// uploaded first, follows it with a progress line and writes the results back into a local output folder
// (./batch-follow.ts); `batch status <job>`, `batch list` and `batch stop <job>` manage jobs.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ListExecutionsCommand, StartExecutionCommand, StopExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { BATCH_FORMATS, BATCH_OUTPUT, BATCH_PREFIX, formatOfFile, type BatchFormat, type BatchJobInput } from '../../lambdas/contracts/batch-job';
import { DEFAULT_MAX_REJECTED, parseMaxRejected, type RejectedLimit } from '../batch-progress';
import type { CommandRun } from '../command';
import { stepFunctionsClient } from '../pipeline-client';
import { registryOf, requireRegistered } from '../registry';
import type { batchOptions } from '../specs/batch';
import { requireOneOf } from '../suggest';
import { requireOutput, resolveTarget, type Target } from '../target';
import { UsageError } from '../usage-error';
import { describeJob, downloadOutput, followJob, reportJob, showJob } from './batch-follow';

export const runBatch: CommandRun<typeof batchOptions> = async ({ values, positionals }) => {
  const [first, second, ...extra] = positionals;
  if (first === undefined) throw new UsageError('which model?', 'e.g. `modelgate batch churn --input customers.csv --output out/`');
  if (first === 'labels') return (await import('./batch-labels')).runBatchLabels({ values, positionals: positionals.slice(1) });
  const limit = parseMaxRejected(values['max-rejected'] ?? DEFAULT_MAX_REJECTED);
  const target = await resolveTarget(values);
  const stateMachineArn = requireOutput(target, 'BatchStateMachineArn');
  const sfn = stepFunctionsClient(target);
  if (first === 'list') return list(sfn, stateMachineArn, values.json === true);
  if (first === 'status' || first === 'stop') {
    if (second === undefined || extra.length > 0)
      throw new UsageError(`batch ${first} takes one job`, `e.g. \`modelgate batch ${first} <job>\` (\`modelgate batch list\` names them)`);
    const executionArn = second.startsWith('arn:') ? second : `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${second}`;
    if (first === 'stop') {
      await describeJob(sfn, executionArn, second);
      await sfn.send(new StopExecutionCommand({ executionArn, cause: 'stopped with modelgate batch stop' }));
      console.log(values.json ? JSON.stringify({ job: second, status: 'ABORTED' }) : `${second}: stopped`);
      return 0;
    }
    return showJob(target.s3, await describeJob(sfn, executionArn, second), second, { json: values.json === true, limit });
  }
  if (second !== undefined) throw new UsageError(`one model at a time, got "${first}" and "${second}"`);
  return start(target, sfn, stateMachineArn, first, values, limit);
};

async function start(
  target: Target,
  sfn: SFNClient,
  stateMachineArn: string,
  model: string,
  values: Parameters<typeof runBatch>[0]['values'],
  limit: RejectedLimit,
): Promise<number> {
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
    // Streamed: a file of millions of rows never sits in the CLI's memory.
    await target.s3.send(new PutObjectCommand({ Bucket: input.bucket, Key: input.key, Body: createReadStream(values.input), ContentLength: statSync(values.input).size }));
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
    ...(values['join-input'] === true ? { joinInput: true } : {}),
    ...(maxConcurrency !== undefined ? { maxConcurrency } : {}),
    ...(tolerated !== undefined ? { toleratedFailurePercentage: tolerated } : {}),
  };
  const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, name: job, input: JSON.stringify(jobInput) }));
  log(`batch job ${job} started`);
  if (values['no-follow']) {
    console.log(values.json ? JSON.stringify({ job, executionArn }) : `follow it with \`modelgate batch status ${job}\`; stop it with \`modelgate batch stop ${job}\``);
    return 0;
  }
  const execution = await followJob(target.s3, sfn, { name: job, executionArn: executionArn as string, output: jobInput.output }, { json: values.json === true, limit });
  if (localOutput !== undefined && execution.status === 'SUCCEEDED') {
    const written = await downloadOutput(target.s3, jobInput.output, localOutput);
    log(`wrote ${written} file(s) into ${localOutput}`);
  }
  const rejectedAt = localOutput === undefined ? `s3://${jobInput.output.bucket}/${jobInput.output.prefix}${BATCH_OUTPUT.rejected}` : join(localOutput, BATCH_OUTPUT.rejected);
  return reportJob(execution, job, { json: values.json === true, limit, rejectedAt });
}

async function list(sfn: SFNClient, stateMachineArn: string, json: boolean): Promise<number> {
  const { executions = [] } = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 50 }));
  const jobs = executions.map((e) => ({ job: e.name, status: e.status, startDate: e.startDate?.toISOString(), stopDate: e.stopDate?.toISOString() ?? null }));
  if (json) console.log(JSON.stringify(jobs));
  else if (jobs.length === 0) console.log('no batch jobs');
  else for (const j of jobs) console.log(`${j.job}  ${j.status}  ${j.startDate}${j.stopDate ? ` .. ${j.stopDate}` : ''}`);
  return 0;
}

function formatOf(input: string): BatchFormat {
  const format = formatOfFile(input.replace(/\/$/, ''));
  if (format === undefined) throw new UsageError(`cannot tell the format of ${input} from its extension`, 'give --format csv or --format jsonl');
  return format;
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
