// The batch-scoring core on churn v1 with its real session: rows validated straight into the serving tensors give
// the serving path's answers, bad rows are rejected with row, field and reason, the header check names every
// missing column, and the output has the documented layout.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from '../../lambdas/adapters/onnx-runtime';
import type { BatchItem } from '../../lambdas/contracts/batch-job';
import { BatchInputError, checkColumns, inputColumns } from '../../lambdas/core/batch/header';
import { formatPredictions, formatRejections } from '../../lambdas/core/batch/output';
import { scoreBatch } from '../../lambdas/core/batch/score';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { parseManifestJson } from '../../lambdas/core/manifest';
import { validateRows } from '../../lambdas/core/request';

const bundle = new URL('../../examples/churn/v1/', import.meta.url);
const manifest = parseManifestJson(readFileSync(new URL('manifest.json', bundle), 'utf8'));
const holdout = parseCsv(readFileSync(new URL('holdout.csv', bundle), 'utf8'));
/** The holdout's first rows as the CSV ItemReader hands them over: strings keyed by the header. */
const csvItems: BatchItem[] = holdout.rows.slice(0, 50).map((cells, index) => ({ index, row: Object.fromEntries(holdout.header.map((name, c) => [name, cells[c]])) }));
let model: LoadedModel;

beforeAll(async () => {
  model = await loadModel(manifest, readFileSync(new URL(manifest.model.file, bundle)));
});
afterAll(async () => {
  await model?.release();
});

describe('scoreBatch', () => {
  it('answers each CSV row with the serving path’s prediction for it', async () => {
    const scored = await scoreBatch(manifest, model.run, csvItems, { format: 'csv' });
    const serving = await model.predict(validateRows(manifest, csvInstances(manifest, { header: holdout.header, rows: holdout.rows.slice(0, 50) })));
    expect(scored.rejected).toEqual([]);
    expect(scored.predictions).toEqual(serving);
    expect([...scored.rowNumbers]).toEqual(csvItems.map((item) => item.index + 1));
  });

  it('rejects bad rows with row, id, field and reason, and scores the others (JSON Lines too)', async () => {
    const items: BatchItem[] = csvItems.slice(0, 4).map((item, i) => ({ ...item, row: { ...(item.row as object), customerID: `id${i}` } }));
    const broken = [
      items[0],
      { index: 1, row: { ...(items[1]?.row as object), tenure: 'ten', Contract: 'Weekly' } },
      { index: 2, row: { ...(items[2]?.row as object), MonthlyCharges: ' ' } },
      { index: 3, row: 'not a row' },
    ] as BatchItem[];
    const scored = await scoreBatch(manifest, model.run, broken, { format: 'csv', idColumn: 'customerID' });
    expect(scored.ids).toEqual(['id0']);
    expect(scored.rejected).toEqual([
      { row: 2, id: 'id1', field: 'tenure', reason: 'expected a number, got "ten"' },
      { row: 2, id: 'id1', field: 'Contract', reason: expect.stringMatching(/^unknown category "Weekly"; allowed: /) },
      { row: 3, id: 'id2', field: 'MonthlyCharges', reason: 'is required' },
      { row: 4, field: '(row)', reason: 'expected a CSV row' },
    ]);
    const json = await scoreBatch(
      manifest,
      model.run,
      [{ index: 9, row: { ...csvInstances(manifest, { header: holdout.header, rows: holdout.rows.slice(0, 1) })[0], tenure: '3' } }],
      {
        format: 'jsonl',
      },
    );
    expect(json.rejected).toEqual([{ row: 10, field: 'tenure', reason: 'expected an integer, got the string "3"' }]);
  });

  it('writes the documented CSV and JSON Lines layouts', async () => {
    const scored = await scoreBatch(manifest, model.run, csvItems.slice(0, 2), { format: 'csv' });
    const [head, first] = formatPredictions(manifest, scored, 'csv', undefined).split('\n');
    expect(head).toBe('row,version,label,probability_No,probability_Yes');
    const p = scored.predictions[0]?.probabilities as Record<string, number>;
    expect(first).toBe(`1,1,${scored.predictions[0]?.label},${p.No},${p.Yes}`);
    expect(JSON.parse(formatPredictions(manifest, scored, 'jsonl', 'customerID').split('\n')[0] as string)).toEqual({
      customerID: 1,
      version: '1',
      label: scored.predictions[0]?.label,
      probabilities: p,
    });
    expect(formatRejections([{ row: 7, id: 'a,b', field: 'tenure', reason: 'is required' }], 'csv', 'customerID')).toBe(
      'row,customerID,field,reason\n7,"a,b",tenure,is required\n',
    );
  });
});

describe('the header check', () => {
  it('names every missing required column and the id column, before anything is scored', () => {
    const columns = inputColumns('customerID,gender,SeniorCitizen\r\n1,Male,0\n', 'csv', 'in.csv');
    expect(columns).toEqual(['customerID', 'gender', 'SeniorCitizen']);
    const required = manifest.features.filter((f) => f.required !== false && !columns.includes(f.name)).map((f) => `"${f.name}"`);
    expect(() => checkColumns(manifest, columns, 'id', 'in.csv')).toThrow(
      new BatchInputError(
        `in.csv: missing ${required.length + 1} columns ${[...required, '"id"'].join(', ')} that model churn v1 requires ("id" is the id column given); nothing was scored`,
      ),
    );
    expect(() => checkColumns(manifest, holdout.header, undefined, 'in.csv')).not.toThrow();
    expect(() => inputColumns('[1,2]\n', 'jsonl', 'in.jsonl')).toThrow('in.jsonl: line 1 is not a JSON object');
  });
});
