import { ArnFormat, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { pipelineVariables, type PipelineEnvironment } from '../../lambdas/contracts/pipeline-environment';
import { MODEL_STACK_TEMPLATE_KEY } from '../../lambdas/contracts/model-stack';
import { deploymentAlarmPrefix, modelFunctionName, modelStackName } from '../../lambdas/core/naming';
import { CANDIDATES_PREFIX, MANIFEST_FILE, MODELS_PREFIX } from '../../lambdas/core/pipeline/candidate';
import { DECLARATIONS_KEY } from '../../lambdas/core/pipeline/declarations';
import type { ModelApi } from '../api/model-api';
import { ModelgateFunction, type HandlerName, type Invoker, type LogLevel } from '../functions/modelgate-function';
import type { ModelServingTemplate } from '../serving/model-serving-template';
import { nagArnOf } from '../validation/nag-acknowledgements';
import { PropErrors, show } from '../validation/prop-validation';
import { pipelineDefinition, REDEPLOY_ROUTES } from './state-machine';

/** A plausible email address: something@domain.tld, no spaces. */
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface PromotionPipelineProps {
  readonly modelBucket: s3.IBucket;
  readonly modelBucketKey?: kms.IKey;
  readonly predictionTable: dynamodb.ITable;
  readonly registryTable: dynamodb.ITable;
  /** The API whose stage gets a new deployment when a model's routes come or go. */
  readonly api: ModelApi;
  /** What a model's stack is made from: its template, the inference code, the CloudFormation role. */
  readonly serving: ModelServingTemplate;
  /**
   * Where rejections, rollbacks, promotions and failures are published: the stack's on-call topic.
   *
   * @default - a topic of its own (output NotificationTopicArn), with `notificationEmails` subscribed
   */
  readonly topic?: sns.ITopic;
  /**
   * On-call addresses subscribed to the pipeline's own topic (ignored when `topic` is given). Each must confirm
   * the subscription email AWS sends.
   *
   * @default - no subscription: subscribe to the topic (output NotificationTopicArn) yourself
   */
  readonly notificationEmails?: readonly string[];
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /** @default 'INFO' */
  readonly logLevel?: LogLevel;
  /**
   * How often a waiting upload retries the model's lock while another execution holds it.
   *
   * @default Duration.seconds(30)
   */
  readonly lockRetryInterval?: Duration;
  /**
   * How often alarms are checked while a canary or linear step bakes (a hold is split into checks of
   * equal length, at most this long). Operator promote/rollback also take effect at the next check.
   *
   * @default Duration.seconds(60)
   */
  readonly bakeCheckInterval?: Duration;
  /**
   * How often a CloudFormation operation on a model's stack is polled.
   *
   * @default Duration.seconds(10)
   */
  readonly stackPollInterval?: Duration;
  /**
   * After this a lock whose holder never released it (an execution stopped by hand) is free again. Each
   * bake check renews it, so it only needs to cover the longest gap between checks.
   *
   * @default Duration.hours(6)
   */
  readonly lockTtl?: Duration;
  /** Recent logged requests of the champion replayed against a candidate. @default 200 */
  readonly replayRequests?: number;
  /** Must equal the inference functions' `PREDICTION_LOG_SHARDS`. @default 4 */
  readonly predictionLogShards?: number;
  /** Memory of the validation function, which runs two models side by side. @default 3008 */
  readonly validationMemorySize?: number;
}

/**
 * The validation-and-promote pipeline: an upload of `candidates/<model>/<version>/manifest.json` (the
 * manifest is written last, so its arrival means the bundle is complete) — of any model, known or new —
 * starts a Step Functions STANDARD execution through an EventBridge rule. The execution registers the
 * version (a duplicate, or a model the deployment does not admit, is rejected), takes the model's lock,
 * validates the candidate against the gates, and either rejects it (registry + SNS; the champion keeps
 * serving) or brings the model's CloudFormation stack up to date (creating it for a new model), publishes a
 * Lambda version and walks its rollout (canary, linear, A/B experiment, shadow or all at once), checking the
 * candidate's version-scoped alarms while steps bake and rolling back when one fires. The same state
 * machine runs operator requests (`{"operation": "promote" | "rollback" | "retire", ...}`). Its definition
 * is in ./state-machine.
 *
 * The routing function is the only writer of every model's `live` alias; the provision function the only
 * caller of CloudFormation for model stacks.
 */
export class PromotionPipeline extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly topic: sns.ITopic;
  readonly rule: events.Rule;
  /** Redeploys the API's stage after each update of the base stack. */
  readonly baseStackRule: events.Rule;
  readonly registryFunction: ModelgateFunction;
  readonly validateFunction: ModelgateFunction;
  readonly publishFunction: ModelgateFunction;
  readonly routingFunction: ModelgateFunction;
  readonly provisionFunction: ModelgateFunction;

  constructor(scope: Construct, id: string, props: PromotionPipelineProps) {
    super(scope, id);
    validate(props);
    const stack = Stack.of(this);
    const deployment = stack.stackName;
    const bucket = props.modelBucket;
    const { partition, region, account } = stack;

    this.topic = props.topic ?? this.ownTopic(props.notificationEmails ?? []);
    const make = (
      fnId: string,
      handler: HandlerName,
      description: string,
      settings: { readonly [K in keyof PipelineEnvironment]?: PipelineEnvironment[K] },
      options: { onnx?: boolean; memorySize?: number; timeout?: Duration; invokedBy?: Invoker } = {},
    ) => {
      const fn = new ModelgateFunction(this, fnId, {
        handler,
        description: `modelgate ${description}`,
        environment: pipelineVariables({ deployment, modelBucket: bucket.bucketName, ...settings }, (value) => stack.toJsonString(value)),
        invokedBy: options.invokedBy ?? { kind: 'step-functions' },
        ...(props.logRetention ? { logRetention: props.logRetention } : {}),
        ...(props.logLevel ? { logLevel: props.logLevel } : {}),
        ...(options.onnx ? { onnx: true } : {}),
        ...(options.memorySize ? { memorySize: options.memorySize } : {}),
        ...(options.timeout ? { timeout: options.timeout } : {}),
      });
      // Every pipeline function reads what the base stack published: the declarations, and for provision the template.
      fn.allow(['s3:GetObject'], [bucket.arnForObjects(DECLARATIONS_KEY)]);
      if (props.modelBucketKey) fn.allow(['kms:Decrypt'], [props.modelBucketKey.keyArn], viaS3(stack));
      return fn;
    };

    this.registryFunction = make('RegistryFunction', 'registry', 'registry writes: register, lock, statuses, routing records, retirement', {
      registryTable: props.registryTable.tableName,
      lockTtlSeconds: (props.lockTtl ?? Duration.hours(6)).toSeconds(),
    });
    this.registryFunction.allow(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], [props.registryTable.tableArn]);
    this.registryFunction.allow(['dynamodb:Query'], [`${props.registryTable.tableArn}/index/bySequence`]);

    this.validateFunction = make(
      'ValidateFunction',
      'validate',
      'candidate validation: loads candidate and champion with onnxruntime, runs the gates',
      {
        registryTable: props.registryTable.tableName,
        predictionTable: props.predictionTable.tableName,
        predictionLogShards: props.predictionLogShards ?? 4,
        replayLimit: props.replayRequests ?? 200,
        bundleWaitSeconds: 60,
      },
      { onnx: true, memorySize: props.validationMemorySize ?? 3008, timeout: Duration.minutes(10) },
    );
    this.validateFunction.allow(['s3:GetObject'], [bucket.arnForObjects(`${CANDIDATES_PREFIX}*`), bucket.arnForObjects(`${MODELS_PREFIX}*`)]);
    this.validateFunction.allow(['dynamodb:GetItem'], [props.registryTable.tableArn]);
    this.validateFunction.allow(['dynamodb:Query'], [`${props.predictionTable.tableArn}/index/byModelVersion`]);

    const modelFunctions = `arn:${partition}:lambda:${region}:${account}:function:${modelFunctionName(deployment, '*')}`;
    // Memory for the packed copy: a model at the manifest's size ceiling (512 MiB) held twice, with room to spare.
    this.publishFunction = make(
      'PublishFunction',
      'publish',
      'copies an accepted bundle (the object versions validated) to models/ and publishes a Lambda version of the model function for it',
      {},
      { memorySize: 1536 },
    );
    // The versions validation read: CopyObject and GetObject of a version are s3:GetObjectVersion.
    this.publishFunction.allow(['s3:GetObjectVersion'], [bucket.arnForObjects(`${CANDIDATES_PREFIX}*`)]);
    this.publishFunction.allow(['s3:PutObject'], [bucket.arnForObjects(`${MODELS_PREFIX}*`)]);
    this.publishFunction.allow(['lambda:GetFunctionConfiguration', 'lambda:UpdateFunctionConfiguration', 'lambda:PublishVersion'], [modelFunctions]);
    if (props.modelBucketKey) this.publishFunction.allow(['kms:GenerateDataKey'], [props.modelBucketKey.keyArn], viaS3(stack));

    this.routingFunction = make('RoutingFunction', 'routing', 'the only writer of the live aliases: rollout steps, rollbacks, operator changes', {
      bakeCheckSeconds: (props.bakeCheckInterval ?? Duration.seconds(60)).toSeconds(),
      alarmActions: [this.topic.topicArn],
    });
    this.routingFunction.allow(['lambda:UpdateAlias', 'lambda:GetAlias'], [`${modelFunctions}:live`]);

    this.provisionFunction = make('ProvisionFunction', 'provision', 'creates, updates and deletes the CloudFormation stack of each model', {
      modelStackParameters: props.serving.parameters,
      modelStackRoleArn: props.serving.cloudFormationRole.roleArn,
    });
    this.provisionFunction.allow(['s3:GetObject'], [bucket.arnForObjects(MODEL_STACK_TEMPLATE_KEY)]);
    const modelStacks = `arn:${partition}:cloudformation:${region}:${account}:stack/${modelStackName(deployment, '*')}/*`;
    this.provisionFunction.allow(
      [
        'cloudformation:CreateStack',
        'cloudformation:UpdateStack',
        'cloudformation:DeleteStack',
        'cloudformation:DescribeStacks',
        'cloudformation:DescribeStackEvents',
        'cloudformation:GetTemplate',
      ],
      [modelStacks],
    );
    this.provisionFunction.allow(['iam:PassRole'], [props.serving.cloudFormationRole.roleArn], { StringEquals: { 'iam:PassedToService': 'cloudformation.amazonaws.com' } });

    const alarmResources = [`arn:${partition}:cloudwatch:${region}:${account}:alarm:${deploymentAlarmPrefix(deployment)}*`];
    const logGroup = new logs.LogGroup(this, 'StateMachineLogs', { retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.RETAIN });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: 'modelgate: validate an uploaded model version, give its model a stack, then roll it out or reject it; operator promote/rollback/retire',
      definitionBody: sfn.DefinitionBody.fromChainable(
        pipelineDefinition(this, {
          functions: {
            registry: this.registryFunction.function,
            validate: this.validateFunction.function,
            publish: this.publishFunction.function,
            routing: this.routingFunction.function,
            provision: this.provisionFunction.function,
          },
          topic: this.topic,
          alarmResources,
          restApiId: props.api.api.restApiId,
          stageName: props.api.api.deploymentStage.stageName,
          apiResourceArn: `arn:${partition}:apigateway:${region}::/restapis/${props.api.api.restApiId}/deployments`,
          lockRetryInterval: props.lockRetryInterval ?? Duration.seconds(30),
          stackPollInterval: props.stackPollInterval ?? Duration.seconds(10),
        }),
      ),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    // The Notify states publish as this role: with an encrypted topic that takes kms:GenerateDataKey* and
    // kms:Decrypt on its key too, which grantPublish adds and SnsPublish's own sns:Publish grant does not.
    this.topic.grantPublish(this.stateMachine);
    // Who holds a busy model lock: an execution of this state machine that has ended is taken over (tasks.ts,
    // lockHolder). A policy of its own, apart from the role's default policy the state machine depends on: naming
    // the state machine there would be a circular reference.
    const lockHolderReads = new iam.Policy(this, 'LockHolderReads', {
      roles: [this.stateMachine.role],
      statements: [
        new iam.PolicyStatement({
          actions: ['states:DescribeExecution'],
          resources: [
            Stack.of(this).formatArn({
              service: 'states',
              resource: 'execution',
              resourceName: `${this.stateMachine.stateMachineName}:*`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          ],
        }),
      ],
    });
    const stateMachineName = `<${Stack.of(this).getLogicalId(this.stateMachine.node.defaultChild as sfn.CfnStateMachine)}.Name>`;
    Validations.of(lockHolderReads).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:${tokenOr(Stack.of(this).region, '<AWS::Region>')}:${tokenOr(Stack.of(this).account, '<AWS::AccountId>')}:execution:${stateMachineName}:*]`,
      reason:
        "Executions are named when they start: the holder of a model's lock is one of this state machine's executions, read (DescribeExecution) to tell a running holder from one that ended without freeing it.",
    });

    // Any model's candidate manifest starts an execution: the pipeline itself decides whether the model may be served.
    const deadLetters = new sqs.Queue(this, 'TriggerDeadLetters', { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) });
    this.rule = new events.Rule(this, 'UploadRule', {
      description: 'modelgate: a candidate manifest uploaded to candidates/<model>/<version>/ starts the promotion pipeline',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: { bucket: { name: [bucket.bucketName] }, object: { key: events.Match.wildcard(`${CANDIDATES_PREFIX}*/*/${MANIFEST_FILE}`) } },
      },
      targets: [new targets.SfnStateMachine(this.stateMachine, { deadLetterQueue: deadLetters, retryAttempts: 8, maxEventAge: Duration.hours(2) })],
    });

    // The base stack's own updates (and their rollbacks) may put the API's stage back on a deployment without the
    // model stacks' routes: each one is followed by a new deployment.
    this.baseStackRule = new events.Rule(this, 'BaseStackUpdatedRule', {
      description: 'modelgate: after an update of this stack, redeploy the API stage so the routes of every model stack stay live',
      eventPattern: {
        source: ['aws.cloudformation'],
        detailType: ['CloudFormation Stack Status Change'],
        detail: { 'stack-id': [stack.stackId], 'status-details': { status: ['UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE'] } },
      },
      targets: [
        new targets.SfnStateMachine(this.stateMachine, {
          input: events.RuleTargetInput.fromObject({ operation: REDEPLOY_ROUTES }),
          deadLetterQueue: deadLetters,
          retryAttempts: 8,
          maxEventAge: Duration.hours(2),
        }),
      ],
    });

    Validations.of(deadLetters).acknowledge(
      { id: 'AwsSolutions-SQS3', reason: "This queue is itself the dead-letter queue of the upload rule's target: events EventBridge could not deliver to the state machine." },
      {
        id: 'Serverless-SQSRedrivePolicy',
        reason: "This queue is itself the dead-letter queue of the upload rule's target; nothing consumes it automatically, so it needs no redrive.",
      },
    );
    this.acknowledgeWildcards(props);
  }

  private ownTopic(emails: readonly string[]): sns.Topic {
    const key = new kms.Key(this, 'TopicKey', { description: 'modelgate pipeline notifications', enableKeyRotation: true, removalPolicy: RemovalPolicy.DESTROY });
    const topic = new sns.Topic(this, 'Notifications', { displayName: 'modelgate pipeline', masterKey: key, enforceSSL: true });
    // The alarms of this deployment page on-call through this topic: CloudWatch publishes as itself, so the
    // topic policy and the key policy must let it in (a key policy naming only the account root does not).
    const stack = Stack.of(this);
    const cloudWatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    const alarmsOfThisDeployment = {
      ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:${deploymentAlarmPrefix(stack.stackName)}*` },
      StringEquals: { 'aws:SourceAccount': stack.account },
    };
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarms',
        principals: [cloudWatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: alarmsOfThisDeployment,
      }),
    );
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarms',
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: alarmsOfThisDeployment,
      }),
    );
    for (const email of emails) {
      const subscription = topic.addSubscription(new subscriptions.EmailSubscription(email));
      Validations.of(subscription).acknowledge({
        id: 'Serverless-SNSRedrivePolicy',
        reason: 'An email subscription: SNS retries delivery itself, and a notice that cannot be mailed is also in the registry and the execution history.',
      });
    }
    return topic;
  }

  /** Wildcards that are the point of a grant, spelled as cdk-nag reports them, with why. */
  private acknowledgeWildcards(props: PromotionPipelineProps): void {
    const stack = Stack.of(this);
    const bucket = nagArnOf(props.modelBucket);
    const objects = 'Object keys below these prefixes (one folder per model and version) are chosen by uploads at run time; any model may arrive by upload.';
    this.validateFunction.acknowledgeWildcards([`Resource::${bucket}/${CANDIDATES_PREFIX}*`, `Resource::${bucket}/${MODELS_PREFIX}*`], objects);
    this.publishFunction.acknowledgeWildcards([`Resource::${bucket}/${CANDIDATES_PREFIX}*`, `Resource::${bucket}/${MODELS_PREFIX}*`], objects);
    const region = tokenOr(stack.region, '<AWS::Region>');
    const account = tokenOr(stack.account, '<AWS::AccountId>');
    const functions = `Resource::arn:<AWS::Partition>:lambda:${region}:${account}:function:${modelFunctionName(stack.stackName, '*')}`;
    const models = 'Model functions are created by the model stacks the pipeline provisions at run time, named by convention (<deployment>-model-<model>).';
    this.publishFunction.acknowledgeWildcards([functions], models);
    this.routingFunction.acknowledgeWildcards([`${functions}:live`], models);
    this.provisionFunction.acknowledgeWildcards(
      [`Resource::arn:<AWS::Partition>:cloudformation:${region}:${account}:stack/${modelStackName(stack.stackName, '*')}/*`],
      'Model stacks are created at run time, one per model, named by convention (<deployment>-model-<model>).',
    );
    const invoked = [this.registryFunction, this.validateFunction, this.publishFunction, this.routingFunction, this.provisionFunction].map(
      (fn) => `Resource::<${stack.getLogicalId(fn.function.node.defaultChild as lambda.CfnFunction)}.Arn>:*`,
    );
    Validations.of(this.stateMachine.role).acknowledge(
      ...invoked.map((finding) => ({
        id: `AwsSolutions-IAM5[${finding}]`,
        reason: "CDK's LambdaInvoke grants the pipeline functions and their qualified ARNs; the state machine invokes $LATEST of functions of this stack only.",
      })),
      {
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudwatch:${region}:${account}:alarm:${deploymentAlarmPrefix(stack.stackName)}*]`,
        reason:
          'Version-scoped alarms are named <deployment>/<model>/v<version>/...: the pipeline creates them for each version it publishes, reads their state, and deletes them when the version leaves traffic.',
      },
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray tracing of the state machine: PutTraceSegments and GetSamplingRules have no resource-level permissions.' },
      ...(props.topic
        ? []
        : [
            {
              id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
              reason: "grantPublish on the pipeline's encrypted topic: SNS takes a data key of the topic's own key for each message it encrypts; the grant names that one key.",
            },
          ]),
    );
  }
}

function viaS3(stack: Stack): Record<string, unknown> {
  return { StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` } };
}

function tokenOr(value: string, placeholder: string): string {
  return Token.isUnresolved(value) ? placeholder : value;
}

function validate(props: PromotionPipelineProps): void {
  const errors = new PropErrors('PromotionPipeline');
  for (const email of props.notificationEmails ?? []) {
    errors.require(EMAIL.test(email), `notificationEmails must be email addresses, got: ${show(email)}`);
  }
  const seconds = (name: string, value: Duration | undefined, min: number, max: number) => {
    if (value === undefined) return;
    const s = value.toMilliseconds() / 1000;
    errors.require(Number.isInteger(s) && s >= min && s <= max, `${name} must be a whole number of seconds between ${min} and ${max}, got: ${s}`);
  };
  seconds('lockRetryInterval', props.lockRetryInterval, 1, 3600);
  seconds('bakeCheckInterval', props.bakeCheckInterval, 1, 3600);
  seconds('stackPollInterval', props.stackPollInterval, 1, 300);
  seconds('lockTtl', props.lockTtl, 60, 7 * 86400);
  errors.integer('replayRequests', props.replayRequests, 0, 10_000);
  errors.integer('predictionLogShards', props.predictionLogShards, 1, 100);
  errors.integer('validationMemorySize', props.validationMemorySize, 1024, 10240);
  errors.throwIfAny();
}
