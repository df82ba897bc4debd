// How a batch input is cut into chunks and each chunk into rows: the prepare step's streaming cut and a scoring
// function's reading of one chunk agree row for row however the bytes arrive (quoted line breaks, blank lines,
// CRLF), a quote left open fails before scoring, and numeric cells read from bytes are what Number() reads.
import { describe, expect, it } from 'vitest';
import { RecordError, RecordScanner, recordsOf } from '../../lambdas/core/batch/records';
import { chunkRows } from '../../lambdas/core/batch/rows';

const header = 'id,note,amount';
const data = ['a,plain,1.5', '', 'b,"two\nlines",2', '  \r', 'c,"quoted, ""comma""",-3.25', 'd,x,4', 'e,"\r\n",5', 'f,y,6'];
const csv = Buffer.from(`${header}\r\n${data.join('\r\n')}`);

/** Feeds the scanner in pieces of 1..7 bytes, as a stream might deliver them. */
function scan(bytes: Buffer, format: 'csv' | 'jsonl', chunkBytes: number) {
  const scanner = new RecordScanner(format, chunkBytes);
  for (let i = 0, size = 1; i < bytes.length; i += size, size = (size % 7) + 1) scanner.feed(bytes.subarray(i, i + size));
  return scanner.finish();
}

describe('RecordScanner and recordsOf', () => {
  it('cut the same rows, in chunks at row boundaries, whatever the chunk size and the pieces', () => {
    for (const chunkBytes of [1, 10, 30, 1000]) {
      const { chunks, rows, dataStart } = scan(csv, 'csv', chunkBytes);
      expect(rows).toBe(6);
      expect(dataStart).toBe(header.length + 2);
      expect(chunks[0]?.start).toBe(dataStart);
      expect(chunks.at(-1)?.end).toBe(csv.length);
      const ids: string[] = [];
      let next = 1;
      chunks.forEach((chunk, i) => {
        if (i > 0) expect(chunk.start).toBe(chunks[i - 1]?.end);
        expect(chunk.firstRow).toBe(next);
        const source = chunkRows(csv.subarray(chunk.start, chunk.end), 'csv', chunk.firstRow, [{ name: 'id', numeric: false }], header.split(','));
        expect(source.length).toBe(chunk.rows);
        for (let r = 0; r < source.length; r++) {
          const cells: unknown[] = [undefined];
          source.read(r, cells);
          ids.push(cells[0] as string);
        }
        next += chunk.rows;
      });
      expect(ids).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    }
  });

  it('reads quoted cells with commas, doubled quotes and line breaks, and gives each row back as it is in the input', () => {
    const [chunk] = scan(csv, 'csv', 1000).chunks;
    const columns = [
      { name: 'note', numeric: false },
      { name: 'amount', numeric: true },
      { name: 'missing', numeric: false },
    ];
    const source = chunkRows(csv.subarray(chunk?.start, chunk?.end), 'csv', 1, columns, header.split(','));
    const rows = Array.from({ length: source.length }, (_, r) => {
      const cells: unknown[] = new Array(columns.length);
      source.read(r, cells);
      return cells;
    });
    expect(rows).toEqual([
      ['plain', 1.5, undefined],
      ['two\nlines', 2, undefined],
      ['quoted, "comma"', -3.25, undefined],
      ['x', 4, undefined],
      ['\r\n', 5, undefined],
      ['y', 6, undefined],
    ]);
    expect(source.text(2)).toBe('c,"quoted, ""comma""",-3.25');
  });

  it('counts every JSON Lines line with text as a row, blank ones not', () => {
    const jsonl = Buffer.from('{"a":1}\n\n{"a":2}\r\n  \n{"a":3}');
    const { chunks, rows } = scan(jsonl, 'jsonl', 8);
    expect(rows).toBe(3);
    expect(chunks.map((c) => [c.firstRow, c.rows])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    expect(recordsOf(jsonl, 'jsonl').count).toBe(3);
  });

  it('fails on a quote left open, naming the row', () => {
    expect(() => scan(Buffer.from(`${header}\na,"open,1\nb,x,2\n`), 'csv', 1000)).toThrow(
      new RecordError('row 1 (from byte 15) has a quoted cell that is not closed at the end of the input'),
    );
  });
});

describe('numeric cells read from bytes', () => {
  it('are exactly what Number() reads, and text when they are not plain decimals', () => {
    const cells = ['0', '-0.5', '29.85', '8684.8', '123456789012345', '1234567890123456', '0.1', '0.30000000000000004', '1e3', '+2', ' 7', '.5', '5.', '-', '0x10'];
    const random = Array.from({ length: 2000 }, (_, i) => ((i * 7919) % 100003) / 10 ** (i % 9));
    const all = [...cells, ...random.map(String)];
    const source = chunkRows(Buffer.from(`${all.join('\n')}\n`), 'csv', 1, [{ name: 'x', numeric: true }], ['x']);
    const read = all.map((_, r) => {
      const out: unknown[] = [undefined];
      source.read(r, out);
      return out[0];
    });
    // A number is exactly Number()'s; text is left to Number() by the validation that follows.
    for (const [r, text] of all.entries()) expect(read[r]).toBe(typeof read[r] === 'number' ? Number(text) : text);
    expect(['0', '-0.5', '29.85', '8684.8', '123456789012345', '0.1'].map((t) => read[all.indexOf(t)])).toEqual([0, -0.5, 29.85, 8684.8, 123456789012345, 0.1]);
    const texts = ['1234567890123456', '0.30000000000000004', '1e3', '+2', ' 7', '-', '0x10'];
    expect(texts.map((t) => read[all.indexOf(t)])).toEqual(texts);
  });
});
