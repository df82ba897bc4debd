// The promotion pipeline's AWS services on one machine: EventBridge (S3 object events and schedules -> rules
// -> targets), Step Functions (state machines, their Task states bound to the local Lambda service, SNS and
// CloudWatch alarms) and its API for the CLI. The stacks' rules and state machines are put into them by the
// local CloudFormation (local/cloudformation/provisioners.ts). The Lambda API façade
// (local/lambda-api.ts) is started by the runtime before the functions, which get its address.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Registry } from '../lambdas/adapters/registry';
import { localS3Client } from './aws-clients';
import { parseCandidateKey } from '../lambdas/core/pipeline/candidate';
import { alarmDefinition, type LocalAlarms } from './alarms';
import type { LocalS3 } from './aws-services';
import { LocalEventBridge } from './eventbridge';
import type { LocalIam } from './iam/local-iam';
import { FunctionError, LambdaApiError, type LocalLambdaService } from './lambda-service';
import type { LocalSns } from './sns';
import type { TaskBindings } from './state-machine-runner';
import { ExecutionNotFound, LocalStepFunctions, startStepFunctionsApi, type StepFunctionsApiServer } from './step-functions';

export interface PipelineServicesOptions {
  readonly region: string;
  readonly accountId: string;
  readonly lambda: LocalLambdaService;
  readonly s3: LocalS3;
  readonly sns: LocalSns;
  readonly alarms: LocalAlarms;
  readonly dynamodb: DynamoDBClient;
  readonly host: string;
  readonly stateDir: string;
  readonly timeScale: number;
  readonly print?: (text: string) => void;
  /** The API Gateway the state machine redeploys when a model's routes come or go (CreateDeployment). */
  readonly createDeployment?: (restApiId: string, stageName: string, description?: string) => { id: string };
  /** Checks each Task call against its state machine's role and each rule target delivery (local/iam). */
  readonly iam?: LocalIam;
}

export interface PipelineServices {
  readonly stepFunctions: LocalStepFunctions;
  readonly stepFunctionsEndpoint: string;
  readonly eventBridge: LocalEventBridge;
  /**
   * Executions a stopped runtime left running are aborted; the model locks they held (in the registry
   * table, when the stack has one) are released.
   */
  releaseInterrupted(registryTable: string | undefined): Promise<void>;
  /** Waits until delivered events and the executions they started are done. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export async function startPipelineServices(options: PipelineServicesOptions): Promise<PipelineServices> {
  const { lambda, host } = options;
  const print = options.print ?? ((text: string) => console.log(text));

  // The Distributed Map's ItemReader and ResultWriter; local/iam checks each call against the machine's role first.
  const mapS3 = localS3Client(options.s3.endpoint);
  const bindings: TaskBindings = {
    async lambda(functionArn, payload) {
      const [, , , , , , name, qualifier] = functionArn.split(':');
      try {
        return (await lambda.invoke(name as string, qualifier, payload)).result;
      } catch (error) {
        // What Step Functions sees of a function error: its errorType as the error name; of the Lambda API
        // refusing the invocation, the exception prefixed with the service (Lambda.TooManyRequestsException).
        if (error instanceof FunctionError) throw Object.assign(new Error(error.error.message), { name: error.error.name });
        if (error instanceof LambdaApiError) throw Object.assign(new Error(error.message), { name: `Lambda.${error.code}` });
        throw error;
      }
    },
    s3: {
      async getObject(bucket, key) {
        return (await mapS3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body as AsyncIterable<Uint8Array>;
      },
      async putObject(bucket, key, body) {
        await mapS3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      },
    },
    async snsPublish(parameters) {
      return options.sns.publish(parameters.TopicArn, parameters.Subject, typeof parameters.Message === 'string' ? parameters.Message : JSON.stringify(parameters.Message));
    },
    async awsSdk(service, action, parameters) {
      if (service === 'cloudwatch' && action === 'describeAlarms') return describeAlarms(options.alarms, parameters);
      if (service === 'cloudwatch' && action === 'putMetricAlarm') {
        const name = String(parameters.AlarmName);
        options.alarms.putAlarm(alarmDefinition(name, parameters, name, options.region, options.accountId));
        return {};
      }
      if (service === 'cloudwatch' && action === 'deleteAlarms') {
        options.alarms.deleteAlarms((parameters.AlarmNames as string[] | undefined) ?? []);
        return {};
      }
      if (service === 'sfn' && action === 'describeExecution') return describeExecution(stepFunctions, String(parameters.ExecutionArn));
      if (service === 'apigateway' && action === 'createDeployment' && options.createDeployment) {
        try {
          return options.createDeployment(
            String(parameters.RestApiId),
            String(parameters.StageName),
            parameters.Description === undefined ? undefined : String(parameters.Description),
          );
        } catch (error) {
          // The SDK integration names service errors `ApiGateway.<ExceptionName>`.
          throw Object.assign(new Error((error as Error).message), { name: `ApiGateway.${(error as Error).name}` });
        }
      }
      throw Object.assign(new Error(`the local runtime does not implement ${service}:${action}`), { name: 'States.TaskFailed' });
    },
  };

  const { iam } = options;
  const stepFunctions = new LocalStepFunctions({
    machines: [],
    bindings,
    ...(iam ? { bindingsFor: (stateMachineArn: string, unchecked: TaskBindings) => iam.guardTaskBindings(stateMachineArn, unchecked) } : {}),
    directory: `${options.stateDir}/executions`,
    timeScale: options.timeScale,
    print,
  });
  const api: StepFunctionsApiServer = await startStepFunctionsApi({ stepFunctions, host });

  const eventBridge = new LocalEventBridge({
    region: options.region,
    accountId: options.accountId,
    timeScale: options.timeScale,
    print,
    async deliver(target, event, rule) {
      await iam?.authorizeRuleTarget(rule, target);
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
  eventBridge.connectS3(options.s3.server, (bucket, key) => options.s3.versioning.versionBeingWritten(bucket, key));

  return {
    stepFunctions,
    stepFunctionsEndpoint: api.endpoint,
    eventBridge,
    releaseInterrupted: (registryTable) => releaseInterrupted(stepFunctions, registryTable, options),
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

/** DescribeExecution as the SDK integration returns it; an unknown execution fails as `Sfn.ExecutionDoesNotExistException`. */
function describeExecution(stepFunctions: LocalStepFunctions, executionArn: string): unknown {
  let execution;
  try {
    execution = stepFunctions.describe(executionArn);
  } catch (error) {
    if (error instanceof ExecutionNotFound) throw Object.assign(new Error(error.message), { name: 'Sfn.ExecutionDoesNotExistException' });
    throw error;
  }
  return {
    ExecutionArn: execution.executionArn,
    StateMachineArn: execution.stateMachineArn,
    Name: execution.name,
    Status: execution.status,
    StartDate: execution.startDate,
    ...(execution.stopDate ? { StopDate: execution.stopDate } : {}),
  };
}

/** Executions a stopped runtime left running are aborted; the model locks they held are released. */
async function releaseInterrupted(stepFunctions: LocalStepFunctions, registryTable: string | undefined, options: PipelineServicesOptions): Promise<void> {
  const interrupted = stepFunctions.abortInterrupted();
  if (interrupted.length === 0 || registryTable === undefined) return;
  const registry = new Registry(options.dynamodb, registryTable);
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
