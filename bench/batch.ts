// `npm run bench:batch`: the batch-scoring function's work on one Distributed Map batch — the event's JSON bytes
// parsed, the rows validated straight into the model's tensors, the session run, the outputs decoded and the
// part's CSV bytes written — as rows/s against raw session.run on tensors prepared beforehand for the same rows,
// measured in the same run (the machines are shared: ratios, not absolute times), for churn v1 and v2.
import { readFileSync } from 'node:fs';
import { MAX_INPUT_BYTES_PER_BATCH, type BatchEvent, type BatchItem } from '../lambdas/contracts/batch-job';
import { loadModel } from '../lambdas/adapters/onnx-runtime';
import { formatPredictions } from '../lambdas/core/batch/output';
import { scoreBatch } from '../lambdas/core/batch/score';
import { parseCsv } from '../lambdas/core/csv';
import { csvInstances } from '../lambdas/core/csv-instances';
import { parseManifestJson } from '../lambdas/core/manifest';
import { validateRows } from '../lambdas/core/request';
import { encodeFeeds } from '../lambdas/core/tensors';

const ROUNDS = 30;

async function rowsPerSecond(rows: number, work: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 3; i++) await work();
  const started = performance.now();
  for (let i = 0; i < ROUNDS; i++) await work();
  return (rows * ROUNDS) / ((performance.now() - started) / 1000);
}

for (const version of ['v1', 'v2']) {
  const bundle = new URL(`../examples/churn/${version}/`, import.meta.url);
  const manifest = parseManifestJson(readFileSync(new URL('manifest.json', bundle), 'utf8'));
  const model = await loadModel(manifest, readFileSync(new URL(manifest.model.file, bundle)));
  const data = parseCsv(readFileSync(new URL('../examples/churn/data/telco-customer-churn.csv', import.meta.url), 'utf8'));
  // One batch as the ItemBatcher makes it: CSV rows as strings keyed by the header, with their index, up to the byte budget.
  const items: BatchItem[] = [];
  let bytes = 0;
  for (let index = 0; ; index++) {
    const cells = data.rows[index % data.rows.length] as string[];
    if (cells.some((c) => c.trim() === '')) continue;
    const item = { index, row: Object.fromEntries(data.header.map((name, c) => [name, cells[c]])) };
    bytes += Buffer.byteLength(JSON.stringify(item)) + 1;
    if (bytes > MAX_INPUT_BYTES_PER_BATCH) break;
    items.push(item);
  }
  const eventBytes = Buffer.from(
    JSON.stringify({
      Items: items,
      BatchInput: { job: { model: 'churn', version: manifest.version, format: 'csv', output: { bucket: 'b', prefix: 'batch/' } } },
    } satisfies BatchEvent),
  );
  const [chunk] = encodeFeeds(
    manifest,
    validateRows(manifest, csvInstances(manifest, { header: data.header, rows: items.map((i) => data.header.map((name) => (i.row as Record<string, string>)[name] as string)) })),
  );
  const raw = await rowsPerSecond(items.length, () => model.run(chunk?.feeds ?? {}));
  const fromEvent = await rowsPerSecond(items.length, async () => {
    const event = JSON.parse(eventBytes.toString('utf8')) as BatchEvent;
    const scored = await scoreBatch(manifest, model.run, event.Items, { format: 'csv' });
    return Buffer.from(formatPredictions(manifest, scored, 'csv', undefined));
  });
  const fromItems = await rowsPerSecond(items.length, async () => {
    const scored = await scoreBatch(manifest, model.run, items, { format: 'csv' });
    return Buffer.from(formatPredictions(manifest, scored, 'csv', undefined));
  });
  console.log(
    `churn ${version}: batch of ${items.length} rows (${(eventBytes.length / 1024).toFixed(0)} KiB event): raw session.run ${Math.round(raw)} rows/s; ` +
      `scoring function, event bytes -> part bytes ${Math.round(fromEvent)} rows/s (${(fromEvent / raw).toFixed(2)}x); ` +
      `items -> part bytes ${Math.round(fromItems)} rows/s (${(fromItems / raw).toFixed(2)}x)`,
  );
  await model.release();
}
