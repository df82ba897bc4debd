// `modelgate experiment` exit codes and messages off the happy path (test/e2e/experiments.test.ts runs the
// happy path on the whole local runtime). The target is a state folder whose endpoints file points at dynalite
// holding the experiment table, as a running local runtime's would. In-process, like the e2e tests.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main';
import { ExperimentStore } from '../../lambdas/adapters/experiment-store';
import { Registry } from '../../lambdas/adapters/registry';
import { planExperiment } from '../../lambdas/core/experiments/definition';
import { createTableInput, ensureTable } from '../../local/dynamodb-tables';
import { ENDPOINTS_FILE } from '../../local/state-files';
import { experimentTableProperties, registryTableProperties } from '../../local/template-tables';
import { startLocalAws, type LocalAws } from '../support/local-aws';

let aws: LocalAws;
let stateDir: string;

beforeAll(async () => {
  aws = await startLocalAws();
  await ensureTable(aws.dynamodb, createTableInput('experiments', experimentTableProperties()));
  await ensureTable(aws.dynamodb, createTableInput('registry', registryTableProperties()));
  // Registered: churn v1 and v2 (both published), v1 live alone; and fraud v1 live with v2 at half the traffic.
  const registry = new Registry(aws.dynamodb, 'registry');
  const lineage = (lambdaVersion: string) => ({ bucket: 'models', candidatePrefix: 'candidates/x/', executionId: 'test', registeredAt: new Date().toISOString(), lambdaVersion });
  for (const [model, version, lambdaVersion] of [
    ['churn', '1', '2'],
    ['churn', '2', '3'],
    ['fraud', '1', '1'],
    ['fraud', '2', '2'],
  ] as const) {
    await registry.register(model, version, lineage(lambdaVersion), new Date());
  }
  // churn v2 was packaged from an MLflow model (modelgate package --mlflow): validation recorded its run.
  await registry.annotate('churn', '2', new Date(), { lineage: { mlflow: { runId: '8ede7df408dd42ed9fc39019ef7df309', modelUuid: '3f1c0b6a2d5e4f7a9b8c1d2e3f4a5b6c' } } });
  await registry.setRouting('churn', { primary: { version: '1', lambdaVersion: '2' }, updatedAt: new Date().toISOString() });
  await registry.setRouting('fraud', {
    primary: { version: '1', lambdaVersion: '1' },
    additional: { version: '2', lambdaVersion: '2', weight: 0.5 },
    updatedAt: new Date().toISOString(),
  });
  stateDir = mkdtempSync(join(tmpdir(), 'modelgate-cli-experiment-'));
  const outputs = { ExperimentTableName: 'experiments', RegistryTableName: 'registry' };
  writeFileSync(
    join(stateDir, ENDPOINTS_FILE),
    JSON.stringify({
      apiUrl: 'http://127.0.0.1:1',
      dynamoDbEndpoint: aws.dynamoService.endpoint,
      s3Endpoint: aws.s3Service.endpoint,
      region: 'us-east-1',
      stackName: 'test',
      outputs,
    }),
  );
  const store = new ExperimentStore(aws.dynamodb, 'experiments');
  await store.create(planExperiment({ id: 'bank-a-vs-b', model: 'bank', control: 'a', treatment: 'b', metric: 'conversion', startDelaySeconds: 0 }, new Date()), 'test');
});

afterAll(async () => {
  await aws?.close();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void lines.push(parts.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => void lines.push(parts.join(' ')));
  try {
    return { code: await main([...args, '--state-dir', stateDir]), out: lines.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe('modelgate experiment', () => {
  it.each([
    [['experiment'], 'which sub-command: start, status, stop or list?'],
    [['experiment', 'begin'], 'unknown sub-command "begin" (start, status, stop, list)'],
    [['experiment', 'stats', 'bank-a-vs-b'], 'did you mean "status"?'],
    [['experiment', 'start', '--model', 'churn', '--control', '1', '--treatment', '2', '--metrc', 'conversion'], 'unknown option --metrc; did you mean --metric?'],
    [['experiment', 'start', '--model', 'churn', '--control', '1', '--treatment', '2'], 'start needs --metric'],
    [
      ['experiment', 'start', '--model', 'churn', '--control', '1', '--treatment', '2', '--metric', 'conversion', '--split', '1.5', '--mde', '0'],
      '--split: must be between 0 and 1 (the treatment share), got 1.5; --mde: must be a relative effect greater than 0 (0.05 = 5%) and at most 10, got 0',
    ],
    [
      ['experiment', 'start', '--model', 'churn', '--control', '1', '--treatment', '2', '--metric', 'conversion', '--max-days', '0'],
      '--max-days: must be greater than 0 and at most 365, got 0',
    ],
    [
      ['experiment', 'start', '--model', 'churn', '--control', '1', '--treatment', '2', '--metric', 'conversion', '--direction', 'up'],
      '--direction must be one of increase, decrease, got "up"',
    ],
    [['experiment', 'status'], 'status takes one experiment id'],
    [['experiment', 'status', 'Not An Id'], '"Not An Id" is not an experiment id'],
    [['experiment', 'stop', 'bank-a-vs-b', '--ship', '--keep-control'], '--ship and --keep-control exclude each other'],
  ])('exits 2 on bad usage: %j', async (args, message) => {
    const { code, out } = await cli(...args);
    expect(code).toBe(2);
    expect(out).toContain(message);
  });

  it('lists experiments, and reads one (exit 0); an unknown id exits 2 naming the known ones', async () => {
    const list = await cli('experiment', 'list', '--json');
    expect(list.code).toBe(0);
    expect(JSON.parse(list.out)).toEqual({ experiments: [expect.objectContaining({ id: 'bank-a-vs-b', status: 'running', model: 'bank' })] });
    const status = await cli('experiment', 'status', 'bank-a-vs-b');
    expect(status.code).toBe(0);
    expect(status.out).toContain('sample ratio   no traffic yet');
    expect(status.out).toContain('decision: Keep the experiment running.');
    const unknown = await cli('experiment', 'status', 'no-such-experiment');
    expect(unknown.code).toBe(2);
    expect(unknown.out).toContain('unknown experiment "no-such-experiment" (known experiments: bank-a-vs-b)');
    const typo = await cli('experiment', 'stop', 'bank-a-vs-c');
    expect(typo.code).toBe(2);
    expect(typo.out).toContain('did you mean "bank-a-vs-b"?');
  });

  it('refuses to start when the alias cannot carry the experiment, each time with a next step that works; and to stop while the analysis says keep running (exit 1)', async () => {
    // v2 was pushed already and left the alias: pushing it again would be a duplicate, unit assignment reaches it.
    const request = await cli('experiment', 'start', '--model', 'churn', '--control', '1', '--treatment', '2', '--metric', 'conversion');
    expect(request.code).toBe(1);
    expect(request.out).toBe(
      'modelgate experiment: a request-level experiment splits traffic with the live alias, but the live alias routes 1 (1) only; v2 was pushed already (a version is pushed once), ' +
        'so use --assignment unit (requests carrying an x-modelgate-unit-id header are split by a hash), or push its model as a new version with --strategy ab-test',
    );
    const control = await cli('experiment', 'start', '--model', 'churn', '--control', '2', '--treatment', '1', '--metric', 'conversion', '--assignment', 'unit');
    expect(control.code).toBe(1);
    expect(control.out).toContain('the control must be the live version: the live alias routes 1 (1) only; use --control 1, or make v2 live first (`modelgate promote churn 2`)');
    const stop = await cli('experiment', 'stop', 'bank-a-vs-b');
    expect(stop.code).toBe(1);
    expect(stop.out).toContain('Keep the experiment running. Not enough sample yet');
    expect(stop.out).toContain('Pass --ship or --keep-control to conclude anyway.');
  });
});

describe('modelgate experiment: when counting begins', () => {
  it('start prints when counting begins; status counts the events about predictions served before it', async () => {
    const started = await cli('experiment', 'start', '--model', 'fraud', '--control', '1', '--treatment', '2', '--metric', 'conversion', '--id', 'fraud-early');
    expect(started.code).toBe(0);
    const stored = await new ExperimentStore(aws.dynamodb, 'experiments').get('fraud-early');
    const startedAt = stored!.definition.startedAt;
    expect(started.out).toMatch(
      new RegExp(
        `^Counting starts at ${startedAt.replaceAll('.', '\\.')}, in 1[45] s \\(every reader learns of the experiment first\\): predictions served before are not counted, ` +
          'and events about them are answered not_in_experiment \\(status counts them as too early\\)\\.$',
        'm',
      ),
    );
    expect(started.out).toMatch(/^Started\. Read it with: npx modelgate experiment status fraud-early$/m);

    const store = new ExperimentStore(aws.dynamodb, 'experiments');
    for (const eventId of ['a', 'b']) await store.countEarlyEvent({ index: 0, experimentId: 'fraud-early', arm: 'treatment', eventId });
    await store.countEarlyEvent({ index: 0, experimentId: 'fraud-early', arm: 'control', eventId: 'c' });
    const status = await cli('experiment', 'status', 'fraud-early');
    expect(status.code).toBe(0);
    expect(status.out).toContain('  too early      3 event(s) about predictions served before counting began (not counted): control 1, treatment 2');
    const json = await cli('experiment', 'status', 'fraud-early', '--json');
    expect((JSON.parse(json.out) as { analysis: { arms: { control: { earlyEvents: number }; treatment: { earlyEvents: number } } } }).analysis.arms).toMatchObject({
      control: { earlyEvents: 1 },
      treatment: { earlyEvents: 2 },
    });
  });
});

// `modelgate models` on the same target: the registry's lineage of a version packaged from MLflow.
describe('modelgate models', () => {
  it('shows the MLflow run a version came from, in its own column, and in --json', async () => {
    const { code, out } = await cli('models', 'churn');
    expect(code).toBe(0);
    expect(out).toMatch(/^VERSION +STATUS .* MLFLOW RUN +REASON$/m);
    expect(out).toMatch(/^2 +candidate .*8ede7df408dd42ed9fc39019ef7df309/m);
    expect(out).not.toMatch(/^1 .*8ede7df4/m);
    const json = await cli('models', 'churn', '--json');
    const versions = JSON.parse(json.out) as { version: string; mlflow: unknown }[];
    expect(versions.map((v) => [v.version, v.mlflow])).toEqual([
      ['2', { runId: '8ede7df408dd42ed9fc39019ef7df309', modelUuid: '3f1c0b6a2d5e4f7a9b8c1d2e3f4a5b6c' }],
      ['1', null],
    ]);
  });

  it('has no MLflow column when no version came from MLflow', async () => {
    const { code, out } = await cli('models', 'fraud');
    expect(code).toBe(0);
    expect(out).not.toContain('MLFLOW RUN');
  });
});
