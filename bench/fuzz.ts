// `npm run fuzz`: generated bodies for every POST route and hostile paths, sent over HTTP to the local runtime
// as `npm start` runs it (API Gateway emulation, worker threads, streams proxy and the stack's consumers), with
// the churn model serving and an experiment running. Counts every answer: no 5xx, each 4xx naming a field and
// a reason (or, for a path no route matches, API Gateway's own message), the runtime still answering after,
// and its resident memory before and after. The generator is the in-process fuzz test's (test/support/fuzz.ts).
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ExperimentStore } from '../lambdas/adapters/experiment-store';
import { parseCsv } from '../lambdas/core/csv';
import { clientOfRoute } from '../lambdas/core/api-clients';
import { csvInstances } from '../lambdas/core/csv-instances';
import { parseManifestJson } from '../lambdas/core/manifest';
import { mulberry32 } from '../lambdas/core/random';
import { localDynamoClient } from '../local/aws-clients';
import type { LocalEndpoints } from '../local/state-files';
import { classifyAnswer, fuzzBody, fuzzExperiments, fuzzPath, type AnswerClass, type FuzzContext, type Route } from '../test/support/fuzz';
import { startRuntimeChild, stopChild } from './child-process';
import { residentMb } from './load-driver';

const { values: options } = parseArgs({
  options: {
    bodies: { type: 'string', default: '10000' },
    paths: { type: 'string', default: '1000' },
    connections: { type: 'string', default: '16' },
    seed: { type: 'string', default: '20261205' },
    json: { type: 'boolean', default: false },
  },
});
const bodies = Number(options.bodies);
const pathCount = Number(options.paths);
const connections = Number(options.connections);
const seed = Number(options.seed);
if (![bodies, pathCount].every((n) => Number.isInteger(n) && n >= 0 && n <= 1_000_000) || !(connections > 0 && connections <= 128) || !Number.isInteger(seed)) {
  console.error('usage: npm run fuzz -- [--bodies 0..1000000] [--paths 0..1000000] [--connections 1..128] [--seed n] [--json]');
  process.exit(2);
}

const ROUTES: Record<Route, string> = { predict: '/v1/models/churn/predict', infer: '/v2/models/churn/infer', feedback: '/v1/feedback', events: '/v1/events' };
const bundleDir = new URL('../examples/churn/v1/', import.meta.url);
const manifest = parseManifestJson(readFileSync(new URL('manifest.json', bundleDir), 'utf8'));
const rows = csvInstances(manifest, parseCsv(readFileSync(new URL('holdout.csv', bundleDir), 'utf8'))).slice(0, 50);

/** One HTTP exchange, with the key of the kind of client the route takes; a connection the server drops counts as an answer of 0. */
function send(base: URL, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  const apiKey = apiKeys[clientOfRoute(method, path.slice(prefix.length).split('?')[0] as string) ?? 'predict'];
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : Buffer.from(body, 'utf8');
    const outgoing = request(
      {
        host: base.hostname,
        port: base.port,
        method,
        path,
        headers: { 'content-type': 'application/json', ...(apiKey ? { 'x-api-key': apiKey } : {}), ...(payload ? { 'content-length': payload.length } : {}) },
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        incoming.on('error', () => resolve({ status: 0, body: '' }));
      },
    );
    outgoing.on('error', (error) => resolve({ status: 0, body: error.message }));
    outgoing.end(payload);
  });
}

/** Runs `count` jobs, `connections` at a time. */
async function pool(count: number, job: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      for (let i = next++; i < count; i = next++) await job(i);
    }),
  );
}

type Outcome = AnswerClass | 'gateway' | 'dropped';

/** API Gateway's own answer for a path no route matches (`{message}` naming the method and path, as on AWS), or a key a decoded path's route does not admit. */
function classify(status: number, body: string): Outcome {
  if (status === 0) return 'dropped';
  const kind = classifyAnswer(status, body);
  if (kind !== 'unnamed' || ![401, 403, 404, 405, 413].includes(status)) return kind;
  try {
    const { message, issues } = JSON.parse(body) as { message?: unknown; issues?: unknown };
    return typeof message === 'string' && message !== '' && issues === undefined ? 'gateway' : kind;
  } catch {
    return kind;
  }
}

const stateDir = mkdtempSync(join(tmpdir(), 'modelgate-fuzz-'));
/** The runtime's path prefix and its keys, once it runs. */
let prefix = '';
let apiKeys: LocalEndpoints['apiKeys'] & object = {};
let child: ChildProcess | undefined;
try {
  process.stderr.write(`starting the local runtime (state in ${stateDir})...\n`);
  const started = await startRuntimeChild(stateDir);
  child = started.child;
  const { endpoints } = started;
  const base = new URL(endpoints.apiUrl);
  prefix = base.pathname.replace(/\/$/, '');
  apiKeys = endpoints.apiKeys ?? {};

  const experiments = new ExperimentStore(localDynamoClient(endpoints.dynamoDbEndpoint), endpoints.outputs.ExperimentTableName as string);
  for (const experiment of fuzzExperiments(new Date())) await experiments.create(experiment, 'fuzz');
  const first = await send(base, 'POST', `${prefix}${ROUTES.predict}`, JSON.stringify({ instances: rows.slice(0, 20) }));
  if (first.status !== 200) throw new Error(`the runtime does not serve churn: ${first.status} ${first.body}`);
  const predictionIds = (JSON.parse(first.body) as { predictions: { predictionId: string }[] }).predictions.map((p) => p.predictionId);
  const context: FuzzContext = {
    manifest,
    rows,
    predictionIds: [...predictionIds, randomUUID()],
    unitIds: ['user-1', 'user-2', 'u'.repeat(256)],
    eventNames: ['conversion', 'revenue', 'click'],
  };
  const memoryBefore = residentMb(child.pid);

  const results: Record<string, Record<Outcome, number> & { statuses: Record<string, number>; examples: string[]; seconds: number }> = {};
  const record = (name: string, status: number, body: string, what: string) => {
    const entry = (results[name] ??= { ok: 0, named: 0, unnamed: 0, 'server-error': 0, gateway: 0, dropped: 0, statuses: {}, examples: [], seconds: 0 });
    const outcome = classify(status, body);
    entry[outcome]++;
    entry.statuses[status] = (entry.statuses[status] ?? 0) + 1;
    if ((outcome === 'unnamed' || outcome === 'server-error' || outcome === 'dropped') && entry.examples.length < 5)
      entry.examples.push(`${status} for ${what.slice(0, 200)}: ${body.slice(0, 200)}`);
  };

  for (const route of Object.keys(ROUTES) as Route[]) {
    const random = mulberry32(seed + route.length);
    const generated = Array.from({ length: bodies }, () => fuzzBody(route, random, context));
    process.stderr.write(`${route}: ${bodies} bodies to ${ROUTES[route]}...\n`);
    const began = performance.now();
    await pool(bodies, async (i) => {
      const answer = await send(base, 'POST', `${prefix}${ROUTES[route]}`, generated[i]);
      record(route, answer.status, answer.body, generated[i] as string);
    });
    (results[route] as { seconds: number }).seconds = (performance.now() - began) / 1000;
  }
  const random = mulberry32(seed);
  const paths = Array.from({ length: pathCount }, () => fuzzPath(random));
  process.stderr.write(`paths: ${pathCount} hostile paths...\n`);
  const began = performance.now();
  await pool(pathCount, async (i) => {
    const { method, path } = paths[i] as { method: string; path: string };
    const answer = await send(base, method, `${prefix}${path}`, method === 'GET' || method === 'HEAD' ? undefined : JSON.stringify({ instances: [rows[0]] }));
    // HEAD has no body to name anything in: only its status counts.
    record(
      'paths',
      answer.status,
      method === 'HEAD' && answer.status >= 400 && answer.status < 500 ? '{"issues":[{"field":"method","reason":"HEAD"}]}' : answer.body,
      `${method} ${path}`,
    );
  });
  (results.paths as { seconds: number }).seconds = (performance.now() - began) / 1000;

  const after = await send(base, 'POST', `${prefix}${ROUTES.predict}`, JSON.stringify({ instances: [rows[0]] }));
  const memoryAfter = residentMb(child.pid);
  const stillUp = after.status === 200 && child.exitCode === null;
  const failures = [
    ...Object.entries(results).flatMap(([name, r]) =>
      r['server-error'] + r.unnamed + r.dropped > 0 ? [`${name}: ${r['server-error']} 5xx, ${r.unnamed} 4xx naming no field, ${r.dropped} dropped`, ...r.examples] : [],
    ),
    ...(stillUp ? [] : [`the runtime stopped answering (${after.status}, exit code ${child.exitCode})`]),
  ];
  if (options.json)
    console.log(JSON.stringify({ bodies, paths: pathCount, connections, seed, results, memoryMb: { before: memoryBefore, after: memoryAfter }, stillUp, failures }, null, 2));
  else {
    const line = (name: string) => {
      const r = results[name] as (typeof results)[string];
      const total = r.ok + r.named + r.unnamed + r['server-error'] + r.gateway + r.dropped;
      const statuses = Object.entries(r.statuses)
        .map(([status, n]) => `${status}: ${n}`)
        .join(', ');
      return `  ${name.padEnd(9)} ${String(total).padStart(6)} sent in ${r.seconds.toFixed(0).padStart(4)} s   ${String(r.ok).padStart(5)} 2xx   ${String(r.named).padStart(5)} 4xx naming field+reason   ${String(r.gateway).padStart(4)} API Gateway 4xx   ${r.unnamed} unnamed 4xx   ${r['server-error']} 5xx   ${r.dropped} dropped   (${statuses})`;
    };
    console.log(`modelgate fuzz — the local runtime over HTTP, seed ${seed}, ${connections} connections
${[...Object.keys(ROUTES), 'paths'].map(line).join('\n')}
  runtime after the run      ${stillUp ? 'answers a valid prediction (200)' : 'NOT ANSWERING'}; resident memory ${memoryBefore?.toFixed(0)} MB before, ${memoryAfter?.toFixed(0)} MB after
${failures.length === 0 ? "  no 5xx; every 4xx names a field and a reason (API Gateway's own 404/405 for unmatched paths name the path)" : failures.map((f) => `  FAIL: ${f}`).join('\n')}`);
  }
  process.exitCode = failures.length === 0 ? 0 : 1;
} finally {
  if (child) await stopChild(child, 'SIGINT');
  rmSync(stateDir, { recursive: true, force: true });
}
