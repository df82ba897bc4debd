import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { PredictionLogTable, type PredictionLogTableProps } from '../../lib/storage/prediction-log-table';
import { InvalidPropsError } from '../../lib/validation/prop-validation';
import { fastStack, thrownBy } from './support';

function synth(props: PredictionLogTableProps = {}): Template {
  const stack = fastStack();
  new PredictionLogTable(stack, 'Log', props);
  return Template.fromStack(stack);
}

describe('PredictionLogTable', () => {
  const template = synth();

  it('is keyed by predictionId, on demand', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'predictionId', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: Match.arrayWith([{ AttributeName: 'predictionId', AttributeType: 'S' }]),
    });
  });

  it('indexes predictions by model version shard and timestamp, projecting everything', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: 'modelVersionShard', AttributeType: 'S' },
        { AttributeName: 'ts', AttributeType: 'S' },
      ]),
      GlobalSecondaryIndexes: Match.arrayWith([
        {
          IndexName: 'byModelVersion',
          KeySchema: [
            { AttributeName: 'modelVersionShard', KeyType: 'HASH' },
            { AttributeName: 'ts', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ]),
    });
  });

  it('expires items on expiresAt, streams new images, keeps 35 days of point-in-time recovery', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true, RecoveryPeriodInDays: 35 },
    });
  });

  it('is protected from deletion and retained by default', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('can be made disposable explicitly', () => {
    synth({ removalPolicy: RemovalPolicy.DESTROY, deletionProtection: false }).hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
      DeletionPolicy: 'Delete',
    });
  });

  describe('fails when', () => {
    it('DESTROY is asked of a protected table', () => {
      const error = thrownBy(() => synth({ removalPolicy: RemovalPolicy.DESTROY }));
      expect(error).toBeInstanceOf(InvalidPropsError);
      expect(error.message).toContain('removalPolicy DESTROY needs deletionProtection: false');
      expect(error.message).toContain('got: deletionProtection=undefined');
    });

    it('the recovery period is outside what DynamoDB allows', () => {
      expect(thrownBy(() => synth({ recoveryPeriodDays: 36 })).message).toContain('recoveryPeriodDays must be an integer between 1 and 35, got: 36');
    });

    it('several props are wrong, reporting them all at once', () => {
      const error = thrownBy(() => synth({ removalPolicy: RemovalPolicy.DESTROY, deletionProtection: true, recoveryPeriodDays: 0 })) as InvalidPropsError;
      expect(error.problems).toEqual([expect.stringContaining('got: deletionProtection=true'), expect.stringContaining('got: 0')]);
    });
  });
});
