import { readFileSync } from 'node:fs';
import { parseCsv, type CsvTable } from '../../lambdas/core/csv';
import type { FeatureSpec, FeatureValue } from '../../lambdas/core/manifest-types';
import { mulberry32 } from '../../lambdas/core/random';

export type Row = Readonly<Record<string, FeatureValue | null>>;

/** What a labelled CSV holds, for a binary classifier. */
export interface DatasetSpec {
  readonly target: string;
  /** The target's two values as the CSV writes them, negative class first. */
  readonly classes: readonly [string, string];
  /** Columns that are neither features nor the target (identifiers). */
  readonly exclude?: readonly string[];
  /**
   * The feature a column holds, given its cells; undefined makes it a string feature whose categories are
   * the sorted values found in the file.
   */
  readonly feature?: (name: string, cells: readonly string[]) => FeatureSpec | undefined;
}

export interface LabelledData {
  readonly table: CsvTable;
  /** Features in the column order of the CSV. */
  readonly features: readonly FeatureSpec[];
  /** Parsed feature values per row, keyed by feature name; a missing number is null. */
  readonly rows: readonly Row[];
  /** Whether the target is the positive class (the second of `classes`), per row. */
  readonly positive: readonly boolean[];
}

export function loadLabelledCsv(path: string, spec: DatasetSpec): LabelledData {
  const table = parseCsv(readFileSync(path, 'utf8'), path);
  const excluded = new Set([...(spec.exclude ?? []), spec.target]);
  const cellsOf = (name: string) => table.rows.map((row) => row[table.header.indexOf(name)] as string);
  const features = table.header
    .filter((name) => !excluded.has(name))
    .map((name): FeatureSpec => {
      const cells = cellsOf(name);
      return spec.feature?.(name, cells) ?? { name, type: 'string', categories: [...new Set(cells)].sort() };
    });
  const [negative, positive] = spec.classes;
  return {
    table,
    features,
    rows: table.rows.map((row) => parseRow(table.header, row, features)),
    positive: cellsOf(spec.target).map((label) => {
      if (label !== negative && label !== positive) throw new Error(`${path}: ${spec.target} must be ${negative} or ${positive}, got "${label}"`);
      return label === positive;
    }),
  };
}

function parseRow(header: readonly string[], cells: readonly string[], features: readonly FeatureSpec[]) {
  const row: Record<string, FeatureValue | null> = {};
  for (const feature of features) {
    const cell = cells[header.indexOf(feature.name)] as string;
    if (feature.type === 'string') {
      row[feature.name] = cell;
    } else if (cell === '' && feature.required === false) {
      row[feature.name] = null;
    } else {
      const value = Number(cell);
      if (cell === '' || !Number.isFinite(value)) throw new Error(`${feature.name}: expected a number, got "${cell}"`);
      row[feature.name] = value;
    }
  }
  return row;
}

export interface Split {
  /** Row indices of each part, ascending (the order of the file). */
  readonly train: readonly number[];
  readonly holdout: readonly number[];
}

/**
 * Stratified split: each class is shuffled with a seeded PRNG and round(fraction x class size) of its
 * rows go to the holdout, so both parts keep the class balance and the split is the same on every run.
 */
export function stratifiedSplit(positive: readonly boolean[], holdoutFraction: number, seed: number): Split {
  const random = mulberry32(seed);
  const holdout: number[] = [];
  for (const inClass of [false, true]) {
    const members = positive.flatMap((isPositive, index) => (isPositive === inClass ? [index] : []));
    shuffle(members, random);
    holdout.push(...members.slice(0, Math.round(members.length * holdoutFraction)));
  }
  const inHoldout = new Set(holdout);
  return {
    train: positive.map((_, index) => index).filter((index) => !inHoldout.has(index)),
    holdout: [...holdout].sort((a, b) => a - b),
  };
}

/** Fisher-Yates, in place. */
function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}

/** Rows of the table as CSV text with its header; cells are quoted only when they must be. */
export function toCsv(table: CsvTable, rowIndices: readonly number[]): string {
  const line = (cells: readonly string[]) => cells.map((cell) => (/[",\r\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell)).join(',');
  return `${[table.header, ...rowIndices.map((index) => table.rows[index] as readonly string[])].map(line).join('\n')}\n`;
}
