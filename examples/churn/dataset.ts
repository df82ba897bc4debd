import { readFileSync } from 'node:fs';
import { parseCsv, type CsvTable } from '../../lambdas/core/csv';
import type { FeatureSpec, FeatureValue } from '../../lambdas/core/manifest-types';
import { mulberry32 } from '../../lambdas/core/random';

export const TARGET = 'Churn';
export const CLASS_LABELS = ['No', 'Yes'] as const;
export const POSITIVE_CLASS = 'Yes';
const ID_COLUMN = 'customerID';

/** Numeric features, in the order of the numeric block of the encoded feature vector. */
const NUMERIC_FEATURES: readonly FeatureSpec[] = [
  { name: 'tenure', type: 'integer', description: 'Months the customer has stayed' },
  { name: 'MonthlyCharges', type: 'number', description: 'Amount charged per month' },
  // Blank for customers not billed yet (tenure 0): optional, sent to the model as NaN and imputed there.
  { name: 'TotalCharges', type: 'number', description: 'Amount charged in total', required: false },
];

/** SeniorCitizen is 0/1 in the data: an integer feature, one-hot encoded like the string features. */
const SENIOR_CITIZEN: FeatureSpec = { name: 'SeniorCitizen', type: 'integer', categories: [0, 1] };

export interface ChurnData {
  readonly table: CsvTable;
  /**
   * Features in the column order of the CSV. String categories are the sorted values found in the whole
   * file: the closed set of values the data can take (its schema), not something learned from a split.
   */
  readonly features: readonly FeatureSpec[];
  /** Parsed feature values per row, keyed by feature name; a missing number is null. */
  readonly rows: readonly Readonly<Record<string, FeatureValue | null>>[];
  /** Churn = Yes per row. */
  readonly churned: readonly boolean[];
}

export function loadChurnData(path: string): ChurnData {
  const table = parseCsv(readFileSync(path, 'utf8'), path);
  const numeric = new Map(NUMERIC_FEATURES.map((feature) => [feature.name, feature]));
  const columns = table.header.filter((name) => name !== ID_COLUMN && name !== TARGET);
  const features = columns.map((name): FeatureSpec => {
    if (name === SENIOR_CITIZEN.name) return SENIOR_CITIZEN;
    const spec = numeric.get(name);
    if (spec) return spec;
    const index = table.header.indexOf(name);
    const categories = [...new Set(table.rows.map((row) => row[index] as string))].sort();
    return { name, type: 'string', categories };
  });
  const targetIndex = table.header.indexOf(TARGET);
  return {
    table,
    features,
    rows: table.rows.map((row) => parseRow(table.header, row, features)),
    churned: table.rows.map((row) => {
      const label = row[targetIndex];
      if (label !== 'Yes' && label !== 'No') throw new Error(`${path}: ${TARGET} must be Yes or No, got "${label}"`);
      return label === POSITIVE_CLASS;
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
export function stratifiedSplit(churned: readonly boolean[], holdoutFraction: number, seed: number): Split {
  const random = mulberry32(seed);
  const holdout: number[] = [];
  for (const positive of [false, true]) {
    const members = churned.flatMap((label, index) => (label === positive ? [index] : []));
    shuffle(members, random);
    holdout.push(...members.slice(0, Math.round(members.length * holdoutFraction)));
  }
  const inHoldout = new Set(holdout);
  return {
    train: churned.map((_, index) => index).filter((index) => !inHoldout.has(index)),
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
  return [table.header, ...rowIndices.map((index) => table.rows[index] as readonly string[])].map(line).join('\n') + '\n';
}
