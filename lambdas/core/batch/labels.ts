// Ground truth for a batch job's rows, from a file: the labels joined to the job's output parts by id, and the
// realized quality of the job computed by the monitor's quality core (../monitoring/quality.ts) against the
// version's validation baseline. Batch rows are not in the prediction log, so the feedback route (labels joined
// by prediction id or join key) cannot reach them: this is their route (docs/batch.md, "Monitoring").
// Pure: the CLI (cli/commands/batch-labels.ts) reads the files and hands their text over one part at a time.
import type { BatchFormat } from '../../contracts/batch-job';
import { CsvError, parseCsv, type CsvTable } from '../csv';
import type { Manifest } from '../manifest';
import { checkActual } from '../monitoring/feedback';
import {
  addLabelled,
  baselineQuality,
  emptyQuality,
  qualityDegradation,
  qualityMetrics,
  type QualityAggregate,
  type QualityMetricName,
  type QualityMetrics,
} from '../monitoring/quality';
import type { RowPrediction } from '../tensors';
import { idColumnName, predictionColumns } from './output';

/** A labels file or an output part that cannot be joined: the message names the file, line, column and reason. */
export class BatchLabelsError extends Error {
  override readonly name = 'BatchLabelsError';
}

/** Problem lines listed in an error before "and N more". */
const PROBLEMS_SHOWN = 10;
/** Ids listed as examples of labels without a prediction. */
const EXAMPLES_SHOWN = 5;

export interface LabelRow {
  readonly id: string;
  /** The model's own label (or number, for a regression). */
  readonly actual: string | number;
  /** 1-based line of the file. */
  readonly line: number;
}

export interface ScoredRow {
  readonly id: string;
  readonly prediction: RowPrediction;
}

/**
 * The labels of a CSV (with a header) or JSON Lines file: the id from `idColumn`, the label from `target`,
 * checked as the feedback route checks an actual (a class label of the model; a number for a regression).
 * Throws BatchLabelsError naming a missing column, or listing every line whose id or label is missing or wrong.
 */
export function readLabels(manifest: Manifest, text: string, format: BatchFormat, columns: { readonly idColumn: string; readonly target: string }, source: string): LabelRow[] {
  const records = format === 'csv' ? csvRecords(text, source, columns) : jsonRecords(text, source);
  const labels: LabelRow[] = [];
  const problems: string[] = [];
  for (const { line, record } of records) {
    const id = record[columns.idColumn];
    const cell = record[columns.target];
    if (id === undefined || id === null || id === '') {
      problems.push(`line ${line}: no id in "${columns.idColumn}"`);
      continue;
    }
    if (cell === undefined || cell === null || cell === '') {
      problems.push(`line ${line}: no label in "${columns.target}"`);
      continue;
    }
    const actual = manifest.task === 'regression' && typeof cell === 'string' && cell.trim() !== '' && Number.isFinite(Number(cell)) ? Number(cell) : cell;
    const checked = typeof actual === 'string' || typeof actual === 'number' ? checkActual(manifest, actual) : { reason: `expected a label, got ${JSON.stringify(actual)}` };
    if ('reason' in checked) problems.push(`line ${line}, column "${columns.target}": ${checked.reason}`);
    else labels.push({ id: String(id), actual: checked.actual, line });
  }
  if (problems.length > 0) throw new BatchLabelsError(`${source}: ${problems.length} of ${records.length} labels cannot be used:\n${listed(problems)}`);
  if (labels.length === 0) throw new BatchLabelsError(`${source}: no labels (the file has no data rows)`);
  return labels;
}

function csvRecords(text: string, source: string, columns: { readonly idColumn: string; readonly target: string }): { line: number; record: Record<string, unknown> }[] {
  const table = csvTable(text, source);
  for (const [flag, name] of [
    ['--id-column', columns.idColumn],
    ['--target', columns.target],
  ] as const) {
    if (!table.header.includes(name)) throw new BatchLabelsError(`${source}: no column "${name}" (the ${flag} column; columns: ${table.header.join(', ')})`);
  }
  return table.rows.map((row, i) => ({ line: i + 2, record: Object.fromEntries(table.header.map((name, c) => [name, row[c]])) }));
}

function jsonRecords(text: string, source: string): { line: number; record: Record<string, unknown> }[] {
  const records: { line: number; record: Record<string, unknown> }[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    try {
      const value: unknown = JSON.parse(raw);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) problems.push(`line ${i + 1}: not a JSON object`);
      else records.push({ line: i + 1, record: value as Record<string, unknown> });
    } catch (error) {
      problems.push(`line ${i + 1}: not JSON (${(error as Error).message})`);
    }
  });
  if (problems.length > 0) throw new BatchLabelsError(`${source}: ${problems.length} lines cannot be read:\n${listed(problems)}`);
  return records;
}

/**
 * The scored rows of one output part, as the batch-score function writes it (./output.ts): CSV with the id
 * column, `version` and the prediction columns for the manifest's task — after the input's columns when the job
 * joined them, the id column then found by its name, `outputIdColumn` — or JSON Lines. Throws BatchLabelsError
 * when the part is not one of this model version's.
 */
export function readPart(
  manifest: Manifest,
  text: string,
  format: BatchFormat,
  source: string,
  outputIdColumn?: string,
): { readonly idColumn: string; readonly rows: ScoredRow[] } {
  if (format === 'jsonl') {
    const rows: ScoredRow[] = [];
    let idColumn: string | undefined;
    for (const { line, record } of jsonRecords(text, source)) {
      idColumn ??= Object.keys(record)[0] as string;
      const { label, probabilities, scores, value } = record as RowPrediction;
      const id = record[idColumn];
      if (id === undefined || id === null) throw new BatchLabelsError(`${source}: line ${line}: no "${idColumn}"`);
      rows.push({
        id: String(id),
        prediction: {
          ...(label !== undefined ? { label } : {}),
          ...(probabilities ? { probabilities } : {}),
          ...(scores ? { scores } : {}),
          ...(value !== undefined ? { value } : {}),
        },
      });
    }
    return { idColumn: idColumn ?? idColumnName(undefined), rows };
  }
  const table = csvTable(text, source);
  const expected = predictionColumns(manifest);
  const tail = table.header.slice(-expected.length);
  const joined = table.header.length > expected.length + 1;
  const idIndex = joined ? table.header.indexOf(outputIdColumn ?? (table.header[0] as string)) : 0;
  const idColumn = table.header[idIndex];
  if (idColumn === undefined || idIndex === -1 || idIndex >= table.header.length - expected.length || tail.join(',') !== expected.join(',')) {
    throw new BatchLabelsError(
      `${source}: not a part of ${manifest.name} v${manifest.version}: its columns are ${table.header.join(', ')}, expected <id>, [the input's columns,] ${expected.join(', ')}`,
    );
  }
  const classes = (manifest.classLabels ?? []).map(String);
  const rows = table.rows.map((cells): ScoredRow => {
    const cell = (name: string) => cells[table.header.indexOf(name)] as string;
    const prediction: RowPrediction = {};
    if (manifest.task === 'regression') {
      const value = cell('value');
      prediction.value = value.startsWith('[') ? (JSON.parse(value) as number[]) : Number(value);
    } else {
      prediction.label = cell('label');
      if (manifest.outputs.probabilities !== undefined) prediction.probabilities = Object.fromEntries(classes.map((c) => [c, Number(cell(`probability_${c}`))]));
      if (manifest.outputs.scores !== undefined) prediction.scores = Object.fromEntries(classes.map((c) => [c, Number(cell(`score_${c}`))]));
    }
    return { id: cells[idIndex] as string, prediction };
  });
  return { idColumn, rows };
}

export interface BatchLabelsReport {
  /** Scored rows of the output. */
  readonly predictions: number;
  /** Labels in the file (the first of each id). */
  readonly labels: number;
  /** Scored rows that got a label: the rows the quality rests on. */
  readonly labelled: number;
  /** Scored rows whose id has no label. */
  readonly predictionsWithoutLabel: number;
  /** Labels whose id no scored row has, of them the ids of rejected rows, and the first few ids. */
  readonly labelsWithoutPrediction: { readonly count: number; readonly rejectedRows: number; readonly examples: readonly string[] };
  /** Ids the labels file holds more than once: `same` with the same label, `conflicting` with another; the first stands (as feedback). */
  readonly duplicateLabels: { readonly same: number; readonly conflicting: number };
  /** Labels that joined more than one scored row (an id the input held more than once): each of those rows counts. */
  readonly labelsOnSeveralPredictions: number;
  readonly quality: QualityMetrics;
  /** The version's validation baseline (the manifest's holdout metrics) and how much worse the batch is (positive = worse). */
  readonly baseline: Partial<Record<QualityMetricName, number>>;
  readonly degradation: Partial<Record<QualityMetricName, number>>;
}

/**
 * Joins labels to a job's scored rows by id, part by part (only the labels are held, not the output), into the
 * monitor's quality statistics.
 */
export class BatchLabelsJoin {
  private readonly byId = new Map<string, { actual: string | number; joined: number }>();
  private readonly quality: QualityAggregate;
  private readonly duplicates = { same: 0, conflicting: 0 };
  private predictions = 0;
  private labelled = 0;

  constructor(
    private readonly manifest: Manifest,
    labels: readonly LabelRow[],
  ) {
    this.quality = emptyQuality(manifest);
    for (const label of labels) {
      const first = this.byId.get(label.id);
      if (!first) this.byId.set(label.id, { actual: label.actual, joined: 0 });
      else if (String(first.actual) === String(label.actual)) this.duplicates.same++;
      else this.duplicates.conflicting++;
    }
  }

  addPart(rows: readonly ScoredRow[]): void {
    for (const row of rows) {
      this.predictions++;
      const label = this.byId.get(row.id);
      if (!label) continue;
      label.joined++;
      this.labelled++;
      addLabelled(this.quality, this.manifest, row.prediction, label.actual);
    }
  }

  /** `rejectedIds`: the ids of the job's rejected rows, to say which unjoined labels belong to them. */
  report(rejectedIds: ReadonlySet<string> = new Set()): BatchLabelsReport {
    const unjoined = [...this.byId].filter(([, label]) => label.joined === 0).map(([id]) => id);
    const quality = qualityMetrics(this.quality);
    const baseline = baselineQuality(this.manifest);
    return {
      predictions: this.predictions,
      labels: this.byId.size,
      labelled: this.labelled,
      predictionsWithoutLabel: this.predictions - this.labelled,
      labelsWithoutPrediction: { count: unjoined.length, rejectedRows: unjoined.filter((id) => rejectedIds.has(id)).length, examples: unjoined.slice(0, EXAMPLES_SHOWN) },
      duplicateLabels: { ...this.duplicates },
      labelsOnSeveralPredictions: [...this.byId.values()].filter((label) => label.joined > 1).length,
      quality,
      baseline,
      degradation: qualityDegradation(quality, baseline),
    };
  }
}

/** The ids of a job's rejected rows, from one rejected-rows file (./output.ts formatRejections). */
export function rejectedIds(text: string, format: BatchFormat, idColumn: string, source: string): string[] {
  let ids: unknown[];
  if (format === 'csv') {
    const table = csvTable(text, source);
    const column = table.header.indexOf(idColumn);
    ids = column === -1 ? [] : table.rows.map((row) => row[column]);
  } else ids = jsonRecords(text, source).map(({ record }) => record[idColumn]);
  return ids.filter((id) => id !== undefined && id !== null && id !== '').map(String);
}

function csvTable(text: string, source: string): CsvTable {
  try {
    return parseCsv(text, source);
  } catch (error) {
    if (error instanceof CsvError) throw new BatchLabelsError(error.message);
    throw error;
  }
}

function listed(problems: readonly string[]): string {
  const shown = problems.slice(0, PROBLEMS_SHOWN).map((p) => `  ${p}`);
  return [...shown, ...(problems.length > PROBLEMS_SHOWN ? [`  ... and ${problems.length - PROBLEMS_SHOWN} more`] : [])].join('\n');
}
