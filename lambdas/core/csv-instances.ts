import { CsvError, type CsvTable } from './csv';
import type { FeatureSpec, Manifest } from './manifest';

/**
 * Turns CSV rows (a holdout set, a replay file) into request instances for the manifest's features:
 * numbers parsed, empty cells left out (so optional features take their default), other columns
 * ignored. A cell that cannot be read as its feature's type throws naming the line and the column.
 */
export function csvInstances(manifest: Manifest, table: CsvTable, source = 'CSV'): Record<string, string | number | boolean>[] {
  const columns = featureColumns(manifest, table.header, source);
  return table.rows.map((cells, r) => instanceOf(columns, cells, `${source}: line ${r + 2}`));
}

/** Where each feature's cells are in a header; throws when a required feature has no column. */
export function featureColumns(manifest: Manifest, header: readonly string[], source = 'CSV'): readonly FeatureColumn[] {
  return manifest.features.map((feature) => {
    const index = header.indexOf(feature.name);
    if (index === -1 && feature.required !== false) {
      throw new CsvError(`${source}: no column "${feature.name}", which the model requires`);
    }
    return { feature, index };
  });
}

export interface FeatureColumn {
  readonly feature: FeatureSpec;
  /** -1 when the file has no column for an optional feature. */
  readonly index: number;
}

/** One row's instance; `where` names the row in the error (e.g. `replay.csv: line 7`). */
export function instanceOf(columns: readonly FeatureColumn[], cells: readonly string[], where: string): Record<string, string | number | boolean> {
  const instance: Record<string, string | number | boolean> = {};
  for (const { feature, index } of columns) {
    const cell = index === -1 ? '' : (cells[index] as string);
    if (cell === '') continue;
    instance[feature.name] = cellValue(feature, cell, () => `${where}, column "${feature.name}"`);
  }
  return instance;
}

function cellValue(feature: FeatureSpec, cell: string, where: () => string): string | number | boolean {
  const value = parseCell(feature, cell);
  if (typeof value === 'object') throw new CsvError(`${where()}: ${value.problem}`);
  return value;
}

/** A non-empty CSV cell read as its feature's type (a number, true/false, or the text); `{ problem }` when it cannot be. */
export function parseCell(feature: FeatureSpec, cell: string): string | number | boolean | { problem: string } {
  switch (feature.type) {
    case 'string':
      return cell;
    case 'boolean':
      if (/^(true|1|yes)$/i.test(cell)) return true;
      if (/^(false|0|no)$/i.test(cell)) return false;
      return { problem: `expected true/false, got "${cell}"` };
    default: {
      const value = Number(cell);
      if (!Number.isFinite(value)) return { problem: `expected a number, got "${cell}"` };
      return value;
    }
  }
}
