import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { column, parseCsv } from '../../lambdas/core/csv';
import { rocAuc } from '../../lambdas/core/metrics/classification';

// The credit example is a bare ONNX model and two CSVs, the inputs of `modelgate package` (README, "Serve your
// own model"); the end-to-end test takes it through package and push.
const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'credit');
const TARGET = 'default.payment.next.month';
const read = (file: string) => parseCsv(readFileSync(join(EXAMPLE, 'data', file), 'utf8'), file);

describe('credit example', () => {
  const train = read('train.csv');
  const holdout = read('holdout.csv');

  it('holds the rows its data README describes: 3200 + 800 rows, 714 + 178 defaults, IDs 1 to 4000 once each', () => {
    const defaults = (table: typeof train) => column(table, TARGET).filter((label) => label === '1').length;
    expect([train.rows.length, holdout.rows.length]).toEqual([3200, 800]);
    expect([defaults(train), defaults(holdout)]).toEqual([714, 178]);
    const ids = [...column(train, 'ID'), ...column(holdout, 'ID')].map(Number).sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 4000 }, (_, i) => i + 1));
    expect(holdout.header).toEqual(train.header);
  });

  it('is a model whose inputs are the CSV columns but ID and the target, so package maps them by name', async () => {
    const session = await ort.InferenceSession.create(join(EXAMPLE, 'model.onnx'));
    expect([...session.inputNames].sort()).toEqual(train.header.filter((name) => name !== 'ID' && name !== TARGET).sort());
    expect(session.outputNames).toEqual(['label', 'probabilities']);
    await session.release();
  });

  it('ranks defaults above the rest on the holdout (ROC AUC >= 0.65), with probabilities that sum to 1', async () => {
    const session = await ort.InferenceSession.create(join(EXAMPLE, 'model.onnx'));
    const feeds = Object.fromEntries(
      session.inputNames.map((name) => [name, new ort.Tensor('float32', Float32Array.from(column(holdout, name), Number), [holdout.rows.length, 1])]),
    );
    const output = await session.run(feeds);
    await session.release();
    const probabilities = output.probabilities?.data as Float32Array;
    const labels = Array.from(output.label?.data as BigInt64Array, Number);
    const positive = Array.from({ length: holdout.rows.length }, (_, row) => {
      expect((probabilities[2 * row] as number) + (probabilities[2 * row + 1] as number)).toBeCloseTo(1, 6);
      expect(labels[row]).toBe((probabilities[2 * row + 1] as number) >= 0.5 ? 1 : 0);
      return probabilities[2 * row + 1] as number;
    });
    expect(
      rocAuc(
        column(holdout, TARGET).map((label) => label === '1'),
        positive,
      ),
    ).toBeGreaterThanOrEqual(0.65);
  });
});
