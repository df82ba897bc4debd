// The runtime adapter refills one set of input tensors per in-flight single-row run (adapters/onnx-runtime.ts):
// concurrent requests must never see each other's rows.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from '../../lambdas/adapters/onnx-runtime';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { parseManifestJson } from '../../lambdas/core/manifest';
import { validateRows, type Row } from '../../lambdas/core/request';

const bundle = new URL('../../examples/churn/v1/', import.meta.url);
const manifest = parseManifestJson(readFileSync(new URL('manifest.json', bundle), 'utf8'));
const rows: Row[] = validateRows(manifest, csvInstances(manifest, parseCsv(readFileSync(new URL('holdout.csv', bundle), 'utf8'))).slice(0, 64));

describe('loadModel predictions', () => {
  let model: LoadedModel;
  beforeAll(async () => {
    model = await loadModel(manifest, new Uint8Array(readFileSync(new URL('model.onnx', bundle))));
  });
  afterAll(async () => model?.release());

  it('answers concurrent single-row requests each with its own row', async () => {
    const batch = await model.predict(rows);
    const distinct = new Set(batch.map((p) => p.probabilities?.Yes));
    expect(distinct.size).toBeGreaterThan(32); // the rows really differ, so a mix-up would show
    const sequential = [];
    for (const row of rows) sequential.push((await model.predict([row]))[0]);
    const concurrent = (await Promise.all(rows.map((row) => model.predict([row])))).map((p) => p[0]);
    for (let i = 0; i < rows.length; i++) {
      expect(sequential[i]?.label).toBe(batch[i]?.label);
      expect(sequential[i]?.probabilities?.Yes).toBeCloseTo(batch[i]?.probabilities?.Yes as number, 5);
      expect(concurrent[i]).toEqual(sequential[i]);
    }
  });

  it('gives the same answer for a row alone and inside a batch after other rows were served', async () => {
    const first = (await model.predict([rows[0] as Row]))[0];
    await model.predict(rows.slice(1, 10));
    await model.predict([rows[5] as Row]);
    expect((await model.predict([rows[0] as Row]))[0]).toEqual(first);
  });
});
