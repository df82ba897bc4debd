import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { reingestRecords } from '../../lambdas/adapters/prediction-log';
import { parseFallbackRecords } from '../../lambdas/core/prediction-record';
import { PREDICTION_LOG_FALLBACK_FILE } from '../../local/state-files';
import type { Command } from '../command';
import { requireOutput, resolveTarget, targetOptions, targetUsage } from '../target';
import { UsageError } from '../usage-error';

const usage = `usage: modelgate reingest [<file>...] [--json] [target options]

Puts prediction records that went to the fallback (because DynamoDB throttled or failed) back into
the prediction log. Idempotent: a record already in the table is left as it is and counted.
<file>: a local fallback file (default <state-dir>/prediction-log-fallback.jsonl), or a CloudWatch
Logs export of the inference function's log group (lines carrying the fallback marker are read).

${targetUsage}`;

export const reingestCommand: Command = {
  name: 'reingest',
  summary: 'Re-ingest prediction records from the log fallback into the prediction log',
  usage,
  async run(args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...targetOptions, json: { type: 'boolean', default: false } } });
    const files = positionals.length > 0 ? positionals : [join(resolve(values['state-dir'] ?? '.modelgate'), PREDICTION_LOG_FALLBACK_FILE)];
    const records = files.flatMap((file) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (error) {
        throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
      }
      return parseFallbackRecords(text);
    });
    const target = await resolveTarget(values);
    const table = requireOutput(target, 'PredictionTableName');
    // A failure here is reported and the file stays as it is, to retry.
    const result = await reingestRecords(target.dynamodb, table, records);
    if (values.json) console.log(JSON.stringify({ files, found: records.length, ...result }));
    else console.log(`${records.length} fallback record(s) in ${files.join(', ')}: ${result.inserted} re-ingested into ${table}, ${result.alreadyPresent} already there`);
    return 0;
  },
};
