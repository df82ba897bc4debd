import { readFile } from 'node:fs/promises';
import { column, CsvError, parseCsv, type CsvTable } from '../../lambdas/core/csv';
import { type Column, DriftConfigError, type DriftReport, type DriftStatus, driftReport, type DriftSettings, type FeatureDrift } from '../../lambdas/core/drift/report';
import type { DriftMethod } from '../../lambdas/core/manifest-types';
import type { CommandInput, CommandRun } from '../command';
import type { driftOptions } from '../specs/drift';
import { nearest, requireOneOf } from '../suggest';
import { UsageError } from '../usage-error';
import { columns } from '../columns';
import { writeDriftHtml, type DriftHtml } from '../drift-html';
import { columnDriftViews } from '../../lambdas/core/drift/feature-view';

const METHODS: readonly DriftMethod[] = ['psi', 'ks', 'chisquare', 'jensenshannon', 'wasserstein'];

/** The options of `modelgate drift`, both forms. */
export type DriftInput = CommandInput<typeof driftOptions>;

export const runDrift: CommandRun<typeof driftOptions> = async (input) => {
  const { values, positionals } = input;
  if (positionals.length > 0) {
    if (values.reference !== undefined || values.current !== undefined) throw new UsageError('give a model, or --reference and --current, not both');
    // The served-model form needs the SDK clients; the file form does not load them.
    const { onlineDrift } = await import('./drift-online');
    return onlineDrift(input);
  }
  if (values.reference === undefined || values.current === undefined) {
    throw new UsageError(
      `${values.reference === undefined ? '--reference' : '--current'} is required`,
      'give a served model (`modelgate drift churn`) or two CSV files (--reference <a.csv> --current <b.csv>)',
    );
  }
  const served = (['since', 'version'] as const).find((flag) => values[flag] !== undefined);
  if (served) throw new UsageError(`--${served} applies to a served model, not to two CSV files`, 'drop it, or name the model: `modelgate drift <model>`');
  const settings = settingsFromFlags(values.method, values.threshold);

  let report: DriftReport;
  let html: DriftHtml;
  try {
    const reference = await readTable(values.reference);
    const current = await readTable(values.current);
    const names = selectColumns(reference, values.reference, values.columns, values.exclude);
    const referenceColumns: [string, Column][] = [];
    const currentColumns: [string, Column][] = [];
    for (const name of names) {
      const referenceCells = column(reference, name, values.reference);
      const currentCells = column(current, name, values.current);
      const numeric = numbers(referenceCells);
      if (numeric) {
        referenceColumns.push([name, { kind: 'numeric', values: numeric }]);
        currentColumns.push([name, { kind: 'numeric', values: numericCells(currentCells, name, values.current) }]);
      } else {
        referenceColumns.push([name, { kind: 'categorical', values: referenceCells.map(cellOrMissing) }]);
        currentColumns.push([name, { kind: 'categorical', values: currentCells.map(cellOrMissing) }]);
      }
    }
    const referenceData = Object.fromEntries(referenceColumns);
    const currentData = Object.fromEntries(currentColumns);
    report = driftReport(referenceData, currentData, { settings: Object.fromEntries(names.map((name) => [name, settings])) });
    html = {
      title: `Drift of ${values.current} against ${values.reference}`,
      sections: [
        {
          title: values.current,
          reference: `${values.reference}, ${reference.rows.length} rows`,
          current: `${values.current}, ${current.rows.length} rows`,
          report,
          views: columnDriftViews(report, referenceData, currentData),
        },
      ],
    };
  } catch (error) {
    if (error instanceof CsvError || error instanceof DriftConfigError || error instanceof BadInputError) {
      throw new UsageError(error.message, error instanceof BadInputError ? error.nextStep : 'fix the file, or leave the column out with --exclude');
    }
    throw error;
  }
  if (values.html !== undefined) await writeDriftHtml(values.html, html);
  console.log(values.json ? JSON.stringify(report, null, 2) : table(report));
  if (values.html !== undefined && !values.json) console.log(`\nreport written to ${values.html}`);
  return values['fail-on-drift'] && report.datasetDrift ? 1 : 0;
};

/** A file or cell the report cannot use (exit 2), with what to do about it. */
class BadInputError extends Error {
  override readonly name = 'BadInputError';

  constructor(
    message: string,
    readonly nextStep: string,
  ) {
    super(message);
  }
}

function settingsFromFlags(method: string | undefined, threshold: string | undefined): DriftSettings {
  const chosen = method === undefined ? undefined : requireOneOf('--method', method, METHODS);
  let parsedThreshold: number | undefined;
  if (threshold !== undefined) {
    parsedThreshold = parseNumber(threshold);
    if (parsedThreshold === undefined || parsedThreshold <= 0) {
      throw new UsageError(`--threshold must be a number > 0, got: ${threshold}`);
    }
  }
  return { method: chosen, threshold: parsedThreshold };
}

async function readTable(path: string): Promise<CsvTable> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new BadInputError(`cannot read ${path}: ${reason}`, 'check the path');
  }
  return parseCsv(text, path);
}

function selectColumns(reference: CsvTable, source: string, columns: string | undefined, exclude: string | undefined): string[] {
  const list = (flag: string | undefined) =>
    (flag ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean);
  const named = [...list(columns), ...list(exclude)];
  const unknown = named.find((name) => !reference.header.includes(name));
  if (unknown !== undefined) {
    const guess = nearest(unknown, reference.header);
    throw new BadInputError(
      `${source}: no column "${unknown}" (columns: ${reference.header.join(', ')})`,
      guess ? `did you mean "${guess}"?` : 'name columns of the reference file',
    );
  }
  const chosen = columns === undefined ? [...reference.header] : list(columns);
  const excluded = new Set(list(exclude));
  const names = chosen.filter((name) => !excluded.has(name));
  if (names.length === 0) throw new BadInputError('no columns left to compare', 'exclude fewer columns');
  return names;
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function parseNumber(cell: string): number | undefined {
  if (!NUMBER.test(cell)) return undefined;
  const value = Number(cell);
  return Number.isFinite(value) ? value : undefined;
}

function cellOrMissing(cell: string): string | null {
  return cell === '' ? null : cell;
}

/** The column as numbers (empty cells missing), or undefined when a non-empty cell is not a number. */
function numbers(cells: readonly string[]): (number | null)[] | undefined {
  const values: (number | null)[] = [];
  for (const cell of cells) {
    if (cell === '') {
      values.push(null);
      continue;
    }
    const value = parseNumber(cell);
    if (value === undefined) return undefined;
    values.push(value);
  }
  return values;
}

/** The current data's cells of a column that is numeric in the reference; a non-number is a bad file. */
function numericCells(cells: readonly string[], name: string, source: string): (number | null)[] {
  return cells.map((cell, row) => {
    if (cell === '') return null;
    const value = parseNumber(cell);
    if (value === undefined) {
      // Line numbers count the header as line 1, as parseCsv's messages do.
      throw new BadInputError(
        `${source}: column "${name}" is numeric in the reference, but line ${row + 2} has ${JSON.stringify(cell)}`,
        'fix that cell, or leave the column out with --exclude',
      );
    }
    return value;
  });
}

/**
 * The report as a table: per column its sample size (current values, missing ones aside) and verdict — "not
 * enough data" below the method's minimum, which the notes give — then the dataset's verdict.
 */
export function table(report: DriftReport): string {
  const header = ['column', 'type', 'method', 'values', 'statistic', 'p-value', 'threshold', 'drift', 'notes'];
  const rows = Object.entries(report.features).map(([name, feature]) => [
    name,
    feature.kind,
    feature.method,
    String(feature.current.values),
    formatNumber(feature.statistic),
    formatNumber(feature.pValue),
    String(feature.threshold),
    VERDICT[feature.status],
    notes(feature),
  ]);
  return [columns([header, ...rows]), '', datasetLine(report)].join('\n');
}

const VERDICT: Readonly<Record<DriftStatus, string>> = { drift: 'YES', 'no-drift': 'no', 'not-enough-data': 'not enough data' };

/** The dataset's verdict: the share of the columns with a verdict that drifted, or why there is none. */
function datasetLine(report: DriftReport): string {
  const features = Object.values(report.features);
  const drifted = features.filter((f) => f.drifted).length;
  const waiting = features.length - report.assessed;
  if (report.status === 'not-enough-data') {
    return (
      `${report.assessed} of ${features.length} columns have the values a verdict needs; ` +
      'dataset drift: not enough data (a verdict needs half of the columns; the notes give each minimum)'
    );
  }
  const columns = waiting === 0 ? `${features.length} columns` : `${report.assessed} assessed columns (${waiting} with not enough data)`;
  return (
    `${drifted} of ${columns} drifted (drift share ${(report.driftShare * 100).toFixed(1)}%); ` +
    `dataset drift: ${report.datasetDrift ? 'YES' : 'no'} (when >= 50% of the columns drift)`
  );
}

function notes(feature: FeatureDrift): string {
  const parts: string[] = [];
  if (feature.status === 'not-enough-data') {
    parts.push(feature.minimum === null ? `the reference is too small for ${feature.method} at this threshold` : `needs ${feature.minimum} values`);
  }
  if (feature.current.missing > 0 || feature.reference.missing > 0) {
    parts.push(`missing ${feature.reference.missing} -> ${feature.current.missing}`);
  }
  if (feature.outOfRange) parts.push(`${feature.outOfRange} out of range`);
  if (feature.unseenCategories) {
    parts.push(`${feature.unseenCategories} in unseen categories (e.g. ${(feature.unseenExamples ?? []).join(', ')})`);
  }
  if (feature.statistic === null) parts.push('no values to compare');
  return parts.join('; ');
}

function formatNumber(value: number | null): string {
  if (value === null) return '-';
  if (value === 0 || (Math.abs(value) >= 1e-3 && Math.abs(value) < 1e6)) return value.toFixed(4);
  return value.toExponential(2);
}
