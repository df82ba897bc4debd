// `modelgate reingest`: puts prediction records from the log fallback back into the prediction log. Records the
// table refuses are skipped, reported and kept in a file beside their source, so nothing is lost.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { reingestRecords } from '../../lambdas/adapters/prediction-log';
import { fallbackLine, parseFallbackRecords, type PredictionRecord } from '../../lambdas/core/prediction-record';
import { PREDICTION_LOG_FALLBACK_FILE } from '../../local/state-files';
import type { CommandRun } from '../command';
import type { reingestOptions } from '../specs/reingest';
import { requireOutput, resolveTarget } from '../target';
import { stateDirOf, targetKind } from '../target-options';
import { UsageError } from '../usage-error';

const REFUSED_SUFFIX = '.refused.jsonl';
/** Refused records printed one per line; the file has all of them. */
const REFUSED_SHOWN = 20;

export const runReingest: CommandRun<typeof reingestOptions> = async ({ values, positionals }) => {
  const aws = targetKind(values) === 'aws';
  if (positionals.length === 0 && aws) {
    throw new UsageError(
      "on AWS the fallback records are in the inference function's log group",
      'export it (CloudWatch Logs) and name the file: `modelgate reingest <export.log> --aws`',
    );
  }
  const files = positionals.length > 0 ? positionals : [join(stateDirOf(values), PREDICTION_LOG_FALLBACK_FILE)];
  if (positionals.length === 0 && !existsSync(files[0] as string)) {
    return nothingToDo(values.json, files, `${files[0]} does not exist: the local runtime writes it only when the prediction log's table does not take a record`);
  }
  const sources = files.map((file) => ({ file, records: parseFallbackRecords(readSource(file)) }));
  const records = sources.flatMap((s) => s.records);
  if (records.length === 0) return nothingToDo(values.json, files, `no fallback records in ${files.join(', ')}`);

  const target = await resolveTarget(values);
  const table = requireOutput(target, 'PredictionTableName');
  const result = await reingestRecords(target.dynamodb, table, records);
  const refusedFiles = keepRefused(sources, new Map(result.refused.map((r) => [r.record, r.reason])));
  const refused = result.refused.map(({ record, reason }) => ({ predictionId: record.predictionId, reason }));
  if (values.json) {
    console.log(JSON.stringify({ files, found: records.length, inserted: result.inserted, alreadyPresent: result.alreadyPresent, refused, refusedFiles }));
  } else {
    console.log(
      `${records.length} fallback record(s) in ${files.join(', ')}: ${result.inserted} re-ingested into ${table}, ${result.alreadyPresent} already there, ${refused.length} refused`,
    );
    for (const { predictionId, reason } of refused.slice(0, REFUSED_SHOWN)) console.log(`  refused ${predictionId}: ${reason}`);
    if (refused.length > REFUSED_SHOWN) console.log(`  ... and ${refused.length - REFUSED_SHOWN} more`);
    if (refusedFiles.length > 0) {
      console.log(`the refused records are kept in ${refusedFiles.join(', ')}: correct them there, then run \`modelgate reingest ${refusedFiles.join(' ')}\``);
    }
  }
  return refused.length > 0 ? 1 : 0;
};

function nothingToDo(json: boolean | undefined, files: readonly string[], why: string): number {
  if (json) console.log(JSON.stringify({ files, found: 0, inserted: 0, alreadyPresent: 0, refused: [], refusedFiles: [] }));
  else console.log(`nothing to re-ingest: ${why}`);
  return 0;
}

function readSource(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new UsageError(`cannot read ${file}: ${reason}`, "check the path (without a file, reingest reads the local runtime's fallback file)");
  }
}

/**
 * Writes each source's refused records, with the table's reason, beside it (`<name>.refused.jsonl`, in the
 * fallback format so the corrected file can be re-ingested; a refused file re-ingested is rewritten in
 * place). A source with none refused has its stale refused file removed. Returns the files written.
 */
function keepRefused(sources: readonly { file: string; records: readonly PredictionRecord[] }[], reasons: ReadonlyMap<PredictionRecord, string>): string[] {
  const written: string[] = [];
  for (const { file, records } of sources) {
    const target = file.endsWith(REFUSED_SUFFIX) ? file : join(dirname(file), `${basename(file).replace(/\.[^.]*$/, '')}${REFUSED_SUFFIX}`);
    const refused = records.filter((r) => reasons.has(r));
    if (refused.length > 0) {
      writeFileSync(target, `${refused.map((r) => fallbackLine(r, reasons.get(r) as string)).join('\n')}\n`);
      written.push(target);
    } else if (target !== file) {
      rmSync(target, { force: true });
    }
  }
  return written;
}
