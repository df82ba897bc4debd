// `npm run load`: a bounded loopback load test of the local runtime (autocannon, 32 connections, 60 s per
// phase by default) against the churn model, then the same load against two baselines measured in the same
// run: the inference handler behind node:http (same durable log write, no API Gateway emulation, no worker
// thread) and a bare node:http server wrapping the same ONNX session (no log, no metrics). Each phase starts
// with the same unmeasured warm-up (JIT, connection pools, LevelDB). Checks zero errors and that every answered
// prediction, warm-up included, is in the log (DynamoDB, or the fallback file). Every server runs in a child
// process; the load comes from this one.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PREDICTION_LOG_FALLBACK_FILE } from '../local/state-files';
import { startChild, startRuntimeChild, stopChild } from './child-process';
import { checkLog, loadPredictions, PREDICT_PATH, type LoadRun } from './load-driver';

const { values: options } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    json: { type: 'boolean', default: false },
  },
});
const seconds = Number(options.seconds);
const warmup = Number(options.warmup);
const connections = Number(options.connections);
if (!(seconds > 0 && seconds <= 600) || !(warmup >= 0 && warmup <= 60) || !(connections > 0 && connections <= 256)) {
  console.error('usage: npm run load -- [--seconds 1..600] [--warmup 0..60] [--connections 1..256] [--json]');
  process.exit(2);
}

const load = (url: string, apiKey: string | undefined, duration: number, serverPid?: number) =>
  loadPredictions(url, { connections, seconds: duration, ...(serverPid === undefined ? {} : { serverPid }), ...(apiKey ? { apiKey } : {}) });

/** The unmeasured warm-up every phase gets; its answers must be logged too (checked with the measured ones). */
const warmupFailures: string[] = [];
async function warm(url: string, apiKey?: string): Promise<LoadRun> {
  if (warmup === 0) return { result: undefined as never, predictionIds: [], badBodies: 0, loadAverage: 0 };
  process.stderr.write(`warming up ${url}${PREDICT_PATH} for ${warmup} s...\n`);
  const warmed = await load(url, apiKey, warmup);
  const failed = warmed.result.non2xx + warmed.result.errors + warmed.result.timeouts + warmed.badBodies;
  if (failed > 0) warmupFailures.push(`warm-up of ${url}: ${failed} failed requests`);
  return warmed;
}

const stateDir = mkdtempSync(join(tmpdir(), 'modelgate-load-'));
let runtimeChild: ChildProcess | undefined;
let bareChild: ChildProcess | undefined;
try {
  // 1. The runtime, as `npm start` runs it.
  process.stderr.write(`starting the local runtime (state in ${stateDir})...\n`);
  const runtime = await startRuntimeChild(stateDir);
  runtimeChild = runtime.child;
  const { endpoints } = runtime;
  const warmedRuntime = await warm(endpoints.apiUrl, endpoints.apiKeys?.predict);
  process.stderr.write(`loading ${endpoints.apiUrl}${PREDICT_PATH} for ${seconds} s with ${connections} connections...\n`);
  const viaRuntime = await load(endpoints.apiUrl, endpoints.apiKeys?.predict, seconds, runtimeChild.pid);
  const log = await checkLog(endpoints, join(stateDir, PREDICTION_LOG_FALLBACK_FILE), [...warmedRuntime.predictionIds, ...viaRuntime.predictionIds]);
  await stopChild(runtimeChild, 'SIGINT');

  // 2. The baselines.
  const baseline = async (mode: 'handler' | 'bare') => {
    process.stderr.write(`starting the ${mode} node:http server...\n`);
    const started = await startChild(['bench/bare-server.ts', '--mode', mode], /^listening (http:\/\/\S+)/);
    bareChild = started.child;
    await warm(started.match[1] as string);
    process.stderr.write(`loading ${started.match[1]}${PREDICT_PATH} for ${seconds} s with ${connections} connections...\n`);
    const measured = await load(started.match[1] as string, undefined, seconds, started.child.pid);
    await stopChild(started.child, 'SIGTERM');
    return measured;
  };
  const viaHandler = await baseline('handler');
  const viaBare = await baseline('bare');

  const summary = (r: LoadRun) => ({
    requests: r.result.requests.total,
    ok: r.result['2xx'],
    non2xx: r.result.non2xx,
    errors: r.result.errors,
    timeouts: r.result.timeouts,
    requestsPerSecond: r.result.requests.total / r.result.duration,
    ...(r.serverCpuMs === undefined ? {} : { serverCpuMsPerRequest: r.serverCpuMs / r.result.requests.total }),
    loadAverageAfter: r.loadAverage,
    latencyMs: { p50: r.result.latency.p50, p90: r.result.latency.p90, p99: r.result.latency.p99, max: r.result.latency.max },
  });
  const answered = warmedRuntime.predictionIds.length + viaRuntime.predictionIds.length;
  const report = {
    seconds,
    connections,
    warmupSeconds: warmup,
    runtime: { ...summary(viaRuntime), answeredPredictions: answered, log },
    handler: summary(viaHandler),
    bare: summary(viaBare),
    ratio: summary(viaRuntime).requestsPerSecond / summary(viaBare).requestsPerSecond,
    runtimeOverHandler: summary(viaRuntime).requestsPerSecond / summary(viaHandler).requestsPerSecond,
    handlerOverBare: summary(viaHandler).requestsPerSecond / summary(viaBare).requestsPerSecond,
    loadAverage: loadavg(),
    cpus: cpus().length,
  };
  const failures = [
    ...(['runtime', 'handler', 'bare'] as const).flatMap((name) => {
      const s = report[name];
      return s.non2xx + s.errors + s.timeouts > 0 ? [`${name}: ${s.non2xx} non-2xx, ${s.errors} errors, ${s.timeouts} timeouts`] : [];
    }),
    ...(viaRuntime.badBodies > 0 ? [`runtime: ${viaRuntime.badBodies} unreadable bodies`] : []),
    ...(log.missing > 0 ? [`${log.missing} answered predictions are in neither the table nor the fallback file`] : []),
    // More records than answers is expected: requests still in flight when autocannon stops are served and
    // logged, but their answers are not counted. Fewer would mean a lost record.
    ...(log.tableCount + log.inFallback < answered ? [`log holds ${log.tableCount} + ${log.inFallback} records for ${answered} answered predictions`] : []),
    ...warmupFailures,
  ];
  if (options.json) console.log(JSON.stringify({ ...report, failures }, null, 2));
  else {
    const f = (n: number, d = 0) => n.toFixed(d);
    const line = (name: string, s: ReturnType<typeof summary>) =>
      `  ${name.padEnd(36)} ${f(s.requestsPerSecond).padStart(6)} req/s   p50 ${f(s.latencyMs.p50, 1)} ms  p99 ${f(s.latencyMs.p99, 1)} ms   ${s.ok} ok, ${s.non2xx} non-2xx, ${s.errors} errors, ${s.timeouts} timeouts` +
      `${s.serverCpuMsPerRequest === undefined ? '' : `   server CPU ${f(s.serverCpuMsPerRequest, 2)} ms/request`}   load average ${f(s.loadAverageAfter, 2)}`;
    console.log(`modelgate load test — churn v1, one row per request, ${connections} connections, ${seconds} s each after a ${warmup} s warm-up, loopback
${line('local runtime', report.runtime)}
${line('handler behind node:http (with log)', report.handler)}
${line('bare node:http + same ONNX session', report.bare)}
  runtime / bare                     ${f(report.ratio, 2)}x   (target >= 0.7x)
  runtime / handler                  ${f(report.runtimeOverHandler, 2)}x   (API Gateway emulation, worker hop, stream proxy and the stack's stream consumers)
  handler / bare                     ${f(report.handlerOverBare, 2)}x   (durable log write through the SDK to dynalite, metrics)
  prediction log                     ${log.inTable} of ${answered} answered predictions (warm-up included) in DynamoDB, ${log.inFallback} in the fallback file, ${log.missing} missing (table count ${log.tableCount})
  load average after the run         ${report.loadAverage.map((n) => f(n, 2)).join(' ')} (${cpus().length} cores; other work on the machine skews every figure)
${failures.length === 0 ? '  no errors; every answered prediction is logged' : failures.map((f) => `  FAIL: ${f}`).join('\n')}`);
  }
  process.exitCode = failures.length === 0 ? 0 : 1;
} finally {
  if (runtimeChild) await stopChild(runtimeChild, 'SIGINT');
  if (bareChild) await stopChild(bareChild, 'SIGTERM');
  rmSync(stateDir, { recursive: true, force: true });
}
