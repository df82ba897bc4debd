import { Duration } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES_LIMIT, type ModelEndpointProps } from '../../lib/serving/model-endpoint';
import { InvalidPropsError } from '../../lib/validation/prop-validation';
import { endpointStack, thrownBy } from './support';

function synth(overrides: Partial<ModelEndpointProps> = {}): Template {
  return Template.fromStack(endpointStack(overrides).stack);
}

/** The only resource of `type` (and `props`), for comparing templates across synths. */
function onlyResource(template: Template, type: string, props: object = {}): Record<string, unknown> {
  const resources = Object.values(template.findResources(type, { Properties: Match.objectLike(props) }));
  expect(resources).toHaveLength(1);
  return resources[0] as Record<string, unknown>;
}

/** The statements of the policy attached to the inference function's role. */
function functionRoleStatements(template: Template): { Action: string | string[]; Resource: unknown; Condition?: unknown }[] {
  const role = new Capture();
  template.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs22.x', Role: { 'Fn::GetAtt': [role, 'Arn'] } });
  const statements = new Capture();
  template.hasResourceProperties('AWS::IAM::Policy', {
    Roles: [{ Ref: role.asString() }],
    PolicyDocument: { Statement: statements },
  });
  return statements.asArray();
}

const INFERENCE = { Runtime: 'nodejs22.x' };

describe('ModelEndpoint', () => {
  const template = synth();

  it('runs Node.js 22 on arm64 with 2 GB, 30 s and active tracing', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      ...INFERENCE,
      Architectures: ['arm64'],
      MemorySize: 2048,
      Timeout: 30,
      TracingConfig: { Mode: 'Active' },
      Handler: 'index.handler',
    });
  });

  it('names the model, bundle, log table and limits in the environment', () => {
    const bucket = new Capture();
    const table = new Capture();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          MODEL_BUCKET: { Ref: bucket },
          MODEL_PREFIX: 'models/churn/1/',
          MODEL_NAME: 'churn',
          MODEL_VERSION: '1',
          PREDICTION_TABLE: { Ref: table },
          PREDICTION_TTL_DAYS: '90',
          PREDICTION_LOG_SHARDS: '4',
          MAX_BATCH_ROWS: '1000',
          MAX_BODY_BYTES: '1048576',
          POWERTOOLS_SERVICE_NAME: 'inference',
          POWERTOOLS_METRICS_NAMESPACE: 'Test',
          POWERTOOLS_LOG_LEVEL: 'INFO',
        },
      },
    });
    const resources = template.toJSON().Resources;
    expect(resources[bucket.asString()].Type).toBe('AWS::S3::Bucket');
    expect(resources[table.asString()].Type).toBe('AWS::DynamoDB::Table');
  });

  it('passes sizing, concurrency and logging props through', () => {
    const tuned = synth({
      architecture: lambda.Architecture.X86_64,
      memorySize: 4096,
      timeout: Duration.seconds(20),
      reservedConcurrency: 50,
      provisionedConcurrency: 5,
      predictionTtlDays: 30,
      predictionLogShards: 8,
      maxBatchRows: 100,
      maxBodyBytes: 65536,
      logLevel: 'DEBUG',
    });
    tuned.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['x86_64'],
      MemorySize: 4096,
      Timeout: 20,
      ReservedConcurrentExecutions: 50,
      Environment: {
        Variables: Match.objectLike({
          PREDICTION_TTL_DAYS: '30',
          PREDICTION_LOG_SHARDS: '8',
          MAX_BATCH_ROWS: '100',
          MAX_BODY_BYTES: '65536',
          POWERTOOLS_LOG_LEVEL: 'DEBUG',
        }),
      },
    });
    tuned.hasResourceProperties('AWS::Lambda::Alias', {
      ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 5 },
    });
  });

  it('logs to its own log group with a retention', () => {
    const group = new Capture();
    template.hasResourceProperties('AWS::Lambda::Function', { LoggingConfig: { LogGroup: { Ref: group } } });
    expect(template.toJSON().Resources[group.asString()]).toMatchObject({
      Type: 'AWS::Logs::LogGroup',
      Properties: { RetentionInDays: 90 },
    });
  });

  describe('the live alias', () => {
    it('points at a bootstrap version, without routing by default', () => {
      const version = new Capture();
      template.hasResourceProperties('AWS::Lambda::Alias', {
        Name: 'live',
        FunctionVersion: { 'Fn::GetAtt': [version, 'Version'] },
        RoutingConfig: Match.absent(),
      });
      const published = template.toJSON().Resources[version.asString()];
      expect(published.Type).toBe('AWS::Lambda::Version');
      // No code hash: the version resource is created once and never republished by CloudFormation.
      expect(published.Properties.CodeSha256).toBeUndefined();
      expect(published.DeletionPolicy).toBe('Retain');
    });

    it('stays untouched by deploys that change the function (the pipeline owns it after bootstrap)', () => {
      const changed = synth({
        modelVersion: '7',
        memorySize: 3008,
        timeout: Duration.seconds(10),
        maxBatchRows: 10,
        logLevel: 'WARN',
      });
      expect(onlyResource(changed, 'AWS::Lambda::Function', INFERENCE)).not.toEqual(
        onlyResource(template, 'AWS::Lambda::Function', INFERENCE),
      );
      // Same template for the alias and its version => CloudFormation issues no UpdateAlias, so the
      // version and weights the promotion pipeline set survive the deploy.
      expect(onlyResource(changed, 'AWS::Lambda::Alias')).toEqual(onlyResource(template, 'AWS::Lambda::Alias'));
      expect(onlyResource(changed, 'AWS::Lambda::Version')).toEqual(onlyResource(template, 'AWS::Lambda::Version'));
    });

    it('writes routing only when additionalVersions is given (bootstrap / break-glass)', () => {
      synth({ additionalVersions: [{ version: '3', weight: 0.1 }] }).hasResourceProperties('AWS::Lambda::Alias', {
        Name: 'live',
        RoutingConfig: { AdditionalVersionWeights: [{ FunctionVersion: '3', FunctionWeight: 0.1 }] },
      });
    });
  });

  describe('IAM', () => {
    it('grants exactly: own logs, read of the model prefix, decrypt via S3, put into the log table, X-Ray', () => {
      const byAction = Object.fromEntries(functionRoleStatements(template).map((s) => [[s.Action].flat().join(','), s]));
      expect(Object.keys(byAction).sort()).toEqual([
        'dynamodb:PutItem,dynamodb:BatchWriteItem',
        'kms:Decrypt',
        'logs:CreateLogStream,logs:PutLogEvents',
        's3:GetObject',
        'xray:PutTraceSegments,xray:PutTelemetryRecords',
      ]);
      expect(byAction['s3:GetObject']?.Resource).toEqual({
        'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.any(String), 'Arn'] }, '/models/churn/*']],
      });
      expect(byAction['kms:Decrypt']?.Condition).toEqual({
        StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
      });
      expect(byAction['dynamodb:PutItem,dynamodb:BatchWriteItem']?.Resource).toEqual({
        'Fn::GetAtt': [expect.any(String), 'Arn'],
      });
      // The only `*` resource is X-Ray's, which has no resource-level permissions.
      const starResources = Object.entries(byAction).filter(([, s]) => s.Resource === '*').map(([actions]) => actions);
      expect(starResources).toEqual(['xray:PutTraceSegments,xray:PutTelemetryRecords']);
    });

    it('uses no AWS managed policy', () => {
      const role = new Capture();
      template.hasResourceProperties('AWS::Lambda::Function', { ...INFERENCE, Role: { 'Fn::GetAtt': [role, 'Arn'] } });
      expect(template.toJSON().Resources[role.asString()].Properties.ManagedPolicyArns).toBeUndefined();
    });
  });

  describe('fails when', () => {
    it('an additional version weight is outside [0, 1], showing the value', () => {
      const error = thrownBy(() => synth({ additionalVersions: [{ version: '2', weight: 1.5 }] }));
      expect(error).toBeInstanceOf(InvalidPropsError);
      expect(error.message).toContain('additionalVersions weight must be between 0 and 1, got: 1.5');
    });

    it('the weights leave nothing for the alias version (Lambda requires a sum below 1)', () => {
      expect(thrownBy(() => synth({ additionalVersions: [{ version: '2', weight: 1 }] })).message).toContain(
        'additionalVersions weights must sum to less than 1',
      );
    });

    it('more than one additional version is given, or one that is not a published version', () => {
      const error = thrownBy(() =>
        synth({
          additionalVersions: [
            { version: '$LATEST', weight: 0.2 },
            { version: '4', weight: 0.2 },
          ],
        }),
      );
      expect(error.message).toContain('additionalVersions may hold at most 1 version');
      expect(error.message).toContain('got: 2 (["$LATEST","4"])');
      expect(error.message).toContain('must be a published version number, got: "$LATEST"');
    });

    it('the model name cannot be a path segment, or the version an S3 / key part', () => {
      const error = thrownBy(() => synth({ modelName: 'Churn Model', modelVersion: 'v1/final' }));
      expect(error.message).toContain('model name must be 1-40 lower-case letters, digits and single dashes, got: "Churn Model"');
      expect(error.message).toContain(`model version must be 1-40 letters, digits, '.', '_' or '-' (no '/' or '#'), got: "v1/final"`);
    });

    it('sizing and limits are out of range', () => {
      const cases: [Partial<ModelEndpointProps>, string][] = [
        [{ memorySize: 64 }, 'memorySize must be an integer between 128 and 10240, got: 64'],
        [{ timeout: Duration.minutes(20) }, 'timeout must be a whole number of seconds between 1 and 900, got: 1200'],
        [{ reservedConcurrency: 0 }, 'reservedConcurrency must be an integer between 1 and 100000, got: 0'],
        [{ reservedConcurrency: 2, provisionedConcurrency: 5 }, 'provisionedConcurrency must not exceed reservedConcurrency (2), got: 5'],
        [{ predictionLogShards: 0.5 }, 'predictionLogShards must be an integer between 1 and 100, got: 0.5'],
        [{ maxBodyBytes: 10 * 1024 * 1024 }, `maxBodyBytes must be an integer between 1 and ${MAX_BODY_BYTES_LIMIT}, got: 10485760`],
      ];
      for (const [props, message] of cases) expect(thrownBy(() => synth(props)).message).toContain(message);
    });

    it('several props are wrong, reporting them all at once', () => {
      const error = thrownBy(() =>
        synth({ modelName: '', memorySize: 99_999, maxBatchRows: 0, additionalVersions: [{ version: '2', weight: -0.1 }] }),
      ) as InvalidPropsError;
      expect(error.problems).toHaveLength(4);
      expect(error.message).toContain('Invalid ModelEndpoint props (4 problems)');
      for (const value of ['got: ""', 'got: 99999', 'got: 0', 'got: -0.1']) expect(error.message).toContain(value);
    });
  });
});
