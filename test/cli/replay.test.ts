// `modelgate replay` as a user runs it (the built CLI in a subprocess): flags refused with exit 2 naming the flag
// before any target is reached; then against a stack on loopback — the registry and model bucket in dynalite and
// s3rver, the API keys in the local API Gateway's control plane, and a loopback server answering the predict and
// feedback routes — found through a state folder's endpoints file as a running runtime's would be. The engine's
// rate, open loop and lag are test/cli/replay-engine.test.ts's; a run against the local runtime is in docs/cli.md.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../lambdas/adapters/registry';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { parseManifestJson } from '../../lambdas/core/manifest';
import { LocalApiGateway } from '../../local/api-gateway';
import { LOCAL_CREDENTIALS } from '../../local/aws-clients';
import { startApiGatewayApi, type ApiGatewayApiServer } from '../../local/api-gateway-api';
import { createTableInput, ensureTable } from '../../local/dynamodb-tables';
import { ENDPOINTS_FILE, type LocalEndpoints } from '../../local/state-files';
import { registryTableProperties } from '../../local/template-tables';
import { parseCommandArgs } from '../../cli/args';
import { replayRequest, replaySpec } from '../../cli/specs/replay';
import { UsageError } from '../../cli/usage-error';
import { runCli, type CliResult } from '../support/cli';
import { BUCKET, startLocalAws, type LocalAws } from '../support/local-aws';
import { type StackOutputsServer, startStackOutputs } from '../support/stack-outputs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const holdout = join(root, 'examples/churn/v1/holdout.csv');
const [header, ...holdoutRows] = readFileSync(holdout, 'utf8').trim().split('\n') as [string, ...string[]];

/** The predict and feedback routes on loopback: each checks its own kind of key; a row with tenure 1 is answered 503. */
class ModelApi {
  readonly predicted: { apiKey: string | undefined; instances: Record<string, unknown>[] }[] = [];
  readonly labelled: { apiKey: string | undefined; feedback: { predictionId: string; actual: string }[] }[] = [];
  url = '';
  private server!: Server;
  private next = 0;

  constructor(private readonly keys: { predict: string; feedback: string }) {}

  async start(): Promise<void> {
    this.server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/dev/`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of request) text += chunk;
    const body = JSON.parse(text) as { instances?: Record<string, unknown>[]; feedback?: { predictionId: string; actual: string }[] };
    const apiKey = request.headers['x-api-key'] as string | undefined;
    const answer = (status: number, payload: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(payload));
    };
    if (request.url === '/dev/v1/feedback') {
      this.labelled.push({ apiKey, feedback: body.feedback ?? [] });
      if (apiKey !== this.keys.feedback) return answer(403, { error: 'ForbiddenError', message: 'not the feedback key' });
      return answer(200, { summary: { accepted: body.feedback?.length ?? 0, duplicate: 0, notFound: 0, invalid: 0, conflict: 0 } });
    }
    if (request.url !== '/dev/v1/models/churn/predict') return answer(404, { error: 'NotFoundError', message: request.url });
    this.predicted.push({ apiKey, instances: body.instances ?? [] });
    if (apiKey !== this.keys.predict) return answer(403, { error: 'ForbiddenError', message: 'not the predict key' });
    if (body.instances?.some((instance) => instance.tenure === 1)) return answer(503, { error: 'ServiceUnavailable', message: 'try again' });
    answer(200, { model: { name: 'churn', version: '2' }, predictions: (body.instances ?? []).map(() => ({ predictionId: `p${this.next++}`, label: 'No' })) });
  }
}

let aws: LocalAws;
let gatewayApi: ApiGatewayApiServer;
let api: ModelApi;
let directory: string;
let stateDir: string;
let keys: { predict: string; feedback: string };
let stack: StackOutputsServer;
const manifest = parseManifestJson(readFileSync(join(root, 'examples/churn/v1/manifest.json'), 'utf8'));

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'modelgate-replay-cli-'));
  aws = await startLocalAws();
  await ensureTable(aws.dynamodb, createTableInput('registry', registryTableProperties()));
  const registry = new Registry(aws.dynamodb, 'registry');
  for (const [model, version] of [
    ['churn', '1'],
    ['churn', '2'],
    ['retired', '1'],
  ] as const) {
    await registry.register(
      model,
      version,
      { bucket: BUCKET, candidatePrefix: `candidates/${model}/${version}/`, executionId: `e-${model}-${version}`, registeredAt: '' },
      new Date(),
    );
  }
  // churn: v2 answers 90% of the traffic, v1 10%; the rows are checked against v2's manifest.
  await registry.setRouting('churn', {
    primary: { version: '2', lambdaVersion: '2' },
    additional: { version: '1', lambdaVersion: '1', weight: 0.1 },
    updatedAt: new Date().toISOString(),
  });
  await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'models/churn/2/manifest.json', Body: JSON.stringify({ ...manifest, version: '2' }) }));

  const gateway = new LocalApiGateway({ stateFile: join(directory, 'apigateway.json'), region: 'us-east-1', accountId: '000000000000' });
  const predictKey = gateway.createApiKey({ name: 'predict', enabled: true, stageKeys: [] });
  const feedbackKey = gateway.createApiKey({ name: 'feedback', enabled: true, stageKeys: [] });
  gatewayApi = await startApiGatewayApi({ gateway, host: '127.0.0.1' });
  keys = { predict: predictKey.value, feedback: feedbackKey.value };
  api = new ModelApi(keys);
  await api.start();
  stateDir = join(directory, 'state');
  mkdirSync(stateDir);
  const outputs = { ApiUrl: api.url, ModelBucketName: BUCKET, RegistryTableName: 'registry', PredictApiKeyId: predictKey.id, FeedbackApiKeyId: feedbackKey.id };
  stack = await startStackOutputs('team-stack', outputs);
  const endpoints: LocalEndpoints = {
    apiUrl: api.url,
    dynamoDbEndpoint: aws.dynamoService.endpoint,
    s3Endpoint: aws.s3Service.endpoint,
    apiGatewayEndpoint: gatewayApi.endpoint,
    region: 'us-east-1',
    stackName: 'test',
    outputs,
  };
  writeFileSync(join(stateDir, ENDPOINTS_FILE), JSON.stringify(endpoints));
});

afterAll(async () => {
  await api?.close();
  await stack?.close();
  await gatewayApi?.close();
  await aws?.close();
  if (directory) rmSync(directory, { recursive: true, force: true });
});

function replay(...args: string[]): Promise<CliResult> {
  return runCli(['replay', ...args], { cwd: root, env: { MODELGATE_STATE_DIR: stateDir } });
}

function file(name: string, lines: readonly string[]): string {
  const path = join(directory, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

describe('modelgate replay: bad usage is refused naming the flag, before reaching the target', () => {
  const request = (...args: string[]) => replayRequest(parseCommandArgs('replay', replaySpec, args));
  it.each([
    [['churn', '--rate', '5'], '--input is required: the CSV or JSON Lines file of rows to send'],
    [['churn', '--input', 'rows.csv'], '--rate is required: rows per second'],
    [['churn', '--input', 'rows.csv', '--rate', 'fast'], '--rate must be a number of rows per second > 0, got: fast'],
    [['churn', '--input', 'rows.csv', '--rate', '0'], '--rate must be a number of rows per second > 0, got: 0'],
    [['churn', '--input', 'rows.csv', '--rate', '5', '--duration', '10'], '--duration must be a duration such as 30s, 10m, 1h or 7d, got: 10'],
    [['churn', '--input', 'rows.csv', '--rate', '5', '--label-delay', '5s'], "--label-delay needs --target, the column holding each row's label"],
    [['churn', '--input', 'rows.csv', '--rate', '5', '--target', 'Churn', '--label-delay', 'soon'], '--label-delay must be a duration such as 30s, 10m, 1h or 7d, got: soon'],
    [['churn', '--input', 'rows.txt', '--rate', '5'], '--input rows.txt: the format is read from the extension, .csv (with a header row) or .jsonl'],
    [['churn', 'fraud', '--input', 'rows.csv', '--rate', '5'], 'replay takes one model name, got: churn fraud'],
  ])('%j', (args, message) => {
    const refusal = (() => {
      try {
        request(...args);
      } catch (error) {
        return error;
      }
    })();
    expect(refusal).toBeInstanceOf(UsageError);
    expect((refusal as UsageError).message).toBe(message);
  });

  it('reads the format from the extension, rates and durations as given, labels at once unless delayed', () => {
    expect(request('churn', '--input', 'a.CSV', '--rate', '0.5')).toEqual({ model: 'churn', input: 'a.CSV', format: 'csv', rate: 0.5 });
    expect(request('churn', '--input', 'a.ndjson', '--rate', '20', '--duration', '2m', '--target', 'Churn')).toEqual({
      model: 'churn',
      input: 'a.ndjson',
      format: 'jsonl',
      rate: 20,
      durationMs: 120_000,
      labels: { column: 'Churn', delayMs: 0 },
    });
    expect(request('churn', '--input', 'a.jsonl', '--rate', '20', '--target', 'Churn', '--label-delay', '30s').labels).toEqual({ column: 'Churn', delayMs: 30_000 });
  });

  it('the built CLI: exit 2, one line on stderr, nothing on stdout, before looking for a runtime (there is none)', async () => {
    const run = await runCli(['replay', 'churn', '--input', 'missing.csv', '--rate', '5'], { cwd: root, env: { MODELGATE_STATE_DIR: join(root, 'no-such-state') } });
    expect(run).toEqual({ code: 2, stdout: '', stderr: 'modelgate replay: --input missing.csv: no such file; check the path\n' });
  });
});

describe.concurrent('modelgate replay: a model or file it cannot replay exits 2', () => {
  it.each([
    [['retired', '--input', holdout], 'retired serves no version, so nothing would answer (newest: v1 candidate); `modelgate models retired` shows its versions'],
    [['churn', '--input', 'HEADERLESS'], 'headerless.csv: no column "gender", which the model requires; check the file against the features of churn v2'],
    [['churn', '--input', holdout, '--target', 'Churned'], 'holdout.csv: no column "Churned" (the --target label column); check the file against the features of churn v2'],
    [['churn', '--input', 'ALL_BAD'], 'all-bad.csv fits churn v2: 1 bad rows, e.g. line 2: Contract unknown category "Forever"'],
  ])('%j', async (args, message) => {
    const paths: Record<string, string> = {
      HEADERLESS: file('headerless.csv', holdoutRows.slice(0, 3)),
      ALL_BAD: file('all-bad.csv', [header, holdoutRows[0]?.replace(/,Month-to-month,|,One year,|,Two year,/, ',Forever,') as string]),
    };
    const run = await replay(...args.map((arg) => paths[arg] ?? arg), '--rate', '50');
    expect(run.code, run.stdout).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('modelgate replay: a run', () => {
  it('sends the rows with the predict key, posts labels with the feedback key, reports failures and bad rows, and exits 1 on failures', async () => {
    const ok = holdoutRows.filter((row) => row.split(',')[5] !== '1').slice(0, 20);
    const failing = holdoutRows.filter((row) => row.split(',')[5] === '1').slice(0, 3);
    const bad = (ok[0] as string).replace(/,Month-to-month,|,One year,|,Two year,/, ',Forever,');
    const input = file('mixed.csv', [header, ...ok, bad, ...failing]);
    // The runs that exited 2 sent nothing.
    expect(api.predicted).toEqual([]);
    const run = await replay('churn', '--input', input, '--rate', '100', '--target', 'Churn', '--label-delay', '1s');
    expect(run.code, run.stderr).toBe(1);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe(
      `replaying 23 rows of ${input} (1 bad, not sent) to churn (v2 90%, v1 10%, state folder ${stateDir}) at 100 rows/s, each row once (0.2 s); labels from column Churn, 1.0 s after each answer`,
    );
    expect(lines[1]).toMatch(/^sent 23 rows in 23 requests at \d+\.\d rows\/s: 20 answered, 3 failed; done in \d\.\d s, the last labels included$/);
    expect(lines[2]).toBe('  3 failed: 503: try again');
    expect(lines[3]).toMatch(/^latency: p50 \d+ ms, p90 \d+ ms, p99 \d+ ms, max \d+ ms$/);
    expect(lines[4]).toMatch(/^lag: kept up \(at most \d+ ms behind schedule\)$|^lag: BEHIND/);
    expect(lines.slice(5)).toEqual([
      'labels: 20 posted, 20 accepted, 0 rejected, 0 failed',
      'bad rows: 1, not sent',
      '  line 22: Contract unknown category "Forever"; allowed: "Month-to-month", "One year", "Two year"',
    ]);
    // What reached the API: every good row once (the bad one never), each with the predict key; the labels of
    // the answered rows with the feedback key.
    const sent = api.predicted;
    expect(sent).toHaveLength(23);
    expect(sent.every((p) => p.apiKey === keys.predict)).toBe(true);
    expect(sent.some((p) => p.instances[0]?.Contract === 'Forever')).toBe(false);
    expect(sent[0]?.instances[0]).not.toHaveProperty('customerID');
    expect(sent[0]?.instances[0]).not.toHaveProperty('Churn');
    const labels = api.labelled.flatMap((l) => l.feedback);
    expect(labels).toHaveLength(20);
    expect(labels.map((l) => l.actual).sort()).toEqual(ok.map((row) => row.split(',').at(-1)).sort());
    expect(api.labelled.every((l) => l.apiKey === keys.feedback)).toBe(true);
  });

  it('--json: the report as JSON; a .jsonl file, cycled for --duration; 0 when every row was answered', async () => {
    const instances = csvInstances(manifest, parseCsv(readFileSync(holdout, 'utf8')))
      .filter((instance) => instance.tenure !== 1)
      .slice(0, 7);
    const input = file(
      'rows.jsonl',
      instances.map((instance) => JSON.stringify(instance)),
    );
    const run = await replay('churn', '--input', input, '--rate', '40', '--duration', '1s', '--json');
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({ model: 'churn', version: '2', input, rate: 40, sent: 40, answered: 40, failed: 0, failures: {}, bad: { count: 0, examples: [] } });
    expect(report.latencyMs).toEqual({ p50: expect.any(Number), p90: expect.any(Number), p99: expect.any(Number), max: expect.any(Number) });
    expect(report).not.toHaveProperty('labels');
    expect(api.predicted.slice(-40).map((p) => p.instances[0])).toEqual(Array.from({ length: 40 }, (_, i) => instances[i % instances.length]));
  });

  it('--aws: the same from a deployed stack, its outputs and keys read through the standard AWS variables', async () => {
    const instances = csvInstances(manifest, parseCsv(readFileSync(holdout, 'utf8')))
      .filter((instance) => instance.tenure !== 1)
      .slice(0, 5);
    const input = file(
      'labelled.jsonl',
      instances.map((instance, i) => JSON.stringify({ ...instance, Churn: i % 2 === 0 ? 'Yes' : 'No' })),
    );
    const before = { predicted: api.predicted.length, labelled: api.labelled.flatMap((l) => l.feedback).length };
    const run = await runCli(['replay', 'churn', '--input', input, '--rate', '50', '--target', 'Churn', '--json', '--aws', '--stack', 'team-stack'], {
      cwd: root,
      env: {
        AWS_REGION: 'eu-west-1',
        // s3rver's own key (it checks the key id); dynalite and the API Gateway API take any
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        AWS_CONFIG_FILE: join(directory, 'none'),
        AWS_SHARED_CREDENTIALS_FILE: join(directory, 'none'),
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_ENDPOINT_URL_CLOUDFORMATION: stack.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: aws.dynamoService.endpoint,
        AWS_ENDPOINT_URL_S3: aws.s3Service.endpoint,
        AWS_ENDPOINT_URL_API_GATEWAY: gatewayApi.endpoint,
      },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ model: 'churn', version: '2', sent: 5, answered: 5, labels: { posted: 5, accepted: 5, rejected: 0, failed: 0 } });
    expect(api.predicted.slice(before.predicted).every((p) => p.apiKey === keys.predict)).toBe(true);
    const labels = api.labelled.flatMap((l) => l.feedback).slice(before.labelled);
    expect(labels.map((l) => l.actual).sort()).toEqual(['No', 'No', 'Yes', 'Yes', 'Yes']);
  });
});
