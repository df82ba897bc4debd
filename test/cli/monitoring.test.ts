// `modelgate drift <model>` and `modelgate errors <model>` against dynalite and s3rver named on the command
// line (the form that needs no running runtime): windows built by the aggregator's code, labelled
// predictions in the log, and answers equal to the core computed directly.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toAttributeMap } from '../../lambdas/adapters/attribute-values';
import { MonitoringStore } from '../../lambdas/adapters/monitoring-store';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { parseManifestJson } from '../../lambdas/core/manifest';
import { errorAnalysis } from '../../lambdas/core/monitoring/error-analysis';
import { versionReport } from '../../lambdas/core/monitoring/report';
import { emptyWindow, foldChanges, windowStartOf, type LoggedRecord } from '../../lambdas/core/monitoring/window';
import { createTableInput, ensureTable } from '../../local/dynamodb-tables';
import { monitoringTableProperties } from '../../local/template-tables';
import { runCli } from '../support/cli';
import { BUCKET, startLocalAws, TABLE, type LocalAws } from '../support/local-aws';

const root = fileURLToPath(new URL('../..', import.meta.url));
const manifestPath = join(root, 'examples/churn/v1/manifest.json');
const manifest = parseManifestJson(readFileSync(manifestPath, 'utf8'));
const holdout = csvInstances(manifest, parseCsv(readFileSync(join(root, 'examples/churn/v1/holdout.csv'), 'utf8')));
const MONITORING = 'monitoring';

let aws: LocalAws;
let records: LoggedRecord[];
const emptyState = mkdtempSync(join(tmpdir(), 'modelgate-cli-monitoring-'));

beforeAll(async () => {
  aws = await startLocalAws();
  await ensureTable(aws.dynamodb, createTableInput(MONITORING, monitoringTableProperties()));
  await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'models/churn/1/manifest.json', Body: readFileSync(manifestPath) }));
  const timestamp = new Date(Date.now() - 10 * 60_000).toISOString();
  records = holdout.slice(0, 300).map((inputs, i) => {
    const p = (i % 10) / 10;
    const predictionId = `p-${String(i).padStart(4, '0')}`;
    return {
      predictionId,
      model: 'churn',
      version: '1',
      variant: '1',
      timestamp,
      modelVersionShard: `churn#1#${i % 4}`,
      ts: `${timestamp}#${predictionId}`,
      inputs: inputs as LoggedRecord['inputs'],
      outputs: { label: p >= 0.5 ? 'Yes' : 'No', probabilities: { No: 1 - p, Yes: p } },
      latencyMs: 1,
      batchRows: 1,
      expiresAt: Math.floor(Date.now() / 1000) + 86_400,
      // Every third labelled; month-to-month contracts labelled the opposite of the prediction.
      ...(i % 3 === 0 ? { actual: inputs.Contract === 'Month-to-month' ? (p >= 0.5 ? 'No' : 'Yes') : p >= 0.5 ? 'Yes' : 'No' } : {}),
    };
  });
  for (const record of records) await aws.dynamodb.send(new PutItemCommand({ TableName: TABLE, Item: toAttributeMap(record) }));
  const window = emptyWindow(manifest, windowStartOf(timestamp));
  foldChanges(
    window,
    records.map((image, i) => ({ eventName: 'INSERT', shardId: 's', sequenceNumber: String(i + 1), image })),
    manifest,
  );
  const store = new MonitoringStore(aws.dynamodb, MONITORING);
  await store.putWindow(window, undefined, Math.floor(Date.now() / 1000) + 86_400);
  await store.touchVersion('churn', '1', new Date().toISOString());
});
afterAll(async () => {
  await aws?.close();
  rmSync(emptyState, { recursive: true, force: true });
});

const servers = () => ['--dynamodb-endpoint', aws.dynamoService.endpoint, '--table', MONITORING];

describe('modelgate drift <model>', () => {
  it('prints the report the monitor computes, from the monitoring table', async () => {
    const run = await runCli(['drift', 'churn', '--since', '1h', '--json', ...servers(), '--s3-endpoint', aws.s3Service.endpoint, '--bucket', BUCKET], { cwd: root });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const output = JSON.parse(run.stdout) as {
      model: string;
      versions: { version: string; predictions: number; features: Record<string, { statistic: number; drifted: boolean }>; driftShare: number }[];
    };
    expect(output.model).toBe('churn');
    expect(output.versions).toHaveLength(1);
    const [version] = output.versions;
    expect(version?.predictions).toBe(300);
    const store = new MonitoringStore(aws.dynamodb, MONITORING);
    const windows = await store.queryWindows('churn', '1', '2000-01-01T00:00:00.000Z', new Date().toISOString());
    const expected = versionReport(manifest, windows, { from: '', to: '' }, { minPredictions: 1 });
    expect(version?.driftShare).toBeCloseTo(expected.drift!.driftShare, 12);
    expect(version?.features.Contract?.statistic).toBeCloseTo(expected.drift!.features.Contract!.statistic!, 12);
  });

  it('prints a table, and names the version', async () => {
    const run = await runCli(['drift', 'churn', ...servers(), '--manifest', manifestPath], { cwd: root });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('churn v1: 300 predictions in 1 windows');
    expect(run.stdout).toMatch(/^Contract\s+categorical\s+jensenshannon\s+300\s.*\s(YES|no)\b/m);
    // Wasserstein against the 5 634-value baseline needs 504 values (docs/drift.md, "Minimum samples").
    expect(run.stdout).toMatch(/^tenure\s+numeric\s+wasserstein\s+300\s.*\snot enough data\s+needs 504 values/m);
    const store = new MonitoringStore(aws.dynamodb, MONITORING);
    const windows = await store.queryWindows('churn', '1', '2000-01-01T00:00:00.000Z', new Date().toISOString());
    const expected = versionReport(manifest, windows, { from: '', to: '' }, { minPredictions: 1 }).drift!;
    const features = Object.keys(expected.features).length;
    expect(run.stdout).toContain(`${expected.assessed} assessed columns (${features - expected.assessed} with not enough data) drifted`);
  });

  it('--html writes the report of the same windows: per feature its verdict and chart, the prediction first', async () => {
    const report = join(emptyState, 'drift.html');
    const run = await runCli(['drift', 'churn', ...servers(), '--manifest', manifestPath, '--html', report], { cwd: root });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`report written to ${report}`);
    const html = readFileSync(report, 'utf8');
    const store = new MonitoringStore(aws.dynamodb, MONITORING);
    const windows = await store.queryWindows('churn', '1', '2000-01-01T00:00:00.000Z', new Date().toISOString());
    const expected = versionReport(manifest, windows, { from: '', to: '' }, { minPredictions: 1 }).drift!;
    expect(html).toContain('<section data-section="churn v1">');
    expect(html).toMatch(/<dt>reference<\/dt><dd>training baseline of the manifest, 5634 rows<\/dd><dt>current<\/dt><dd>300 predictions in 1 aggregation windows, /);
    const rows = [...html.matchAll(/<tr data-feature="([^"]+)" data-status="([^"]+)">/g)].map(([, name, status]) => [name, status]);
    expect(rows[0]).toEqual(['prediction', expected.prediction!.status]);
    expect(Object.fromEntries(rows.slice(1))).toEqual(Object.fromEntries(Object.entries(expected.features).map(([name, feature]) => [name, feature.status])));
    expect(html.indexOf('class="summary"')).toBeLessThan(html.indexOf('<table'));
  });

  it('exits 2 on bad usage: a bad period, both forms at once, no runtime and no servers', async () => {
    expect((await runCli(['drift', 'churn', '--since', 'soon', ...servers(), '--manifest', manifestPath], { cwd: root })).code).toBe(2);
    expect((await runCli(['drift', 'churn', '--reference', 'a.csv', '--current', 'b.csv'], { cwd: root })).code).toBe(2);
    const none = await runCli(['drift', 'churn', '--state-dir', emptyState], { cwd: root });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no local runtime is running');
  });
});

describe('modelgate errors <model>', () => {
  it('lists the wrong predictions and the error rate by slice, equal to the analysis on the logged rows', async () => {
    const run = await runCli(['errors', 'churn', '--since', '1h', '--slice', 'Contract', '--json', ...servers(), '--prediction-table', TABLE, '--manifest', manifestPath], {
      cwd: root,
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const output = JSON.parse(run.stdout) as {
      versions: { version: string; labelled: number; wrong: number; slices: { slice: string; errorRate: number; count: number }[]; wrongPredictions: unknown[] }[];
    };
    const expected = errorAnalysis(manifest, records, 'Contract');
    const [version] = output.versions;
    expect(version?.labelled).toBe(100);
    expect(version?.wrong).toBe(expected.wrong);
    expect(version?.slices.find((s) => s.slice === 'Month-to-month')?.errorRate).toBe(1);
    expect(version?.slices.find((s) => s.slice === 'Two year')?.errorRate).toBe(0);
    expect(version?.wrongPredictions).toHaveLength(expected.wrong);
  });

  it('prints a readable report, and refuses a slice the model does not have', async () => {
    const run = await runCli(['errors', 'churn', '--slice', 'tenure', ...servers(), '--prediction-table', TABLE, '--manifest', manifestPath, '--limit', '3'], { cwd: root });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/churn v1, .*: 100 labelled predictions, \d+ wrong \(error rate/);
    expect(run.stdout).toContain('95% interval');
    expect(run.stdout).toMatch(/\[0, 2\)/);
    const bad = await runCli(['errors', 'churn', '--slice', 'shoeSize', ...servers(), '--prediction-table', TABLE, '--manifest', manifestPath], { cwd: root });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('has no feature "shoeSize"');
  });
});
