// One CLI vocabulary (docs/cli.md): the same flag, message shape and exit code for the same situation in every
// command. The built CLI runs as a subprocess against dynalite and s3rver holding what a local runtime's stack
// holds (registry, monitoring, experiment and prediction tables, the model bucket), found through a state
// folder's endpoints file as a running runtime's would be.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../cli/main';
import { MonitoringStore } from '../../lambdas/adapters/monitoring-store';
import { Registry } from '../../lambdas/adapters/registry';
import { fallbackLine, type PredictionRecord } from '../../lambdas/core/prediction-record';
import { ModelRegistryTable } from '../../lib/storage/model-registry-table';
import { createTableInput, ensureTable, type CfnTableProperties } from '../../local/dynamodb-tables';
import { ENDPOINTS_FILE, type LocalEndpoints } from '../../local/state-files';
import { experimentTableProperties, monitoringTableProperties } from '../../local/template-tables';
import { runCli, type CliResult } from '../support/cli';
import { BUCKET, startLocalAws, TABLE, type LocalAws } from '../support/local-aws';
import { type StackOutputsServer, startStackOutputs } from '../support/stack-outputs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const outputs = {
  ModelBucketName: BUCKET,
  PredictionTableName: TABLE,
  MonitoringTableName: 'monitoring',
  RegistryTableName: 'registry',
  ExperimentTableName: 'experiments',
  PipelineStateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:pipeline',
};

let aws: LocalAws;
let directory: string;
/** A running "runtime": its endpoints file names dynalite and s3rver; no Step Functions endpoint answers. */
let stateDir: string;
/** A runtime that crashed: its endpoints file is left, nothing answers at its addresses. */
let crashedDir: string;
let emptyDir: string;
let closedPort: number;

/** A loopback port nothing listens on. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function writeEndpoints(dir: string, endpoints: LocalEndpoints): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, ENDPOINTS_FILE), JSON.stringify(endpoints));
}

beforeAll(async () => {
  aws = await startLocalAws();
  directory = mkdtempSync(join(tmpdir(), 'modelgate-vocabulary-'));
  const stack = new Stack(new App(), 'RegistryOnly');
  new ModelRegistryTable(stack, 'Registry');
  const [registryTable] = Object.values(Template.fromStack(stack).findResources('AWS::DynamoDB::Table')) as { Properties: CfnTableProperties }[];
  await ensureTable(aws.dynamodb, createTableInput('registry', registryTable?.Properties as CfnTableProperties));
  await ensureTable(aws.dynamodb, createTableInput('monitoring', monitoringTableProperties()));
  await ensureTable(aws.dynamodb, createTableInput('experiments', experimentTableProperties()));
  const registry = new Registry(aws.dynamodb, 'registry');
  for (const [model, version] of [
    ['churn', '1'],
    ['churn', '2'],
    ['fraud', '1'],
  ] as const) {
    await registry.register(
      model,
      version,
      { bucket: BUCKET, candidatePrefix: `candidates/${model}/${version}/`, executionId: `e-${model}-${version}`, registeredAt: new Date().toISOString() },
      new Date(),
    );
  }
  // A version item the registry code never writes (no status, no history): reading it is an unexpected error.
  await aws.dynamodb.send(new PutItemCommand({ TableName: 'registry', Item: { model: { S: 'broken' }, item: { S: 'VERSION#1' }, sequenceKey: { S: '0000000001' } } }));
  await new MonitoringStore(aws.dynamodb, 'monitoring').touchVersion('churn', '1', new Date().toISOString());
  await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'models/churn/1/manifest.json', Body: readFileSync(join(root, 'examples/churn/v1/manifest.json')) }));

  closedPort = await freePort();
  const closed = `http://127.0.0.1:${closedPort}`;
  const common = { apiUrl: closed, region: 'us-east-1', stackName: 'test', outputs };
  stateDir = join(directory, 'running');
  writeEndpoints(stateDir, { ...common, dynamoDbEndpoint: aws.dynamoService.endpoint, s3Endpoint: aws.s3Service.endpoint, stepFunctionsEndpoint: closed, lambdaEndpoint: closed });
  crashedDir = join(directory, 'crashed');
  writeEndpoints(crashedDir, { ...common, dynamoDbEndpoint: closed, s3Endpoint: closed, stepFunctionsEndpoint: closed, lambdaEndpoint: closed });
  emptyDir = join(directory, 'empty');
  mkdirSync(emptyDir);
});

afterAll(async () => {
  await aws?.close();
  if (directory) rmSync(directory, { recursive: true, force: true });
});

/** `modelgate <args>` against the running "runtime" (MODELGATE_STATE_DIR), from the repository root. */
function cli(...args: string[]): Promise<CliResult> {
  return runCli(args, { cwd: root, env: { MODELGATE_STATE_DIR: stateDir } });
}

/** A failure as the handler prints it: one line on stderr, `modelgate <command>: <what>; <next step>`. */
function expectOneLine(run: CliResult, command: string): void {
  expect(run.stderr).toMatch(new RegExp(`^modelgate ${command}: [^\\n]+; [^\\n]+\\n$`));
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

describe('every command takes --json', () => {
  it('declares it, and each experiment sub-command too', () => {
    for (const command of COMMANDS) {
      expect(command.options.json, command.name).toEqual({ type: 'boolean' });
      for (const [name, sub] of Object.entries(command.subcommands ?? {})) expect(sub.options.json, `${command.name} ${name}`).toEqual({ type: 'boolean' });
    }
    expect(COMMANDS.map((c) => c.name).sort()).toEqual([
      'abtest',
      'batch',
      'drift',
      'errors',
      'experiment',
      'models',
      'package',
      'promote',
      'push',
      'quality',
      'reingest',
      'replay',
      'retire',
      'rollback',
      'validate',
    ]);
  });

  it.concurrent.each([
    ['package', ['package', '--onnx', 'missing.onnx', '--train', 'x.csv', '--target', 'y', '--name', 'm', '--version', '1', '--out', 'none', '--json'], 2],
    ['validate', ['validate', 'examples/churn', '--json'], 2],
    ['push', ['push', 'examples', '--json'], 2],
    ['models', ['models', 'churn', '--json'], 0],
    ['promote', ['promote', 'churn', '9', '--json'], 2],
    ['rollback', ['rollback', 'churn', '--to', '7', '--json'], 2],
    ['drift', ['drift', 'churn', '--json'], 0],
    ['errors', ['errors', 'churn', '--json'], 0],
    ['experiment', ['experiment', 'list', '--json'], 0],
    ['abtest', ['abtest', '--srm', '1000,1200', '--json'], 0],
    ['reingest', ['reingest', '--json'], 0],
    ['replay', ['replay', 'churn', '--input', 'examples/churn/v1/holdout.csv', '--rate', '5', '--json'], 2],
    ['quality', ['quality', '--bundle', 'examples/churn/v1', '--current', 'missing.csv', '--json'], 2],
    ['batch', ['batch', 'nosuchmodel', '--input', 'x.csv', '--output', 'out', '--json'], 2],
  ])('%s prints JSON on stdout, result or failure', async (_, args, code) => {
    const run = await cli(...args);
    expect(run.code, run.stderr).toBe(code);
    const printed = JSON.parse(run.stdout) as Record<string, unknown>;
    if (code === 2) expect(printed).toEqual({ error: expect.any(String), nextStep: expect.any(String), exitCode: 2 });
  });

  it('validate prints its result as JSON, the exit code following the verdict', async () => {
    // The latency gates depend on the machine's load, so the verdict may be either; the JSON and code agree.
    const run = await cli('validate', 'examples/churn/v1', '--json');
    const result = JSON.parse(run.stdout) as { verdict: string };
    expect(run.code).toBe(result.verdict === 'accepted' ? 0 : 1);
  });
});

describe.concurrent('an unknown flag names the nearest one', () => {
  it.each([
    ['package', ['package', '--nme', 'churn'], '--nme', '--name'],
    ['validate', ['validate', 'examples/churn/v1', '--champoin', 'x'], '--champoin', '--champion'],
    ['push', ['push', 'examples/churn/v2', '--stratgy', 'canary'], '--stratgy', '--strategy'],
    ['models', ['models', 'churn', '--jsno'], '--jsno', '--json'],
    ['promote', ['promote', 'churn', '2', '--regoin', 'eu-west-1'], '--regoin', '--region'],
    ['rollback', ['rollback', 'churn', '--too', '1'], '--too', '--to'],
    ['drift', ['drift', 'churn', '--snice', '1h'], '--snice', '--since'],
    ['errors', ['errors', 'churn', '--slcie', 'Contract'], '--slcie', '--slice'],
    ['experiment', ['experiment', 'start', '--model', 'churn', '--treatmnet', '2'], '--treatmnet', '--treatment'],
    ['abtest', ['abtest', '--wieghts', '0.5,0.5'], '--wieghts', '--weights'],
    ['reingest', ['reingest', '--stat-dir', 'x'], '--stat-dir', '--state-dir'],
    ['replay', ['replay', 'churn', '--input', 'examples/churn/v1/holdout.csv', '--rat', '5'], '--rat', '--rate'],
    ['quality', ['quality', '--bundel', 'examples/churn/v1'], '--bundel', '--bundle'],
  ])('%s', async (command, args, typo, meant) => {
    const run = await cli(...args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`modelgate ${command}: unknown option ${typo}; did you mean ${meant}?\n`);
  });

  it('an unknown command names the nearest one', async () => {
    const run = await runCli(['modles', 'churn']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('modelgate: unknown command "modles"; did you mean "models"?\n');
  });
});

describe.concurrent('an unknown model or version lists the known ones and suggests the nearest (exit 2)', () => {
  const knownModels = 'unknown model "chrun" (known models: churn, fraud); did you mean "churn"?';
  it.each([
    ['drift', ['drift', 'chrun'], knownModels],
    ['errors', ['errors', 'chrun'], knownModels],
    ['models', ['models', 'chrun'], knownModels],
    ['promote', ['promote', 'chrun', '2'], knownModels],
    ['rollback', ['rollback', 'chrun'], knownModels],
    ['experiment', ['experiment', 'start', '--model', 'chrun', '--control', '1', '--treatment', '2', '--metric', 'conversion'], knownModels],
    ['replay', ['replay', 'chrun', '--input', 'examples/churn/v1/holdout.csv', '--rate', '5'], knownModels],
    ['promote', ['promote', 'churn', '9'], 'unknown churn version "9" (known churn versions: 2, 1); give one of the known churn versions'],
    ['rollback', ['rollback', 'churn', '--to', '7'], 'unknown churn version "7" (known churn versions: 2, 1); give one of the known churn versions'],
    ['drift', ['drift', 'churn', '--version', '9'], 'unknown churn version "9" (known churn versions: 1, 2); give one of the known churn versions'],
    ['errors', ['errors', 'churn', '--version', '9'], 'unknown churn version "9" (known churn versions: 1, 2); give one of the known churn versions'],
    [
      'experiment',
      ['experiment', 'start', '--model', 'churn', '--control', '1', '--treatment', '9', '--metric', 'conversion'],
      'unknown churn version "9" (known churn versions: 2, 1)',
    ],
    ['experiment', ['experiment', 'status', 'churn-1-vs-2'], 'unknown experiment "churn-1-vs-2" (no experiments are known yet); start one with `modelgate experiment start`'],
  ])('%s: %s', async (command, args, message) => {
    const run = await cli(...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`modelgate ${command}: ${message}`);
    expectOneLine(run, command);
  });
});

describe.concurrent('exit codes and next steps of the documented cases', () => {
  it('0: a result, also an empty one', async () => {
    const models = await cli('models', 'churn', '--json');
    expect(models.code).toBe(0);
    expect((JSON.parse(models.stdout) as { version: string }[]).map((v) => v.version)).toEqual(['2', '1']);
    const quiet = await cli('drift', 'fraud');
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toMatch(/^fraud: no traffic aggregated since .*, so nothing to compare; send predictions, or look further back with --since/);
  });

  it('drift: 0 with dataset drift found, 1 when asked to fail on it', async () => {
    const reference = join(directory, 'reference.csv');
    const current = join(directory, 'current.csv');
    writeFileSync(reference, ['plan', ...Array<string>(60).fill('basic'), ...Array<string>(60).fill('pro')].join('\n'));
    writeFileSync(current, ['plan', ...Array<string>(110).fill('basic'), ...Array<string>(10).fill('pro')].join('\n'));
    const found = await cli('drift', '--reference', reference, '--current', current);
    expect(found.code).toBe(0);
    expect(found.stdout).toContain('dataset drift: YES');
    const failing = await cli('drift', '--reference', reference, '--current', current, '--fail-on-drift', '--json');
    expect(failing.code).toBe(1);
    expect(JSON.parse(failing.stdout)).toMatchObject({ datasetDrift: true });
    expect((await cli('drift', '--reference', reference, '--current', reference, '--fail-on-drift')).code).toBe(0);
  });

  it('--window, the old name of --since, still works, with a note', async () => {
    const run = await cli('drift', 'churn', '--window', '1h', '--json');
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('modelgate drift: --window is now --since (same meaning); the old name will go away\n');
    expect(JSON.parse(run.stdout)).toMatchObject({ model: 'churn', versions: [{ version: '1' }] });
  });

  it('rollback <model> <version> points to --to', async () => {
    const run = await cli('rollback', 'churn', '2');
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('modelgate rollback: rollback takes one model name; "2" looks like a version; to roll back to it: `modelgate rollback churn --to 2`\n');
  });

  it('a folder without manifest.json points to `modelgate package`', async () => {
    for (const command of ['validate', 'push']) {
      const run = await cli(command, 'examples/churn');
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`modelgate ${command}: the bundle folder examples/churn has no manifest.json, so it is not a bundle; build one with \`modelgate package --onnx`);
      expectOneLine(run, command);
    }
  });

  it('a crashed local runtime (ECONNREFUSED): says it is not running and how to start it, no stack trace', async () => {
    const fallback = join(directory, 'fallback.jsonl');
    writeFileSync(
      fallback,
      fallbackLine(
        {
          predictionId: 'p-1',
          model: 'churn',
          version: '1',
          variant: '1',
          timestamp: new Date().toISOString(),
          modelVersionShard: 'churn#1#0',
          ts: 't',
          inputs: {},
          outputs: { label: 'No' },
          latencyMs: 1,
          batchRows: 1,
          expiresAt: 1,
        } as PredictionRecord,
        'x',
      ),
    );
    for (const args of [
      ['models', 'churn'],
      ['drift', 'churn'],
      ['experiment', 'list'],
      ['reingest', fallback],
      ['replay', 'churn', '--input', join(root, 'examples/churn/v1/holdout.csv'), '--rate', '5'],
    ]) {
      const run = await runCli([...args, '--state-dir', crashedDir]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toContain(
        `the local runtime is not running: nothing answers at 127.0.0.1:${closedPort} (ECONNREFUSED), the address in ${join(crashedDir, ENDPOINTS_FILE)}; start it with \`npm start\``,
      );
      expectOneLine(run, args[0] as string);
    }
    // The registry answers, the pipeline does not: the same message for the Step Functions endpoint.
    const promote = await cli('promote', 'churn', '2');
    expect(promote.code).toBe(2);
    expect(promote.stderr).toContain(`the local runtime is not running: nothing answers at 127.0.0.1:${closedPort} (ECONNREFUSED)`);
  });

  it('an unexpected error: one line naming where the trace is; --debug prints it', async () => {
    const run = await cli('models', 'broken');
    expect(run.code).toBe(2);
    expectOneLine(run, 'models');
    const trace = /the full trace is in (\S+) \(--debug prints it\)/.exec(run.stderr)?.[1];
    expect(run.stderr).toMatch(/^modelgate models: unexpected error: \w+: /);
    expect(readFileSync(trace as string, 'utf8')).toMatch(/\n\s+at /);
    rmSync(trace as string);
    const debug = await cli('models', 'broken', '--debug');
    expect(debug.code).toBe(2);
    expect(debug.stderr).toMatch(/^modelgate models: unexpected error: [^\n]+; the full trace follows; please report it\n/);
    expect(debug.stderr).toMatch(/\n\s+at .*cli\/commands\/models\.ts/);
  });
});

describe('the target from the environment', () => {
  let cloudFormation: StackOutputsServer;
  let awsEnv: Record<string, string>;

  beforeAll(async () => {
    cloudFormation = await startStackOutputs('team-stack', outputs);
    // The standard AWS variables, every endpoint on loopback: nothing can reach an AWS account.
    awsEnv = {
      MODELGATE_TARGET: 'aws',
      MODELGATE_STACK: 'team-stack',
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_CONFIG_FILE: join(emptyDir, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: join(emptyDir, 'none'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormation.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: aws.dynamoService.endpoint,
      AWS_ENDPOINT_URL_S3: aws.s3Service.endpoint,
    };
  });
  afterAll(() => cloudFormation?.close());

  it('MODELGATE_STATE_DIR names the state folder; --state-dir wins over it', async () => {
    const fromEnv = await runCli(['models', 'churn', '--json'], { env: { MODELGATE_STATE_DIR: stateDir } });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect(await runCli(['models', 'churn', '--json', '--state-dir', stateDir], { env: { MODELGATE_STATE_DIR: emptyDir } })).toMatchObject({ code: 0 });
    const flagWins = await runCli(['models', 'churn', '--state-dir', emptyDir], { env: { MODELGATE_STATE_DIR: stateDir } });
    expect(flagWins.code).toBe(2);
    expect(flagWins.stderr).toContain(`no local runtime is running (${join(emptyDir, ENDPOINTS_FILE)} not found); start one with \`npm start\``);
  });

  it('MODELGATE_TARGET=aws and MODELGATE_STACK with the standard AWS variables: no flags needed', async () => {
    const run = await runCli(['models', 'churn', '--json'], { env: awsEnv });
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { version: string }[]).map((v) => v.version)).toEqual(['2', '1']);
    const other = await runCli(['models', 'churn'], { env: { ...awsEnv, MODELGATE_STACK: 'their-stack' } });
    expect(other.code).toBe(2);
    expect(other.stderr).toBe(
      'modelgate models: no stack "their-stack" in eu-west-1; deploy it with `npx cdk deploy`, or name yours with --stack or MODELGATE_STACK (and --region)\n',
    );
    expect(await runCli(['models', 'churn', '--stack', 'team-stack'], { env: { ...awsEnv, MODELGATE_STACK: 'their-stack' } })).toMatchObject({ code: 0 });
  });

  it('--local wins over MODELGATE_TARGET=aws; a MODELGATE_TARGET that is neither is refused', async () => {
    expect(
      await runCli(['models', 'churn', '--local', '--state-dir', stateDir], { env: { ...awsEnv, AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${closedPort}` } }),
    ).toMatchObject({ code: 0 });
    const bogus = await runCli(['models', 'churn'], { env: { MODELGATE_TARGET: 'cloud' } });
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toBe('modelgate models: MODELGATE_TARGET must be aws or local, got "cloud"; set it to aws or local, or unset it\n');
  });
});
