// The Task states the promotion state machine is made of: one helper per function it invokes, typed against
// the request each function's code accepts (lambdas/use-cases/*-actions.ts, provision-model.ts), so a payload
// the state machine sends and the code that reads it cannot drift apart; SNS notices that retry and never stop
// an execution; the CloudWatch and API Gateway calls made directly through the AWS SDK integration.
import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { ProvisionRequest } from '../../../lambdas/use-cases/provision-model';
import type { RegistryRequest } from '../../../lambdas/use-cases/registry-actions';
import type { RoutingRequest } from '../../../lambdas/use-cases/routing-actions';
import type { PublishRequest } from '../../../lambdas/handlers/publish';
import type { ValidateRequest } from '../../../lambdas/handlers/validate';
import type { OnFailure } from './failure-path';

/**
 * One of the requests `R` the function accepts, its values JSONPath expressions or literals: the action and the
 * keys are checked (a key missing, misspelt or extra fails to compile), the values are not.
 */
export type Payload<R> = R extends unknown ? { readonly [K in keyof R]: K extends 'action' ? R[K] : unknown } : never;
type Fields<R> = { readonly [K in keyof R]: unknown };

export interface PipelineFunctions {
  readonly registry: lambda.IFunction;
  readonly validate: lambda.IFunction;
  readonly publish: lambda.IFunction;
  readonly routing: lambda.IFunction;
  readonly provision: lambda.IFunction;
}

export interface PipelineTaskSettings {
  readonly functions: PipelineFunctions;
  readonly topic: sns.ITopic;
  /** IAM resources of the alarm calls: the deployment's alarms. */
  readonly alarmResources: readonly string[];
  /** The REST API whose stage gets a new deployment when a model's routes change. */
  readonly restApiId: string;
  readonly stageName: string;
  readonly apiResourceArn: string;
}

export const executionId = sfn.JsonPath.stringAt('$$.Execution.Id');

export class PipelineTasks {
  constructor(
    private readonly scope: Construct,
    private readonly settings: PipelineTaskSettings,
  ) {}

  registry(id: string, payload: Payload<RegistryRequest>, resultPath: string = sfn.JsonPath.DISCARD): tasks.LambdaInvoke {
    return this.invoke(id, this.settings.functions.registry, payload, resultPath);
  }

  routing(id: string, payload: Payload<RoutingRequest>, resultPath: string = sfn.JsonPath.DISCARD): tasks.LambdaInvoke {
    return this.invoke(id, this.settings.functions.routing, payload, resultPath);
  }

  provision(id: string, payload: Payload<ProvisionRequest>, resultPath: string): tasks.LambdaInvoke {
    return this.invoke(id, this.settings.functions.provision, payload, resultPath);
  }

  validate(id: string, payload: Fields<ValidateRequest>, resultPath: string): tasks.LambdaInvoke {
    return withS3Retry(this.invoke(id, this.settings.functions.validate, payload, resultPath, Duration.minutes(10)));
  }

  publish(id: string, payload: Fields<PublishRequest>, resultPath: string): tasks.LambdaInvoke {
    return withS3Retry(this.invoke(id, this.settings.functions.publish, payload, resultPath, Duration.minutes(5)));
  }

  /**
   * The model's lock is busy (`$.lock.holder`): Step Functions says whether its holder still runs. An execution
   * that ended without freeing it — stopped by hand, timed out, failed where no Catch runs — never will: its lock
   * is taken over at once and the attempt goes back to `locked` (the `$.lock.acquired` choice). A running holder
   * is waited for (`wait`, then the next attempt).
   */
  lockHolder(prefix: string, modelPath: string, onFailure: OnFailure, wait: sfn.IChainable, locked: sfn.IChainable): sfn.IChainable {
    const takeOver = onFailure(
      this.registry(
        `${prefix}TakeOverLock`,
        { action: 'take-over-lock', model: sfn.JsonPath.stringAt(modelPath), executionId, from: sfn.JsonPath.stringAt('$.lock.holder') },
        '$.lock',
      ),
    );
    takeOver.next(locked);
    // A raw Task state: its one IAM grant, DescribeExecution on this state machine's own executions, is added by
    // the state machine's construct once the state machine's name exists (a reference here would be circular).
    const status = new sfn.CustomState(this.scope, `${prefix}LockHolderStatus`, {
      stateJson: {
        Type: 'Task',
        Resource: 'arn:aws:states:::aws-sdk:sfn:describeExecution',
        Parameters: { 'ExecutionArn.$': '$.lock.holder' },
        ResultSelector: { 'status.$': '$.Status' },
        ResultPath: '$.lockHolder',
      },
    });
    status.addRetry({ errors: ['Sfn.ThrottlingException'], interval: Duration.seconds(1), maxAttempts: 5, backoffRate: 2 });
    status.addCatch(takeOver, { errors: ['Sfn.ExecutionDoesNotExistException'], resultPath: '$.lockHolder' });
    return onFailure(status).next(
      new sfn.Choice(this.scope, `${prefix}LockHolderRunning?`).when(sfn.Condition.stringEquals('$.lockHolder.status', 'RUNNING'), wait).otherwise(takeOver),
    );
  }

  /** Frees the model's lock (a no-op when this execution does not hold it). */
  release(id: string, modelPath: string): tasks.LambdaInvoke {
    return this.registry(id, { action: 'release-lock', model: sfn.JsonPath.stringAt(modelPath), executionId });
  }

  /**
   * Publishes the notice at `noticePath` to the on-call topic, then goes on to `next`. A publish that still
   * fails after its retries goes on to `next` too: the notice is also in the registry and the execution
   * history, and a lost notice must never keep a model's lock.
   */
  notify(id: string, noticePath: string, next: sfn.IChainable): sfn.Chain {
    const publish = new tasks.SnsPublish(this.scope, id, {
      topic: this.settings.topic,
      subject: sfn.JsonPath.stringAt(`${noticePath}.subject`),
      message: sfn.TaskInput.fromJsonPathAt(`${noticePath}.message`),
      resultPath: sfn.JsonPath.DISCARD,
    });
    publish.addRetry({ errors: ['States.ALL'], interval: Duration.seconds(2), maxAttempts: 3, backoffRate: 2 });
    publish.addCatch(next, { errors: ['States.ALL'], resultPath: `$.notifyErrors.${id}` });
    return publish.next(next);
  }

  /** A CloudWatch call through the AWS SDK integration, on this deployment's alarms. */
  cloudWatch(
    id: string,
    action: 'describeAlarms' | 'putMetricAlarm' | 'deleteAlarms',
    parameters: Record<string, unknown>,
    options: { resultPath?: string; resultSelector?: Record<string, unknown> } = {},
  ): tasks.CallAwsService {
    return new tasks.CallAwsService(this.scope, id, {
      service: 'cloudwatch',
      action,
      iamAction: `cloudwatch:${action.charAt(0).toUpperCase()}${action.slice(1)}`,
      iamResources: [...this.settings.alarmResources],
      parameters,
      resultPath: options.resultPath ?? sfn.JsonPath.DISCARD,
      ...(options.resultSelector ? { resultSelector: options.resultSelector } : {}),
    });
  }

  /** A new deployment of the API's stage: routes a model stack added or removed go live. */
  deployApi(id: string): tasks.CallAwsService {
    const task = new tasks.CallAwsService(this.scope, id, {
      service: 'apigateway',
      action: 'createDeployment',
      iamAction: 'apigateway:POST',
      iamResources: [this.settings.apiResourceArn],
      parameters: { RestApiId: this.settings.restApiId, StageName: this.settings.stageName, Description: sfn.JsonPath.format('modelgate pipeline {}', executionId) },
      resultPath: sfn.JsonPath.DISCARD,
    });
    // API Gateway throttles deployments per account (a few per minute): wait and try again.
    task.addRetry({ errors: ['ApiGateway.TooManyRequestsException', 'ApiGateway.ConflictException'], interval: Duration.seconds(5), maxAttempts: 6, backoffRate: 2 });
    return task;
  }

  private invoke(id: string, fn: lambda.IFunction, payload: object, resultPath: string, timeout = Duration.seconds(60)): tasks.LambdaInvoke {
    const task = new tasks.LambdaInvoke(this.scope, id, {
      lambdaFunction: fn,
      payload: sfn.TaskInput.fromObject(payload as Record<string, unknown>),
      payloadResponseOnly: true,
      resultPath,
      retryOnServiceExceptions: true,
      taskTimeout: sfn.Timeout.duration(timeout),
    });
    task.addRetry({ errors: ['RegistryConflictError'], interval: Duration.seconds(1), maxAttempts: 3, backoffRate: 2 });
    // Lambda refuses invocations once the account's concurrency is used up, the inference functions' traffic
    // included: wait for capacity (about 4 minutes in all) rather than fail the upload and burn its version.
    task.addRetry({
      errors: ['Lambda.TooManyRequestsException'],
      interval: Duration.seconds(2),
      maxAttempts: 8,
      backoffRate: 2,
      maxDelay: Duration.minutes(1),
      jitterStrategy: sfn.JitterType.FULL,
    });
    return task;
  }
}

/**
 * S3's transient errors, as the function's error name: what the SDK's own three attempts (about a second) did
 * not outlast. Validation and publishing read and copy the candidate's objects and change nothing else, so they
 * run again: an S3 outage of a few minutes delays the upload instead of spending its version (4 more attempts,
 * 15 s apart and doubling: about 4 minutes).
 */
export const S3_TRANSIENT_ERRORS = ['InternalError', 'ServiceUnavailable', 'SlowDown', 'RequestTimeout'];

function withS3Retry(task: tasks.LambdaInvoke): tasks.LambdaInvoke {
  task.addRetry({ errors: S3_TRANSIENT_ERRORS, interval: Duration.seconds(15), maxAttempts: 4, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
  return task;
}
