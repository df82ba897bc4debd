// `npm run bench:page`: time to page, measured on the local runtime. A loopback webhook is the on-call; the
// replayer sends the churn holdout (no drift) for a full sliding window, then the same rows after an upstream
// unit change (bench/time-to-page.ts), at a production-equivalent rate (rows per scaled second: the replayer
// sends rate x time scale rows per wall second). Prints the scaled minutes from the first drifted row to the
// drift alarm's notification, the false pages during the no-drift part (must be 0), and the settings used.
// Exit 1 when a false page came or no page did.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_MONITOR_EVALUATION, DEFAULT_MONITOR_PERIOD_SECONDS } from '../lambdas/core/monitoring/alarms';
import { DEFAULT_DRIFT_WINDOW_MINUTES } from '../lambdas/contracts/monitoring-environment';
import type { ReplayReport } from '../cli/replay-engine';
import { startRuntime } from '../local/runtime';
import { churnStreams, measurePageLoop, serveChurnBundle, startOnCallWebhook } from './time-to-page';

const { values: options } = parseArgs({
  options: {
    'time-scale': { type: 'string', default: '20' },
    rate: { type: 'string', default: '10' },
    'rows-per-request': { type: 'string', default: '10' },
    'no-drift-minutes': { type: 'string', default: String(DEFAULT_DRIFT_WINDOW_MINUTES + 10) },
    'max-drift-minutes': { type: 'string', default: '30' },
    json: { type: 'boolean', default: false },
  },
});
const scale = Number(options['time-scale']);
const rate = Number(options.rate);
const rowsPerRequest = Number(options['rows-per-request']);
const noDriftMinutes = Number(options['no-drift-minutes']);
const maxDriftMinutes = Number(options['max-drift-minutes']);
if (!(scale > 0 && scale <= 600) || !(rate > 0) || !(Number.isInteger(rowsPerRequest) && rowsPerRequest >= 1) || !(noDriftMinutes > 0) || !(maxDriftMinutes > 0)) {
  console.error(
    'usage: npm run bench:page -- [--time-scale 20] [--rate 10 (rows per scaled second)] [--rows-per-request 10] [--no-drift-minutes 70] [--max-drift-minutes 30] [--json]',
  );
  process.exit(2);
}

const stateDir = mkdtempSync(join(tmpdir(), 'modelgate-bench-page-'));
const webhook = await startOnCallWebhook();
const log: string[] = [];
const runtime = await startRuntime({ port: 0, stateDir, clean: true, echoLogs: false, timeScale: scale, webhookUrl: webhook.url, print: (text) => log.push(text) });
try {
  const { manifest, bundle, noDrift, drifted } = churnStreams();
  await serveChurnBundle(runtime, manifest, bundle);
  const wallRate = rate * scale;
  const load = loadavg()[0] as number;
  console.error(
    `time scale ${scale}: ${noDriftMinutes} scaled minutes of no-drift traffic (${((noDriftMinutes * runtime.metrics.minuteMs) / 1000).toFixed(0)} s), then the drift; ${wallRate} rows/s sent, ${rowsPerRequest} a request...`,
  );
  const result = await measurePageLoop({ runtime, webhook, manifest, noDrift, drifted, rate: wallRate, rowsPerRequest, noDriftMinutes, maxDriftMinutes });
  const settings = {
    timeScale: scale,
    rowsPerScaledSecond: rate,
    rowsPerWallSecond: wallRate,
    rowsPerRequest,
    monitorPeriodMinutes: DEFAULT_MONITOR_PERIOD_SECONDS / 60,
    slidingWindowMinutes: manifest.monitoring?.windowMinutes ?? DEFAULT_DRIFT_WINDOW_MINUTES,
    alarm: `${DEFAULT_MONITOR_EVALUATION.datapointsToAlarm} of ${DEFAULT_MONITOR_EVALUATION.evaluationPeriods} periods of ${DEFAULT_MONITOR_PERIOD_SECONDS / 60} minutes`,
    noDriftMinutes,
    drift: 'MonthlyCharges and TotalCharges in cents, tenure in days (upstream unit change)',
  };
  const figures = {
    timeToPageMinutes: result.timeToPageMinutes,
    page: result.page?.alarmName ?? null,
    falsePages: result.falsePages.map((p) => p.alarmName),
    servingAlarms: [...new Set(result.servingPages.map((p) => p.alarmName))],
    noDriftReplay: replaySummary(result.noDriftReplay),
    driftReplay: replaySummary(result.driftReplay),
    loadAverage: [load, loadavg()[0] as number],
  };
  if (options.json) console.log(JSON.stringify({ settings, ...figures }, null, 2));
  else {
    console.log(
      `settings: ${Object.entries(settings)
        .map(([k, v]) => `${k} ${v}`)
        .join('; ')}`,
    );
    console.log(
      `time to page: ${result.timeToPageMinutes === null ? `no page in ${maxDriftMinutes} scaled minutes` : `${result.timeToPageMinutes.toFixed(1)} scaled minutes`} (${figures.page ?? '-'})`,
    );
    console.log(
      `false pages (drift and quality alarms) during ${noDriftMinutes} scaled minutes without drift: ${result.falsePages.length}${result.falsePages.length > 0 ? ` (${figures.falsePages.join(', ')})` : ''}`,
    );
    if (figures.servingAlarms.length > 0) console.log(`serving alarms that fired meanwhile (real latencies in scaled minutes; not drift): ${figures.servingAlarms.join(', ')}`);
    for (const [phase, r] of [
      ['no drift', figures.noDriftReplay],
      ['drift', figures.driftReplay],
    ] as const) {
      console.log(
        `replay, ${phase}: ${r.sent} rows at ${r.achievedRowsPerSecond.toFixed(1)}/s${r.behind ? ` (BEHIND: lag up to ${r.maxLagMs.toFixed(0)} ms)` : ''}, ${r.failed} failed${
          r.failed > 0
            ? ` (${Object.entries(r.failures)
                .map(([k, n]) => `${n} ${k}`)
                .join('; ')})`
            : ''
        }; latency p50 ${r.latencyMs?.p50.toFixed(0)} ms, p99 ${r.latencyMs?.p99.toFixed(0)} ms`,
      );
    }
    console.log(`load average ${figures.loadAverage.map((l) => l.toFixed(1)).join(' -> ')}`);
  }
  process.exitCode = result.falsePages.length === 0 && result.timeToPageMinutes !== null ? 0 : 1;
} finally {
  await runtime.close();
  await webhook.close();
  rmSync(stateDir, { recursive: true, force: true });
}

function replaySummary(report: ReplayReport) {
  return {
    sent: report.sent,
    failed: report.failed,
    failures: report.failures,
    achievedRowsPerSecond: report.achievedRate,
    behind: report.lag.behind,
    maxLagMs: report.lag.maxMs,
    latencyMs: report.latencyMs,
  };
}
