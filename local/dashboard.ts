import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { LocalAlarms } from './alarms';
import type { ExperimentViews } from './experiment-views';
import type { MonitoringViews } from './monitoring-views';
import type { ApiRoute } from './api-gateway';
import type { LocalLambdaService } from './lambda-service';
import type { LocalMetricStore, MetricIdentity } from './metrics-store';
import type { LocalSns } from './sns';

/**
 * Where the dashboard reads promotions and rejections. The default reads the registry table generically
 * (a Scan, newest first by the first timestamp-like attribute); the promotion pipeline can pass a reader
 * that knows its schema instead (RuntimeOptions.registryHistory).
 */
export interface RegistrySource {
  readonly tableName: string;
  history(limit: number): Promise<Record<string, unknown>[]>;
}

export interface DashboardSources {
  readonly stackName: string;
  readonly apiUrl: () => string;
  /** The routes the API's stages serve now. */
  readonly routes: () => readonly ApiRoute[];
  readonly lambda: LocalLambdaService;
  readonly metrics: LocalMetricStore;
  readonly alarms: LocalAlarms;
  readonly sns: LocalSns;
  readonly registry?: RegistrySource;
  /** Experiments with their analysis and snapshots over time (local/experiment-views.ts). */
  readonly experiments?: ExperimentViews;
  /** Drift and quality per model version (local/monitoring-views.ts). */
  readonly monitoring?: MonitoringViews;
  /** The serving metrics' namespace (core/naming.ts metricsNamespace). */
  readonly namespace: string;
}

const STATIC_DIR = join(import.meta.dirname, 'dashboard');
const require = createRequire(import.meta.url);
const STATIC_FILES: Record<string, { path: () => string; type: string }> = {
  '/dashboard/static/dom.js': { path: () => join(STATIC_DIR, 'dom.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/static/dashboard.js': { path: () => join(STATIC_DIR, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/static/experiments.js': { path: () => join(STATIC_DIR, 'experiments.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/static/monitoring.js': { path: () => join(STATIC_DIR, 'monitoring.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/static/drift-view.js': { path: () => join(STATIC_DIR, 'drift-view.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/static/dashboard.css': { path: () => join(STATIC_DIR, 'dashboard.css'), type: 'text/css; charset=utf-8' },
  // Served from node_modules: the page needs no network.
  '/dashboard/static/uPlot.iife.min.js': { path: () => require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/static/uPlot.min.css': { path: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/** A registry reader for any DynamoDB table: newest items first by `updatedAt`, or else the first attribute that looks like a time. */
export function dynamoRegistrySource(client: DynamoDBClient, tableName: string): RegistrySource {
  return {
    tableName,
    async history(limit) {
      const items: Record<string, unknown>[] = [];
      let startKey: Record<string, never> | undefined;
      do {
        const page = await client.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey, Limit: 500 }));
        items.push(...(page.Items ?? []).map((item) => unmarshall(item)));
        startKey = page.LastEvaluatedKey as Record<string, never> | undefined;
      } while (startKey && items.length < 5000);
      const timeKey = (item: Record<string, unknown>) =>
        typeof item.updatedAt === 'string' ? 'updatedAt' : Object.keys(item).find((k) => /(At|Time|time|timestamp|Timestamp|date|Date)$/.test(k) && typeof item[k] === 'string');
      const when = (item: Record<string, unknown>) => {
        const key = timeKey(item);
        return key ? String(item[key]) : '';
      };
      return items.sort((a, b) => when(b).localeCompare(when(a))).slice(0, limit);
    },
  };
}

/**
 * The model registry table, if the stack has one: the table an output named like `...Registry...Table...`
 * names (the promotion pipeline's convention). Undefined when there is none yet.
 */
export function registryTableName(outputs: Readonly<Record<string, string>>): string | undefined {
  return Object.entries(outputs).find(([name]) => /registry/i.test(name) && /table/i.test(name))?.[1];
}

/**
 * The dashboard: GET /dashboard (a plain page), /dashboard/api/overview, /dashboard/api/metrics,
 * /dashboard/api/experiments and /dashboard/api/monitoring (JSON),
 * /dashboard/static/* (its script, style and the chart library from node_modules). Pass as the API
 * server's `extraRoutes`; anything else falls through to the API.
 */
export function dashboardRoutes(sources: DashboardSources): (request: IncomingMessage, response: ServerResponse) => Promise<boolean> {
  return async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://local');
    if (url.pathname !== '/dashboard' && !url.pathname.startsWith('/dashboard/')) return false;
    if (request.method !== 'GET' && request.method !== 'HEAD') return json(response, 405, { message: 'the dashboard is read-only' });
    try {
      if (url.pathname === '/dashboard' || url.pathname === '/dashboard/') {
        return send(response, 200, 'text/html; charset=utf-8', await readFile(join(STATIC_DIR, 'index.html')));
      }
      const file = STATIC_FILES[url.pathname];
      if (file) return send(response, 200, file.type, await readFile(file.path()));
      if (url.pathname === '/dashboard/api/overview') return json(response, 200, await overview(sources));
      if (url.pathname === '/dashboard/api/experiments') return json(response, 200, sources.experiments ? await sources.experiments.list() : { experiments: [] });
      if (url.pathname === '/dashboard/api/monitoring') {
        const minutes = Math.min(24 * 60, Math.max(15, Number(url.searchParams.get('minutes') ?? 360) || 360));
        return json(response, 200, { minutes, versions: sources.monitoring ? await sources.monitoring.all(minutes) : [] });
      }
      if (url.pathname === '/dashboard/api/metrics') {
        const minutes = Math.min(24 * 60, Math.max(5, Number(url.searchParams.get('minutes') ?? 60) || 60));
        return json(response, 200, metricsView(sources, minutes));
      }
      return json(response, 404, { message: `no dashboard page ${url.pathname}` });
    } catch (error) {
      return json(response, 500, { message: (error as Error).message });
    }
  };
}

export interface ModelView {
  readonly functionName: string;
  readonly model: string;
  readonly routes: readonly string[];
  readonly aliases: readonly {
    name: string;
    /** Every version the alias routes to, with its share of invocations. */
    routing: { lambdaVersion: string; bundle: string; weight: number }[];
  }[];
  readonly versions: readonly { lambdaVersion: string; bundle: string; publishedAt: string; description: string }[];
}

/** The model bundle a Lambda version serves: the last segment of its MODEL_PREFIX (models/<name>/<version>/). */
function bundleOf(environment: Record<string, string>): string {
  const segments = (environment.MODEL_PREFIX ?? '').split('/').filter(Boolean);
  return segments[segments.length - 1] ?? environment.MODEL_VERSION ?? '?';
}

export function modelsView(sources: Pick<DashboardSources, 'lambda' | 'routes'>): ModelView[] {
  return sources.lambda
    .listFunctions()
    .filter((definition) => definition.environment.MODEL_NAME !== undefined)
    .map((definition) => {
      const fn = sources.lambda.getFunction(definition.name);
      const bundleByVersion = new Map(fn.versions.map((v) => [v.version, bundleOf(v.environment)]));
      bundleByVersion.set('$LATEST', bundleOf(fn.environment));
      return {
        functionName: definition.name,
        model: definition.environment.MODEL_NAME as string,
        routes: sources
          .routes()
          .filter((r) => r.functionName === definition.name)
          .map((r) => `${r.method} ${r.resourcePath}${r.qualifier ? ` -> ${r.qualifier}` : ''}`),
        aliases: fn.aliases.map((alias) => {
          const additional = Object.entries(alias.additionalVersionWeights);
          const primaryWeight = 1 - additional.reduce((sum, [, w]) => sum + w, 0);
          return {
            name: alias.name,
            routing: [[alias.functionVersion, primaryWeight] as const, ...additional].map(([lambdaVersion, weight]) => ({
              lambdaVersion,
              bundle: bundleByVersion.get(lambdaVersion) ?? '?',
              weight,
            })),
          };
        }),
        versions: fn.versions.map((v) => ({ lambdaVersion: v.version, bundle: bundleOf(v.environment), publishedAt: v.publishedAt, description: v.description })),
      };
    });
}

async function overview(sources: DashboardSources) {
  let registry: { tableName: string; items: Record<string, unknown>[]; error?: string } | null = null;
  if (sources.registry) {
    try {
      registry = { tableName: sources.registry.tableName, items: await sources.registry.history(50) };
    } catch (error) {
      registry = { tableName: sources.registry.tableName, items: [], error: (error as Error).message };
    }
  }
  return {
    generatedAt: new Date().toISOString(),
    stackName: sources.stackName,
    apiUrl: sources.apiUrl(),
    models: modelsView(sources),
    alarms: sources.alarms.describeAlarms().MetricAlarms.map((a) => ({
      AlarmName: a.AlarmName,
      StateValue: a.StateValue,
      StateReason: a.StateReason,
      StateUpdatedTimestamp: a.StateUpdatedTimestamp,
      Metric: a.MetricName ?? (a.Metrics ? 'metric math' : ''),
      Dimensions: a.Dimensions,
    })),
    notifications: sources.sns
      .recentNotifications(20)
      .map((n) => ({ topicName: n.topicName, Subject: n.Subject, Message: n.Message, Timestamp: n.Timestamp, deliveries: n.deliveries })),
    registry,
  };
}

type Series = [number, number][];

/**
 * Per model and version: traffic, latency percentiles and errors per minute over the last `minutes` (minutes
 * of the runtime's time scale; `period` is a minute in wall-clock seconds, the charts' step).
 */
export function metricsView(sources: Pick<DashboardSources, 'metrics' | 'namespace'>, minutes: number, now = Date.now()) {
  const { namespace } = sources;
  const period = 60;
  const minute = sources.metrics.minuteMs;
  const end = Math.floor(now / minute) * minute + minute; // the current minute included: the page is live
  const start = end - minutes * minute;
  const points = (identity: MetricIdentity, statistic: 'Sum' | 'p50' | 'p99'): Series =>
    sources.metrics.query({ ...identity, statistic, period, start, end }).map((p) => [p.timestamp / 1000, p.value]);
  const models: Record<
    string,
    { versions: Record<string, { predictions: Series; p50: Series; p99: Series }>; errors: Record<string, Record<string, number>>; errorSeries: Record<string, Series> }
  > = {};
  for (const identity of sources.metrics.listMetrics({ namespace, metricName: 'Predictions' })) {
    const { model, version } = identity.dimensions;
    if (model === undefined || version === undefined) continue;
    const entry = (models[model] ??= { versions: {}, errors: {}, errorSeries: {} });
    const latency = { ...identity, metricName: 'Latency' };
    entry.versions[version] = { predictions: points(identity, 'Sum'), p50: points(latency, 'p50'), p99: points(latency, 'p99') };
  }
  // Server errors by kind, and the client's (4xx) beside them, marked: only the first count toward the error rate.
  const errorMetrics = [
    ['Errors', ''],
    ['ClientErrors', ' (client)'],
  ] as const;
  for (const [metricName, mark] of errorMetrics) {
    for (const identity of sources.metrics.listMetrics({ namespace, metricName })) {
      const { model, version, errorKind } = identity.dimensions;
      if (model === undefined || version === undefined || errorKind === undefined) continue;
      const entry = (models[model] ??= { versions: {}, errors: {}, errorSeries: {} });
      const series = points(identity, 'Sum');
      const total = series.reduce((sum, [, v]) => sum + v, 0);
      if (total === 0) continue;
      (entry.errors[version] ??= {})[`${errorKind}${mark}`] = total;
      entry.errorSeries[`${version} ${errorKind}${mark}`] = series;
    }
  }
  return { namespace, period: minute / 1000, start: start / 1000, end: end / 1000, models };
}

function send(response: ServerResponse, status: number, type: string, body: Buffer | string): true {
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  response.end(body);
  return true;
}

function json(response: ServerResponse, status: number, body: unknown): true {
  return send(response, status, 'application/json', JSON.stringify(body));
}
