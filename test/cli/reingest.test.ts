// `modelgate reingest` against a local prediction table found through the runtime's endpoints file.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fallbackLine, type PredictionRecord } from '../../lambdas/core/prediction-record';
import type { LocalEndpoints } from '../../local/state-files';
import { runCli } from '../support/cli';
import { TABLE, startLocalAws, type LocalAws } from '../support/local-aws';

const record = (id: string): PredictionRecord => ({
  predictionId: id,
  model: 'churn',
  version: '1',
  variant: '1',
  timestamp: '2026-11-26T10:00:00.000Z',
  modelVersionShard: 'churn#1#0',
  ts: `2026-11-26T10:00:00.000Z#${id}`,
  inputs: { tenure: 3, Contract: 'Month-to-month', TotalCharges: null },
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
    expect(missing.stderr).toMatch(/cannot read .*nope.jsonl/);
    const file = join(aws.directory, 'one.jsonl');
    writeFileSync(file, fallbackLine(record('00000000-0000-4000-8000-000000000003'), 'x'));
    const noRuntime = await runCli(['reingest', file, '--state-dir', join(aws.directory, 'elsewhere')]);
    expect(noRuntime.code).toBe(2);
    expect(noRuntime.stderr).toMatch(/no local runtime is running/);
  });
});
