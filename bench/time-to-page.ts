// The on-call loop on the local runtime, measured: a loopback webhook stands for the person on call (every SNS
// notification the runtime sends is POSTed to it), the replay engine sends a no-drift stream and then a
// drifted one, and the time from the first drifted row to the drift alarm's page is read in the runtime's
// scaled minutes. `npm run bench:page` (bench/page.ts) prints it; test/e2e/monitoring.test.ts checks it
// against the bound docs/monitoring.md derives.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { parseManifestJson, type Manifest } from '../lambdas/core/manifest';
import { versionAlarmPrefix } from '../lambdas/core/naming';
import { readReplayInput, httpReplayTarget, replay, type ReplayReport, type ReplayRow } from '../cli/replay-engine';
import { localS3Client } from '../local/aws-clients';
import type { Runtime } from '../local/runtime';

/** One alarm notification as the on-call webhook received it. */
export interface Page {
  /** Wall clock (Date.now()) when it arrived. */
  readonly receivedAt: number;
  readonly alarmName: string;
  readonly oldState: string;
  readonly newState: string;
  readonly reason: string;
  readonly description: string | null;
  /** The alarm metric's dimensions (model, version, feature...). */
  readonly dimensions: Readonly<Record<string, string>>;
}

export interface OnCallWebhook {
  readonly url: string;
  /** Alarm notifications in the order they arrived (other messages are left out). */
  readonly pages: readonly Page[];
  /** Resolves with the first page (from now on, or already received after `since`) that `match` accepts. */
  waitFor(match: (page: Page) => boolean, options: { readonly since?: number; readonly signal?: AbortSignal }): Promise<Page>;
  close(): Promise<void>;
}

type Dimension = { name?: string; value?: string; Name?: string; Value?: string };

/**
 * The alarm metric's dimensions from a notification's Trigger: top-level for a single-metric alarm, on the
 * returned metric of an alarm in the Metrics form (as the pipeline creates them: PutMetricAlarm with Metrics).
 */
function triggerDimensions(
  trigger: { Dimensions?: Dimension[]; Metrics?: { ReturnData?: boolean; MetricStat?: { Metric?: { Dimensions?: Dimension[] } } }[] } | undefined,
): Record<string, string> {
  const returned = trigger?.Metrics?.find((m) => m.ReturnData !== false && m.MetricStat)?.MetricStat?.Metric?.Dimensions;
  const dimensions = trigger?.Dimensions?.length ? trigger.Dimensions : (returned ?? []);
  return Object.fromEntries(dimensions.map((d) => [String(d.name ?? d.Name), String(d.value ?? d.Value)]));
}

/** A loopback HTTP server taking the runtime's `webhookUrl` POSTs (SNS notification JSON). */
export async function startOnCallWebhook(): Promise<OnCallWebhook> {
  const pages: Page[] = [];
  const waiters = new Set<() => void>();
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      response.end();
      const receivedAt = Date.now();
      try {
        const message = JSON.parse((JSON.parse(body) as { Message: string }).Message) as {
          AlarmName?: string;
          OldStateValue: string;
          NewStateValue: string;
          NewStateReason: string;
          AlarmDescription: string | null;
          Trigger?: { Dimensions?: Dimension[]; Metrics?: { ReturnData?: boolean; MetricStat?: { Metric?: { Dimensions?: Dimension[] } } }[] };
        };
        if (typeof message.AlarmName !== 'string') return;
        pages.push({
          receivedAt,
          alarmName: message.AlarmName,
          oldState: message.OldStateValue,
          newState: message.NewStateValue,
          reason: message.NewStateReason,
          description: message.AlarmDescription,
          dimensions: triggerDimensions(message.Trigger),
        });
        for (const wake of waiters) wake();
      } catch {
        // not an alarm notification (a pipeline verdict): not a page
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/oncall`,
    pages,
    waitFor(match, { since = 0, signal }) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = pages.find((page) => page.receivedAt >= since && match(page));
          if (!found) return;
          waiters.delete(check);
          resolve(found);
        };
        signal?.addEventListener('abort', () => {
          waiters.delete(check);
          reject(signal.reason as Error);
        });
        waiters.add(check);
        check();
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The example model's bundle, its holdout as the no-drift stream, and the drifted stream. */
export function churnStreams(): { readonly manifest: Manifest; readonly bundle: URL; readonly noDrift: readonly ReplayRow[]; readonly drifted: readonly ReplayRow[] } {
  const bundle = new URL('../examples/churn/v1/', import.meta.url);
  const manifest = parseManifestJson(readFileSync(new URL('manifest.json', bundle), 'utf8'));
  const { rows } = readReplayInput(manifest, readFileSync(new URL('holdout.csv', bundle), 'utf8'), { format: 'csv', source: 'holdout.csv', target: 'Churn' });
  return { manifest, bundle, noDrift: rows, drifted: rows.map(upstreamUnitChange) };
}

/**
 * The drift: an upstream release starts sending charges in cents and tenure in days. Three of nineteen
 * features move far outside their training range (the dashboard and the feature alarms name them); the
 * other sixteen do not move at all.
 */
export function upstreamUnitChange(row: ReplayRow): ReplayRow {
  const instance = { ...row.instance };
  instance.MonthlyCharges = Math.round((instance.MonthlyCharges as number) * 100);
  if (typeof instance.TotalCharges === 'number') instance.TotalCharges = Math.round(instance.TotalCharges * 100);
  instance.tenure = (instance.tenure as number) * 30;
  return { ...row, instance };
}

/** Serves the churn bundle where the inference function reads it (independent of the promotion pipeline). */
export async function serveChurnBundle(runtime: Runtime, manifest: Manifest, bundle: URL): Promise<void> {
  const s3 = localS3Client(runtime.s3Endpoint);
  const bucket = runtime.outputs.ModelBucketName as string;
  for (const file of ['manifest.json', 'model.onnx']) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `models/${manifest.name}/${manifest.version}/${file}`, Body: readFileSync(new URL(file, bundle)) }));
  }
}

/** A drift alarm of one model version: dataset share, a configured feature, or the prediction distribution. */
export function isDriftPage(deployment: string, model: string, version: string): (page: Page) => boolean {
  const prefix = versionAlarmPrefix(deployment, model, version);
  return (page) =>
    page.newState === 'ALARM' &&
    page.alarmName.startsWith(prefix) &&
    /^(drift-share|feature-drift-.+|prediction-drift)-(warning|critical)$/.test(page.alarmName.slice(prefix.length));
}

/**
 * A page about drift or quality of one model version (not a serving alarm: latency and errors are real,
 * unscaled durations, which a time scale squeezes into scaled minutes; a loaded laptop can trip them).
 */
export function isMonitorPage(deployment: string, model: string, version: string): (page: Page) => boolean {
  const prefix = versionAlarmPrefix(deployment, model, version);
  return (page) =>
    page.newState === 'ALARM' &&
    page.alarmName.startsWith(prefix) &&
    /^(drift-share|feature-drift-.+|prediction-drift|[a-z0-9-]+-drop)-(warning|critical)$/.test(page.alarmName.slice(prefix.length));
}

export interface PageLoopOptions {
  readonly runtime: Runtime;
  readonly webhook: OnCallWebhook;
  readonly manifest: Manifest;
  readonly noDrift: readonly ReplayRow[];
  readonly drifted: readonly ReplayRow[];
  /** Rows per second of wall-clock time the replayer sends. */
  readonly rate: number;
  readonly rowsPerRequest?: number;
  /** Scaled minutes of no-drift traffic before the drift (at least the sliding window, for a steady state). */
  readonly noDriftMinutes: number;
  /** Scaled minutes of drifted traffic at most, waiting for the page. */
  readonly maxDriftMinutes: number;
}

export interface PageMeasurement {
  /** Scaled minutes from the first drifted row to the first drift page; null when none came in maxDriftMinutes. */
  readonly timeToPageMinutes: number | null;
  readonly page: Page | null;
  /** Drift and quality pages during the no-drift traffic: each one a false page. */
  readonly falsePages: readonly Page[];
  /** Serving alarms that fired during the no-drift traffic (latency, errors, log fallbacks: the machine, not drift). */
  readonly servingPages: readonly Page[];
  readonly noDriftReplay: ReplayReport;
  readonly driftReplay: ReplayReport;
  readonly minuteMs: number;
}

/** No-drift traffic for `noDriftMinutes`, then drifted traffic until the drift page (or `maxDriftMinutes`). */
export async function measurePageLoop(options: PageLoopOptions): Promise<PageMeasurement> {
  const { runtime, webhook, manifest } = options;
  const minuteMs = runtime.metrics.minuteMs;
  const target = httpReplayTarget({ apiUrl: runtime.apiUrl, model: manifest.name, apiKeys: runtime.apiKeys });
  const common = { target, rate: options.rate, rowsPerRequest: options.rowsPerRequest ?? 1 };
  // Warm the model's execution environment, unmeasured: a cold start is not part of the loop.
  await replay({ ...common, rows: options.noDrift.slice(0, 50), rate: Math.min(options.rate, 50) });
  const quietFrom = Date.now();
  const noDriftReplay = await replay({ ...common, rows: options.noDrift, durationMs: options.noDriftMinutes * minuteMs });
  const driftFrom = Date.now();
  const quiet = webhook.pages.filter((page) => page.receivedAt >= quietFrom && page.receivedAt < driftFrom && page.newState === 'ALARM');
  const monitorPage = isMonitorPage(runtime.stack.stackName, manifest.name, manifest.version);
  const stop = new AbortController();
  const paged = webhook.waitFor(isDriftPage(runtime.stack.stackName, manifest.name, manifest.version), { since: driftFrom, signal: stop.signal }).then(
    (page) => {
      stop.abort(new Error('paged'));
      return page;
    },
    () => null,
  );
  const driftReplay = await replay({ ...common, rows: options.drifted, durationMs: options.maxDriftMinutes * minuteMs, signal: stop.signal });
  // The last rows may page after the replay ends: give the loop one more monitor period and evaluation.
  const grace = setTimeout(() => stop.abort(new Error('no page')), 7 * minuteMs);
  const page = await paged;
  clearTimeout(grace);
  return {
    timeToPageMinutes: page ? (page.receivedAt - driftFrom) / minuteMs : null,
    page,
    falsePages: quiet.filter(monitorPage),
    servingPages: quiet.filter((page) => !monitorPage(page)),
    noDriftReplay,
    driftReplay,
    minuteMs,
  };
}
