import { defineCommand } from '../command';
import { checkTarget, jsonOption, targetOptions, targetUsage } from '../target-options';

export const batchOptions = {
  input: { type: 'string' },
  output: { type: 'string' },
  version: { type: 'string' },
  format: { type: 'string' },
  'id-column': { type: 'string' },
  'join-input': { type: 'boolean' },
  'max-concurrency': { type: 'string' },
  'tolerated-failure-percentage': { type: 'string' },
  'max-rejected': { type: 'string' },
  'no-follow': { type: 'boolean' },
  labels: { type: 'string' },
  target: { type: 'string' },
  ...jsonOption,
  ...targetOptions,
} as const;

export const batchSpec = defineCommand({
  name: 'batch',
  summary: 'Score a CSV or JSON Lines file with a model (batch inference), and list, show or stop jobs',
  usage: `usage: modelgate batch <model> --input <s3-uri|file> --output <s3-uri prefix|folder> [options]
       modelgate batch status <job> | modelgate batch list | modelgate batch stop <job>
       modelgate batch labels <output folder|s3-uri prefix> --labels <file.csv|.jsonl> --target <column> [--id-column <name>]

Starts the batch state machine on the input (docs/batch.md) and follows the job to its end with a progress
line on stderr (rows done of the total, rows/s, ETA, rejected rows): redrawn in place on a terminal, otherwise
a line at each tenth of the rows and at least once a minute. Against the local runtime, --input may be a local
file (uploaded to batch/<job>/input.<format>) and --output a local folder: the parts, the rejected rows and the
summary are written into it when the job ends. S3 inputs and outputs must be under batch/ of the model bucket.
\`batch status\` of a running job shows the same figures.

  --version <n>                       the version to score with (default: the one taking the model's traffic)
  --format csv|jsonl                  the input's format (default: from the input's extension)
  --id-column <name>                  the column (or JSON field) that identifies a row (default: rows numbered)
  --join-input                        repeat each row's input columns in the output (SageMaker's JoinSource=Input)
  --max-concurrency <n>               chunks (~4 MiB of the input each) scored at once (default 100)
  --tolerated-failure-percentage <p>  share of chunks that may fail without failing the job (default 0)
  --max-rejected <n|p%>               rejected rows allowed, a number or a share of the input rows, before the
                                      command exits 1 (default 1%; the output is written all the same)
  --no-follow                         start the job, print its id and return
  --json                              print the summary (or the job) as JSON

batch labels joins ground truth to a finished job's output by id: --labels, a CSV (with a header) or JSON Lines
file; --target, its label column; --id-column, its id column (default: the output's). It prints how many rows
got a label, the labels that matched no row, and the job's realized quality against the version's validation
baseline (docs/batch.md, "Monitoring"). Batch rows are not in the prediction log: POST /v1/feedback cannot
label them.


Exit codes: 0 the job succeeded; 1 it failed (the reason is printed) or rejected more rows than --max-rejected
allows; 2 bad usage, an unknown model or version, an input that is not there, or an unreachable target.
Ctrl-C stops following, not the job (\`modelgate batch stop <job>\` stops it).

${targetUsage}`,
  options: batchOptions,
  positionals: true,
  preflight: ({ values }) => checkTarget(values),
  load: () => import('../commands/batch').then((m) => m.runBatch),
});
