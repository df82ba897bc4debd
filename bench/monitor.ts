// `npm run bench:monitor`: the monitor's cost must not grow with traffic. Builds an hour of 5-minute windows
// for 10k and for 1M predictions (30% labelled) with the aggregator's own folding code, stores them in
// dynalite, and times the monitor handler over each (median of several runs): the ratio is the claim.
// Also measures the aggregation throughput: the fold alone, and the aggregator handler on stream batches
// (unmarshalling, window reads and conditional writes on dynalite included); and one run as the monitor does
// it every 5 minutes in a deployment, a day of windows (the quality lookback) of which the newest hour is
// the sliding window: its duration and the bytes it reads are what docs/cost.md prices.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { marshall } from '@aws-sdk/util-dynamodb';
import { ManifestStore } from '../lambdas/adapters/manifest-store';
import { MonitoringStore } from '../lambdas/adapters/monitoring-store';
import { parseCsv } from '../lambdas/core/csv';
import { csvInstances } from '../lambdas/core/csv-instances';
import { parseManifestJson, type Manifest } from '../lambdas/core/manifest';
import { emptyWindow, foldChanges, windowStartOf, type LoggedRecord, type MonitoringWindow, type StreamChange } from '../lambdas/core/monitoring/window';
import { aggregatorHandler, type StreamBatchEvent } from '../lambdas/use-cases/aggregate-windows';
import { monitorHandler } from '../lambdas/use-cases/monitor-versions';
import { localDynamoClient, localS3Client } from '../local/aws-clients';
import { startDynamoDb, startS3 } from '../local/aws-services';
import { createTableInput, ensureTable } from '../local/dynamodb-tables';
import { monitoringTableProperties } from '../local/template-tables';

const { values: options } = parseArgs({
  options: {
    small: { type: 'string', default: '10000' },
    large: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '15' },
    json: { type: 'boolean', default: false },
  },
});
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

const BUCKET = 'models';
const TABLE = 'monitoring';
const WINDOW_MINUTES = 5;
const PERIOD_MINUTES = 60;
const LABELLED_SHARE = 0.3;

const bundle = new URL('../examples/churn/v1/', import.meta.url);
const manifestText = readFileSync(new URL('manifest.json', bundle), 'utf8');
const base = parseManifestJson(manifestText);
const rows = csvInstances(base, parseCsv(readFileSync(new URL('holdout.csv', bundle), 'utf8')));

/** The logged record of the i-th synthetic prediction: holdout inputs in turn, a probability, a label for some. */
function record(manifest: Manifest, i: number, timestamp: string): LoggedRecord {
  const p = ((i * 7919) % 1000) / 1000;
  const actual = i % 10 < LABELLED_SHARE * 10 ? ((i * 31) % 3 === 0 ? 'Yes' : 'No') : undefined;
  return {
    predictionId: `p-${i}`,
    model: manifest.name,
    version: manifest.version,
    variant: '1',
    timestamp,
    modelVersionShard: `${manifest.name}#${manifest.version}#0`,
    ts: `${timestamp}#p-${i}`,
    inputs: rows[i % rows.length] as LoggedRecord['inputs'],
    outputs: { label: p >= 0.5 ? 'Yes' : 'No', probabilities: { No: 1 - p, Yes: p } },
    latencyMs: 1,
    batchRows: 1,
    expiresAt: 0,
    ...(actual === undefined ? {} : { actual }),
  };
}

/** `count` predictions spread evenly over `windowCount` windows from `periodStart`, folded as the aggregator folds them. */
function buildWindows(manifest: Manifest, count: number, periodStart: number, windowCount = PERIOD_MINUTES / WINDOW_MINUTES): { windows: MonitoringWindow[]; foldMs: number } {
  const windows = Array.from({ length: windowCount }, (_, w) => emptyWindow(manifest, windowStartOf(periodStart + w * WINDOW_MINUTES * 60_000), WINDOW_MINUTES));
  let sequence = 0n;
  let foldMs = 0;
  const batch: StreamChange[] = [];
  for (let i = 0; i < count; i++) {
    const w = i % windowCount;
    const timestamp = new Date(periodStart + w * WINDOW_MINUTES * 60_000 + 1000).toISOString();
    const image = record(manifest, i, timestamp);
    sequence += 1n;
    batch.push({ eventName: image.actual === undefined ? 'INSERT' : 'MODIFY', shardId: `shard-${w}`, sequenceNumber: sequence.toString(), image });
    if (batch.length === 1000 || i === count - 1) {
      const started = performance.now();
      // Grouped by window as the aggregator groups a batch.
      const byWindow = new Map<number, StreamChange[]>();
      for (const change of batch) {
        const index = windows.findIndex((x) => x.windowStart === windowStartOf(change.image!.timestamp, WINDOW_MINUTES));
        const group = byWindow.get(index) ?? [];
        group.push(change);
        byWindow.set(index, group);
      }
      for (const [index, changes] of byWindow) foldChanges(windows[index] as MonitoringWindow, changes, manifest);
      foldMs += performance.now() - started;
      batch.length = 0;
    }
  }
  return { windows, foldMs };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const directory = mkdtempSync(join(tmpdir(), 'modelgate-bench-monitor-'));
const dynamo = await startDynamoDb();
const s3Service = await startS3({ directory: join(directory, 's3'), buckets: [BUCKET] });
try {
  const dynamodb = localDynamoClient(dynamo.endpoint);
  const s3 = localS3Client(s3Service.endpoint);
  await ensureTable(dynamodb, createTableInput(TABLE, monitoringTableProperties()));
  const store = new MonitoringStore(dynamodb, TABLE);
  const logger = new Logger({ serviceName: 'bench', logLevel: 'SILENT' });
  const manifests = new ManifestStore(s3, BUCKET);
  const small = Number(options.small);
  const large = Number(options.large);
  const sizes = [
    { label: 'small', version: 'bench-small', count: small },
    { label: 'large', version: 'bench-large', count: large },
    { label: 'aggregate', version: 'bench-aggregate', count: 0 },
    { label: 'day', version: 'bench-day', count: 0 },
  ];
  for (const { version } of sizes) {
    const manifest = { ...base, version };
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `models/${base.name}/${version}/manifest.json`, Body: JSON.stringify(manifest) }));
  }

  const at = Date.now();
  const periodStart = Math.floor((at - PERIOD_MINUTES * 60_000) / (WINDOW_MINUTES * 60_000)) * WINDOW_MINUTES * 60_000 + WINDOW_MINUTES * 60_000;
  const built: Record<string, { foldMs: number; itemBytes: number }> = {};
  for (const { label, version, count } of sizes.slice(0, 2)) {
    const manifest = { ...base, version };
    const { windows, foldMs } = buildWindows(manifest, count, periodStart);
    let itemBytes = 0;
    for (const window of windows) {
      itemBytes += JSON.stringify({ drift: window.drift, quality: window.quality, applied: window.applied }).length;
      if (!(await store.putWindow(window, undefined, Math.floor(at / 1000) + 86_400))) throw new Error('window exists already');
    }
    await store.touchVersion(base.name, version, new Date(at).toISOString());
    built[label] = { foldMs, itemBytes };
  }

  const config = {
    bucket: BUCKET,
    predictionTable: 'unused',
    monitoringTable: TABLE,
    windowMinutes: WINDOW_MINUTES,
    windowTtlDays: 1,
    driftWindowMinutes: PERIOD_MINUTES,
    qualityLookbackHours: 1,
    minPredictions: 100,
    minLabels: 30,
    metricsNamespace: 'modelgate',
    minuteMs: 60_000,
  };
  const monitor = monitorHandler(config, { store, manifests, logger, emit: () => undefined });
  const timeMonitor = async (version: string) => {
    const times: number[] = [];
    for (let run = 0; run < Number(options.runs) + 3; run++) {
      const started = performance.now();
      const result = await monitor({ at: new Date(at).toISOString(), model: base.name, version });
      if (result.reports.length !== 1) throw new Error(`expected one report for ${version}`);
      if (run >= 3) times.push(performance.now() - started);
    }
    return median(times);
  };
  // Interleaved, so drift in the machine's speed hits both sizes alike.
  const smallMs: number[] = [];
  const largeMs: number[] = [];
  for (let round = 0; round < 3; round++) {
    smallMs.push(await timeMonitor('bench-small'));
    largeMs.push(await timeMonitor('bench-large'));
  }
  const check = await monitor({ at: new Date(at).toISOString(), model: base.name, version: 'bench-large' });

  // A run at the deployed cadence: 24 h of windows of 1 000 predictions (30% labelled; the cost is flat in traffic),
  // the newest 12 the sliding window, the whole day the quality lookback.
  const dayWindows = (24 * 60) / WINDOW_MINUTES;
  const dayStart = periodStart - (dayWindows - PERIOD_MINUTES / WINDOW_MINUTES) * WINDOW_MINUTES * 60_000;
  const day = buildWindows({ ...base, version: 'bench-day' }, dayWindows * 1000, dayStart, dayWindows);
  let dayBytes = 0;
  for (const window of day.windows) {
    dayBytes += JSON.stringify({ drift: window.drift, quality: window.quality, applied: window.applied }).length;
    if (!(await store.putWindow(window, undefined, Math.floor(at / 1000) + 86_400))) throw new Error('window exists already');
  }
  await store.touchVersion(base.name, 'bench-day', new Date(at).toISOString());
  const cadence = monitorHandler({ ...config, qualityLookbackHours: 24 }, { store, manifests, logger, emit: () => undefined });
  const dayMs: number[] = [];
  let dayReport;
  for (let run = 0; run < Number(options.runs) + 3; run++) {
    const started = performance.now();
    dayReport = (await cadence({ at: new Date(at).toISOString(), model: base.name, version: 'bench-day' })).reports[0];
    if (run >= 3) dayMs.push(performance.now() - started);
  }

  // The aggregator handler on stream batches of 1000 (the stack's batch size), windows in dynalite.
  const aggregate = aggregatorHandler({ store, manifests, logger, windowMinutes: WINDOW_MINUTES, windowTtlDays: 1 });
  const aggregateManifest = { ...base, version: 'bench-aggregate' };
  const batches = 50;
  const events: StreamBatchEvent[] = Array.from({ length: batches }, (_, b) => ({
    shardId: 'shard-bench',
    Records: Array.from({ length: 1000 }, (_, k) => {
      const i = b * 1000 + k;
      const image = record(aggregateManifest, i, new Date(at).toISOString());
      return { eventName: 'INSERT', dynamodb: { SequenceNumber: String(i + 1).padStart(21, '0'), NewImage: marshall(image, { removeUndefinedValues: true }) } };
    }),
  }));
  const aggregateStarted = performance.now();
  for (const event of events) await aggregate(event);
  const aggregateMs = performance.now() - aggregateStarted;

  const results = {
    monitor: {
      windowsPerPeriod: PERIOD_MINUTES / WINDOW_MINUTES,
      smallPredictions: small,
      largePredictions: large,
      smallMs: median(smallMs),
      largeMs: median(largeMs),
      ratio: median(largeMs) / median(smallMs),
      storedBytes: { small: built.small?.itemBytes, large: built.large?.itemBytes },
      largeReport: { predictions: check.reports[0]?.predictions, labels: check.reports[0]?.labels, driftShare: check.reports[0]?.drift?.driftShare },
    },
    cadenceRun: {
      windows: dayWindows,
      slidingWindows: PERIOD_MINUTES / WINDOW_MINUTES,
      predictions: dayReport?.predictions,
      labels: dayReport?.labels,
      ms: median(dayMs),
      storedBytes: dayBytes,
    },
    aggregation: {
      foldRecordsPerSecond: Math.round(large / ((built.large?.foldMs ?? 1) / 1000)),
      handlerRecordsPerSecond: Math.round((batches * 1000) / (aggregateMs / 1000)),
      handlerBatchMs: aggregateMs / batches,
    },
  };
  if (options.json) console.log(JSON.stringify(results, null, 2));
  else {
    const m = results.monitor;
    console.log(`monitor over one hour (${m.windowsPerPeriod} windows of ${WINDOW_MINUTES} min, ${LABELLED_SHARE * 100}% labelled):`);
    console.log(`  ${m.smallPredictions.toLocaleString('en')} predictions  ${m.smallMs.toFixed(1)} ms  (windows ${(m.storedBytes.small ?? 0) / 1000} kB)`);
    console.log(`  ${m.largePredictions.toLocaleString('en')} predictions  ${m.largeMs.toFixed(1)} ms  (windows ${(m.storedBytes.large ?? 0) / 1000} kB)`);
    console.log(`  ratio ${m.ratio.toFixed(2)} (target <= 1.5)`);
    const c = results.cadenceRun;
    console.log(
      `a run every 5 minutes: ${c.windows} windows read (24 h quality lookback; the newest ${c.slidingWindows} the sliding window), ${(c.storedBytes / 1e6).toFixed(2)} MB stored`,
    );
    console.log(
      `  ${c.ms.toFixed(1)} ms (median of ${options.runs}); sliding window ${c.predictions?.toLocaleString('en')} predictions, lookback ${c.labels?.toLocaleString('en')} labels`,
    );
    console.log('aggregation:');
    console.log(`  fold (core)                       ${results.aggregation.foldRecordsPerSecond.toLocaleString('en')} records/s`);
    console.log(
      `  aggregator handler (dynalite)     ${results.aggregation.handlerRecordsPerSecond.toLocaleString('en')} records/s (${results.aggregation.handlerBatchMs.toFixed(1)} ms per batch of 1000)`,
    );
  }
  if (results.monitor.ratio > 1.5) process.exitCode = 1;
} finally {
  await dynamo.close();
  await s3Service.close();
  rmSync(directory, { recursive: true, force: true });
}
