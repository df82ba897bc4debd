// The local runtime end to end, as a client drives it: predict over HTTP, a weighted alias splitting traffic
// between two model versions, the prediction log in DynamoDB, EMF metrics in the metric store, the dashboard
// in headless Chromium, and a restart on the same state folder.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchGetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDynamoClient, localS3Client } from '../../local/aws-clients';
import type { AliasState } from '../../local/lambda-service';
import { startRuntime, type Runtime } from '../../local/runtime';
import { chromiumLaunchOptions, ensureChromium } from '../support/chromium';
import { runCli } from '../support/cli';
import { mulberry32 } from '../../lambdas/core/random';
import { checkExposition } from '../support/exposition-checks';
import { parseExposition, type ParsedFamily } from '../support/exposition-parser';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { parseManifestJson } from '../../lambdas/core/manifest';
import type { BatchJobInput } from '../../lambdas/contracts/batch-job';
import type { BatchSummary } from '../../lambdas/core/batch/summary';
import { CHURN_INSTANCE } from '../support/churn-row';

const V2_WEIGHT = 0.3;
const SPLIT_REQUESTS = 600;

interface PredictResponse {
  model: { name: string; version: string };
  predictions: { predictionId: string; label: string }[];
}

const stateDir = mkdtempSync(join(tmpdir(), 'modelgate-e2e-'));
let runtime: Runtime;
let chromiumPath: string;
const answered: PredictResponse[] = [];
let routing: AliasState;

async function predict(apiUrl: string): Promise<PredictResponse> {
  const response = await fetch(`${apiUrl}/v1/models/churn/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': runtime.apiKeys.predict },
    body: JSON.stringify({ instances: [CHURN_INSTANCE] }),
  });
  const text = await response.text();
  expect(response.status, text).toBe(200);
  const body = JSON.parse(text) as PredictResponse;
  answered.push(body);
  return body;
}

function churnFunction(rt: Runtime): string {
  const found = rt.lambda.listFunctions().find((f) => f.environment.MODEL_NAME === 'churn');
  if (!found) throw new Error('no churn function in the template');
  return found.name;
}

/** Polls until `check` passes (metric lines arrive asynchronously from the worker's stdout). */
async function eventually(check: () => void | Promise<void>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

beforeAll(async () => {
  chromiumPath = ensureChromium(); // installs Debian's chromium on a fresh root machine: see docs/local-runtime.md
  runtime = await startRuntime({ clean: true, stateDir, port: 0, echoLogs: false, random: mulberry32(20261126) });
}, 12 * 60_000);

afterAll(async () => {
  await runtime?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('local runtime, end to end', () => {
  it('answers a prediction over HTTP from the bootstrap version', async () => {
    const body = await predict(runtime.apiUrl);
    expect(body.model).toEqual({ name: 'churn', version: '1' });
    expect(body.predictions).toHaveLength(1);
    expect(['Yes', 'No']).toContain(body.predictions[0]?.label);
  });

  it(`splits traffic between two versions within sampling error of the alias weights (${V2_WEIGHT} to v2)`, async () => {
    const fn = churnFunction(runtime);
    const s3 = localS3Client(runtime.s3Endpoint);
    const bucket = runtime.outputs.ModelBucketName as string;
    for (const file of readdirSync('examples/churn/v2')) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `models/churn/2/${file}`, Body: readFileSync(join('examples/churn/v2', file)) }));
    }
    // By hand, as an operator would without the pipeline: the plain bundle files, no packed copy.
    const { MODEL_PACKED_FILE: _packed, ...environment } = runtime.lambda.getFunction(fn).environment;
    runtime.lambda.updateFunctionConfiguration(fn, { ...environment, MODEL_PREFIX: 'models/churn/2/', MODEL_VERSION: '2' });
    const published = runtime.lambda.publishVersion(fn, 'churn model 2');
    // The Lambda version serving model 1 is whatever the bootstrap (or the pipeline) made it.
    routing = { name: 'live', functionVersion: runtime.lambda.getAlias(fn, 'live').functionVersion, additionalVersionWeights: { [published.version]: V2_WEIGHT } };
    runtime.lambda.putAlias(fn, routing);

    const versions: string[] = [];
    const concurrency = 16;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, worker) => {
        for (let i = worker; i < SPLIT_REQUESTS; i += concurrency) versions.push((await predict(runtime.apiUrl)).model.version);
      }),
    );
    expect(new Set(versions)).toEqual(new Set(['1', '2']));
    const share = versions.filter((v) => v === '2').length / SPLIT_REQUESTS;
    const standardError = Math.sqrt((V2_WEIGHT * (1 - V2_WEIGHT)) / SPLIT_REQUESTS);
    expect(Math.abs(share - V2_WEIGHT)).toBeLessThan(4 * standardError);
  });

  it('logged every answered prediction in DynamoDB (none in the fallback file)', async () => {
    const dynamodb = localDynamoClient(runtime.dynamoDbEndpoint);
    const table = runtime.outputs.PredictionTableName as string;
    const ids = answered.flatMap((a) => a.predictions.map((p) => p.predictionId));
    const found = new Map<string, string>();
    for (let i = 0; i < ids.length; i += 100) {
      let keys = ids.slice(i, i + 100).map((id) => ({ predictionId: { S: id } }));
      while (keys.length > 0) {
        const page = await dynamodb.send(
          new BatchGetItemCommand({
            RequestItems: { [table]: { Keys: keys, ProjectionExpression: 'predictionId, #version', ExpressionAttributeNames: { '#version': 'version' } } },
          }),
        );
        for (const item of page.Responses?.[table] ?? []) found.set(item.predictionId?.S as string, item.version?.S as string);
        keys = (page.UnprocessedKeys?.[table]?.Keys ?? []) as typeof keys;
      }
    }
    expect(found.size).toBe(ids.length);
    const versionOf = new Map(answered.flatMap((a) => a.predictions.map((p) => [p.predictionId, a.model.version])));
    expect([...found].filter(([id, version]) => versionOf.get(id) !== version)).toEqual([]);
    expect(existsSync(join(stateDir, 'prediction-log-fallback.jsonl'))).toBe(false);
  });

  it('has the EMF metrics of those requests in the metric store, per model version', async () => {
    const count = (version: string) => answered.filter((a) => a.model.version === version).length;
    const sum = (metricName: string, version: string, statistic: 'Sum' | 'p99' = 'Sum') =>
      runtime.metrics
        .query({
          namespace: 'modelgate-dev',
          metricName,
          dimensions: { service: 'inference', model: 'churn', version },
          statistic,
          period: 60,
          start: Date.now() - 10 * 60_000,
          end: Date.now() + 60_000,
        })
        .reduce((total, p) => total + p.value, 0);
    await eventually(() => {
      expect(sum('Predictions', '1')).toBe(count('1'));
      expect(sum('Predictions', '2')).toBe(count('2'));
    });
    expect(sum('Latency', '2', 'p99')).toBeGreaterThan(0);
    expect(sum('Predictions', '2') + sum('Predictions', '1')).toBe(SPLIT_REQUESTS + 1);
    // Exact dimension sets: the set without `service` is another metric, with no data.
    expect(
      runtime.metrics.query({
        namespace: 'modelgate-dev',
        metricName: 'Predictions',
        dimensions: { model: 'churn', version: '1' },
        statistic: 'Sum',
        period: 60,
        start: 0,
        end: Date.now() + 60_000,
      }),
    ).toEqual([]);
    expect(readFileSync(join(stateDir, 'logs', `${churnFunction(runtime)}.log`), 'utf8')).toContain('"model ready"');
  });

  it('serves /metrics to a Prometheus scrape: the traffic sent, per model version, in the text format and in OpenMetrics', async () => {
    const count = (version: string) => answered.filter((a) => a.model.version === version).length;
    const scrape = async (accept?: string) => {
      const response = await fetch(`${runtime.apiUrl}/metrics`, accept ? { headers: { accept } } : {});
      expect(response.status).toBe(200);
      return { type: response.headers.get('content-type'), body: await response.text() };
    };
    const sample = (families: ParsedFamily[], name: string, labels: Record<string, string>) =>
      families.flatMap((f) => f.samples).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    await eventually(async () => {
      const families = parseExposition((await scrape()).body, 'text');
      for (const version of ['1', '2']) expect(sample(families, 'modelgate_model_latency_seconds_count', { model: 'churn', version })[0]?.value).toBe(count(version));
    });
    const text = await scrape();
    // What Prometheus sends when it scrapes (OpenMetrics first).
    const openMetrics = await scrape('application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1');
    expect(text.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(openMetrics.type).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    for (const [format, { body }] of [
      ['text', text],
      ['openmetrics', openMetrics],
    ] as const) {
      const families = parseExposition(body, format);
      checkExposition(families, format);
      for (const version of ['1', '2']) {
        const labels = { model: 'churn', version };
        expect(sample(families, 'modelgate_predictions_total', labels)[0]?.value, `v${version} predictions`).toBe(count(version));
        expect(sample(families, 'modelgate_requests_total', labels)[0]?.value, `v${version} requests`).toBe(count(version));
        expect(sample(families, 'modelgate_model_latency_seconds_count', labels)[0]?.value).toBe(count(version));
        const durations = sample(families, 'modelgate_request_duration_seconds_count', { ...labels, code: '200' });
        expect(durations.map((d) => [d.labels.route, d.value])).toEqual([['POST /v1/models/churn/predict', count(version)]]);
      }
      expect(sample(families, 'modelgate_errors_total', {})).toEqual([]);
      const weights = sample(families, 'modelgate_routing_weight', { model: 'churn', alias: 'live' });
      expect(Object.fromEntries(weights.map((w) => [w.labels.version, w.value]))).toEqual({ '1': 1 - V2_WEIGHT, '2': V2_WEIGHT });
      const alarms = runtime.alarms.describeAlarms().MetricAlarms;
      for (const alarm of alarms) {
        const states = sample(families, 'modelgate_alarm_state', { alarm: alarm.AlarmName });
        expect(states.filter((s) => s.value === 1).map((s) => s.labels.state)).toEqual([alarm.StateValue]);
      }
    }
    expect((await fetch(`${runtime.apiUrl}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('serves a dashboard showing the live model, its versions and weights, and charts (headless Chromium)', async () => {
    const { userDataDir, ...launch } = chromiumLaunchOptions(chromiumPath);
    const browser = await chromium.launchPersistentContext(userDataDir, { ...launch, headless: true, viewport: { width: 1280, height: 1100 } });
    try {
      const page = await browser.newPage();
      const failed: string[] = [];
      page.on('requestfailed', (request) => failed.push(request.url()));
      page.on('pageerror', (error) => failed.push(error.message));
      await page.goto(`${runtime.apiUrl}/dashboard`);
      await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });
      const model = page.locator('#models [data-model="churn"]');
      await expect(model.textContent()).resolves.toMatch(/version \d+ \(model 1\) 70\.0%.*version \d+ \(model 2\) 30\.0%/);
      await expect(page.locator('#models table').textContent()).resolves.toContain('churn model 2');
      await page.waitForSelector('[data-chart="churn-traffic"] canvas');
      await page.waitForSelector('[data-chart="churn-latency"] canvas');
      expect(await page.locator('[data-chart="churn-traffic"] .u-legend').textContent()).toMatch(/model 1.*model 2/);
      const alarmNames = runtime.alarms.describeAlarms().MetricAlarms.map((a) => a.AlarmName);
      await expect(page.locator('#alarms').textContent()).resolves.toContain(alarmNames[0] ?? 'No CloudWatch alarms');
      expect(failed).toEqual([]);
      const screenshot = join(tmpdir(), 'modelgate-dashboard.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      console.log(`dashboard screenshot: ${screenshot}`);
      expect(existsSync(screenshot)).toBe(true);
    } finally {
      await browser.close();
      rmSync(userDataDir, { recursive: true, force: true });
    }
  });

  describe('batch inference (Distributed Map on the local S3)', () => {
    const CHURN = parseCsv(readFileSync(join(import.meta.dirname, '../../examples/churn/data/telco-customer-churn.csv'), 'utf8'));
    const manifest = parseManifestJson(readFileSync(join(import.meta.dirname, '../../examples/churn/v1/manifest.json'), 'utf8'));
    const header = CHURN.header;
    const tenure = header.indexOf('tenure');
    const contract = header.indexOf('Contract');
    const monthly = header.indexOf('MonthlyCharges');
    /** Row n (1-based) of the generated input: a churn row with a unique id, every 1000th broken in one of three ways. */
    const generated = (n: number): { cells: string[]; bad?: { field: string; reason: RegExp } } => {
      const cells = [...(CHURN.rows[(n - 1) % CHURN.rows.length] as string[])];
      cells[0] = `c${n}`;
      if (n % 1000 === 7) return { cells: Object.assign(cells, { [tenure]: 'abc' }), bad: { field: 'tenure', reason: /expected a number/ } };
      if (n % 1000 === 507) return { cells: Object.assign(cells, { [contract]: 'Weekly' }), bad: { field: 'Contract', reason: /unknown category "Weekly"/ } };
      if (n % 1000 === 907) return { cells: Object.assign(cells, { [monthly]: '' }), bad: { field: 'MonthlyCharges', reason: /is required/ } };
      return { cells };
    };
    const csvLine = (cells: readonly string[]) => cells.map((c) => (/[",\n]/.test(c) ? `"${c.replaceAll('"', '""')}"` : c)).join(',');

    async function runJob(key: string, body: string, job: Omit<BatchJobInput, 'input' | 'output' | 'model'>, prefix: string) {
      const s3 = localS3Client(runtime.s3Endpoint);
      const bucket = runtime.outputs.ModelBucketName as string;
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      const input: BatchJobInput = { model: 'churn', input: { bucket, key }, output: { bucket, prefix }, ...job };
      const started = runtime.pipeline.stepFunctions.start(runtime.outputs.BatchStateMachineArn as string, input);
      const done = await runtime.pipeline.stepFunctions.wait(started.executionArn);
      const read = async (k: string) => (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: k }))).Body?.transformToString() as Promise<string>;
      const keys = async (p: string) => {
        const found: string[] = [];
        let token: string | undefined;
        do {
          const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p, ContinuationToken: token }));
          found.push(...(page.Contents ?? []).map((c) => c.Key as string));
          token = page.NextContinuationToken;
        } while (token);
        return found.sort();
      };
      return { done, read, keys };
    }

    /** The real-time endpoint's probabilities for rows, from v1 (the alias also routes to v2: answers from v2 are asked again). */
    async function realTime(rows: readonly number[]): Promise<Map<number, Record<string, number>>> {
      const table = { header, rows: rows.map((n) => generated(n).cells) };
      const instances = csvInstances(manifest, table);
      const answers = new Map<number, Record<string, number>>();
      for (let attempt = 0; attempt < 20 && answers.size < rows.length; attempt++) {
        const pending = rows.map((n, i) => [n, instances[i]] as const).filter(([n]) => !answers.has(n));
        const response = await fetch(`${runtime.apiUrl}/v1/models/churn/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': runtime.apiKeys.predict },
          body: JSON.stringify({ instances: pending.map(([, instance]) => instance) }),
        });
        const body = (await response.json()) as { model: { version: string }; predictions: { probabilities: Record<string, number> }[] };
        if (body.model.version !== '1') continue;
        pending.forEach(([n], i) => {
          answers.set(n, body.predictions[i]?.probabilities as Record<string, number>);
        });
      }
      return answers;
    }

    it('scores a 100,000-row CSV: every good row once, with the real-time probabilities; bad rows rejected with their field and reason; counts add up', async () => {
      const ROWS = 100_000;
      const lines = [csvLine(header)];
      for (let n = 1; n <= ROWS; n++) lines.push(csvLine(generated(n).cells));
      const { done, read, keys } = await runJob(
        'batch/e2e/customers.csv',
        `${lines.join('\n')}\n`,
        { format: 'csv', version: '1', idColumn: 'customerID', maxConcurrency: 8 },
        'batch/e2e/csv/',
      );
      expect(done.status, `${done.error}: ${done.cause}`).toBe('SUCCEEDED');

      const scored = new Map<string, string[]>();
      let partHeader: string | undefined;
      for (const key of await keys('batch/e2e/csv/parts/')) {
        const [first, ...rest] = (await read(key)).trimEnd().split('\n');
        partHeader = first;
        for (const line of rest) {
          const cells = line.split(',');
          expect(scored.has(cells[0] as string), `${cells[0]} scored twice`).toBe(false);
          scored.set(cells[0] as string, cells);
        }
      }
      expect(partHeader).toBe('customerID,version,label,probability_No,probability_Yes');
      const bad = new Map<number, { field: string; reason: RegExp }>();
      for (let n = 1; n <= ROWS; n++) {
        const { bad: broken } = generated(n);
        if (broken) bad.set(n, broken);
        else expect(scored.has(`c${n}`), `row ${n} not scored`).toBe(true);
      }
      expect(scored.size).toBe(ROWS - bad.size);

      const rejected = (await Promise.all((await keys('batch/e2e/csv/rejected/')).map(read))).flatMap((text) => parseCsv(text).rows);
      expect(rejected).toHaveLength(bad.size);
      for (const [row, id, field, reason] of rejected) {
        const expected = bad.get(Number(row));
        expect(expected, `row ${row} rejected but valid`).toBeDefined();
        expect(id).toBe(`c${row}`);
        expect(field).toBe(expected?.field);
        expect(reason).toMatch(expected?.reason as RegExp);
      }

      const sample = Array.from({ length: 40 }, (_, i) => 1 + ((i * 2459 + 11) % ROWS)).filter((n) => !bad.has(n));
      const online = await realTime(sample);
      expect(online.size).toBe(sample.length);
      for (const n of sample) {
        const cells = scored.get(`c${n}`) as string[];
        expect(cells[1]).toBe('1');
        expect({ No: Number(cells[3]), Yes: Number(cells[4]) }).toEqual(online.get(n));
      }

      const summary = JSON.parse(await read('batch/e2e/csv/_SUCCESS.json')) as BatchSummary;
      expect(summary.rows).toEqual({ input: ROWS, scored: ROWS - bad.size, rejected: bad.size, unprocessed: 0 });
      expect(summary.version).toBe('1');
      expect(summary.parts).toBe((await keys('batch/e2e/csv/parts/')).length);
      expect(summary.input.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(Object.values(summary.predictions.labels).reduce((a, b) => a + b, 0)).toBe(ROWS - bad.size);
      expect(summary.drift?.features.tenure?.status).toBeDefined();
      expect(done.output).toEqual(summary);
      // The job's drift reaches the metric store from the job function's EMF, where the model's batch alarm (put by
      // the bootstrap version's rollout) looks: docs/batch.md, "Monitoring".
      expect(summary.drift?.status).not.toBe('not-enough-data');
      await eventually(() => {
        const [share] = runtime.metrics.query({
          namespace: 'modelgate-dev',
          metricName: 'BatchDriftShare',
          dimensions: { service: 'batch', model: 'churn' },
          statistic: 'Maximum',
          period: 60,
          start: Date.parse(summary.finishedAt) - 60_000,
          end: Date.now() + 60_000,
        });
        expect(share?.value).toBe(summary.drift?.driftShare);
      });
      const [alarm] = runtime.alarms.describeAlarms(['modelgate-dev/churn/batch/drift-share-critical']).MetricAlarms;
      expect(alarm?.Metrics?.[0]?.MetricStat?.Metric).toEqual({
        Namespace: 'modelgate-dev',
        MetricName: 'BatchDriftShare',
        Dimensions: [
          { Name: 'service', Value: 'batch' },
          { Name: 'model', Value: 'churn' },
        ],
      });
    }, 180_000);

    it('scores JSON Lines the same way, rows numbered when there is no id column, the input joined on request', async () => {
      const ROWS = 5_000;
      const instances = csvInstances(manifest, { header, rows: Array.from({ length: ROWS }, (_, i) => generated(i + 1).cells).filter((_, i) => !generated(i + 1).bad) });
      // Every 1000th record has a bad tenure; one line is not JSON at all (a rejected row, not a failed job).
      const text = instances.map((instance, i) => (i === 4000 ? '{"tenure": 3,' : JSON.stringify(i % 1000 === 42 ? { ...instance, tenure: 'long' } : instance))).join('\n');
      const { done, read, keys } = await runJob('batch/e2e/customers.jsonl', `${text}\n`, { format: 'jsonl', version: '1', joinInput: true }, 'batch/e2e/jsonl/');
      expect(done.status, `${done.error}: ${done.cause}`).toBe('SUCCEEDED');
      const lines = (await Promise.all((await keys('batch/e2e/jsonl/parts/')).map(read))).flatMap((t) =>
        t
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l)),
      );
      const badRows = instances
        .map((_, i) => i)
        .filter((i) => i % 1000 === 42)
        .map((i) => i + 1);
      expect(lines.map((l) => l.row)).toEqual(Array.from({ length: instances.length }, (_, i) => i + 1).filter((n) => !badRows.includes(n) && n !== 4001));
      expect(lines[0]).toEqual({ row: 1, version: '1', label: expect.any(String), probabilities: { No: expect.any(Number), Yes: expect.any(Number) }, input: instances[0] });
      const rejected = (await Promise.all((await keys('batch/e2e/jsonl/rejected/')).map(read))).flatMap((t) =>
        t
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l)),
      );
      expect(rejected).toEqual(
        [
          ...badRows.map((row) => ({ row, field: 'tenure', reason: 'expected an integer, got the string "long"' })),
          { row: 4001, field: '(row)', reason: expect.stringMatching(/^is not JSON/) },
        ].sort((a, b) => a.row - b.row),
      );
      const summary = JSON.parse(await read('batch/e2e/jsonl/_SUCCESS.json')) as BatchSummary;
      expect(summary.rows).toEqual({ input: instances.length, scored: instances.length - badRows.length - 1, rejected: badRows.length + 1, unprocessed: 0 });
    }, 120_000);

    it('runs from the CLI on local files: the input uploaded, the results (joined to the input) written into the output folder; an unknown model exits 2', async () => {
      const folder = mkdtempSync(join(tmpdir(), 'modelgate-batch-cli-'));
      const input = join(folder, 'customers.csv');
      writeFileSync(input, `${[csvLine(header), ...Array.from({ length: 300 }, (_, i) => csvLine(generated(i + 1).cells))].join('\n')}\n`);
      const out = join(folder, 'out');
      const run = await runCli([
        'batch',
        'churn',
        '--input',
        input,
        '--output',
        out,
        '--version',
        '1',
        '--id-column',
        'customerID',
        '--join-input',
        '--state-dir',
        stateDir,
        '--json',
      ]);
      expect(run.code, run.stderr).toBe(0);
      const summary = JSON.parse(run.stdout) as BatchSummary;
      expect(summary.rows).toEqual({ input: 300, scored: 299, rejected: 1, unprocessed: 0 }); // row 7 is broken
      const [partHeader, firstRow] = readFileSync(join(out, 'parts', readdirSync(join(out, 'parts'))[0] as string), 'utf8').split('\n');
      expect(partHeader).toBe(`${csvLine(header)},version,label,probability_No,probability_Yes`);
      expect(firstRow).toMatch(new RegExp(`^${csvLine(generated(1).cells).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')},1,(No|Yes),0\\.\\d+,0\\.\\d+$`));
      expect(JSON.parse(readFileSync(join(out, '_SUCCESS.json'), 'utf8'))).toEqual(summary);
      expect(readdirSync(join(out, 'parts')).length).toBe(summary.parts);
      // Ground truth for every input row, from a file, joined to the output folder by id (docs/batch.md, "Monitoring").
      const churned = join(folder, 'churned.csv');
      const churn = header.indexOf('Churn');
      writeFileSync(churned, `${['customerID,Churn', ...Array.from({ length: 300 }, (_, i) => `c${i + 1},${generated(i + 1).cells[churn]}`)].join('\n')}\n`);
      const labelled = await runCli(['batch', 'labels', out, '--labels', churned, '--target', 'Churn', '--state-dir', stateDir, '--json']);
      expect(labelled.code, labelled.stderr).toBe(0);
      expect(JSON.parse(labelled.stdout)).toMatchObject({
        version: '1',
        predictions: 299,
        labelled: 299,
        labelsWithoutPrediction: { count: 1, rejectedRows: 1, examples: ['c7'] },
        quality: { labelled: 299, accuracy: expect.any(Number) },
      });
      expect(readdirSync(out).sort()).toEqual(['_SUCCESS.json', 'parts', 'rejected']); // not _job.json, _chunks.json, _progress/ nor _results/
      const unknown = await runCli(['batch', 'churm', '--input', input, '--output', out, '--state-dir', stateDir]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/churm/);
      expect(unknown.stderr).not.toMatch(/\n\s+at /);
      rmSync(folder, { recursive: true, force: true });
    }, 60_000);

    it('shows progress on stderr and only the result on stdout; exits 1 over --max-rejected with the output still written, and `batch status` judges the job the same way', async () => {
      const folder = mkdtempSync(join(tmpdir(), 'modelgate-batch-limit-'));
      const input = join(folder, 'customers.csv');
      writeFileSync(input, `${[csvLine(header), ...Array.from({ length: 1500 }, (_, i) => csvLine(generated(i + 1).cells))].join('\n')}\n`); // rows 7, 507, 907 and 1007 are broken
      const out = join(folder, 'out');
      const common = ['--input', input, '--output', out, '--version', '1', '--id-column', 'customerID', '--state-dir', stateDir];
      const bad = await runCli(['batch', 'churn', ...common, '--max-rejected', 'lots']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/--max-rejected must be a number of rows .* got "lots"/);

      const run = await runCli(['batch', 'churn', ...common, '--max-rejected', '3']);
      expect(run.code, run.stderr).toBe(1);
      const [result, ...more] = run.stdout.trimEnd().split('\n');
      expect(more).toEqual([]);
      expect(result).toMatch(/^churn-\S+: done — 1496 of 1500 rows scored by churn v1, 4 rejected, /);
      expect(run.stderr).toMatch(/^[\d.]+ (s|min)[^:]*: (preparing|[\d,]+ of 1,500 rows)/m);
      expect(run.stderr).not.toMatch(/part\(s\) written|\n\s+at /);
      expect(run.stderr).toContain(`too many rejected rows: 4 of 1,500 (0.27%), over --max-rejected 3 rows; each with its field and reason in ${join(out, 'rejected')}/`);
      const summary = JSON.parse(readFileSync(join(out, '_SUCCESS.json'), 'utf8')) as BatchSummary;
      expect(summary.rows).toEqual({ input: 1500, scored: 1496, rejected: 4, unprocessed: 0 });
      const rejected = readdirSync(join(out, 'rejected')).flatMap((name) => parseCsv(readFileSync(join(out, 'rejected', name), 'utf8')).rows);
      expect(rejected.map(([row]) => Number(row)).sort((a, b) => a - b)).toEqual([7, 507, 907, 1007]);

      const job = (result as string).split(':')[0] as string;
      const status = await runCli(['batch', 'status', job, '--state-dir', stateDir, '--max-rejected', '0.1%']);
      expect(status.code).toBe(1);
      expect(status.stderr).toMatch(
        /too many rejected rows: 4 of 1,500 \(0\.27%\), over --max-rejected 0\.1%; each with its field and reason in s3:\/\/\S+\/batch\/churn-\S+\/output\/rejected\//,
      );
      const byDefault = await runCli(['batch', 'status', job, '--state-dir', stateDir, '--json']);
      expect(byDefault.code, byDefault.stderr).toBe(0); // 0.27% is under the default 1%
      expect(JSON.parse(byDefault.stdout)).toEqual(summary);
      rmSync(folder, { recursive: true, force: true });
    }, 60_000);

    it('fails a job whose input lacks feature columns before scoring anything, naming every missing one', async () => {
      const dropped = ['tenure', 'Contract'].map((name) => header.indexOf(name));
      const keep = (cells: readonly string[]) => cells.filter((_, i) => !dropped.includes(i));
      const body = [csvLine(keep(header)), ...Array.from({ length: 50 }, (_, i) => csvLine(keep(generated(i + 1).cells)))].join('\n');
      const { done, keys } = await runJob('batch/e2e/missing.csv', body, { format: 'csv' }, 'batch/e2e/missing/');
      expect(done.status).toBe('FAILED');
      expect(done.error).toBe('BatchInputError');
      expect(done.cause).toMatch(/missing 2 columns "tenure", "Contract" that model churn v1 requires; nothing was scored/);
      expect(await keys('batch/e2e/missing/')).toEqual([]);
    });
  });

  it('refuses to start a second runtime on a busy port, before touching the state folder (even with clean)', async () => {
    const port = Number(new URL(runtime.apiUrl).port);
    await expect(startRuntime({ stateDir, clean: true, port, echoLogs: false })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(existsSync(join(stateDir, 'lambda.json'))).toBe(true);
    expect((await predict(runtime.apiUrl)).predictions).toHaveLength(1);
  });

  it('keeps versions, alias routing, logged predictions and metrics across a restart on the same state folder', async () => {
    const fn = churnFunction(runtime);
    const before = runtime.lambda.getFunction(fn);
    const predictionsBefore = runtime.metrics.listMetrics({ namespace: 'modelgate-dev', metricName: 'Predictions' }).length;
    await runtime.close();
    runtime = await startRuntime({ stateDir, port: 0, echoLogs: false });
    const after = runtime.lambda.getFunction(fn);
    expect(after.versions.map((v) => v.version)).toEqual(before.versions.map((v) => v.version));
    expect(runtime.lambda.getAlias(fn, 'live')).toEqual(routing);
    expect(runtime.metrics.listMetrics({ namespace: 'modelgate-dev', metricName: 'Predictions' })).toHaveLength(predictionsBefore);

    const dynamodb = localDynamoClient(runtime.dynamoDbEndpoint);
    const table = runtime.outputs.PredictionTableName as string;
    const first = answered[0]?.predictions[0]?.predictionId as string;
    const page = await dynamodb.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: [{ predictionId: { S: first } }] } } }));
    expect(page.Responses?.[table]).toHaveLength(1);

    // Still serving both versions after the restart.
    const seen = new Set<string>();
    for (let i = 0; i < 40 && seen.size < 2; i++) seen.add((await predict(runtime.apiUrl)).model.version);
    expect(seen).toEqual(new Set(['1', '2']));
  });
});
