// `npm run bench:batch`: the batch-scoring function's work on one chunk of a job's input — the chunk's CSV bytes
// cut into rows, validated straight into the model's tensors, the session run, the outputs decoded and the
// part's CSV bytes written — as rows/s against raw session.run on tensors prepared beforehand for the same rows
// (one run of the chunk, as the function runs it), measured in the same run (the machines are shared: ratios, not
// absolute times), for churn v1 and v2, and the time of each step alone. `--rows N` scores a chunk of N rows
// instead of CHUNK_BYTES of them; `--rounds N` times N runs of each (default 10).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CHUNK_BYTES } from '../lambdas/contracts/batch-job';
import { loadModel } from '../lambdas/adapters/onnx-runtime';
import { formatPredictions } from '../lambdas/core/batch/output';
import { chunkRows } from '../lambdas/core/batch/rows';
import { batchColumns, encodeBatch, scoreBatch } from '../lambdas/core/batch/score';
import { parseCsv } from '../lambdas/core/csv';
import { csvInstances } from '../lambdas/core/csv-instances';
import { parseManifestJson } from '../lambdas/core/manifest';
import { validateRows } from '../lambdas/core/request';
import { decodePredictions, encodeFeeds } from '../lambdas/core/tensors';

const { values: options } = parseArgs({ options: { rows: { type: 'string' }, rounds: { type: 'string', default: '10' } } });
const ROUNDS = Number(options.rounds);

async function rowsPerSecond(rows: number, work: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 2; i++) await work();
  const started = performance.now();
  for (let i = 0; i < ROUNDS; i++) await work();
  return (rows * ROUNDS) / ((performance.now() - started) / 1000);
}

const csvText = readFileSync(new URL('../examples/churn/data/telco-customer-churn.csv', import.meta.url), 'utf8');
const data = parseCsv(csvText);
const lines = csvText.split(/\r?\n/).slice(1);
// One chunk as the prepare step cuts it: whole rows up to CHUNK_BYTES (rows with a blank cell left out, so every row scores).
const complete = lines.filter((line, i) => line !== '' && !(data.rows[i] as string[]).some((c) => c.trim() === ''));
const chunkLines: string[] = [];
let bytes = 0;
for (let i = 0; options.rows === undefined ? bytes < CHUNK_BYTES : chunkLines.length < Number(options.rows); i++) {
  const line = complete[i % complete.length] as string;
  chunkLines.push(line);
  bytes += Buffer.byteLength(line) + 1;
}
const chunk = Buffer.from(`${chunkLines.join('\n')}\n`);

for (const version of ['v1', 'v2']) {
  const bundle = new URL(`../examples/churn/${version}/`, import.meta.url);
  const manifest = parseManifestJson(readFileSync(new URL('manifest.json', bundle), 'utf8'));
  const model = await loadModel(manifest, readFileSync(new URL(manifest.model.file, bundle)));
  const columns = batchColumns(manifest, undefined);
  const rowCount = chunkLines.length;
  const [prepared] = encodeFeeds(manifest, validateRows(manifest, csvInstances(manifest, parseCsv(`${data.header.join(',')}\n${chunk}`))));
  const raw = await rowsPerSecond(rowCount, () => model.run(prepared?.feeds ?? {}));
  const scoring = await rowsPerSecond(rowCount, async () => {
    const rows = chunkRows(chunk, 'csv', 1, columns, data.header);
    const scored = await scoreBatch(manifest, model.run, rows, { format: 'csv' });
    return Buffer.from(formatPredictions(manifest, scored, 'csv', undefined));
  });
  // Where the time goes, each step alone on the same chunk.
  const encode = await rowsPerSecond(rowCount, async () => encodeBatch(manifest, chunkRows(chunk, 'csv', 1, columns, data.header), { format: 'csv' }));
  const outputs = await model.run(prepared?.feeds ?? {});
  const decode = await rowsPerSecond(rowCount, async () => decodePredictions(manifest, outputs, rowCount));
  const scored = await scoreBatch(manifest, model.run, chunkRows(chunk, 'csv', 1, columns, data.header), { format: 'csv' });
  const format = await rowsPerSecond(rowCount, async () => Buffer.from(formatPredictions(manifest, scored, 'csv', undefined)));
  const us = (rate: number) => `${((1 / rate) * 1e6).toFixed(2)} µs`;
  console.log(
    `churn ${version}: chunk of ${rowCount} rows (${(chunk.length / 1024 / 1024).toFixed(1)} MiB): raw session.run ${Math.round(raw)} rows/s; ` +
      `scoring function, chunk bytes -> part bytes ${Math.round(scoring)} rows/s (${(scoring / raw).toFixed(2)}x)\n` +
      `  per row: run ${us(raw)}, cut + validate + encode + drift ${us(encode)}, decode ${us(decode)}, part text ${us(format)}`,
  );
  await model.release();
}
