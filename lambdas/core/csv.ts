import { parse } from 'csv-parse/sync';

export interface CsvTable {
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** A CSV file that cannot be read as a table: `reason` says why, for a CLI exit 2 or a rejection. */
export class CsvError extends Error {
  override readonly name = 'CsvError';
}

/**
 * Parses CSV text with a header row. The delimiter is `,` unless the header line has more `;` than `,`
 * (the UCI bank-marketing files use `;`). Every row must have as many cells as the header.
 */
export function parseCsv(text: string, source = 'CSV'): CsvTable {
  const firstLine = text.slice(0, text.indexOf('\n') === -1 ? undefined : text.indexOf('\n'));
  const delimiter = count(firstLine, ';') > count(firstLine, ',') ? ';' : ',';
  let records: string[][];
  try {
    records = parse(text, { delimiter, bom: true, skip_empty_lines: true, relax_column_count: true, trim: true });
  } catch (error) {
    throw new CsvError(`${source}: not valid CSV: ${(error as Error).message}`);
  }
  const [header, ...rows] = records;
  if (!header || header.length === 0) throw new CsvError(`${source}: empty file (no header row)`);
  if (rows.length === 0) throw new CsvError(`${source}: no data rows after the header`);
  const duplicate = header.find((name, i) => header.indexOf(name) !== i);
  if (duplicate !== undefined) throw new CsvError(`${source}: column "${duplicate}" appears twice in the header`);
  rows.forEach((row, i) => {
    if (row.length !== header.length) {
      throw new CsvError(`${source}: line ${i + 2} has ${row.length} cells, the header has ${header.length}`);
    }
  });
  return { header, rows };
}

/** The cells of one column; throws when the column is missing. */
export function column(table: CsvTable, name: string, source = 'CSV'): string[] {
  const index = table.header.indexOf(name);
  if (index === -1) throw new CsvError(`${source}: no column "${name}" (columns: ${table.header.join(', ')})`);
  return table.rows.map((row) => row[index] as string);
}

function count(text: string, char: string): number {
  return text.split(char).length - 1;
}
