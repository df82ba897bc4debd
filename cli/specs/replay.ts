import { statSync } from 'node:fs';
import { extname } from 'node:path';
import { parseDuration } from '../args';
import { type CommandInput, defineCommand, oneModel } from '../command';
import type { ReplayFormat } from '../replay-engine';
import { checkTarget, jsonOption, targetOptions, targetUsage } from '../target-options';
import { UsageError } from '../usage-error';

export const replayOptions = {
  input: { type: 'string' },
  rate: { type: 'string' },
  duration: { type: 'string' },
  target: { type: 'string' },
  'label-delay': { type: 'string' },
  ...jsonOption,
  ...targetOptions,
} as const;

const EXAMPLE = 'modelgate replay churn --input examples/churn/v1/holdout.csv --rate 20';

/** What a replay is asked to do, from its flags; bad usage names the flag. */
export interface ReplayRequest {
  readonly model: string;
  readonly input: string;
  readonly format: ReplayFormat;
  readonly rate: number;
  readonly durationMs?: number;
  /** The label column and the delay after each answer; undefined: no labels are posted. */
  readonly labels?: { readonly column: string; readonly delayMs: number };
}

const FORMATS: Readonly<Record<string, ReplayFormat>> = { '.csv': 'csv', '.jsonl': 'jsonl', '.ndjson': 'jsonl' };

/** The request the flags make, checked without reading the file or reaching the target. */
export function replayRequest({ values, positionals }: CommandInput<typeof replayOptions>): ReplayRequest {
  const model = oneModel('replay', positionals, EXAMPLE);
  if (values.input === undefined) throw new UsageError('--input is required: the CSV or JSON Lines file of rows to send', `e.g. \`${EXAMPLE}\``);
  if (values.rate === undefined) throw new UsageError('--rate is required: rows per second', `e.g. \`${EXAMPLE}\``);
  const format = FORMATS[extname(values.input).toLowerCase()];
  if (format === undefined) {
    throw new UsageError(`--input ${values.input}: the format is read from the extension, .csv (with a header row) or .jsonl`, 'name the file .csv or .jsonl');
  }
  const rate = Number(values.rate);
  if (!/^\d*\.?\d+$/.test(values.rate) || !(rate > 0) || !Number.isFinite(rate)) throw new UsageError(`--rate must be a number of rows per second > 0, got: ${values.rate}`);
  if (values['label-delay'] !== undefined && values.target === undefined) {
    throw new UsageError("--label-delay needs --target, the column holding each row's label", 'add --target <column>, or drop --label-delay');
  }
  return {
    model,
    input: values.input,
    format,
    rate,
    ...(values.duration === undefined ? {} : { durationMs: parseDuration(values.duration, '--duration') }),
    ...(values.target === undefined
      ? {}
      : { labels: { column: values.target, delayMs: values['label-delay'] === undefined ? 0 : parseDuration(values['label-delay'], '--label-delay') } }),
  };
}

export const replaySpec = defineCommand({
  name: 'replay',
  summary: "Send a file's rows to a model at a steady rate (open loop), optionally post their labels; counts and latencies",
  usage: `usage: modelgate replay <model> --input <file.csv|file.jsonl> --rate <rows/s> [--duration <d>]
                        [--target <column> [--label-delay <d>]] [--json] [target options]

Sends the rows of <file> to the model's predict route, one row a request, at a steady rate: open loop,
so a slow answer does not slow the schedule (if the replayer itself cannot keep up, it says how far it
fell behind). Each row is checked against the served version's manifest first, as the route would check
it: a row that does not fit is reported with its line and reason, and not sent. Prints what was sent,
answered and failed, the latency percentiles, and the labels posted. Ctrl-C stops sending; what was sent
is still reported.

  --input <file>        a CSV file with a header row (.csv), or JSON Lines (.jsonl): one object of
                        feature values a line; columns that are not features are left out
  --rate <rows/s>       rows per second, e.g. 20 or 0.5 (a deployed stack's predict key is throttled at
                        50 requests/s by default: docs/serving.md)
  --duration <d>        send for this long, from the first row again when the file runs out: 30s,
                        10m, 1h (default: every row once)
  --target <column>     the column holding each row's label: posted as ground truth for the row's
                        prediction (POST /v1/feedback, with the feedback key)
  --label-delay <d>     post each label this long after its answer, as ground truth arrives later in
                        production: 30s, 5m (default: at once)
  --json                print the report as JSON

The API keys are the stack's first predict and feedback keys (outputs PredictApiKeyId and
FeedbackApiKeyId, read with apigateway:GET).

Exit codes: 0 every row sent was answered (and every label accepted), 1 some were not, 2 bad usage, an
unreadable file or one without a header row, an unknown model or one that serves no version, or an
unreachable target.

${targetUsage}`,
  options: replayOptions,
  positionals: true,
  preflight: (input) => {
    const { input: file } = replayRequest(input);
    let isFile: boolean;
    try {
      isFile = statSync(file).isFile();
    } catch (error) {
      throw new UsageError(`--input ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, 'check the path');
    }
    if (!isFile) throw new UsageError(`--input ${file} is not a file`, 'name the CSV or JSON Lines file of rows to send');
    checkTarget(input.values);
  },
  load: () => import('../commands/replay').then((m) => m.runReplay),
});
