// The batch-scoring core on churn v1 with its real session: a chunk's rows cut from its bytes and validated
// straight into the serving tensors give the serving path's answers, bad rows are rejected with row, field and
// reason, the header check names every missing column, and the output has the documented layout (joined too).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from '../../lambdas/adapters/onnx-runtime';
import { BatchInputError, checkColumns, checkJoinable, inputColumns } from '../../lambdas/core/batch/header';
import { formatPredictions, formatRejections } from '../../lambdas/core/batch/output';
import { chunkRows } from '../../lambdas/core/batch/rows';
import { batchColumns, scoreBatch } from '../../lambdas/core/batch/score';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { parseManifestJson } from '../../lambdas/core/manifest';
import { validateRows } from '../../lambdas/core/request';

const bundle = new URL('../../examples/churn/v1/', import.meta.url);
const manifest = parseManifestJson(readFileSync(new URL('manifest.json', bundle), 'utf8'));
const holdout = parseCsv(readFileSync(new URL('holdout.csv', bundle), 'utf8'));
const holdoutLines = readFileSync(new URL('holdout.csv', bundle), 'utf8').split(/\r?\n/).slice(1);
/** A chunk of the holdout's CSV lines (data rows only, as the prepare step cuts it), its first row numbered `firstRow`. */
function csvChunk(lines: readonly string[], firstRow = 1, idColumn?: string, header: readonly string[] = holdout.header) {
  return chunkRows(Buffer.from(`${lines.join('\n')}\n`), 'csv', firstRow, batchColumns(manifest, idColumn), header);
}
let model: LoadedModel;

beforeAll(async () => {
  model = await loadModel(manifest, readFileSync(new URL(manifest.model.file, bundle)));
});
afterAll(async () => {
  await model?.release();
});

describe('scoreBatch', () => {
  it('answers each CSV row with the serving path’s prediction for it', async () => {
    const scored = await scoreBatch(manifest, model.run, csvChunk(holdoutLines.slice(0, 50), 101), { format: 'csv' });
    const serving = await model.predict(validateRows(manifest, csvInstances(manifest, { header: holdout.header, rows: holdout.rows.slice(0, 50) })));
    expect(scored.rejected).toEqual([]);
    expect(scored.predictions).toEqual(serving);
    expect([...scored.rowNumbers]).toEqual(Array.from({ length: 50 }, (_, i) => 101 + i));
  });

  it('rejects bad rows with row, id, field and reason, and scores the others (JSON Lines too)', async () => {
    const header = ['customerID', ...holdout.header];
    const cells = (r: number, change: Record<string, string> = {}) =>
      holdout.header.map((name, c) => (Object.hasOwn(change, name) ? change[name] : (holdout.rows[r] as string[])[c]));
    const lines = [
      ['id0', ...cells(0)].join(','),
      ['id1', ...cells(1, { tenure: 'ten', Contract: 'Weekly' })].join(','),
      ['id2', ...cells(2, { MonthlyCharges: ' ' })].join(','),
      '   ',
      ['', ...cells(3)].join(','),
      ['"id,4"', ...cells(4, { PaymentMethod: '"Electronic ""check"""' })].join(','),
    ];
    const scored = await scoreBatch(manifest, model.run, csvChunk(lines, 1, 'customerID', header), { format: 'csv', idColumn: 'customerID' });
    expect(scored.ids).toEqual(['id0']);
    expect(scored.rejected).toEqual([
      { row: 2, id: 'id1', field: 'tenure', reason: 'expected a number, got "ten"' },
      { row: 2, id: 'id1', field: 'Contract', reason: expect.stringMatching(/^unknown category "Weekly"; allowed: /) },
      { row: 3, id: 'id2', field: 'MonthlyCharges', reason: 'is required' },
      { row: 4, field: 'customerID', reason: 'is the id column and must be a non-empty string or a number' },
      { row: 5, id: 'id,4', field: 'PaymentMethod', reason: expect.stringMatching(/^unknown category "Electronic \\"check\\""; allowed: /) },
    ]);
    const instance = csvInstances(manifest, { header: holdout.header, rows: holdout.rows.slice(0, 1) })[0];
    const jsonLines = [JSON.stringify({ ...instance, tenure: '3' }), '{"not json', '[1,2]', JSON.stringify(instance)];
    const json = await scoreBatch(manifest, model.run, chunkRows(Buffer.from(jsonLines.join('\r\n')), 'jsonl', 10, batchColumns(manifest, undefined), undefined), {
      format: 'jsonl',
    });
    expect(json.rejected).toEqual([
      { row: 10, field: 'tenure', reason: 'expected an integer, got the string "3"' },
      { row: 11, field: '(row)', reason: expect.stringMatching(/^is not JSON \(/) },
      { row: 12, field: '(row)', reason: 'expected a JSON object of feature values' },
    ]);
    expect([...json.rowNumbers]).toEqual([13]);
  });

  it('writes the documented CSV and JSON Lines layouts', async () => {
    const rows = csvChunk(holdoutLines.slice(0, 2));
    const scored = await scoreBatch(manifest, model.run, rows, { format: 'csv' });
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
    // Joined (JoinSource=Input): the input line as it is after the row number, the prediction after it.
    const [joinedHead, joinedFirst] = formatPredictions(manifest, scored, 'csv', undefined, { rows, header: holdout.header }).split('\n');
    expect(joinedHead).toBe(`row,${holdout.header.join(',')},version,label,probability_No,probability_Yes`);
    expect(joinedFirst).toBe(`1,${holdoutLines[0]},1,${scored.predictions[0]?.label},${p.No},${p.Yes}`);
    expect(() => checkJoinable(manifest, ['row', 'label', ...holdout.header], undefined, 'in.csv')).toThrow(
      new BatchInputError('in.csv: the input\'s "row", "label" columns have the names of output columns; rename them or score without joining the input'),
    );
    expect(() => checkJoinable(manifest, ['row', ...holdout.header], 'row', 'in.csv')).not.toThrow();
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
        `in.csv: missing ${required.length} columns ${required.join(', ')} that model churn v1 requires, and no column "id", the id column given; nothing was scored`,
      ),
    );
    expect(() => checkColumns(manifest, holdout.header, 'customer', 'in.csv')).toThrow(
      new BatchInputError('in.csv: no column "customer", the id column given; nothing was scored'),
    );
    expect(() => checkColumns(manifest, holdout.header, undefined, 'in.csv')).not.toThrow();
    expect(() => inputColumns('[1,2]\n', 'jsonl', 'in.jsonl')).toThrow('in.jsonl: line 1 is not a JSON object');
  });
});
