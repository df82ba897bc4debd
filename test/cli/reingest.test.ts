// `modelgate reingest` against a local prediction table found through the runtime's endpoints file.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fallbackLine, parseFallbackRecords, type PredictionRecord } from '../../lambdas/core/prediction-record';
import type { LocalEndpoints } from '../../local/state-files';
import { runCli } from '../support/cli';
import { TABLE, startLocalAws, type LocalAws } from '../support/local-aws';

const record = (id: string, tenure = 3): PredictionRecord => ({
  predictionId: id,
  model: 'churn',
  version: '1',
  variant: '1',
  timestamp: '2026-11-26T10:00:00.000Z',
  modelVersionShard: 'churn#1#0',
  ts: `2026-11-26T10:00:00.000Z#${id}`,
  inputs: { tenure, Contract: 'Month-to-month', TotalCharges: null },
  outputs: { label: 'Yes', probabilities: { No: 0.3, Yes: 0.7 } },
  latencyMs: 0.4,
  batchRows: 1,
  expiresAt: 1_900_000_000,
});

describe('modelgate reingest', () => {
  let aws: LocalAws;
  let stateDir: string;
  beforeAll(async () => {
    aws = await startLocalAws();
    stateDir = join(aws.directory, 'state');
    mkdirSync(stateDir);
    const endpoints: LocalEndpoints = {
      apiUrl: 'http://127.0.0.1:1',
      dynamoDbEndpoint: aws.dynamoService.endpoint,
      s3Endpoint: aws.s3Service.endpoint,
      region: 'us-east-1',
      stackName: 'test',
      outputs: { PredictionTableName: TABLE },
    };
    writeFileSync(join(stateDir, 'endpoints.json'), JSON.stringify(endpoints));
  });
  afterAll(async () => aws?.close());

  it('re-ingests fallback records once, from a file with CloudWatch-export prefixes and noise', async () => {
    const file = join(aws.directory, 'export.log');
    writeFileSync(
      file,
      [
        `2026-11-26T10:00:00.123Z\tabc-request\tINFO\t${fallbackLine(record('00000000-0000-4000-8000-000000000001'), 'ThrottlingException: slow down')}`,
        'START RequestId: abc-request Version: 3',
        fallbackLine(record('00000000-0000-4000-8000-000000000002'), 'TimeoutError'),
        '{"level":"INFO","message":"model ready"}',
      ].join('\n'),
    );
    const first = await runCli(['reingest', file, '--state-dir', stateDir, '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ found: 2, inserted: 2, alreadyPresent: 0 });
    const stored = await aws.dynamodb.send(new GetItemCommand({ TableName: TABLE, Key: { predictionId: { S: '00000000-0000-4000-8000-000000000001' } } }));
    expect(stored.Item?.outputs?.M?.label?.S).toBe('Yes');
    expect(stored.Item?.inputs?.M?.TotalCharges?.NULL).toBe(true);

    const again = await runCli(['reingest', file, '--state-dir', stateDir, '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ found: 2, inserted: 0, alreadyPresent: 2 });
  });

  it('exits 2 with the reason for a missing file or no running runtime', async () => {
    const missing = await runCli(['reingest', join(aws.directory, 'nope.jsonl'), '--state-dir', stateDir]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*nope.jsonl: no such file; check the path/);
    const file = join(aws.directory, 'one.jsonl');
    writeFileSync(file, fallbackLine(record('00000000-0000-4000-8000-000000000003'), 'x'));
    const noRuntime = await runCli(['reingest', file, '--state-dir', join(aws.directory, 'elsewhere')]);
    expect(noRuntime.code).toBe(2);
    expect(noRuntime.stderr).toMatch(/no local runtime is running/);
  });

  it('exits 0 with nothing to re-ingest when the runtime wrote no fallback file', async () => {
    const text = await runCli(['reingest', '--state-dir', stateDir]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^nothing to re-ingest: .*prediction-log-fallback\.jsonl does not exist/);
    const json = await runCli(['reingest', '--json'], { env: { MODELGATE_STATE_DIR: stateDir } });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ files: [join(stateDir, 'prediction-log-fallback.jsonl')], found: 0, inserted: 0, alreadyPresent: 0, refused: [], refusedFiles: [] });
  });

  it('skips and keeps the records the table refuses, reports why, and exits 1; the corrected file goes in', async () => {
    const fallback = join(stateDir, 'prediction-log-fallback.jsonl');
    const ids = ['00000000-0000-4000-8000-000000000010', '00000000-0000-4000-8000-000000000011', '00000000-0000-4000-8000-000000000012'];
    // 1e200 is a valid JSON number, beyond the magnitude DynamoDB stores (ValidationException: Number overflow).
    writeFileSync(
      fallback,
      [fallbackLine(record(ids[0] as string), 'x'), fallbackLine(record(ids[1] as string, 1e200), 'x'), fallbackLine(record(ids[2] as string), 'x')].join('\n'),
    );
    const run = await runCli(['reingest', '--state-dir', stateDir, '--json']);
    expect(run.code, run.stderr).toBe(1);
    const refusedFile = join(stateDir, 'prediction-log-fallback.refused.jsonl');
    expect(JSON.parse(run.stdout)).toEqual({
      files: [fallback],
      found: 3,
      inserted: 2,
      alreadyPresent: 0,
      refused: [{ predictionId: ids[1], reason: expect.stringMatching(/^ValidationException: .*Number overflow/) }],
      refusedFiles: [refusedFile],
    });
    const kept = parseFallbackRecords(readFileSync(refusedFile, 'utf8'));
    expect(kept.map((r) => r.predictionId)).toEqual([ids[1]]);
    expect(readFileSync(refusedFile, 'utf8')).toContain('Number overflow');

    // Run again: the two already in are counted, the refused one is reported again (nothing lost, no crash).
    const again = await runCli(['reingest', '--state-dir', stateDir]);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain('3 fallback record(s)');
    expect(again.stdout).toContain('0 re-ingested');
    expect(again.stdout).toContain('2 already there, 1 refused');
    expect(again.stdout).toMatch(new RegExp(`refused ${ids[1]}: ValidationException`));
    expect(again.stdout).toContain(`correct them there, then run \`modelgate reingest ${refusedFile}\``);

    writeFileSync(refusedFile, fallbackLine(record(ids[1] as string, 12), 'corrected'));
    const corrected = await runCli(['reingest', refusedFile, '--state-dir', stateDir, '--json']);
    expect(corrected.code, corrected.stderr).toBe(0);
    expect(JSON.parse(corrected.stdout)).toMatchObject({ found: 1, inserted: 1, refused: [] });
    const stored = await aws.dynamodb.send(new GetItemCommand({ TableName: TABLE, Key: { predictionId: { S: ids[1] as string } } }));
    expect(stored.Item?.inputs?.M?.tenure?.N).toBe('12');

    // The fallback file still holds the refused original: its corrected copy counts as present.
    const done = await runCli(['reingest', '--state-dir', stateDir, '--json']);
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ found: 3, inserted: 0, alreadyPresent: 3, refused: [], refusedFiles: [] });
    expect(existsSync(refusedFile)).toBe(false);
  });
});
