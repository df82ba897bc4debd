// The whole stack, synthesized once with real bundling (esbuild + npm install of onnxruntime-node):
// composition, outputs, least privilege, cdk-nag and the size of what Lambda will unzip.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { Capture, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, NagPack, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelgateStack, type ModelgateStackProps } from '../../lib/modelgate-stack';
import { InvalidPropsError } from '../../lib/validation/prop-validation';
import { BUNDLED_STACK_PROPS, type BundledApp, bundledApp, directorySize, FIXTURE_BUNDLE, fastStack, thrownBy } from './support';

const LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024;
const INFERENCE = { Runtime: 'nodejs22.x', Handler: 'index.handler' };

let synthesized: BundledApp;
beforeAll(() => {
  synthesized = bundledApp();
  console.log(`synth with bundling: ${synthesized.synthSeconds.toFixed(1)} s`);
});
afterAll(() => {
  if (synthesized) fs.rmSync(synthesized.outdir, { recursive: true, force: true });
});

describe('ModelgateStack', () => {
  it('composes bucket, prediction log, one endpoint per model and the API', () => {
    const { template } = synthesized;
    // The prediction log and the model registry (the monitoring and experiment tables are checked in their tests).
    template.hasResourceProperties('AWS::DynamoDB::Table', { KeySchema: [{ AttributeName: 'predictionId', KeyType: 'HASH' }] });
    template.hasResourceProperties('AWS::DynamoDB::Table', { KeySchema: [{ AttributeName: 'model', KeyType: 'HASH' }, { AttributeName: 'item', KeyType: 'RANGE' }] });
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    template.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    template.resourceCountIs('AWS::Lambda::Alias', 1);
    template.hasResourceProperties('AWS::Lambda::Function', { ...INFERENCE, Architectures: ['arm64'] });
    template.hasResourceProperties('AWS::S3::Bucket', { VersioningConfiguration: { Status: 'Enabled' } });
  });

  it('uploads the local bundle as a candidate (the pipeline rolls it out) without pruning what is there', () => {
    synthesized.template.hasResourceProperties('Custom::CDKBucketDeployment', {
      DestinationBucketKeyPrefix: 'candidates/churn/1/',
      Prune: false,
      RetainOnDelete: true,
    });
  });

  it('outputs the API URL and key id, bucket, table, function and alias ARNs', () => {
    const { template } = synthesized;
    const outputs = template.toJSON().Outputs as Record<string, unknown>;
    expect(Object.keys(outputs).sort()).toEqual([
      'ApiKeyId',
      'ApiUrl',
      'ChurnFunctionArn',
      'ChurnLiveAliasArn',
      'ExperimentTableName',
      'ModelBucketName',
      'MonitorFunctionName',
      'MonitoringTableName',
      'NotificationTopicArn',
      'PipelineStateMachineArn',
      'PredictionTableName',
      'RegistryTableName',
    ]);
    const alias = new Capture();
    template.hasOutput('ChurnLiveAliasArn', { Value: { Ref: alias } });
    expect(template.toJSON().Resources[alias.asString()].Type).toBe('AWS::Lambda::Alias');
  });

  it('grants no wildcard action on anything (the enforce-TLS denies aside)', () => {
    const allows = Object.values(synthesized.template.findResources('AWS::IAM::Policy')).flatMap((policy) =>
      (policy.Properties.PolicyDocument.Statement as { Effect: string; Action: string | string[] }[]).filter(
        (statement) => statement.Effect === 'Allow',
      ),
    );
    const actions = allows.flatMap((statement) => [statement.Action].flat());
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((action) => action === '*' || action.endsWith(':*'))).toEqual([]);
    // The inference function only writes the log (with two actions); the monitoring functions' grants
    // are checked in model-monitoring.test.ts.
    const inferenceStatements = Object.values(synthesized.template.findResources('AWS::IAM::Policy'))
      .filter((policy) => (policy.Properties.Roles as { Ref: string }[]).some((role) => /EndpointInferenceRole/.test(role.Ref)))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as { Effect: string; Action: string | string[] }[]);
    const tableActions = inferenceStatements
      .filter((statement) => JSON.stringify(statement).includes('PredictionLog'))
      .flatMap((statement) => [statement.Action].flat());
    expect(tableActions.sort()).toEqual(['dynamodb:BatchWriteItem', 'dynamodb:PutItem']);
  });

  describe('cdk-nag (AwsSolutions + Serverless)', () => {
    // The deployed shape (environment, KMS) and the other variant the acknowledgements depend on
    // (environment-agnostic, SSE-S3: no KMS findings, tokens instead of account and region).
    const apps = (): [string, IConstruct][] => [
      ['bundled, with env and KMS', synthesized.app],
      [
        'env-agnostic, SSE-S3',
        new ModelgateStack(fastStack().node.root, 'Agnostic', { ...BUNDLED_STACK_PROPS, env: undefined, bucketEncryption: 's3-managed' })
          .node.root,
      ],
    ];
    const packs = () => [new AwsSolutionsChecks(), new ServerlessChecks()];

    it('reports no unacknowledged error or warning', () => {
      for (const [variant, app] of apps()) {
        const findings = packs().flatMap((pack) =>
          pack.validateScope(app).violations.map((v) => `${v.severity} ${v.ruleName}: ${v.description}`),
        );
        expect(findings, variant).toEqual([]);
      }
    });

    it('acknowledges each finding with a reason, and nothing that is not found', () => {
      for (const [variant, app] of apps()) {
        const acknowledgements = acknowledgementsIn(app);
        expect(acknowledgements.length).toBeGreaterThan(0);
        for (const { reason } of acknowledgements) expect(reason.length).toBeGreaterThan(40);

        const findings = withoutAcknowledgements(() =>
          packs().flatMap((pack) =>
            pack.validateScope(app).violations.flatMap((v) =>
              v.violatingResources.map((resource) => ({ rule: v.ruleName, path: resource.constructPath ?? '' })),
            ),
          ),
        );
        const unused = acknowledgements.filter(
          ({ id, path: scope }) => !findings.some((f) => f.rule === id && (f.path === scope || f.path.startsWith(`${scope}/`))),
        );
        expect(unused.map(({ id, path: scope }) => `${id} at ${scope}`), variant).toEqual([]);
      }
    });
  });

  describe('the inference asset', () => {
    it('is well under Lambda\'s 250 MB unzipped and carries onnxruntime for linux-arm64 only', () => {
      const { template, assembly, stack } = synthesized;
      const code = new Capture();
      template.hasResourceProperties('AWS::Lambda::Function', { ...INFERENCE, Code: { S3Key: code } });
      const hash = code.asString().replace(/\.zip$/, '');
      const manifest = JSON.parse(fs.readFileSync(path.join(assembly.directory, `${stack.artifactId}.assets.json`), 'utf8'));
      const folder = path.join(assembly.directory, manifest.files[hash].source.path as string);

      const bytes = directorySize(folder);
      console.log(`inference asset: ${(bytes / 1024 / 1024).toFixed(1)} MB unzipped (${folder})`);
      expect(bytes).toBeLessThan(LAMBDA_UNZIPPED_LIMIT);
      expect(bytes).toBeLessThan(LAMBDA_UNZIPPED_LIMIT / 4);

      const napi = path.join(folder, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
      expect(fs.readdirSync(napi)).toEqual(['linux']);
      expect(fs.readdirSync(path.join(napi, 'linux'))).toEqual(['arm64']);
      expect(fs.existsSync(path.join(napi, 'linux', 'arm64', 'onnxruntime_binding.node'))).toBe(true);

      const entry = fs.readFileSync(path.join(folder, 'index.mjs'), 'utf8');
      expect(entry.slice(0, 200)).toContain('createRequire');
    });
  });
});

describe('ModelgateStack fails when', () => {
  const build = (props: ModelgateStackProps) => () => new ModelgateStack(fastStack().node.root, 'Bad', props);

  it('the model list is empty', () => {
    expect(thrownBy(build({ models: [] })).message).toContain('models must list at least one model, got: []');
  });

  it('a bundle folder is missing, incomplete or describes another model, reporting every problem at once', () => {
    const incomplete = fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-bundle-'));
    fs.writeFileSync(
      path.join(incomplete, 'manifest.json'),
      JSON.stringify({ name: 'fraud', version: 1, model: { file: 'fraud.onnx' } }),
    );
    try {
      const error = thrownBy(
        build({
          models: [
            { name: 'churn', version: '2', bundlePath: FIXTURE_BUNDLE },
            { name: 'churn', version: '1', bundlePath: '/nonexistent/bundle' },
            { name: 'fraud', version: '1', bundlePath: incomplete },
            { name: 'Bad_Name', version: '1' },
          ],
        }),
      ) as InvalidPropsError;
      expect(error).toBeInstanceOf(InvalidPropsError);
      expect(error.problems).toEqual([
        'models must have distinct names, got duplicates: ["churn"]',
        'models[0].bundlePath/manifest.json must have version "2", got: "1"',
        'models[1].bundlePath must be a bundle folder holding manifest.json and the model file, got: "/nonexistent/bundle" (not found)',
        'models[2].bundlePath/manifest.json must have version "1", got: 1',
        'models[2].bundlePath must hold the model file its manifest names, got: "fraud.onnx" (not found)',
        'models[3]: model name must be 1-40 lower-case letters, digits and single dashes, got: "Bad_Name"',
      ]);
    } finally {
      fs.rmSync(incomplete, { recursive: true, force: true });
    }
  });
});

interface Acknowledgement {
  readonly id: string;
  readonly reason: string;
  readonly path: string;
}

/** Every `Validations.of(x).acknowledge()` in the tree, with the construct it was made on. */
function acknowledgementsIn(root: IConstruct): Acknowledgement[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          id: id.replace(/^annotation::/i, ''),
          reason,
          path: construct.node.path,
        })),
      ),
  );
}

/** Runs `check` with cdk-nag ignoring acknowledgements, to see the findings they cover. */
function withoutAcknowledgements<T>(check: () => T): T {
  const prototype = NagPack.prototype as unknown as { isAcknowledged: () => boolean };
  const original = prototype.isAcknowledged;
  prototype.isAcknowledged = () => false;
  try {
    return check();
  } finally {
    prototype.isAcknowledged = original;
  }
}
