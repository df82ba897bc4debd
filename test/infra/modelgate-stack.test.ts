// The base stack of a deployment: what it holds (everything models share, no model), its outputs, the upload of
// declared bundles, least privilege across the whole template, cdk-nag, prop validation, and — from the one
// synth with real bundling — the size of what Lambda will unzip.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelgateStack, type ModelgateStackProps } from '../../lib/modelgate-stack';
import type { HandlerName } from '../../lib/functions/modelgate-function';
import { InvalidPropsError } from '../../lib/validation/prop-validation';
import type { CfnTemplate } from '../../local/template';
import { deployed, type DeployedStack } from './deployed';
import { batchAlarmSpecs } from '../../lambdas/core/monitoring/alarms';
import {
  acknowledgementsIn,
  acknowledgementsWithoutReason,
  actionsOf,
  bundledApp,
  directorySize,
  fastDeployment,
  fastStack,
  FIXTURE_BUNDLE,
  functionWithEntry,
  grants,
  modelStackParametersOf,
  nagFindings,
  policyDocuments,
  roleOf,
  roleStatements,
  thrownBy,
  unusedAcknowledgements,
} from './support';

const LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024;

/** Every function the base stack deploys, by entry: no model's inference function among them. */
const BASE_HANDLERS: readonly HandlerName[] = [
  'aggregator',
  'api-key-authorizer',
  'batch-job',
  'batch-score',
  'experiment-aggregator',
  'experiment-analysis',
  'experiment-events',
  'experiments',
  'feedback',
  'models',
  'monitor',
  'provision',
  'publish',
  'registry',
  'routing',
  'validate',
];

let stack: ModelgateStack;
let template: Template;
let raw: CfnTemplate;

beforeAll(() => {
  stack = fastDeployment({ models: { churn: { bundlePath: FIXTURE_BUNDLE, memorySize: 2048 }, fraud: { reservedConcurrency: 10 } }, allowUndeclaredModels: true });
  template = Template.fromStack(stack);
  raw = template.toJSON() as CfnTemplate;
});

type Resources = CfnTemplate['Resources'];

/** "METHOD /full/path" for every method, rebuilt from the resource tree (no logical ids involved). */
function routes(resources: Resources): string[] {
  const pathOf = (id: string): string => {
    const { PathPart, ParentId } = resources[id]?.Properties as { PathPart: string; ParentId: { Ref?: string } };
    return ParentId.Ref ? `${pathOf(ParentId.Ref)}/${PathPart}` : `/${PathPart}`;
  };
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::ApiGateway::Method')
    .map((m) => `${m.Properties?.HttpMethod} ${pathOf((m.Properties?.ResourceId as { Ref: string }).Ref)}`)
    .sort();
}

describe('ModelgateStack', () => {
  it("holds every shared function, named <deployment>-<handler>, and no model's function, alias or route", () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function', { Metadata: { 'modelgate:entry': Match.anyValue() } }));
    const entries = functions.map((fn) => /^lambdas\/handlers\/(.+)\.ts$/.exec(fn.Metadata['modelgate:entry'] as string)?.[1]).sort();
    expect(entries).toEqual([...BASE_HANDLERS]);
    expect(functions.map((fn) => fn.Properties.FunctionName).sort()).toEqual(BASE_HANDLERS.map((handler) => `modelgate-dev-${handler}`));
    template.resourceCountIs('AWS::Lambda::Alias', 0);
    template.resourceCountIs('AWS::Lambda::Version', 0);
    expect(routes(raw.Resources)).toEqual(['GET /v1/experiments', 'GET /v1/experiments/{id}', 'GET /v1/models/{name}', 'POST /v1/events', 'POST /v1/feedback']);
  });

  it('holds the shared state: a versioned model bucket, the prediction log, the registry, one API, the pipeline and batch state machines, one on-call topic', () => {
    template.hasResourceProperties('AWS::S3::Bucket', { VersioningConfiguration: { Status: 'Enabled' } });
    template.hasResourceProperties('AWS::DynamoDB::Table', { KeySchema: [{ AttributeName: 'predictionId', KeyType: 'HASH' }] });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'model', KeyType: 'HASH' },
        { AttributeName: 'item', KeyType: 'RANGE' },
      ],
    });
    template.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 2);
    template.resourceCountIs('AWS::SNS::Topic', 1);
  });

  it('outputs what operators and the CLI look up, each naming the resource it says', () => {
    const expected: Record<string, string> = {
      BatchStateMachineArn: 'AWS::StepFunctions::StateMachine',
      EventsApiKeyId: 'AWS::ApiGateway::ApiKey',
      ExperimentTableName: 'AWS::DynamoDB::Table',
      ModelBucketName: 'AWS::S3::Bucket',
      MonitorFunctionName: 'AWS::Lambda::Function',
      MonitoringTableName: 'AWS::DynamoDB::Table',
      FeedbackApiKeyId: 'AWS::ApiGateway::ApiKey',
      NotificationTopicArn: 'AWS::SNS::Topic',
      PredictApiKeyId: 'AWS::ApiGateway::ApiKey',
      PipelineStateMachineArn: 'AWS::StepFunctions::StateMachine',
      PredictionTableName: 'AWS::DynamoDB::Table',
      RegistryTableName: 'AWS::DynamoDB::Table',
    };
    expect(Object.keys(raw.Outputs ?? {}).sort()).toEqual([...Object.keys(expected), 'ApiUrl'].sort());
    for (const [output, type] of Object.entries(expected)) {
      const ref = (raw.Outputs?.[output]?.Value as { Ref: string }).Ref;
      expect(raw.Resources[ref]?.Type, output).toBe(type);
    }
    expect(raw.Resources[(raw.Outputs?.MonitorFunctionName?.Value as { Ref: string }).Ref]?.Metadata?.['modelgate:entry']).toBe('lambdas/handlers/monitor.ts');
    const dev = deployed(raw, { stackName: stack.stackName });
    const api = Object.keys(template.findResources('AWS::ApiGateway::RestApi'))[0] as string;
    expect(dev.text(raw.Outputs?.ApiUrl?.Value)).toBe(`https://${dev.ref(api)}.execute-api.eu-west-1.amazonaws.com/api/`);
  });

  it("uploads a declared model's bundle as a candidate (the pipeline rolls it out), after the pipeline listens and its settings are published", () => {
    const bucket = Object.keys(template.findResources('AWS::S3::Bucket', { Properties: { VersioningConfiguration: { Status: 'Enabled' } } }));
    const publication = Object.keys(template.findResources('Custom::CDKBucketDeployment', { Properties: { DestinationBucketKeyPrefix: Match.absent() } }));
    const uploadRule = Object.keys(template.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.s3'] } } }));
    expect([bucket, publication, uploadRule].map((ids) => ids.length)).toEqual([1, 1, 1]);
    template.hasResource('Custom::CDKBucketDeployment', {
      Properties: Match.objectLike({ DestinationBucketName: { Ref: bucket[0] }, DestinationBucketKeyPrefix: 'candidates/churn/1/', Prune: false, RetainOnDelete: true }),
      DependsOn: Match.arrayWith([publication[0], uploadRule[0]]),
    });
    // fraud is declared without a bundle: it arrives by push.
    expect(Object.keys(template.findResources('Custom::CDKBucketDeployment', { Properties: { DestinationBucketKeyPrefix: Match.stringLikeRegexp('fraud') } }))).toEqual([]);
    template.resourceCountIs('Custom::CDKBucketDeployment', 2);
  });

  it('grants no wildcard action anywhere: only the key policies delegate their key to the account, as KMS does by default', () => {
    const allows = policyDocuments(raw).flatMap((document) => document.statements.filter((s) => s.Effect === 'Allow').map((statement) => ({ ...document, statement })));
    expect(allows.length).toBeGreaterThan(50);
    const wildcards = allows.filter(({ statement }) => actionsOf(statement).some((action) => action === '*' || action.endsWith(':*')));
    expect(wildcards.map(({ type, statement }) => ({ type, actions: statement.Action, principal: statement.Principal }))).toEqual(
      Object.keys(template.findResources('AWS::KMS::Key')).map(() => ({
        type: 'AWS::KMS::Key',
        actions: 'kms:*',
        principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:root']] } },
      })),
    );
    // The denies are the TLS-only resource policies.
    for (const { statements } of policyDocuments(raw)) {
      for (const deny of statements.filter((s) => s.Effect === 'Deny')) expect(deny.Condition).toEqual({ Bool: { 'aws:SecureTransport': 'false' } });
    }
  });

  describe('cdk-nag (AwsSolutions + Serverless)', () => {
    // The deployed shape (environment, KMS) and the other variant the acknowledgements depend on
    // (environment-agnostic, SSE-S3: no KMS findings, tokens instead of account and region; an image-packaged
    // model), each with a bundle.
    const variants = () =>
      [
        ['with env and KMS', stack.node.root],
        [
          'env-agnostic, SSE-S3',
          new ModelgateStack(fastStack().node.root, 'modelgate-prod', {
            models: { churn: { bundlePath: FIXTURE_BUNDLE, packaging: 'image' } },
            bucketEncryption: 's3-managed',
          }).node.root,
        ],
      ] as const;

    it('reports no unacknowledged error or warning, acknowledges with reasons, and nothing that is not found', () => {
      for (const [variant, root] of variants()) {
        expect(nagFindings(root), variant).toEqual([]);
        expect(acknowledgementsIn(root).length, variant).toBeGreaterThan(20);
        expect(acknowledgementsWithoutReason(root), variant).toEqual([]);
        expect(unusedAcknowledgements(root), variant).toEqual([]);
      }
    });
  });
});

describe('the deployed code (one synth with real bundling)', () => {
  beforeAll(() => {
    console.log(`synth with bundling: ${bundledApp().synthSeconds.toFixed(1)} s`);
  });
  afterAll(() => {
    fs.rmSync(bundledApp().outdir, { recursive: true, force: true });
  });

  /** The staged folder of a file asset of the base stack, by its object key. */
  function assetFolder(objectKey: string): string {
    const { assembly, stack: bundledStack } = bundledApp();
    const manifest = JSON.parse(fs.readFileSync(path.join(assembly.directory, `${bundledStack.artifactId}.assets.json`), 'utf8')) as {
      files: Record<string, { source: { path: string } }>;
    };
    const source = manifest.files[objectKey.replace(/\.zip$/, '')]?.source.path;
    if (!source) throw new Error(`no file asset ${objectKey}`);
    return path.join(assembly.directory, source);
  }

  it("gives model stacks an inference bundle well under Lambda's 250 MB unzipped, carrying onnxruntime for linux-arm64 only", () => {
    const { template: bundledTemplate, stack: bundledStack } = bundledApp();
    const parameters = modelStackParametersOf(deployed(bundledTemplate.toJSON() as CfnTemplate, { stackName: bundledStack.stackName }), 'churn');
    const folder = assetFolder(parameters.CodeKey as string);
    const bytes = directorySize(folder);
    console.log(`inference asset: ${(bytes / 1024 / 1024).toFixed(1)} MB unzipped`);
    expect(bytes).toBeLessThan(LAMBDA_UNZIPPED_LIMIT / 4);

    const napi = path.join(folder, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
    expect(fs.readdirSync(napi)).toEqual(['linux']);
    expect(fs.readdirSync(path.join(napi, 'linux'))).toEqual(['arm64']);
    expect(fs.existsSync(path.join(napi, 'linux', 'arm64', 'onnxruntime_binding.node'))).toBe(true);
    // The ESM bundle gives its CommonJS dependencies a require() (lib/functions/bundling.ts).
    expect(fs.readFileSync(path.join(folder, 'index.mjs'), 'utf8').slice(0, 200)).toContain('createRequire');
  });

  it('builds the inference image from the files of the inference asset: the code in one folder, onnxruntime and its linux-arm64 binary in another', () => {
    const { template: bundledTemplate, stack: bundledStack, assembly } = bundledApp();
    const parameters = modelStackParametersOf(deployed(bundledTemplate.toJSON() as CfnTemplate, { stackName: bundledStack.stackName }), 'churn');
    const manifest = JSON.parse(fs.readFileSync(path.join(assembly.directory, `${bundledStack.artifactId}.assets.json`), 'utf8')) as {
      dockerImages: Record<string, { source: { directory: string } }>;
    };
    const images = Object.values(manifest.dockerImages);
    expect(images).toHaveLength(1);
    const context = path.join(assembly.directory, (images[0] as { source: { directory: string } }).source.directory);
    const files = (dir: string) =>
      fs
        .readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
        .sort();
    const zip = files(assetFolder(parameters.CodeKey as string));
    const image = [...files(path.join(context, 'code')), ...files(path.join(context, 'node_modules')).map((file) => path.join('node_modules', file))].sort();
    expect(image).toEqual(zip);
    expect(zip).toContain(path.join('node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'arm64', 'onnxruntime_binding.node'));
    expect(fs.readdirSync(context).sort()).toEqual(['Dockerfile', 'code', 'node_modules']);
  });

  it("bundles each base function into its own asset under Lambda's limit, onnxruntime only where a model is loaded", () => {
    const { template: bundledTemplate } = bundledApp();
    const sizes: string[] = [];
    const keys: string[] = [];
    for (const fn of Object.values(bundledTemplate.findResources('AWS::Lambda::Function', { Metadata: { 'modelgate:entry': Match.anyValue() } }))) {
      const key = new Capture();
      Template.fromJSON({ Resources: { F: fn } }).hasResourceProperties('AWS::Lambda::Function', { Code: { S3Key: key } });
      keys.push(key.asString());
      const folder = assetFolder(key.asString());
      const bytes = directorySize(folder);
      const entry = fn.Metadata['modelgate:entry'] as string;
      sizes.push(`${path.basename(entry, '.ts')} ${(bytes / 1024 / 1024).toFixed(1)} MB`);
      expect(bytes, entry).toBeLessThan(LAMBDA_UNZIPPED_LIMIT / 4);
      expect(fs.existsSync(path.join(folder, 'node_modules', 'onnxruntime-node')), entry).toBe(
        entry === 'lambdas/handlers/validate.ts' || entry === 'lambdas/handlers/batch-score.ts',
      );
    }
    console.log(`function assets: ${sizes.join(', ')}`);
    expect(sizes).toHaveLength(BASE_HANDLERS.length);
    // Each function runs its own bundle (CDK's bundling cache once gave every function the first one's).
    expect(new Set(keys).size).toBe(BASE_HANDLERS.length);
  });
});

describe('the batch state machine (lib/batch/batch-scoring.ts; run end to end in test/e2e/local-runtime.test.ts)', () => {
  let dev: DeployedStack;
  let definition: { States: Record<string, Record<string, unknown>> };
  beforeAll(() => {
    dev = deployed(raw, { stackName: stack.stackName });
    const machine = Object.entries(raw.Resources).find(([id, r]) => r.Type === 'AWS::StepFunctions::StateMachine' && id.startsWith('Batch'));
    definition = JSON.parse(dev.text(machine?.[1].Properties?.DefinitionString)) as typeof definition;
  });

  it('scores the chunks the prepare step cut with a Distributed Map: ItemReader on their JSON list, one child per chunk, limits from the execution input', () => {
    const map = definition.States.Score as Record<string, any>;
    expect(definition.States.Prepare?.Next).toBe('Score');
    expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'EXPRESS' });
    expect(map.ItemReader.ReaderConfig.InputType).toBe('JSON');
    expect(map.ItemReader.Parameters).toEqual({ Bucket: expect.stringMatching(/^modelgate-dev-modelbucket/), 'Key.$': '$.chunks.key' });
    // No ItemBatcher: a child's event is one chunk (a byte range) and the job, far under the 256 KiB payload.
    expect(map.ItemBatcher).toBeUndefined();
    expect(map.ItemSelector).toEqual({ 'chunk.$': '$$.Map.Item.Value', 'job.$': '$.batchInput' });
    expect(map.MaxConcurrencyPath).toBe('$.maxConcurrency');
    expect(map.ToleratedFailurePercentagePath).toBe('$.toleratedFailurePercentage');
    expect(map.ResultWriter.Parameters).toEqual({ Bucket: map.ItemReader.Parameters.Bucket, 'Prefix.$': '$.resultsPrefix' });
    expect(map.Next).toBe('Summarize');
  });

  it('lets the functions and the state machine touch batch/ objects and read bundles, the state machine the model bucket objects only', () => {
    const bucket = 'arn:aws:s3:::<bucket>';
    const s3Grants = (roleId: string) =>
      grants(dev, roleStatements(raw, roleId))
        .filter((g) => g.startsWith('s3:'))
        .map((g) => g.replace(/arn:aws:s3:::modelgate-dev-modelbucket[a-z0-9-]*/, bucket));
    expect(s3Grants(roleOf(raw, functionWithEntry(raw, 'batch-score')))).toEqual([
      `s3:GetObject on ${bucket}/batch/*`,
      `s3:GetObject on ${bucket}/models/*`,
      `s3:PutObject on ${bucket}/batch/*`,
    ]);
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

  it("emits a job's drift where the model's batch alarms look, as EMF in the job function's own log group: no CloudWatch API grant", () => {
    const jobFunction = functionWithEntry(raw, 'batch-job');
    const variables = dev.resolve(raw.Resources[jobFunction]?.Properties?.Environment) as { Variables: Record<string, string> };
    for (const spec of batchAlarmSpecs(stack.stackName, 'churn')) {
      expect('namespace' in spec.metric && spec.metric.namespace).toBe(variables.Variables.POWERTOOLS_METRICS_NAMESPACE);
    }
    const granted = grants(dev, roleStatements(raw, roleOf(raw, jobFunction)));
    expect(granted.filter((g) => g.startsWith('cloudwatch:'))).toEqual([]);
    expect(granted.filter((g) => g.startsWith('logs:'))).toEqual(expect.arrayContaining([expect.stringMatching(/^logs:PutLogEvents on /)]));
  });
});

describe('ModelgateStack fails when', () => {
  const build = (props: ModelgateStackProps) => () => new ModelgateStack(fastStack().node.root, 'modelgate-dev', props);

  it('a declaration or a bundle folder is wrong, reporting every problem with its model and value', () => {
    const incomplete = fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-bundle-'));
    fs.writeFileSync(path.join(incomplete, 'manifest.json'), JSON.stringify({ name: 'fraud', version: 1, model: { file: 'fraud.onnx' } }));
    try {
      const error = thrownBy(
        build({
          models: {
            churn: { bundlePath: FIXTURE_BUNDLE, memorySize: 64, rollout: { strategy: 'big-bang' } as never },
            fraud: { bundlePath: incomplete },
            Bad_Name: {},
            lost: { bundlePath: '/nonexistent/bundle' },
            other: { bundlePath: FIXTURE_BUNDLE },
          },
        }),
      ) as InvalidPropsError;
      expect(error).toBeInstanceOf(InvalidPropsError);
      expect(error.problems).toEqual([
        'models.churn.memorySize must be an integer between 128 and 10240, got: 64',
        'models.churn.rollout.strategy must be one of canary, linear, ab-test, shadow, all-at-once, got: "big-bang"',
        'models.fraud.bundlePath/manifest.json must have a version, got: 1',
        `models.fraud.bundlePath must hold the model file its manifest names, got: ${JSON.stringify(path.join(incomplete, 'fraud.onnx'))} (not found)`,
        'models.Bad_Name: model name must be 1-40 lower-case letters, digits and single dashes, got: "Bad_Name"',
        'models.lost.bundlePath must be a bundle folder holding manifest.json and the model file, got: "/nonexistent/bundle" (not found)',
        'models.other.bundlePath/manifest.json must name model "other", got: "churn"',
      ]);
    } finally {
      fs.rmSync(incomplete, { recursive: true, force: true });
    }
  });
});
