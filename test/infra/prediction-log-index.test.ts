// The prediction log's byJoinKey index (feedback that names an entity — a pass-through join key such as
// customerID — instead of a predictionId) and what the feedback function may do with it, on the synthesized
// deployment.
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { fastDeployment } from './support';

interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}

describe('the prediction log join-key index', () => {
  const stack = fastDeployment();
  const template = Template.fromStack(stack);
  const predictionTableId = stack.getLogicalId(stack.predictionLog.table.node.defaultChild as never);
  const bucketId = stack.getLogicalId(stack.modelBucket.bucket.node.defaultChild as never);

  it('is a second index beside byModelVersion: joinKey + ts, keys only', () => {
    const table = template.findResources('AWS::DynamoDB::Table')[predictionTableId]?.Properties;
    expect(table.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: 'joinKey', AttributeType: 'S' },
        { AttributeName: 'ts', AttributeType: 'S' },
      ]),
    );
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'predictionId', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        Match.objectLike({ IndexName: 'byModelVersion', Projection: { ProjectionType: 'ALL' } }),
        {
          IndexName: 'byJoinKey',
          KeySchema: [
            { AttributeName: 'joinKey', KeyType: 'HASH' },
            { AttributeName: 'ts', KeyType: 'RANGE' },
          ],
          // Keys only: one small index write per prediction that carries a key, none when a label is written.
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    });
  });

  it('is queried by the feedback function alone, on that index only', () => {
    const roles = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([, policy]) =>
      (policy.Properties.PolicyDocument.Statement as Statement[]).some(
        (s) => [s.Action].flat().includes('dynamodb:Query') && JSON.stringify(s.Resource).includes('/index/byJoinKey'),
      ),
    );
    expect(roles.map(([id]) => id)).toEqual([expect.stringMatching(/^MonitoringFeedback/)]);
    const statements = roles[0]?.[1].Properties.PolicyDocument.Statement as Statement[];
    expect(statements).toContainEqual({
      Action: 'dynamodb:Query',
      Effect: 'Allow',
      Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [predictionTableId, 'Arn'] }, '/index/byJoinKey']] },
    });
    // The byModelVersion index and the table itself stay out of its reach for Query.
    const queried = statements.filter((s) => [s.Action].flat().includes('dynamodb:Query')).map((s) => JSON.stringify(s.Resource));
    expect(queried).toHaveLength(1);
  });

  it('lets the feedback function list the served versions of a model, under models/ only', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyName: Match.stringLikeRegexp('^MonitoringFeedback'),
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Action: 's3:ListBucket', Effect: 'Allow', Resource: { 'Fn::GetAtt': [bucketId, 'Arn'] }, Condition: { StringLike: { 's3:prefix': 'models/*' } } },
        ]),
      },
    });
  });

  it('adds no cdk-nag finding (AwsSolutions + Serverless) on the table or the feedback function', () => {
    const findings = [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
      pack
        .validateScope(stack.node.root)
        .violations.filter((v) => v.violatingResources.some((r) => /\/(PredictionLog|Monitoring\/Feedback)\//.test(r.constructPath ?? '')))
        .map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
    );
    expect(findings).toEqual([]);
  });
});
