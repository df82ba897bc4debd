// The batch state machine as the base stack deploys it: a Distributed Map reading the input object, batches under
// the payload limit, concurrency and tolerated failures from the execution input; roles scoped to batch/ and bundles.
// What it does is tested by running it on the local runtime (test/e2e/local-runtime.test.ts).
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_INPUT_BYTES_PER_BATCH } from '../../lambdas/contracts/batch-job';
import type { CfnTemplate } from '../../local/template';
import { deployed, type DeployedStack } from './deployed';
import { fastDeployment, functionWithEntry, grants, roleOf, roleStatements } from './support';
import { Template } from 'aws-cdk-lib/assertions';

let raw: CfnTemplate;
let dev: DeployedStack;
let definition: { States: Record<string, Record<string, unknown>> };

beforeAll(() => {
  const stack = fastDeployment();
  raw = Template.fromStack(stack).toJSON() as CfnTemplate;
  dev = deployed(raw, { stackName: stack.stackName });
  const machine = Object.entries(raw.Resources).find(([id, r]) => r.Type === 'AWS::StepFunctions::StateMachine' && id.startsWith('Batch'));
  definition = JSON.parse(dev.text(machine?.[1].Properties?.DefinitionString)) as typeof definition;
});

describe('BatchScoring', () => {
  it('scores CSV and JSON Lines with a Distributed Map: ItemReader on the input object, ItemBatcher under 256 KiB, limits from the execution input', () => {
    for (const [state, inputType] of [
      ['ScoreCsv', 'CSV'],
      ['ScoreJsonLines', 'JSONL'],
    ] as const) {
      const map = definition.States[state] as Record<string, any>;
      expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'EXPRESS' });
      expect(map.ItemReader.ReaderConfig.InputType).toBe(inputType);
      expect(map.ItemReader.Parameters).toEqual({ Bucket: expect.stringMatching(/^modelgate-dev-modelbucket/), 'Key.$': '$.input.key' });
      expect(map.ItemBatcher.MaxInputBytesPerBatch).toBe(MAX_INPUT_BYTES_PER_BATCH);
      expect(MAX_INPUT_BYTES_PER_BATCH).toBeLessThan(256 * 1024);
      expect(map.ItemBatcher.BatchInput).toEqual({ 'job.$': '$.batchInput' });
      expect(map.MaxConcurrencyPath).toBe('$.maxConcurrency');
      expect(map.ToleratedFailurePercentagePath).toBe('$.toleratedFailurePercentage');
      expect(map.ResultWriter.Parameters).toEqual({ Bucket: map.ItemReader.Parameters.Bucket, 'Prefix.$': '$.resultsPrefix' });
      expect(map.Next).toBe('Summarize');
    }
    expect(definition.States.Prepare?.Next).toBe('Format');
  });

  it('lets the functions and the state machine touch batch/ objects and read bundles, the state machine the model bucket objects only', () => {
    const bucket = 'arn:aws:s3:::<bucket>';
    const s3Grants = (roleId: string) =>
      grants(dev, roleStatements(raw, roleId))
        .filter((g) => g.startsWith('s3:'))
        .map((g) => g.replace(/arn:aws:s3:::modelgate-dev-modelbucket[a-z0-9-]*/, bucket));
    expect(s3Grants(roleOf(raw, functionWithEntry(raw, 'batch-score')))).toEqual([`s3:GetObject on ${bucket}/models/*`, `s3:PutObject on ${bucket}/batch/*`]);
    expect(s3Grants(roleOf(raw, functionWithEntry(raw, 'batch-job')))).toEqual([
      `s3:GetObject on ${bucket}/batch/*`,
      `s3:GetObject on ${bucket}/models/*`,
      `s3:PutObject on ${bucket}/batch/*`,
    ]);
    const machineRole = Object.keys(raw.Resources).find((id) => id.startsWith('BatchStateMachineRole') && raw.Resources[id]?.Type === 'AWS::IAM::Role') as string;
    // CDK's grants for the ItemReader and ResultWriter: the model bucket's objects, no other bucket's.
    expect([...new Set(s3Grants(machineRole))]).toEqual(
      ['s3:AbortMultipartUpload', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:PutObject'].map((a) => `${a} on ${bucket}/*`),
    );
  });
});
