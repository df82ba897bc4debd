// One cold start, in a fresh Node process started by bench/cold-start.ts; prints one `cold-start {json}` line.
// Plain JavaScript on purpose: a TypeScript loader would add its own start-up cost to what is measured.
//
//   node cold-start-probe.mjs baseline <onnxruntime-node dir> <model file> <feeds.json>
//     the least a function can do: import onnxruntime-node, create the session from the model bytes, one
//     warm-up run, then the first answer (one run on the same feeds)
//   node cold-start-probe.mjs function <index.mjs> <event.json>
//     what Lambda does: import the built function (its top-level await runs init), then call the handler once;
//     for the inference asset and for the floor (cold-start-floor.mjs)
//
// Both report milliseconds from the probe's first measured line: `import` (module loading; for a function up to
// the `modelgate:init` mark its init sets), `init`, `firstAnswer`, their total, the CPU time the process used
// meanwhile (all threads), and `services`: time spent waiting on HTTP services (from a request's start to its
// response's headers, overlaps counted once), seen through Node's http diagnostics channels. S3 and DynamoDB
// are local servers here, not AWS.
import { readFileSync } from 'node:fs';
import { subscribe } from 'node:diagnostics_channel';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SESSION_OPTIONS, readFeeds } from './cold-start-feeds.mjs';

const [mode, ...args] = process.argv.slice(2);
/** Outbound HTTP requests: when each started, and the finished ones with their end. */
const requests = new Map();
const finished = [];
subscribe('http.client.request.start', ({ request }) => requests.set(request, performance.now()));
subscribe('http.client.response.finish', ({ request }) => {
  finished.push({ request: `${request.method} ${request.getHeader('x-amz-target') ?? request.path}`, start: requests.get(request), end: performance.now() });
  requests.delete(request);
});
// Lambda's runtime has its output streams open before it loads the function; here the first use would open them.
void process.stdout;
void process.stderr;
const started = performance.now();
const cpuAtStart = process.cpuUsage();

/** Waiting time on services between two instants (overlapping requests counted once). */
function servicesBetween(from, to) {
  let total = 0;
  let reachedUntil = from;
  for (const { start, end } of [...finished].sort((a, b) => a.start - b.start)) {
    const s = Math.max(start, reachedUntil);
    const e = Math.min(end, to);
    if (e > s) total += e - s;
    reachedUntil = Math.max(reachedUntil, e);
  }
  return total;
}

let phases;
if (mode === 'baseline') {
  const [runtimeDir, modelFile, feedsFile] = args;
  const ort = await import(pathToFileURL(join(runtimeDir, 'dist', 'index.js')).href);
  const imported = performance.now();
  const session = await ort.InferenceSession.create(readFileSync(modelFile), SESSION_OPTIONS);
  const { feeds, fetches } = readFeeds(ort, feedsFile);
  await session.run(feeds, fetches);
  const initialised = performance.now();
  const outputs = await session.run(feeds, fetches);
  if (Object.keys(outputs).length !== fetches.length) throw new Error(`baseline: expected ${fetches.length} outputs`);
  phases = { imported, initialised, answered: performance.now() };
} else if (mode === 'function') {
  const [entry, eventFile] = args;
  const event = JSON.parse(readFileSync(eventFile, 'utf8'));
  const { handler } = await import(pathToFileURL(entry).href);
  const initialised = performance.now();
  const [mark] = performance.getEntriesByName('modelgate:init', 'mark');
  if (!mark) throw new Error(`${entry} set no modelgate:init mark`);
  const response = await handler(event, { functionVersion: '1', awsRequestId: 'cold-start' });
  if (response.statusCode !== 200) throw new Error(`${entry}: the first answer was ${response.statusCode}: ${response.body}`);
  phases = { imported: mark.startTime, initialised, answered: performance.now() };
} else {
  console.error('usage: node cold-start-probe.mjs baseline <onnxruntime-node dir> <model> <feeds.json> | function <index.mjs> <event.json>');
  process.exit(2);
}

const { imported, initialised, answered } = phases;
const cpu = process.cpuUsage(cpuAtStart);
console.log(
  `cold-start ${JSON.stringify({
    importMs: imported - started,
    initMs: initialised - imported,
    firstAnswerMs: answered - initialised,
    totalMs: answered - started,
    cpuMs: (cpu.user + cpu.system) / 1000,
    initServicesMs: servicesBetween(imported, initialised),
    answerServicesMs: servicesBetween(initialised, answered),
    requests: finished.map(({ request, start, end }) => ({ request, startMs: start - started, ms: end - start })),
  })}`,
);
// The function's clients keep connections open; a cold start is over once it has answered.
process.exit(0);
