// The promotion pipeline's AWS services on one machine, wired to the template: EventBridge (S3 object events
// and schedules -> rules -> targets), Step Functions (the template's state machines, their Task states bound
// to the local Lambda service, SNS and CloudWatch alarms) and its API for the CLI. The Lambda API façade
// (local/lambda-api.ts) is started by the runtime before the functions, which get its address.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Registry } from '../lambdas/adapters/registry';
import { parseCandidateKey } from '../lambdas/core/pipeline/candidate';
import { alarmsFromTemplate, type LocalAlarms } from './alarms';
import type { LocalS3 } from './aws-services';
import { eventBridgeBuckets, LocalEventBridge, rulesFromTemplate } from './eventbridge';
import type { LocalIam } from './iam/local-iam';
import { FunctionError, type LocalLambdaService } from './lambda-service';
import type { LocalSns } from './sns';
import { stateMachinesFromTemplate } from './state-machine-definitions';
import type { TaskBindings } from './state-machine-runner';
import { LocalStepFunctions, startStepFunctionsApi, type StepFunctionsApiServer } from './step-functions';
import { resourcesOfType, type CfnTemplate, type ResolutionContext } from './template';

export interface PipelineServicesOptions {
  readonly template: CfnTemplate;
  readonly context: ResolutionContext;
  readonly names: ReadonlyMap<string, string>;
  readonly lambda: LocalLambdaService;
  readonly s3: LocalS3;
  readonly sns: LocalSns;
  readonly alarms: LocalAlarms;
  readonly dynamodb: DynamoDBClient;
  readonly host: string;
  readonly stateDir: string;
  readonly timeScale: number;
  readonly print?: (text: string) => void;
  /** Checks each Task call against its state machine's role and each rule target delivery (local/iam). */
  readonly iam?: LocalIam;
}

export interface PipelineServices {
  readonly stepFunctions: LocalStepFunctions;
  readonly stepFunctionsEndpoint: string;
  readonly eventBridge: LocalEventBridge;
  /** ARN of each template state machine, by logical id. */
  readonly stateMachineArns: ReadonlyMap<string, string>;
  /** Waits until delivered events and the executions they started are done. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export async function startPipelineServices(options: PipelineServicesOptions): Promise<PipelineServices> {
  const { template, context, lambda, host } = options;
  const print = options.print ?? ((text: string) => console.log(text));
  const stateMachineArns = new Map<string, string>();
  for (const [id] of resourcesOfType(template, 'AWS::StepFunctions::StateMachine')) {
    const name = options.names.get(id) as string;
    const arn = `arn:aws:states:${context.region}:${context.accountId}:stateMachine:${name}`;
    stateMachineArns.set(id, arn);
    context.refs.set(id, arn);
    context.attributes.set(`${id}.Name`, name);
  }

  const bindings: TaskBindings = {
    async lambda(functionArn, payload) {
      const [, , , , , , name, qualifier] = functionArn.split(':');
      try {
        return (await lambda.invoke(name as string, qualifier, payload)).result;
      } catch (error) {
        // What Step Functions sees of a function error: its errorType as the error name.
        if (error instanceof FunctionError) throw Object.assign(new Error(error.error.message), { name: error.error.name });
        throw error;
      }
    },
    async snsPublish(parameters) {
      return options.sns.publish(parameters.TopicArn, parameters.Subject, typeof parameters.Message === 'string' ? parameters.Message : JSON.stringify(parameters.Message));
    },
    async awsSdk(service, action, parameters) {
      if (service === 'cloudwatch' && action === 'describeAlarms') return describeAlarms(options.alarms, parameters);
      if (service === 'cloudwatch' && action === 'putMetricAlarm') return putMetricAlarm(options.alarms, parameters, context);
      throw Object.assign(new Error(`the local runtime does not implement ${service}:${action}`), { name: 'States.TaskFailed' });
    },
  };

  const machines = stateMachinesFromTemplate(template, context).map((m) => {
    const arn = stateMachineArns.get(m.logicalId) as string;
    return { arn, name: options.names.get(m.logicalId) as string, definition: m.definition, ...(options.iam ? { bindings: options.iam.guardTaskBindings(arn, bindings) } : {}) };
  });
  const stepFunctions = new LocalStepFunctions({ machines, bindings, directory: `${options.stateDir}/executions`, timeScale: options.timeScale, print });
  await releaseInterrupted(stepFunctions, template, options);
  const api: StepFunctionsApiServer = await startStepFunctionsApi({ stepFunctions, host });

  const eventBridge = new LocalEventBridge({
    rules: rulesFromTemplate(template, context),
    region: context.region,
    accountId: context.accountId,
    timeScale: options.timeScale,
    print,
    async deliver(target, event, rule) {
      await options.iam?.authorizeRuleTarget(rule.logicalId, target.id, target.arn);
      if (target.arn.includes(':states:') && target.arn.includes(':stateMachine:')) {
        stepFunctions.start(target.arn, event);
      } else if (target.arn.includes(':lambda:')) {
        const [, , , , , , name, qualifier] = target.arn.split(':');
        await lambda.invoke(name as string, qualifier, event);
      } else {
        print(`local EventBridge: target ${target.arn} is not emulated locally`);
      }
    },
  });
  eventBridge.connectS3(options.s3.server, eventBridgeBuckets(template, context));
  eventBridge.startSchedules();

  return {
    stepFunctions,
    stepFunctionsEndpoint: api.endpoint,
    eventBridge,
    stateMachineArns,
    async settle() {
      await eventBridge.settle();
      await stepFunctions.idle();
    },
    async close() {
      eventBridge.close();
      await stepFunctions.close();
      await api.close();
    },
  };
}

/** DescribeAlarms with AlarmNamePrefix / AlarmNames and StateValue, as the SDK integration returns it. */
function describeAlarms(alarms: LocalAlarms, parameters: Record<string, unknown>): unknown {
  const prefix = parameters.AlarmNamePrefix as string | undefined;
  const names = parameters.AlarmNames as string[] | undefined;
  const state = parameters.StateValue as string | undefined;
  const { MetricAlarms } = alarms.describeAlarms();
  return {
    MetricAlarms: MetricAlarms.filter(
      (a) => (prefix === undefined || a.AlarmName.startsWith(prefix)) && (names === undefined || names.includes(a.AlarmName)) && (state === undefined || a.StateValue === state),
    ),
    CompositeAlarms: [],
  };
}

/**
 * PutMetricAlarm: the alarm is read like a template alarm (same properties) and added to the local alarms.
 * LocalAlarms is built from the template and has no PutMetricAlarm of its own yet; until it has, this reaches
 * its definition and status maps (a new alarm starts INSUFFICIENT_DATA; a re-put keeps its state).
 */
function putMetricAlarm(alarms: LocalAlarms, parameters: Record<string, unknown>, context: ResolutionContext): unknown {
  const name = String(parameters.AlarmName);
  const [definition] = alarmsFromTemplate({ Resources: { [`PipelineAlarm`]: { Type: 'AWS::CloudWatch::Alarm', Properties: parameters } } }, { ...context, refs: new Map(context.refs), attributes: new Map(context.attributes) });
  const internals = alarms as unknown as { definitions: Map<string, unknown>; status: Map<string, unknown> };
  if (!definition || !(internals.definitions instanceof Map) || !(internals.status instanceof Map)) {
    throw Object.assign(new Error('the local alarms cannot take new alarms'), { name: 'States.TaskFailed' });
  }
  internals.definitions.set(name, { ...definition, logicalId: name });
  if (!internals.status.has(name)) {
    const now = Date.now();
    internals.status.set(name, { state: 'INSUFFICIENT_DATA', reason: definition.unsupported ?? 'Unchecked: Initial alarm creation', updatedAt: now, transitionedAt: now, evaluatedThrough: 0 });
  }
  return {};
}

/** Executions a stopped runtime left running are aborted; the model locks they held are released. */
async function releaseInterrupted(stepFunctions: LocalStepFunctions, template: CfnTemplate, options: PipelineServicesOptions): Promise<void> {
  const interrupted = stepFunctions.abortInterrupted();
  if (interrupted.length === 0) return;
  const registryTable = resourcesOfType(template, 'AWS::DynamoDB::Table').find(([id]) => id.startsWith('ModelRegistry'));
  if (!registryTable) return;
  const registry = new Registry(options.dynamodb, options.names.get(registryTable[0]) as string);
  for (const execution of interrupted) {
    const input = execution.input as { model?: string; detail?: { bucket?: { name?: string }; object?: { key?: string } } };
    let model = input.model;
    if (!model && input.detail?.object?.key) {
      try {
        model = parseCandidateKey(input.detail.bucket?.name ?? '', input.detail.object.key).model;
      } catch {
        // not a candidate upload: it held no lock
      }
    }
    if (model && (await registry.releaseLock(model, execution.executionArn))) {
      (options.print ?? console.log)(`local Step Functions: ${execution.name} was interrupted by the last stop; released the ${model} lock it held`);
    }
  }
}
