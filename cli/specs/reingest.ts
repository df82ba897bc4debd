import { defineCommand } from '../command';
import { jsonOption, targetOptions, targetUsage } from '../target-options';

export const reingestOptions = { ...targetOptions, ...jsonOption } as const;

export const reingestSpec = defineCommand({
  name: 'reingest',
  summary: 'Re-ingest prediction records from the log fallback into the prediction log',
  usage: `usage: modelgate reingest [<file>...] [--json] [target options]

Puts prediction records that went to the fallback (because DynamoDB throttled or failed) back into
the prediction log. Idempotent: a record already in the table is left as it is and counted, so a run
that stopped half-way is resumed by running it again. A record the table refuses (e.g. a number
DynamoDB cannot store) is skipped, reported with the reason, and written to <file>.refused.jsonl
(same format: fix it there and re-ingest that file).
<file>: a local fallback file (default <state-dir>/prediction-log-fallback.jsonl, where nothing to
re-ingest is not an error), or a CloudWatch Logs export of the inference function's log group (lines
carrying the fallback marker are read).

Exit codes: 0 every record is in the table (or there was nothing to re-ingest), 1 the table refused
some records, 2 bad usage, an unreadable file, or an unreachable target.

${targetUsage}`,
  options: reingestOptions,
  positionals: true,
  load: () => import('../commands/reingest').then((m) => m.runReingest),
});
