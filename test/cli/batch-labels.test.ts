// `modelgate batch labels` as users run it: the built CLI in a subprocess, against dynalite and s3rver found through a
// state folder's endpoints file (as a running runtime's would be), on a job output whose parts hold the churn v1
// model's own predictions (onnxruntime) for its holdout — so the realized quality is the holdout's, which the
// manifest records as the validation baseline: a known answer.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../lambdas/adapters/onnx-runtime';
import { BATCH_OUTPUT, partName } from '../../lambdas/contracts/batch-job';
import { formatPredictions } from '../../lambdas/core/batch/output';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { parseManifestJson } from '../../lambdas/core/manifest';
import { validateRows } from '../../lambdas/core/request';
import { ENDPOINTS_FILE, type LocalEndpoints } from '../../local/state-files';
import { runCli, type CliResult } from '../support/cli';
import { BUCKET, startLocalAws, type LocalAws } from '../support/local-aws';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bundle = join(root, 'examples/churn/v1');
const manifest = parseManifestJson(readFileSync(join(bundle, 'manifest.json'), 'utf8'));
const holdout = parseCsv(readFileSync(join(bundle, 'holdout.csv'), 'utf8'));
const ids = holdout.rows.map((row) => row[0] as string);
const churn = holdout.rows.map((row) => row[holdout.header.indexOf('Churn')] as string);
const baselineAccuracy = (manifest.training as { holdoutMetrics: { accuracy: number } }).holdoutMetrics.accuracy;

let aws: LocalAws;
let directory: string;
let stateDir: string;
let output: string;
let labels: string;
/** What the first test printed for the output folder. */
let fromFolder: Record<string, unknown>;

beforeAll(async () => {
  aws = await startLocalAws();
  directory = mkdtempSync(join(tmpdir(), 'modelgate-batch-labels-'));
  await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'models/churn/1/manifest.json', Body: readFileSync(join(bundle, 'manifest.json')) }));
  stateDir = join(directory, 'state');
  mkdirSync(stateDir);
  const closed = 'http://127.0.0.1:9';
  const endpoints: LocalEndpoints = {
    apiUrl: closed,
    region: 'us-east-1',
    stackName: 'test',
    outputs: { ModelBucketName: BUCKET },
    dynamoDbEndpoint: aws.dynamoService.endpoint,
    s3Endpoint: aws.s3Service.endpoint,
    stepFunctionsEndpoint: closed,
    lambdaEndpoint: closed,
  };
  writeFileSync(join(stateDir, ENDPOINTS_FILE), JSON.stringify(endpoints));

  // The job's output: two parts of the model's predictions, as the scoring function writes them, and its summary.
  const model = await loadModel(manifest, new Uint8Array(readFileSync(join(bundle, manifest.model.file))));
  const predictions = await model.predict(validateRows(manifest, csvInstances(manifest, holdout)));
  await model.release();
  output = join(directory, 'out');
  mkdirSync(join(output, 'parts'), { recursive: true });
  const files: Record<string, string> = {};
  const half = Math.ceil(ids.length / 2);
  for (const first of [0, half]) {
    const rows = { predictions: predictions.slice(first, first + half), ids: ids.slice(first, first + half) };
    files[`${BATCH_OUTPUT.parts}${partName(first + 1, 'csv')}`] = formatPredictions(manifest, rows, 'csv', 'customerID');
  }
  files[BATCH_OUTPUT.summary] = JSON.stringify({ model: 'churn', version: '1', input: { bucket: BUCKET, key: 'batch/in.csv', format: 'csv', sha256: '' } });
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(output, name), text);
    await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `batch/nightly/${name}`, Body: text }));
  }
  // Ground truth for all but the last 9 customers, and one customer the job never saw.
  labels = join(directory, 'churned.csv');
  writeFileSync(labels, `${['customerID,Churn', ...ids.slice(0, -9).map((id, i) => `${id},${churn[i]}`), 'NOT-SCORED,Yes'].join('\n')}\n`);
}, 60_000);

afterAll(async () => {
  await aws?.close();
  if (directory) rmSync(directory, { recursive: true, force: true });
});

function cli(...args: string[]): Promise<CliResult> {
  return runCli(['batch', 'labels', ...args], { cwd: root, env: { MODELGATE_STATE_DIR: stateDir } });
}

function expectUsageError(run: CliResult, pattern: RegExp): void {
  expect(run.code, run.stderr).toBe(2);
  expect(run.stderr).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

describe('modelgate batch labels', () => {
  it("joins the labels to a job's output folder by id: counts, and the realized quality against the validation baseline", async () => {
    const run = await cli(output, '--labels', labels, '--target', 'Churn', '--json');
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    fromFolder = result;
    expect(result).toMatchObject({
      model: 'churn',
      version: '1',
      idColumn: 'customerID',
      predictions: ids.length,
      labels: ids.length - 8,
      labelled: ids.length - 9,
      predictionsWithoutLabel: 9,
      labelsWithoutPrediction: { count: 1, rejectedRows: 0, examples: ['NOT-SCORED'] },
      duplicateLabels: { same: 0, conflicting: 0 },
    });
    // The holdout minus 9 rows: within 9 rows of the holdout's accuracy, which the manifest records.
    expect(Math.abs(result.quality.accuracy - baselineAccuracy)).toBeLessThanOrEqual(9 / ids.length);
    expect(result.baseline.accuracy).toBe(baselineAccuracy);
    expect(result.degradation.accuracy).toBeCloseTo(baselineAccuracy - result.quality.accuracy, 12);

    const text = await cli(output, '--labels', labels, '--target', 'Churn');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`${ids.length - 9} of ${ids.length} predictions labelled; 9 without a label`);
    expect(text.stdout).toMatch(/1 of \d+ labels without a prediction \(0 of rejected rows; e\.g\. NOT-SCORED\)/);
    expect(text.stdout).toMatch(new RegExp(`accuracy +${result.quality.accuracy.toFixed(4)} +${baselineAccuracy.toFixed(4)}`));
  });

  it('reads the same output from its S3 prefix', async () => {
    const run = await cli(`s3://${BUCKET}/batch/nightly/`, '--labels', labels, '--target', 'Churn', '--json');
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ ...fromFolder, output: `s3://${BUCKET}/batch/nightly/` });
  });

  it("bad usage exits 2 naming the flag, the column, or both id columns (the labels' lines: test/core/batch-labels.test.ts)", async () => {
    expectUsageError(await cli(output, '--labels', labels), /--target is required/);
    expectUsageError(await cli(output, '--labels', labels, '--target', 'Churned'), /churned\.csv: no column "Churned" \(the --target column; columns: customerID, Churn\)/);
    const other = join(directory, 'other-ids.csv');
    writeFileSync(other, 'account,Churn\nA-1,Yes\n');
    expectUsageError(
      await cli(output, '--labels', other, '--target', 'Churn', '--id-column', 'account'),
      /no label of .*other-ids\.csv joins a row of .*: its ids \(column "account", e\.g\. "A-1"\) match none of the output's \(column "customerID", e\.g\. "3668-QPYBK"/,
    );
    expectUsageError(await cli(directory, '--labels', labels, '--target', 'Churn'), /no _SUCCESS\.json: not the output of a finished batch job/);
  });
});
