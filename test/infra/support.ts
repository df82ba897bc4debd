// Shared set-up for the construct tests. Two kinds of app:
// - `fastStack()` / `fastDeployment()`: bundling skipped (CDK's `aws:cdk:bundling-stacks` context set to none),
//   for the many template and validation tests; the functions' assets are then placeholders.
// - `bundledApp()`: the one real synth of the whole stack, every function bundled with esbuild and
//   onnxruntime-node copied beside the ONNX ones; used only by the test that measures the assets.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks, NagPack, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { CfnTemplate } from '../../local/template';
import { PIPELINE_VARIABLES } from '../../lambdas/contracts/pipeline-environment';
import { ModelgateStack, type ModelgateStackProps } from '../../lib/modelgate-stack';
import { ACCOUNT, REGION, type DeployedStack } from './deployed';

export const FIXTURE_BUNDLE = path.join(import.meta.dirname, 'fixtures', 'churn-bundle');

export function fastStack(): Stack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new Stack(app, 'Test');
}

/** A whole deployment named like the dev stage, bundling skipped (the template and validation tests). */
export function fastDeployment(props: ModelgateStackProps = {}, stackName = 'modelgate-dev'): ModelgateStack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new ModelgateStack(app, stackName, { env: { account: ACCOUNT, region: REGION }, ...props });
}

/** The synthesized template of a stack, in the local runtime's template type. */
export function templateOf(stack: Stack): CfnTemplate {
  return Template.fromStack(stack).toJSON() as CfnTemplate;
}

export interface BundledApp {
  readonly app: App;
  readonly stack: ModelgateStack;
  readonly template: Template;
  readonly assembly: CloudAssembly;
  readonly outdir: string;
  readonly synthSeconds: number;
}

/** Like a deploy: an environment (account and region appear literally in some ARNs), a local bundle, an image-packaged model. */
export const BUNDLED_STACK_PROPS: ModelgateStackProps = {
  models: { churn: { bundlePath: FIXTURE_BUNDLE, packaging: 'image' } },
  allowUndeclaredModels: true,
  env: { account: ACCOUNT, region: REGION },
};

let bundled: BundledApp | undefined;

/** Synthesizes the full stack with bundling once per test file that asks for it (one file does). */
export function bundledApp(): BundledApp {
  if (bundled) return bundled;
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-infra-'));
  const started = performance.now();
  const app = new App({ outdir });
  const stack = new ModelgateStack(app, 'modelgate-dev', BUNDLED_STACK_PROPS);
  const assembly = app.synth();
  const synthSeconds = (performance.now() - started) / 1000;
  bundled = { app, stack, template: Template.fromStack(stack), assembly, outdir, synthSeconds };
  return bundled;
}

/** Total size of the files under `dir` (symlinks counted as links, not followed). */
export function directorySize(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += fs.statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/** The error a constructor throws, for "fails when" tests. */
export function thrownBy(build: () => unknown): Error {
  try {
    build();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the construct to throw');
}

// ---------------------------------------------------------------------------------------------------------
// IAM: statements as the template holds them, and as readable grants once resolved.

export interface Statement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | string[];
  readonly Resource?: unknown;
  readonly Condition?: unknown;
  readonly Principal?: unknown;
}

export const actionsOf = (statement: Statement): string[] => [statement.Action].flat();
const resourcesOf = (statement: Statement): unknown[] => (statement.Resource === undefined ? [] : [statement.Resource].flat());

/** The logical id of the function whose source entry is `lambdas/handlers/<handler>.ts` (there must be one). */
export function functionWithEntry(template: CfnTemplate, handler: string): string {
  const ids = Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.['modelgate:entry'] === `lambdas/handlers/${handler}.ts`)
    .map(([id]) => id);
  if (ids.length !== 1) throw new Error(`expected one function with entry ${handler}, found ${ids.length}`);
  return ids[0] as string;
}

/** The logical id of a function's execution role. */
export function roleOf(template: CfnTemplate, functionId: string): string {
  const role = template.Resources[functionId]?.Properties?.Role as { 'Fn::GetAtt'?: [string, string] } | undefined;
  const id = role?.['Fn::GetAtt']?.[0];
  if (!id) throw new Error(`${functionId} has no role of this template`);
  return id;
}

/**
 * Every statement of the policies attached to a role: its inline policies and the AWS::IAM::Policy resources naming
 * it (of those in `created`, when the template has conditions).
 */
export function roleStatements(template: CfnTemplate, roleId: string, created: readonly string[] = Object.keys(template.Resources)): Statement[] {
  const role = template.Resources[roleId];
  const inline = ((role?.Properties?.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]).flatMap((p) => p.PolicyDocument.Statement);
  const attached = Object.entries(template.Resources)
    .filter(([id]) => created.includes(id))
    .map(([, r]) => r)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && ((r.Properties?.Roles ?? []) as { Ref?: string }[]).some((ref) => ref.Ref === roleId))
    .flatMap((r) => (r.Properties?.PolicyDocument as { Statement: Statement[] }).Statement);
  return [...inline, ...attached];
}

/**
 * Each Allow statement as "action on resource" lines, resolved, with its condition when it has one: what a role
 * may do, as IAM reads it.
 */
export function grants(stack: DeployedStack, statements: readonly Statement[]): string[] {
  return statements
    .filter((s) => s.Effect === 'Allow')
    .flatMap((s) => {
      const condition = s.Condition === undefined ? '' : ` if ${JSON.stringify(stack.resolve(s.Condition))}`;
      return actionsOf(s).flatMap((action) => resourcesOf(s).map((resource) => `${action} on ${stack.text(resource)}${condition}`));
    })
    .sort();
}

/** Every policy document of a template: identity policies (roles, policies, managed policies) and resource policies. */
export function policyDocuments(template: CfnTemplate): { readonly id: string; readonly type: string; readonly statements: Statement[] }[] {
  const documents: { id: string; type: string; statements: Statement[] }[] = [];
  for (const [id, r] of Object.entries(template.Resources)) {
    const p = r.Properties ?? {};
    const add = (document: unknown) => {
      if (document && typeof document === 'object' && 'Statement' in document) documents.push({ id, type: r.Type, statements: (document as { Statement: Statement[] }).Statement });
    };
    if (r.Type === 'AWS::IAM::Role') for (const inline of (p.Policies ?? []) as { PolicyDocument: unknown }[]) add(inline.PolicyDocument);
    if (r.Type === 'AWS::KMS::Key') add(p.KeyPolicy);
    else add(p.PolicyDocument);
  }
  return documents;
}

// ---------------------------------------------------------------------------------------------------------
// cdk-nag: findings, and the acknowledgements that silence them.

const nagPacks = () => [new AwsSolutionsChecks(), new ServerlessChecks()];

/** Unacknowledged errors and warnings of the AwsSolutions and Serverless packs in the tree under `root`. */
export function nagFindings(root: IConstruct): string[] {
  return nagPacks().flatMap((pack) =>
    pack.validateScope(root).violations.map((v) => `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}: ${v.description}`),
  );
}

export interface Acknowledgement {
  readonly id: string;
  readonly reason: string;
  readonly path: string;
}

/** Every `Validations.of(x).acknowledge()` in the tree, with the construct it was made on. */
export function acknowledgementsIn(root: IConstruct): Acknowledgement[] {
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

/** Acknowledgements that cover no finding of the packs (on their construct or below it): stale, or misspelt. */
export function unusedAcknowledgements(root: IConstruct): string[] {
  const findings = withoutAcknowledgements(() =>
    nagPacks().flatMap((pack) =>
      pack.validateScope(root).violations.flatMap((v) => v.violatingResources.map((resource) => ({ rule: v.ruleName, path: resource.constructPath ?? '' }))),
    ),
  );
  return acknowledgementsIn(root)
    .filter(({ id, path: scope }) => !findings.some((f) => f.rule === id && (f.path === scope || f.path.startsWith(`${scope}/`))))
    .map(({ id, path: scope }) => `${id} at ${scope}`);
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

/** Acknowledgements whose reason is not a sentence that says why (a few words at least). */
export function acknowledgementsWithoutReason(root: IConstruct): string[] {
  return acknowledgementsIn(root)
    .filter(({ reason }) => reason.trim().split(/\s+/).length < 6)
    .map(({ id, path: scope, reason }) => `${id} at ${scope}: ${JSON.stringify(reason)}`);
}

/**
 * The parameters the base stack's provision function passes when it creates the stack of `model` (its
 * MODEL_STACK_PARAMETERS, resolved as deployed, with the model's own settings).
 */
export function modelStackParametersOf(
  base: DeployedStack,
  model: string,
  settings: { readonly memorySize?: number; readonly reservedConcurrency?: number; readonly serving?: boolean; readonly packageType?: 'Zip' | 'Image' } = {},
): Record<string, string> {
  const provision = functionWithEntry(base.template, 'provision');
  const variables = (base.template.Resources[provision]?.Properties?.Environment as { Variables: Record<string, unknown> }).Variables;
  const deployment = JSON.parse(base.text(variables[PIPELINE_VARIABLES.modelStackParameters])) as Record<string, string>;
  return {
    ...deployment,
    ModelName: model,
    Serving: String(settings.serving ?? true),
    MemorySize: String(settings.memorySize ?? 2048),
    ReservedConcurrency: settings.reservedConcurrency === undefined ? '' : String(settings.reservedConcurrency),
    PackageType: settings.packageType ?? 'Zip',
  };
}
