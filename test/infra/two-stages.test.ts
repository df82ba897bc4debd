// Two stages in one account and region (issue 10): dev and prod as `cdk deploy` defines them, each with the
// model stacks its pipeline would create for the same model name and the alarms it would put, collide on no
// name, reach nothing of each other through their grants, and fix no name that would stop a stack from being
// created again after it was deleted.
import { App } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ALARM_THRESHOLDS } from '../../lambdas/core/monitoring/alarms';
import { deploymentName, modelStackName } from '../../lambdas/core/naming';
import { rolloutAlarmInputs } from '../../lambdas/core/pipeline/alarms';
import { defineApp } from '../../lib/app/modelgate-app';
import { stageConfig, STAGES, type StageName } from '../../lib/app/stage-config';
import { synthesizeModelStackTemplate } from '../../lib/serving/model-stack';
import { resolveParameters } from '../../local/cloudformation/parameters';
import type { CfnTemplate } from '../../local/template';
import { ACCOUNT, deployed, type DeployedStack, iamMatches, NAME_PROPERTY, REGION } from './deployed';
import { grants, modelStackParametersOf, policyDocuments, templateOf } from './support';

/** Names that must be unique in an account and region (or globally), by the kind of thing they name. */
const UNIQUE_NAME_KINDS: Readonly<Record<string, string>> = {
  'AWS::Lambda::Function': 'function',
  'AWS::Logs::LogGroup': 'log group',
  'AWS::CloudWatch::Dashboard': 'dashboard',
  'AWS::CloudWatch::Alarm': 'alarm',
  'AWS::DynamoDB::Table': 'table',
  'AWS::S3::Bucket': 'bucket',
  'AWS::SQS::Queue': 'queue',
  'AWS::SNS::Topic': 'topic',
  'AWS::StepFunctions::StateMachine': 'state machine',
  'AWS::IAM::Role': 'role',
  'AWS::IAM::ManagedPolicy': 'managed policy',
  'AWS::Events::Rule': 'rule',
  'AWS::KMS::Alias': 'key alias',
  // Not unique to API Gateway, but what its metrics (ApiName) and every console list them by.
  'AWS::ApiGateway::RestApi': 'API',
};

/** The models each stage serves in this test: the same name in both, and one more in dev. */
const MODELS: Readonly<Record<StageName, readonly string[]>> = { dev: ['churn', 'fraud'], prod: ['churn'] };

interface Stage {
  readonly deployment: string;
  readonly base: DeployedStack;
  readonly models: readonly DeployedStack[];
  /** PutMetricAlarm inputs the pipeline sends for version 1 of each model. */
  readonly alarms: ReturnType<typeof rolloutAlarmInputs>;
}

const stages = {} as Record<StageName, Stage>;
let modelTemplate: CfnTemplate;

beforeAll(() => {
  modelTemplate = synthesizeModelStackTemplate({ nag: false }) as unknown as CfnTemplate;
  for (const stage of STAGES) {
    // As `cdk deploy -c stage=<stage>` defines it, bundling skipped; no env: the account and region are the same.
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [], stage, deployExample: 'false' } });
    const stack = defineApp(app);
    const base = deployed(templateOf(stack), { stackName: stack.stackName });
    const declared = stageConfig(stage, { deployExample: false }).models ?? {};
    const topic = base.ref(base.created.find((id) => base.template.Resources[id]?.Type === 'AWS::SNS::Topic') as string);
    stages[stage] = {
      deployment: stack.stackName,
      base,
      models: MODELS[stage].map((model) => {
        const parameters = modelStackParametersOf(base, model, declared[model] ?? {});
        resolveParameters(
          modelTemplate,
          Object.entries(parameters).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue })),
        );
        return deployed(modelTemplate, { stackName: modelStackName(stack.stackName, model), parameters });
      }),
      alarms: MODELS[stage].flatMap((model) => rolloutAlarmInputs(stack.stackName, model, '1', { ...DEFAULT_ALARM_THRESHOLDS, ...declared[model]?.alarms }, [topic])),
    };
  }
});

/** Every explicit name a stage gives a deployed thing, as "<kind>: <name>". */
function explicitNames(stage: Stage): string[] {
  const names: string[] = [`stack: ${stage.base.stackName}`, ...stage.models.map((m) => `stack: ${m.stackName}`), ...stage.alarms.map((a) => `alarm: ${a.AlarmName}`)];
  for (const stack of [stage.base, ...stage.models]) {
    for (const id of stack.created) {
      const { Type, Properties } = stack.template.Resources[id] ?? { Type: '' };
      const kind = UNIQUE_NAME_KINDS[Type];
      const property = NAME_PROPERTY[Type];
      if (kind && property && Properties?.[property] !== undefined) names.push(`${kind}: ${stack.text(Properties[property])}`);
    }
  }
  return names;
}

/** The metrics namespaces a stage writes to: its functions' EMF namespace and its alarms'. */
function namespaces(stage: Stage): string[] {
  const fromFunctions = [stage.base, ...stage.models].flatMap((stack) =>
    stack.created
      .filter((id) => stack.template.Resources[id]?.Type === 'AWS::Lambda::Function')
      .map(
        (id) =>
          (stack.resolve(stack.template.Resources[id]?.Properties?.Environment) as { Variables?: Record<string, string> } | undefined)?.Variables?.POWERTOOLS_METRICS_NAMESPACE,
      )
      .filter((namespace): namespace is string => namespace !== undefined),
  );
  // AWS's own namespaces (AWS/Lambda: the throttles alarm) are every stage's; their dimensions tell the stages apart.
  const fromAlarms = stage.alarms.flatMap((a) =>
    a.Metrics.map((m) => (m as { MetricStat?: { Metric: { Namespace: string } } }).MetricStat?.Metric.Namespace).filter(
      (n): n is string => n !== undefined && !n.startsWith('AWS/'),
    ),
  );
  return [...new Set([...fromFunctions, ...fromAlarms])];
}

/** ARNs of what a stage creates: every resource of its stacks, its model stacks and its alarms. */
function arnsOf(stage: Stage): string[] {
  const resources = [stage.base, ...stage.models].flatMap((stack) => stack.created.map((id) => stack.arn(id)));
  const stacks = [stage.base, ...stage.models].map((stack) => `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${stack.stackName}/0a1b2c3d`);
  const aliases = stage.models.flatMap((stack) => stack.created.filter((id) => stack.template.Resources[id]?.Type === 'AWS::Lambda::Alias').map((id) => stack.ref(id)));
  const alarms = stage.alarms.map((a) => `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${a.AlarmName}`);
  return [...resources, ...stacks, ...aliases, ...alarms];
}

/** The resource patterns of every Allow of a stage (its base stack and its model stacks), resolved. */
function grantedResources(stage: Stage): string[] {
  return [stage.base, ...stage.models].flatMap((stack) =>
    policyDocuments(stack.template)
      .filter(({ id }) => stack.created.includes(id))
      .flatMap(({ statements }) => grants(stack, statements))
      .map((grant) => grant.replace(/ if .*$/, '').split(' on ')[1] as string),
  );
}

describe('dev and prod in one account and region', () => {
  it('name every function, log group, alarm, dashboard, stack, API and namespace differently', () => {
    const all = STAGES.flatMap((stage) => explicitNames(stages[stage]));
    const duplicates = all.filter((name, i) => all.indexOf(name) !== i);
    expect(duplicates).toEqual([]);
    // Enough of each kind that the comparison means something.
    const count = (kind: string) => all.filter((name) => name.startsWith(`${kind}: `)).length;
    expect(count('function')).toBe(2 * 16 + 3); // 16 in each base stack (the key authorizer, the batch job and scoring functions), 1 per model stack
    expect(count('stack')).toBe(2 + 3);
    expect(count('dashboard')).toBe(2 + 3);
    expect(count('API')).toBe(2);
    expect(count('alarm')).toBeGreaterThanOrEqual(3 * 10);
    expect(count('log group')).toBeGreaterThanOrEqual(2);
  });

  it('derive every name from the deployment, modelgate-<stage>', () => {
    for (const stage of STAGES) {
      const deployment = deploymentName(stage);
      expect(stages[stage].deployment).toBe(deployment);
      const names = explicitNames(stages[stage]).map((name) => name.slice(name.indexOf(': ') + 2));
      // The API's execution log group is named by API Gateway's rule, after the API's id (unique per creation).
      const underived = names.filter(
        (name) => !name.startsWith(`${deployment}-`) && !name.startsWith(`${deployment}/`) && name !== deployment && !name.startsWith('API-Gateway-Execution-Logs_'),
      );
      expect(underived, stage).toEqual([]);
    }
  });

  it('write metrics to one namespace each, named after the deployment', () => {
    expect(namespaces(stages.dev)).toEqual(['modelgate-dev']);
    expect(namespaces(stages.prod)).toEqual(['modelgate-prod']);
    // An alarm on Lambda's own metrics names a function of its own stage.
    for (const stage of STAGES) {
      const functions = stages[stage].alarms.flatMap((a) =>
        a.Metrics.flatMap((m) => {
          const metric = (m as { MetricStat?: { Metric: { Namespace: string; Dimensions?: { Name: string; Value: string }[] } } }).MetricStat?.Metric;
          return metric?.Namespace === 'AWS/Lambda' ? (metric.Dimensions ?? []).filter((d) => d.Name === 'FunctionName').map((d) => d.Value) : [];
        }),
      );
      expect(functions.length, stage).toBeGreaterThan(0);
      for (const name of functions) expect(name.startsWith(`${deploymentName(stage)}-`), name).toBe(true);
    }
  });

  it("grant nothing that reaches the other stage's resources, stacks or alarms", () => {
    // `*` is the resource of actions that have none (X-Ray, stream listing, log delivery); DescribeLogGroups
    // lists the account's groups and changes nothing.
    const scoped = (stage: Stage) => [...new Set(grantedResources(stage))].filter((pattern) => pattern !== '*' && !pattern.endsWith(':log-group:*'));
    for (const [own, other] of [
      ['dev', 'prod'],
      ['prod', 'dev'],
    ] as const) {
      const patterns = scoped(stages[own]);
      expect(patterns.length, own).toBeGreaterThan(40);
      const targets = arnsOf(stages[other]);
      const reached = patterns.flatMap((pattern) => targets.filter((arn) => iamMatches(pattern, arn)).map((arn) => `${own} ${pattern} -> ${arn}`));
      expect(reached).toEqual([]);
    }
  });

  it('grant their own model stacks, functions and alarms by pattern (the check above is not vacuous)', () => {
    const patterns = [...new Set(grantedResources(stages.dev))];
    for (const arn of arnsOf(stages.dev).filter((a) => /:function:modelgate-dev-model-|:alarm:modelgate-dev\/|:stack\/modelgate-dev-model-/.test(a))) {
      expect(
        patterns.some((pattern) => pattern.includes('*') && iamMatches(pattern, arn)),
        arn,
      ).toBe(true);
    }
  });

  it("share only the account's API Gateway logging setting, whose role each stage keeps when it is deleted", () => {
    for (const stage of STAGES) {
      const { base } = stages[stage];
      const accounts = base.created.filter((id) => base.template.Resources[id]?.Type === 'AWS::ApiGateway::Account');
      expect(accounts, stage).toHaveLength(1);
      const role = (base.template.Resources[accounts[0] as string]?.Properties?.CloudWatchRoleArn as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
      expect([base.template.Resources[accounts[0] as string]?.DeletionPolicy, base.template.Resources[role]?.DeletionPolicy]).toEqual(['Retain', 'Retain']);
    }
  });

  it('fix no name a retained resource keeps, so every stack can be deleted and created again (a model retired and pushed again)', () => {
    let checked = 0;
    for (const stage of STAGES) {
      for (const stack of [stages[stage].base, ...stages[stage].models]) {
        const again = deployed(stack.template, {
          stackName: stack.stackName,
          parameters: Object.fromEntries(Object.keys(stack.template.Parameters ?? {}).map((name) => [name, String(stack.resolve({ Ref: name }))])),
          creation: 2,
        });
        for (const id of stack.created) {
          const resource = stack.template.Resources[id];
          const property = NAME_PROPERTY[resource?.Type ?? ''];
          if (resource?.DeletionPolicy !== 'Retain' || !property || resource.Properties?.[property] === undefined || resource.Type === 'AWS::ApiGateway::Stage') continue;
          checked += 1;
          expect(again.text(resource.Properties[property]), `${stack.stackName} ${id}`).not.toBe(stack.text(resource.Properties[property]));
        }
      }
    }
    // The API's execution log group in each base stack: named after the API, which a new creation replaces.
    expect(checked).toBe(2);
  });
});
