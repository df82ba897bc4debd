// The rows of one chunk as the encoder reads them: each row's cells for the columns it asks for, straight from
// the chunk's bytes — CSV fields cut and unquoted in place (only the asked-for columns become strings), JSON Lines
// records parsed one at a time — so no object per row is built for CSV and none is kept for either.
import type { BatchFormat } from '../../contracts/batch-job';
import { recordsOf, type Records } from './records';

/** Rows of a chunk; row r is the input's row `firstRow + r`. */
export interface RowSource {
  readonly length: number;
  readonly firstRow: number;
  /**
   * Fills `cells` with row r's values of the source's columns, in their order (undefined when the row has none):
   * CSV cells as strings (numeric columns' plain decimals as numbers), JSON values as parsed. Answers why the row is not a record, or undefined.
   */
  read(r: number, cells: unknown[]): string | undefined;
  /** Row r as it is in the input (without its line break): what a joined output repeats. */
  text(r: number): string;
}

const COMMA = 44;
const QUOTE = 34;

/** A column a batch reads; a numeric one's plain decimal CSV cells are read as numbers straight from the bytes. */
export interface BatchColumn {
  readonly name: string;
  readonly numeric: boolean;
}

/** The rows of a chunk of `format` whose cells are `columns` (CSV: found by the input's `header`). */
export function chunkRows(bytes: Uint8Array, format: BatchFormat, firstRow: number, columns: readonly BatchColumn[], header: readonly string[] | undefined): RowSource {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records = recordsOf(buffer, format);
  return format === 'csv' ? csvRows(buffer, records, firstRow, columns, header ?? []) : jsonRows(buffer, records, firstRow, columns);
}

function csvRows(buffer: Buffer, records: Records, firstRow: number, columns: readonly BatchColumn[], header: readonly string[]): RowSource {
  // slotOf[field index] = the column's place in `cells`, -1 for a field nobody asked for.
  const slotOf = new Int32Array(header.length).fill(-1);
  columns.forEach((column, slot) => {
    const index = header.indexOf(column.name);
    if (index !== -1) slotOf[index] = slot;
  });
  const numeric = columns.map((c) => c.numeric);
  const texts = columns.map((c) => (c.numeric ? undefined : new CellTexts(buffer)));
  const fieldCount = header.length;
  return {
    length: records.count,
    firstRow,
    text: (r) => buffer.toString('utf8', records.starts[r] as number, records.ends[r] as number),
    read(r, cells) {
      cells.fill(undefined);
      const end = records.ends[r] as number;
      let field = 0;
      let i = records.starts[r] as number;
      for (;;) {
        const slot = field < fieldCount ? (slotOf[field] as number) : -1;
        if (buffer[i] === QUOTE) {
          // A quoted field: up to the quote not doubled; "" inside is one quote.
          let j = i + 1;
          let doubled = false;
          while (j < end) {
            if (buffer[j] === QUOTE) {
              if (buffer[j + 1] === QUOTE) {
                doubled = true;
                j += 2;
                continue;
              }
              break;
            }
            j++;
          }
          if (slot !== -1) {
            const text = buffer.toString('utf8', i + 1, j);
            cells[slot] = doubled ? text.replaceAll('""', '"') : text;
          }
          // Whatever follows the closing quote up to the comma is left out.
          i = j + 1;
          while (i < end && buffer[i] !== COMMA) i++;
        } else {
          let stop = i;
          while (stop < end && buffer[stop] !== COMMA) stop++;
          if (slot !== -1) {
            const number = numeric[slot] ? decimal(buffer, i, stop) : Number.NaN;
            cells[slot] = !Number.isNaN(number) ? number : ((texts[slot] as CellTexts | undefined)?.get(i, stop) ?? buffer.toString('utf8', i, stop));
          }
          i = stop === end ? -1 : stop;
        }
        if (i === -1 || i >= end) return undefined;
        i++;
        field++;
      }
    },
  };
}

/**
 * A plain decimal (`-?digits[.digits]`, at most 15 digits) read from bytes without making a string, exactly as
 * Number() reads it: an integer below 2^53 divided by a power of ten up to 1e22 is one correctly rounded IEEE
 * division (Clinger's fast path). NaN for anything else, which the caller reads as text (Number() decides).
 */
function decimal(bytes: Buffer, start: number, end: number): number {
  let i = start;
  const negative = bytes[i] === 45;
  if (negative) i++;
  if (i === end) return Number.NaN;
  let mantissa = 0;
  let digits = 0;
  let decimals = -1;
  for (; i < end; i++) {
    const byte = bytes[i] as number;
    if (byte >= 48 && byte <= 57) {
      mantissa = mantissa * 10 + (byte - 48);
      digits++;
      if (decimals >= 0) decimals++;
    } else if (byte === 46 && decimals < 0) decimals = 0;
    else return Number.NaN;
  }
  if (digits === 0 || digits > 15 || decimals === 0) return Number.NaN;
  const value = decimals > 0 ? mantissa / (POWERS_OF_TEN[decimals] as number) : mantissa;
  return negative ? -value : value;
}

const POWERS_OF_TEN = Array.from({ length: 16 }, (_, k) => 10 ** k);

/**
 * The texts of one column, the same string for the same bytes: a category column repeats a few values, and one
 * string per value spares decoding every cell (and lets the lookups that follow hash it once). A column whose
 * values do not repeat stops being remembered.
 */
class CellTexts {
  private readonly known: { readonly bytes: Buffer; readonly text: string }[] = [];
  private lookups = 0;
  private hits = 0;
  private enabled = true;

  constructor(private readonly buffer: Buffer) {}

  get(start: number, end: number): string | undefined {
    if (!this.enabled) return undefined;
    this.lookups++;
    const length = end - start;
    const buffer = this.buffer;
    for (const entry of this.known) {
      const bytes = entry.bytes;
      if (bytes.length !== length) continue;
      let k = 0;
      while (k < length && bytes[k] === buffer[start + k]) k++;
      if (k === length) {
        this.hits++;
        return entry.text;
      }
    }
    if (this.known.length >= 32) {
      if (this.lookups >= 256 && this.hits * 2 < this.lookups) this.enabled = false;
      return undefined;
    }
    const text = buffer.toString('utf8', start, end);
    this.known.push({ bytes: Buffer.from(buffer.subarray(start, end)), text });
    return text;
  }
}

function jsonRows(buffer: Buffer, records: Records, firstRow: number, columns: readonly BatchColumn[]): RowSource {
  const text = (r: number) => buffer.toString('utf8', records.starts[r] as number, records.ends[r] as number);
  return {
    length: records.count,
    firstRow,
    text,
    read(r, cells) {
      cells.fill(undefined);
      let record: unknown;
      try {
        record = JSON.parse(text(r));
      } catch (error) {
        return `is not JSON (${(error as Error).message})`;
      }
      if (typeof record !== 'object' || record === null || Array.isArray(record)) return 'expected a JSON object of feature values';
      columns.forEach(({ name }, slot) => {
        if (Object.hasOwn(record, name)) cells[slot] = (record as Record<string, unknown>)[name];
      });
      return undefined;
    },
  };
}
