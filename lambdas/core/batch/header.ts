// The check a batch job makes before any scoring: the input names every feature the model requires (and the id
// column when one is given). A job whose input lacks one fails at once, naming every missing column.
import { parse } from 'csv-parse/sync';
import type { BatchFormat } from '../../contracts/batch-job';
import type { Manifest } from '../manifest';
import { idColumnName, predictionColumns } from './output';

/** The input cannot be scored as a whole (missing columns, no header, not the format it claims): the job fails before scoring. */
export class BatchInputError extends Error {
  override readonly name = 'BatchInputError';
}

/**
 * The columns of the input: a CSV's header line, or the keys of the first JSON Lines record. `head` is the
 * beginning of the object (at least its first line).
 */
export function inputColumns(head: string, format: BatchFormat, where: string): string[] {
  const text = head.charCodeAt(0) === 0xfeff ? head.slice(1) : head;
  const end = text.search(/\r?\n/);
  const firstLine = end === -1 ? text : text.slice(0, end);
  if (firstLine.trim() === '') throw new BatchInputError(`${where}: the first line is empty; expected ${format === 'csv' ? 'a CSV header' : 'a JSON object'}`);
  if (format === 'csv') {
    try {
      const [header] = parse(firstLine, { trim: true }) as string[][];
      return header ?? [];
    } catch (error) {
      throw new BatchInputError(`${where}: the header line is not valid CSV: ${(error as Error).message}`);
    }
  }
  let record: unknown;
  try {
    record = JSON.parse(firstLine);
  } catch (error) {
    throw new BatchInputError(`${where}: line 1 is not JSON (${(error as Error).message}); JSON Lines holds one object per line`);
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) throw new BatchInputError(`${where}: line 1 is not a JSON object`);
  return Object.keys(record);
}

/**
 * Throws a BatchInputError naming every required feature the columns lack, and the id column when one is named
 * and absent; or returns.
 */
export function checkColumns(manifest: Manifest, columns: readonly string[], idColumn: string | undefined, where: string): void {
  const present = new Set(columns);
  const features = manifest.features.filter((f) => f.required !== false && !present.has(f.name)).map((f) => `"${f.name}"`);
  const idMissing = idColumn !== undefined && !present.has(idColumn);
  if (features.length === 0 && !idMissing) return;
  const problems = [
    ...(features.length > 0
      ? [`missing ${features.length === 1 ? 'column' : `${features.length} columns`} ${features.join(', ')} that model ${manifest.name} v${manifest.version} requires`]
      : []),
    ...(idMissing ? [`${features.length > 0 ? 'and ' : ''}no column "${idColumn}", the id column given`] : []),
  ];
  throw new BatchInputError(`${where}: ${problems.join(', ')}; nothing was scored`);
}

/**
 * Throws a BatchInputError naming every input column a joined CSV output would repeat under an output column's
 * name (`row` when there is no id column, `version`, `label`, `probability_<class>`…): a CSV with two columns of
 * one name cannot be read back.
 */
export function checkJoinable(manifest: Manifest, columns: readonly string[], idColumn: string | undefined, where: string): void {
  const outputs = new Set([...(idColumn === undefined ? [idColumnName(undefined)] : []), ...predictionColumns(manifest)]);
  const clashing = columns.filter((c) => outputs.has(c));
  if (clashing.length === 0) return;
  throw new BatchInputError(
    `${where}: the input's ${clashing.map((c) => `"${c}"`).join(', ')} ${clashing.length === 1 ? 'column has the name' : 'columns have the names'} of output columns; rename ${clashing.length === 1 ? 'it' : 'them'} or score without joining the input`,
  );
}
