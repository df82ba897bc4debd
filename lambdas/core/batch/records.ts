// Where the records of a batch input begin and end, one rule for both sides of a job: the prepare step cuts the
// input object into chunks at record boundaries while it streams it (RecordScanner), and each scoring function
// finds the records of the one chunk it reads (recordsOf). A CSV record ends at a line break outside quotes, so
// a quoted cell may hold line breaks; a JSON Lines record at every line break. A record of blanks only is not a
// row: rows are numbered from 1 over the records that are.
import type { BatchFormat } from '../../contracts/batch-job';

/** A byte range of the input holding whole records: what one child of the Distributed Map scores. */
export interface Chunk {
  /** First byte of the range. */
  readonly start: number;
  /** One past the last byte: the range ends after a record's line break (or at the object's end). */
  readonly end: number;
  /** 1-based number of the range's first row. */
  readonly firstRow: number;
  /** Rows (non-blank records) in the range. */
  readonly rows: number;
}

/** A record longer than this is a quote left open, not a row: the job fails before scoring, naming where. */
export const MAX_RECORD_BYTES = 1024 * 1024;

const LF = 10;
const CR = 13;
const QUOTE = 34;
const SPACE = 32;
const TAB = 9;

/** The input cannot be split into records (a quote left open): thrown with the byte offset and the row. */
export class RecordError extends Error {
  override readonly name = 'RecordError';
}

/**
 * Streams an input object's bytes once and cuts them into chunks of about `chunkBytes` at record boundaries.
 * CSV: the first record is the header (data starts after it). Memory: one Chunk per chunk, whatever the size.
 */
export class RecordScanner {
  private offset = 0;
  private inQuotes = false;
  private recordStart = 0;
  private recordHasText = false;
  private headerEnd: number | undefined;
  private chunkStart = 0;
  private chunkRows = 0;
  private rows = 0;
  private readonly chunks: Chunk[] = [];

  constructor(
    private readonly format: BatchFormat,
    private readonly chunkBytes: number,
  ) {
    if (format === 'jsonl') this.headerEnd = 0;
  }

  feed(bytes: Uint8Array): void {
    const csv = this.format === 'csv';
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i] as number;
      if (byte === LF && !this.inQuotes) this.endRecord(this.offset + i + 1);
      else if (csv && byte === QUOTE) {
        this.inQuotes = !this.inQuotes;
        this.recordHasText = true;
      } else if (byte !== CR && byte !== SPACE && byte !== TAB && byte !== LF) this.recordHasText = true;
    }
    this.offset += bytes.length;
    if (this.offset - this.recordStart > MAX_RECORD_BYTES) {
      throw new RecordError(
        `row ${this.rows + 1} (from byte ${this.recordStart}) runs past ${MAX_RECORD_BYTES} bytes without ending: ${this.inQuotes ? 'a quoted cell is not closed' : 'no line break'}`,
      );
    }
  }

  /** The chunks of data rows, the rows in all, and where data starts (after the CSV header). */
  finish(): { readonly chunks: readonly Chunk[]; readonly rows: number; readonly dataStart: number } {
    if (this.inQuotes) throw new RecordError(`row ${this.rows + 1} (from byte ${this.recordStart}) has a quoted cell that is not closed at the end of the input`);
    if (this.recordStart < this.offset) this.endRecord(this.offset);
    if (this.chunkRows > 0) this.cut(this.offset);
    return { chunks: this.chunks, rows: this.rows, dataStart: this.headerEnd ?? this.offset };
  }

  private endRecord(end: number): void {
    if (this.headerEnd === undefined) {
      this.headerEnd = end;
      this.chunkStart = end;
    } else if (this.recordHasText) {
      this.rows++;
      this.chunkRows++;
    }
    this.recordStart = end;
    this.recordHasText = false;
    if (this.chunkRows > 0 && end - this.chunkStart >= this.chunkBytes) this.cut(end);
  }

  private cut(end: number): void {
    this.chunks.push({ start: this.chunkStart, end, firstRow: this.rows - this.chunkRows + 1, rows: this.chunkRows });
    this.chunkStart = end;
    this.chunkRows = 0;
  }
}

/** The non-blank records of a chunk's bytes: [starts[r], ends[r]) without the line break (nor a CR before it). */
export interface Records {
  readonly count: number;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
}

/** The records of one chunk, by the rule RecordScanner cut it with (a chunk starts outside quotes). */
export function recordsOf(bytes: Uint8Array, format: BatchFormat): Records {
  let capacity = 1024;
  let starts = new Int32Array(capacity);
  let ends = new Int32Array(capacity);
  let count = 0;
  const csv = format === 'csv';
  // The next quote at or after the record's start: a record with none before its line break needs no quote scan.
  let nextQuote = csv ? bytes.indexOf(QUOTE) : -1;
  let start = 0;
  while (start < bytes.length) {
    let end: number;
    if (nextQuote !== -1 && nextQuote < start) nextQuote = bytes.indexOf(QUOTE, start);
    const lineBreak = bytes.indexOf(LF, start);
    if (nextQuote === -1 || (lineBreak !== -1 && lineBreak < nextQuote)) end = lineBreak === -1 ? bytes.length : lineBreak;
    else {
      let inQuotes = false;
      end = start;
      while (end < bytes.length && (bytes[end] !== LF || inQuotes)) {
        if (bytes[end] === QUOTE) inQuotes = !inQuotes;
        end++;
      }
    }
    let text = start;
    while (text < end && ((bytes[text] as number) === SPACE || bytes[text] === TAB || bytes[text] === CR)) text++;
    if (text < end) {
      if (count === capacity) {
        capacity *= 2;
        const grownStarts = new Int32Array(capacity);
        grownStarts.set(starts);
        starts = grownStarts;
        const grownEnds = new Int32Array(capacity);
        grownEnds.set(ends);
        ends = grownEnds;
      }
      starts[count] = start;
      ends[count] = bytes[end - 1] === CR ? end - 1 : end;
      count++;
    }
    start = end + 1;
  }
  return { count, starts: starts.subarray(0, count), ends: ends.subarray(0, count) };
}
