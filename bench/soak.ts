// `npm run soak`: the local runtime as `npm start` runs it (API Gateway emulation, the inference worker, the IAM
// gateways, the streams proxy and the stack's stream consumers) under `--connections` (32) for `--minutes` (10),
// with npm run load's driver. Passes when no request failed, every answered prediction is in the log (DynamoDB
// or the fallback file) and the log holds no more records than the answers plus the requests in flight at the
// stop, and the resident memory of every process of the runtime stays within 1.5x of what it was after the
// first minute. Memory is sampled every `--sample-seconds` (10) from /proc: the runtime's process (its worker
// threads, the Lambda execution environments, share its memory; its private and file-backed parts are shown
// apart) and any process it started.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PREDICTION_LOG_FALLBACK_FILE } from '../local/state-files';
import { processTree, startRuntimeChild, stopChild } from './child-process';
import { checkLog, loadPredictions, residentMb } from './load-driver';

const { values: options } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    'sample-seconds': { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
  },
});
const minutes = Number(options.minutes);
const connections = Number(options.connections);
const sampleSeconds = Number(options['sample-seconds']);
if (!(minutes >= 2 && minutes <= 24 * 60) || !(connections > 0 && connections <= 256) || !(sampleSeconds >= 1 && sampleSeconds <= 60)) {
  console.error('usage: npm run soak -- [--minutes 2..1440] [--connections 1..256] [--sample-seconds 1..60] [--json]');
  process.exit(2);
}
/** What every process's resident memory is compared with: its value after the first minute. */
const BASELINE_SECONDS = 60;
const GROWTH_LIMIT = 1.5;

/** The runtime's thread count and its resident memory split: private (anonymous) and file-backed (mapped files), in MB. */
function runtimeDetail(pid: number): { threads: number; anonMb: number; fileMb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1]);
    return { threads: field('Threads'), anonMb: field('RssAnon') / 1024, fileMb: field('RssFile') / 1024 };
  } catch {
    return undefined;
  }
}

interface Sample {
  readonly seconds: number;
  /** Predictions answered since the load started. */
  readonly answered: number;
  /** Resident MB by process (pid -> MB). */
  readonly residentMb: Readonly<Record<number, number>>;
  readonly runtime?: { readonly threads: number; readonly anonMb: number; readonly fileMb: number };
  readonly loadAverage: number;
}

const stateDir = mkdtempSync(join(tmpdir(), 'modelgate-soak-'));
let child: ChildProcess | undefined;
try {
  process.stderr.write(`starting the local runtime (state in ${stateDir})...\n`);
  const runtime = await startRuntimeChild(stateDir);
  child = runtime.child;
  const runtimePid = child.pid as number;
  const processNames = new Map<number, string>();
  const samples: Sample[] = [];
  const predictionIds: string[] = [];
  const began = performance.now();
  const sample = () => {
    const tree = processTree(runtimePid, 'runtime');
    for (const [pid, name] of tree) processNames.set(pid, name);
    const resident: Record<number, number> = {};
    for (const pid of tree.keys()) {
      const mb = residentMb(pid);
      if (mb !== undefined) resident[pid] = mb;
    }
    const detail = runtimeDetail(runtimePid);
    samples.push({
      seconds: (performance.now() - began) / 1000,
      answered: predictionIds.length,
      residentMb: resident,
      ...(detail ? { runtime: detail } : {}),
      loadAverage: loadavg()[0] as number,
    });
    const last = samples.at(-1) as Sample;
    process.stderr.write(
      `  ${last.seconds.toFixed(0).padStart(5)} s  ${String(last.answered).padStart(8)} answered  ${Object.entries(resident)
        .map(([pid, mb]) => `${processNames.get(Number(pid))} ${mb.toFixed(0)} MB`)
        .join(', ')}  load ${last.loadAverage.toFixed(1)}\n`,
    );
  };
  sample();
  const sampler = setInterval(sample, sampleSeconds * 1000);
  process.stderr.write(`loading ${runtime.endpoints.apiUrl} for ${minutes} min with ${connections} connections...\n`);
  const run = await loadPredictions(runtime.endpoints.apiUrl, {
    connections,
    seconds: minutes * 60,
    serverPid: runtimePid,
    predictionIds,
    ...(runtime.endpoints.apiKeys?.predict ? { apiKey: runtime.endpoints.apiKeys.predict } : {}),
  });
  clearInterval(sampler);
  sample();
  process.stderr.write(`checking ${predictionIds.length} prediction ids in the log...\n`);
  const log = await checkLog(runtime.endpoints, join(stateDir, PREDICTION_LOG_FALLBACK_FILE), predictionIds);

  // Each process against its value at the first sample taken after the first minute.
  const baseline = samples.find((s) => s.seconds >= BASELINE_SECONDS) as Sample;
  const memory = [...processNames].map(([pid, name]) => {
    const after = samples.filter((s) => s.seconds >= baseline.seconds && s.residentMb[pid] !== undefined).map((s) => s.residentMb[pid] as number);
    const first = baseline.residentMb[pid];
    const peak = Math.max(...after);
    const last = after.at(-1);
    return {
      pid,
      name,
      startMb: samples[0]?.residentMb[pid],
      afterFirstMinuteMb: first,
      peakMb: peak,
      lastMb: last,
      peakOverFirstMinute: first === undefined ? undefined : peak / first,
    };
  });
  const { result } = run;
  const answered = predictionIds.length;
  const logged = log.tableCount + log.inFallback;
  const failed = result.non2xx + result.errors + result.timeouts + run.badBodies;
  const failures = [
    ...(failed > 0 ? [`${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts, ${run.badBodies} unreadable bodies`] : []),
    ...(log.missing > 0 ? [`${log.missing} answered predictions are in neither the table nor the fallback file`] : []),
    // Requests in flight when autocannon stops are served and logged, but their answers are not counted: at most
    // one a connection. Fewer records than answers would be a lost record; more than that, records from nowhere.
    ...(logged < answered || logged > answered + connections
      ? [`the log holds ${log.tableCount} + ${log.inFallback} records for ${answered} answered predictions (${connections} may be in flight at the stop)`]
      : []),
    ...memory.flatMap((m) =>
      m.peakOverFirstMinute === undefined || m.peakOverFirstMinute > GROWTH_LIMIT
        ? [
            `${m.name}: resident memory peaked at ${m.peakMb.toFixed(0)} MB, ${m.peakOverFirstMinute?.toFixed(2) ?? '?'}x its ${m.afterFirstMinuteMb?.toFixed(0) ?? '?'} MB after the first minute (limit ${GROWTH_LIMIT}x)`,
          ]
        : [],
    ),
    ...(child.exitCode === null ? [] : [`the runtime exited with ${child.exitCode}`]),
  ];
  const report = {
    minutes,
    connections,
    requests: result.requests.total,
    requestsPerSecond: result.requests.total / result.duration,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    badBodies: run.badBodies,
    answered,
    log,
    runtimeCpuMsPerRequest: run.serverCpuMs === undefined ? undefined : run.serverCpuMs / result.requests.total,
    memory,
    samples,
    loadAverage: loadavg(),
    cpus: cpus().length,
    failures,
  };
  if (options.json) console.log(JSON.stringify(report, null, 2));
  else {
    const f = (n: number | undefined, d = 0) => (n === undefined ? '?' : n.toFixed(d));
    const perMinute = samples.filter((s, i) => i === 0 || i === samples.length - 1 || Math.floor(s.seconds / 60) > Math.floor((samples[i - 1] as Sample).seconds / 60));
    console.log(`modelgate soak — churn v1, one row per request, ${connections} connections for ${minutes} min, loopback
  requests                 ${result.requests.total} (${f(report.requestsPerSecond)} req/s), p50 ${f(result.latency.p50, 1)} ms, p99 ${f(result.latency.p99, 1)} ms, max ${f(result.latency.max)} ms
  failed                   ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts, ${run.badBodies} unreadable bodies
  prediction log           ${log.inTable} of ${answered} answered predictions in DynamoDB, ${log.inFallback} in the fallback file, ${log.missing} missing; table count ${log.tableCount} (${log.tableCount + log.inFallback - answered} served while the load stopped)
  runtime CPU              ${f(report.runtimeCpuMsPerRequest, 2)} ms per request
  resident memory          ${memory.map((m) => `${m.name}: ${f(m.startMb)} MB at the start, ${f(m.afterFirstMinuteMb)} MB after the first minute, peak ${f(m.peakMb)} MB (${f(m.peakOverFirstMinute, 2)}x), ${f(m.lastMb)} MB at the end`).join('\n                           ')}
  by minute                ${perMinute
    .map(
      (s) =>
        `${f(s.seconds).padStart(5)} s ${String(s.answered).padStart(8)} answered  ${Object.entries(s.residentMb)
          .map(([pid, mb]) => `${processNames.get(Number(pid))} ${f(mb)} MB`)
          .join(', ')}  (runtime ${f(s.runtime?.anonMb)} MB private, ${f(s.runtime?.fileMb)} MB mapped files, ${s.runtime?.threads ?? '?'} threads)  load ${f(s.loadAverage, 1)}`,
    )
    .join('\n                           ')}
  load average after       ${report.loadAverage.map((n) => f(n, 2)).join(' ')} (${cpus().length} cores; other work on the machine skews every figure)
${failures.length === 0 ? `  no errors; every answered prediction is logged; every process within ${GROWTH_LIMIT}x of its memory after the first minute` : failures.map((line) => `  FAIL: ${line}`).join('\n')}`);
  }
  process.exitCode = failures.length === 0 ? 0 : 1;
} finally {
  if (child) await stopChild(child, 'SIGINT');
  rmSync(stateDir, { recursive: true, force: true });
}
