// `modelgate experiment` exit codes and messages off the happy path (test/e2e/experiments.test.ts runs the
// happy path on the whole local runtime). The target is a state folder whose endpoints file points at dynalite
// holding the experiment table, as a running local runtime's would. In-process, like the e2e tests.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main';
import { ExperimentStore } from '../../lambdas/adapters/experiment-store';
import { planExperiment } from '../../lambdas/core/experiments/definition';
import { createTableInput, ensureTable } from '../../local/dynamodb-tables';
import { ENDPOINTS_FILE } from '../../local/state-files';
import { experimentTableProperties } from '../../local/template-tables';
import { startLocalAws, type LocalAws } from '../support/local-aws';

let aws: LocalAws;
let stateDir: string;

beforeAll(async () => {
  aws = await startLocalAws();
  await ensureTable(aws.dynamodb, createTableInput('experiments', experimentTableProperties()));
  stateDir = mkdtempSync(join(tmpdir(), 'modelgate-cli-experiment-'));
  const outputs = { ExperimentTableName: 'experiments', ChurnFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:churn' };
  writeFileSync(join(stateDir, ENDPOINTS_FILE), JSON.stringify({ apiUrl: 'http://127.0.0.1:1', dynamoDbEndpoint: aws.dynamoService.endpoint, s3Endpoint: aws.s3Service.endpoint, region: 'us-east-1', stackName: 'test', outputs }));
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
    [['experiment', 'start', '--model', 'churn', '--control', '1', '--treatment', '2', '--metric', 'conversion', '--split', '1.5', '--mde', '0'], '--split: must be between 0 and 1 (the treatment share), got 1.5; --mde: must be a relative effect greater than 0 (0.05 = 5%) and at most 10, got 0'],
    [['experiment', 'start', '--model', 'churn', '--control', '1', '--treatment', '2', '--metric', 'conversion', '--max-days', '0'], '--max-days: must be greater than 0 and at most 365, got 0'],
    [['experiment', 'start', '--model', 'churn', '--control', '1', '--treatment', '2', '--metric', 'conversion', '--direction', 'up'], '--direction must be one of increase, decrease, got "up"'],
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

  it('refuses to start without a readable live routing, and to stop while the analysis says keep running (exit 1)', async () => {
    const start = await cli('experiment', 'start', '--model', 'churn', '--control', '1', '--treatment', '2', '--metric', 'conversion');
    expect(start.code).toBe(1);
    expect(start.out).toContain("cannot read how churn's live alias routes");
    const stop = await cli('experiment', 'stop', 'bank-a-vs-b');
    expect(stop.code).toBe(1);
    expect(stop.out).toContain('Keep the experiment running. Not enough sample yet');
    expect(stop.out).toContain('Pass --ship or --keep-control to conclude anyway.');
  });
});
