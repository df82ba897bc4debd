// What the base stack gives the pipeline to create a model's stack: the published template and declarations,
// the parameters the provision function passes, the CloudFormation service role and the permissions boundary —
// read as deployed, and checked against the model stack each of them serves.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEPLOYMENT_PARAMETER_NAMES, MODEL_STACK_TEMPLATE_KEY } from '../../lambdas/contracts/model-stack';
import { modelStackName } from '../../lambdas/core/naming';
import { DECLARATIONS_KEY, parseDeclarations } from '../../lambdas/core/pipeline/declarations';
import type { ModelgateStack } from '../../lib/modelgate-stack';
import { INFERENCE_DOCKERFILE } from '../../lib/serving/inference-image';
import { synthesizeModelStackTemplate } from '../../lib/serving/model-stack';
import { resolveParameters } from '../../local/cloudformation/parameters';
import { provisioningChecks } from '../../local/iam/provisioning';
import type { CfnTemplate } from '../../local/template';
import { ACCOUNT, deployed, type DeployedStack, iamMatches, REGION } from './deployed';
import { actionsOf, fastDeployment, FIXTURE_BUNDLE, functionWithEntry, grants, modelStackParametersOf, roleOf, roleStatements, type Statement } from './support';

const CHURN_ALARMS = { featureDrift: { features: ['Contract', 'tenure'], severity: 'warning' as const } };

let stack: ModelgateStack;
let template: Template;
let raw: CfnTemplate;
/** The base stack as deployed (dev). */
let dev: DeployedStack;
/** The stack the pipeline creates for churn, with the parameters the provision function passes. */
let churn: DeployedStack;
let modelTemplate: CfnTemplate;

beforeAll(() => {
  stack = fastDeployment({
    models: {
      churn: { bundlePath: FIXTURE_BUNDLE, memorySize: 2048, alarms: CHURN_ALARMS },
      fraud: { reservedConcurrency: 5, rollout: { strategy: 'canary' } as never, packaging: 'image' },
    },
    allowUndeclaredModels: false,
    logLevel: 'DEBUG',
  });
  template = Template.fromStack(stack);
  raw = template.toJSON() as CfnTemplate;
  dev = deployed(raw, { stackName: stack.stackName });
  modelTemplate = synthesizeModelStackTemplate({ nag: false }) as unknown as CfnTemplate;
  churn = deployed(modelTemplate, { stackName: modelStackName(stack.stackName, 'churn'), parameters: modelStackParametersOf(dev, 'churn') });
});

const only = (type: string, props: object = {}): string => {
  const ids = Object.keys(template.findResources(type, props));
  expect(ids, type).toHaveLength(1);
  return ids[0] as string;
};
const modelBucket = () => only('AWS::S3::Bucket', { Properties: { VersioningConfiguration: { Status: 'Enabled' } } });
const bucketKey = () => only('AWS::KMS::Key', { Properties: { Description: 'modelgate model bundles' } });
const table = (partitionKey: string) => only('AWS::DynamoDB::Table', { Properties: { KeySchema: Match.arrayWith([{ AttributeName: partitionKey, KeyType: 'HASH' }]) } });
const experimentTable = () => only('AWS::DynamoDB::Table', { Properties: { GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'byStatus' })] } });
const boundary = () => only('AWS::IAM::ManagedPolicy');
const cloudFormationRole = () =>
  only('AWS::IAM::Role', { Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'cloudformation.amazonaws.com' } })] } } });

describe('the published template and declarations', () => {
  /** The files a BucketDeployment without a key prefix (the publication) puts in the model bucket, by key. */
  function published(): Record<string, unknown> {
    const assembly = stack.node.root instanceof App ? stack.node.root.synth() : undefined;
    if (!assembly) throw new Error('the stack is not in an app');
    const publication = only('Custom::CDKBucketDeployment', { Properties: { DestinationBucketKeyPrefix: Match.absent() } });
    const { SourceObjectKeys, DestinationBucketName } = raw.Resources[publication]?.Properties as { SourceObjectKeys: string[]; DestinationBucketName: { Ref: string } };
    expect(DestinationBucketName).toEqual({ Ref: modelBucket() });
    const manifest = JSON.parse(fs.readFileSync(path.join(assembly.directory, `${stack.artifactId}.assets.json`), 'utf8')) as {
      files: Record<string, { source: { path: string } }>;
    };
    const files: Record<string, unknown> = {};
    for (const key of SourceObjectKeys) {
      const folder = path.join(assembly.directory, manifest.files[key.replace(/\.zip$/, '')]?.source.path as string);
      for (const entry of fs.readdirSync(folder, { recursive: true, withFileTypes: true })) {
        if (entry.isFile()) files[path.relative(folder, path.join(entry.parentPath, entry.name))] = JSON.parse(fs.readFileSync(path.join(entry.parentPath, entry.name), 'utf8'));
      }
    }
    return files;
  }

  it('publishes exactly the model stack template synthesizeModelStackTemplate() gives, and the declarations, to the model bucket', () => {
    const files = published();
    expect(Object.keys(files).sort()).toEqual([DECLARATIONS_KEY, MODEL_STACK_TEMPLATE_KEY].sort());
    expect(files[MODEL_STACK_TEMPLATE_KEY]).toEqual(synthesizeModelStackTemplate());
  });

  it('publishes the declarations the pipeline admits models by: deployment, allowUndeclaredModels, settings without bundle paths', () => {
    const declarations = published()[DECLARATIONS_KEY];
    expect(declarations).toEqual({
      deployment: 'modelgate-dev',
      allowUndeclaredModels: false,
      models: { churn: { memorySize: 2048, alarms: CHURN_ALARMS }, fraud: { reservedConcurrency: 5, rollout: { strategy: 'canary' }, packaging: 'image' } },
    });
    expect(parseDeclarations(JSON.stringify(declarations))).toEqual(declarations);
  });

  it('publishes without pruning or deleting anything on update or stack deletion', () => {
    template.hasResourceProperties('Custom::CDKBucketDeployment', { DestinationBucketKeyPrefix: Match.absent(), Prune: false, RetainOnDelete: true });
  });
});

describe('the parameters of a model stack', () => {
  it("are the deployment's (DEPLOYMENT_PARAMETER_NAMES), and the model stack template accepts them", () => {
    const parameters = modelStackParametersOf(dev, 'churn', { memorySize: 3008, reservedConcurrency: 20 });
    expect(Object.keys(parameters).sort()).toEqual([...DEPLOYMENT_PARAMETER_NAMES, 'MemorySize', 'ModelName', 'PackageType', 'ReservedConcurrency', 'Serving'].sort());
    const accepted = resolveParameters(
      modelTemplate,
      Object.entries(parameters).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue })),
    );
    expect(accepted.values).toEqual(parameters);
  });

  it("name the deployment's own resources: bucket, key, tables, API parts, key authorizer, models function, boundary, and its log settings", () => {
    const parameters = modelStackParametersOf(dev, 'churn');
    const resources = raw.Resources;
    const pathOf = (id: string): string => {
      const { PathPart, ParentId } = resources[id]?.Properties as { PathPart: string; ParentId: unknown };
      const parent = (ParentId as { Ref?: string }).Ref;
      return parent ? `${pathOf(parent)}/${PathPart}` : `/${PathPart}`;
    };
    const resourceAt = (wanted: string) => Object.keys(resources).find((id) => resources[id]?.Type === 'AWS::ApiGateway::Resource' && pathOf(id) === wanted) as string;
    expect(parameters).toMatchObject({
      Deployment: 'modelgate-dev',
      ModelBucketName: dev.ref(modelBucket()),
      ModelBucketKeyArn: dev.arn(bucketKey()),
      PredictionTableName: dev.ref(table('predictionId')),
      RegistryTableName: dev.ref(table('model')),
      ExperimentTableName: dev.ref(experimentTable()),
      RestApiId: dev.ref(only('AWS::ApiGateway::RestApi')),
      V1ModelsResourceId: dev.ref(resourceAt('/v1/models')),
      V2ModelsResourceId: dev.ref(resourceAt('/v2/models')),
      RequestValidatorId: dev.ref(only('AWS::ApiGateway::RequestValidator')),
      JsonObjectModelName: 'JsonObject',
      AuthorizerId: dev.ref(only('AWS::ApiGateway::Authorizer')),
      ModelsFunctionArn: dev.arn(functionWithEntry(raw, 'models')),
      PermissionsBoundaryArn: dev.ref(boundary()),
      LogLevel: 'DEBUG',
      LogRetentionDays: '90',
      CodeBucket: `cdk-hnb659fds-assets-${ACCOUNT}-${REGION}`,
    });
    expect(parameters.CodeKey).toMatch(/^[0-9a-f]{64}\.zip$/);
  });

  it('leave the bucket key empty when the bucket uses SSE-S3, and the boundary grants no key', () => {
    const sseS3 = fastDeployment({ bucketEncryption: 's3-managed' });
    const sseS3Raw = Template.fromStack(sseS3).toJSON() as CfnTemplate;
    const deployedSseS3 = deployed(sseS3Raw, { stackName: sseS3.stackName });
    expect(modelStackParametersOf(deployedSseS3, 'churn').ModelBucketKeyArn).toBe('');
    const boundaryId = Object.keys(Template.fromStack(sseS3).findResources('AWS::IAM::ManagedPolicy'))[0] as string;
    const statements = (sseS3Raw.Resources[boundaryId]?.Properties?.PolicyDocument as { Statement: Statement[] }).Statement;
    expect(statements.flatMap(actionsOf).filter((action) => action.startsWith('kms:'))).toEqual([]);
  });
});

describe('the inference image (a declared model with packaging: image)', () => {
  /** The Docker images in the stack's asset manifest: what cdk deploy builds and pushes. */
  function dockerImages(): { directory: string; source: { directory: string; dockerFile?: string; platform?: string } }[] {
    const assembly = (stack.node.root as App).synth();
    const manifest = JSON.parse(fs.readFileSync(path.join(assembly.directory, `${stack.artifactId}.assets.json`), 'utf8')) as {
      dockerImages?: Record<string, { source: { directory: string; dockerFile?: string; platform?: string } }>;
    };
    return Object.values(manifest.dockerImages ?? {}).map((image) => ({ ...image, directory: path.join(assembly.directory, image.source.directory) }));
  }

  it('is one image asset for the deployment, built for arm64 from the Dockerfile the package ships', () => {
    const images = dockerImages();
    expect(images).toHaveLength(1);
    const [image] = images as [(typeof images)[0]];
    expect(image.source.platform).toBe('linux/arm64');
    expect(image.source.dockerFile ?? 'Dockerfile').toBe('Dockerfile');
    expect(fs.readFileSync(path.join(image.directory, 'Dockerfile'), 'utf8')).toBe(fs.readFileSync(INFERENCE_DOCKERFILE, 'utf8'));
  });

  it('is the ImageUri of every model stack; a model declared with packaging: image gets a function of that image, the others a zip', () => {
    const imageUri = modelStackParametersOf(dev, 'fraud').ImageUri as string;
    expect(imageUri).toMatch(new RegExp(`^${ACCOUNT}\\.dkr\\.ecr\\.${REGION}\\.amazonaws\\.com/cdk-hnb659fds-container-assets-${ACCOUNT}-${REGION}:[0-9a-f]{64}$`));
    const fraud = deployed(modelTemplate, { stackName: modelStackName(stack.stackName, 'fraud'), parameters: modelStackParametersOf(dev, 'fraud', { packageType: 'Image' }) });
    const fn = (deployment: DeployedStack) => {
      const [id] = deployment.created.filter((logicalId) => modelTemplate.Resources[logicalId]?.Type === 'AWS::Lambda::Function');
      return deployment.resolve(modelTemplate.Resources[id as string]?.Properties) as Record<string, unknown>;
    };
    expect(fn(fraud)).toMatchObject({ PackageType: 'Image', Code: { ImageUri: imageUri } });
    expect(fn(fraud)).not.toHaveProperty('Handler');
    expect(fn(churn).Code).toHaveProperty('S3Key');
    expect(fn(churn)).not.toHaveProperty('PackageType');
  });

  it("may be pulled by the CloudFormation role, which creates the functions (Lambda pulls with the caller's permissions)", () => {
    const repository = `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/cdk-hnb659fds-container-assets-${ACCOUNT}-${REGION}`;
    const role = roleStatements(raw, cloudFormationRole());
    expect(grants(dev, role).filter((grant) => grant.startsWith('ecr:'))).toEqual([`ecr:BatchGetImage on ${repository}`, `ecr:GetDownloadUrlForLayer on ${repository}`]);
    // What the local runtime's IAM checks when it creates the image function as that role: the pull, granted.
    const fraud = deployed(modelTemplate, { stackName: modelStackName(stack.stackName, 'fraud'), parameters: modelStackParametersOf(dev, 'fraud', { packageType: 'Image' }) });
    const [id] = fraud.created.filter((logicalId) => modelTemplate.Resources[logicalId]?.Type === 'AWS::Lambda::Function') as [string];
    const properties = fraud.resolve(modelTemplate.Resources[id]?.Properties) as Record<string, unknown>;
    const resource = { stackName: 'fraud', logicalId: id, type: 'AWS::Lambda::Function', metadata: {}, physicalName: fraud.ref(id), properties };
    const checks = provisioningChecks({ action: 'create', stack: { tags: [] } as never, resource }, { region: REGION, accountId: ACCOUNT, model: {} as never }) ?? [];
    const pulls = checks.filter((c) => c.action.startsWith('ecr:'));
    expect(pulls.map((c) => `${c.action} on ${c.resource}`)).toEqual([`ecr:BatchGetImage on ${repository}`, `ecr:GetDownloadUrlForLayer on ${repository}`]);
    const allowed = role.filter((statement) => statement.Effect === 'Allow');
    const may = (action: string, arn: string) => allowed.some((st) => actionsOf(st).includes(action) && [st.Resource].flat().some((pattern) => iamMatches(dev.text(pattern), arn)));
    expect(pulls.filter((c) => !may(c.action, c.resource))).toEqual([]);
  });
});

describe('the permissions boundary of every model stack role', () => {
  const boundaryStatements = () => (raw.Resources[boundary()]?.Properties?.PolicyDocument as { Statement: Statement[] }).Statement;

  it('caps a model function at what serving any model of this deployment takes', () => {
    expect(grants(dev, boundaryStatements())).toEqual(
      [
        `logs:CreateLogStream on arn:aws:logs:${REGION}:${ACCOUNT}:log-group:modelgate-dev-model-*`,
        `logs:PutLogEvents on arn:aws:logs:${REGION}:${ACCOUNT}:log-group:modelgate-dev-model-*`,
        `s3:GetObject on ${dev.arn(modelBucket())}/models/*`,
        `kms:Decrypt on ${dev.arn(bucketKey())}`,
        `dynamodb:PutItem on ${dev.arn(table('predictionId'))}`,
        `dynamodb:BatchWriteItem on ${dev.arn(table('predictionId'))}`,
        `dynamodb:GetItem on ${dev.arn(table('model'))}`,
        `dynamodb:Query on ${dev.arn(experimentTable())}/index/*`,
        `lambda:InvokeFunction on arn:aws:lambda:${REGION}:${ACCOUNT}:function:modelgate-dev-model-*:*`,
        'xray:PutTraceSegments on *',
        'xray:PutTelemetryRecords on *',
      ].sort(),
    );
  });

  it('allows everything a model stack grants its role: the function is not denied on AWS what it was given', () => {
    const allowed = boundaryStatements().filter((s) => s.Effect === 'Allow');
    const modelRole = roleOf(modelTemplate, churn.created.find((id) => modelTemplate.Resources[id]?.Type === 'AWS::Lambda::Function') as string);
    const given = grants(churn, roleStatements(modelTemplate, modelRole, churn.created)).map((grant) => grant.replace(/ if .*$/, ''));
    expect(given.length).toBeGreaterThan(10);
    const outside = given.filter((grant) => {
      const [action, resource] = grant.split(' on ') as [string, string];
      return !allowed.some((s) => actionsOf(s).includes(action) && [s.Resource].flat().some((pattern) => iamMatches(dev.text(pattern), resource)));
    });
    expect(outside).toEqual([]);
  });
});

describe('the CloudFormation role model stacks are created with', () => {
  const statements = () => roleStatements(raw, cloudFormationRole()).filter((s) => s.Effect === 'Allow');

  it('is assumed by CloudFormation only, and passed by the provision function only', () => {
    expect(raw.Resources[cloudFormationRole()]?.Properties?.AssumeRolePolicyDocument).toEqual({
      Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'cloudformation.amazonaws.com' } }],
      Version: '2012-10-17',
    });
    const passers = Object.entries(raw.Resources)
      .filter(
        ([, r]) =>
          r.Type === 'AWS::IAM::Policy' &&
          JSON.stringify(r.Properties?.PolicyDocument).includes('iam:PassRole') &&
          JSON.stringify(r.Properties?.PolicyDocument).includes(cloudFormationRole()),
      )
      .map(([, r]) => (r.Properties?.Roles as { Ref: string }[])[0]?.Ref);
    expect(passers).toEqual([roleOf(raw, functionWithEntry(raw, 'provision'))]);
  });

  it("touches only the model stacks' resources, named <deployment>-model-* by convention, the API's resources, and the inference code and image", () => {
    const scopes = [
      `arn:aws:lambda:${REGION}:${ACCOUNT}:function:modelgate-dev-model-*`,
      `arn:aws:lambda:${REGION}:${ACCOUNT}:function:modelgate-dev-model-*:*`,
      `arn:aws:iam::${ACCOUNT}:role/modelgate-dev-model-*`,
      `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:modelgate-dev-model-*`,
      `arn:aws:apigateway:${REGION}::/restapis/${dev.ref(only('AWS::ApiGateway::RestApi'))}/resources*`,
      `arn:aws:cloudwatch::${ACCOUNT}:dashboard/modelgate-dev-*`,
      `arn:aws:s3:::cdk-hnb659fds-assets-${ACCOUNT}-${REGION}/${modelStackParametersOf(dev, 'churn').CodeKey}`,
      `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/modelgate-dev-model-*/*`,
      `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/cdk-hnb659fds-container-assets-${ACCOUNT}-${REGION}`,
    ];
    const resources = grants(dev, statements()).map((grant) => grant.split(' on ')[1]!.replace(/ if .*$/, ''));
    // DescribeLogGroups has no resource-level permission below the account.
    const outside = grants(dev, statements()).filter((grant) => !scopes.some((scope) => grant.split(' on ')[1]!.replace(/ if .*$/, '') === scope));
    expect(outside).toEqual([`logs:DescribeLogGroups on arn:aws:logs:${REGION}:${ACCOUNT}:log-group:*`]);
    expect(new Set(resources).size).toBe(scopes.length + 1);
  });

  it('creates roles only with the model permissions boundary, cannot take it off or rewrite it, and passes roles to Lambda only', () => {
    const iamGrants = grants(dev, statements()).filter((grant) => grant.startsWith('iam:'));
    const bounded = `{"StringEquals":{"iam:PermissionsBoundary":"${dev.ref(boundary())}"}}`;
    for (const action of ['iam:CreateRole', 'iam:PutRolePolicy', 'iam:AttachRolePolicy']) {
      expect(iamGrants.filter((grant) => grant.startsWith(`${action} `))).toEqual([`${action} on arn:aws:iam::${ACCOUNT}:role/modelgate-dev-model-* if ${bounded}`]);
    }
    expect(iamGrants.filter((grant) => grant.startsWith('iam:PassRole '))).toEqual([
      `iam:PassRole on arn:aws:iam::${ACCOUNT}:role/modelgate-dev-model-* if {"StringEquals":{"iam:PassedToService":"lambda.amazonaws.com"}}`,
    ]);
    const actions = statements().flatMap(actionsOf);
    for (const breakout of [
      'iam:DeleteRolePermissionsBoundary',
      'iam:PutRolePermissionsBoundary',
      'iam:CreatePolicyVersion',
      'iam:SetDefaultPolicyVersion',
      'iam:CreatePolicy',
      'iam:UpdateAssumeRolePolicy',
    ]) {
      expect(actions, breakout).not.toContain(breakout);
    }
  });

  it('may make every resource of a model stack where the stack puts it (the calls that create each one)', () => {
    const allowed = statements();
    const may = (action: string, arn: string) => allowed.some((s) => actionsOf(s).includes(action) && [s.Resource].flat().some((pattern) => iamMatches(dev.text(pattern), arn)));
    const ofType = (type: string) => churn.created.filter((id) => modelTemplate.Resources[id]?.Type === type);
    const restApi = dev.ref(only('AWS::ApiGateway::RestApi'));
    const needs: [string, string][] = [];
    for (const id of ofType('AWS::Lambda::Function')) {
      needs.push(['lambda:CreateFunction', churn.arn(id)], ['lambda:PutFunctionConcurrency', churn.arn(id)], ['iam:PassRole', churn.arn(roleOf(modelTemplate, id))]);
      const code = churn.resolve(modelTemplate.Resources[id]?.Properties?.Code) as { S3Bucket: string; S3Key: string };
      needs.push(['s3:GetObject', `arn:aws:s3:::${code.S3Bucket}/${code.S3Key}`]);
    }
    for (const id of ofType('AWS::IAM::Role')) {
      needs.push(['iam:CreateRole', churn.arn(id)]);
      // The condition the CloudFormation role creates roles under.
      expect(churn.resolve(modelTemplate.Resources[id]?.Properties?.PermissionsBoundary)).toBe(dev.ref(boundary()));
    }
    for (const id of ofType('AWS::IAM::Policy'))
      for (const role of modelTemplate.Resources[id]?.Properties?.Roles as unknown[]) needs.push(['iam:PutRolePolicy', `arn:aws:iam::${ACCOUNT}:role/${churn.text(role)}`]);
    for (const id of ofType('AWS::Logs::LogGroup')) needs.push(['logs:CreateLogGroup', churn.arn(id)], ['logs:PutRetentionPolicy', churn.arn(id)]);
    for (const id of ofType('AWS::Lambda::Alias')) needs.push(['lambda:CreateAlias', churn.ref(id)]);
    for (const id of ofType('AWS::Lambda::Permission')) needs.push(['lambda:AddPermission', churn.text(modelTemplate.Resources[id]?.Properties?.FunctionName)]);
    for (const id of ofType('AWS::CloudWatch::Dashboard')) needs.push(['cloudwatch:PutDashboard', `arn:aws:cloudwatch::${ACCOUNT}:dashboard/${churn.ref(id)}`]);
    for (const id of ofType('AWS::ApiGateway::Resource'))
      needs.push(['apigateway:POST', `arn:aws:apigateway:${REGION}::/restapis/${restApi}/resources/${churn.text(modelTemplate.Resources[id]?.Properties?.ParentId)}`]);
    for (const id of ofType('AWS::ApiGateway::Method')) {
      const { ResourceId, HttpMethod } = modelTemplate.Resources[id]?.Properties as { ResourceId: unknown; HttpMethod: string };
      needs.push(['apigateway:PUT', `arn:aws:apigateway:${REGION}::/restapis/${restApi}/resources/${churn.text(ResourceId)}/methods/${HttpMethod}`]);
    }
    expect(needs.length).toBeGreaterThan(20);
    expect(needs.filter(([action, arn]) => !may(action, arn)).map(([action, arn]) => `${action} on ${arn}`)).toEqual([]);
  });
});
