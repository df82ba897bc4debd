import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { AlarmThresholds } from '../../lambdas/core/monitoring/alarms';
import { deploymentAlarmPrefix } from '../../lambdas/core/naming';
import { ModelEndpoint } from '../serving/model-endpoint';
import { nagArnOf } from '../validation/nag-acknowledgements';
import { PropErrors, show } from '../validation/prop-validation';
import { ModelgateFunction, type Invoker } from '../functions/modelgate-function';

/** A plausible email address: something@domain.tld, no spaces. */
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface PromotionPipelineProps {
  readonly modelBucket: s3.IBucket;
  readonly modelBucketKey?: kms.IKey;
  readonly predictionTable: dynamodb.ITable;
  readonly registryTable: dynamodb.ITable;
  /** The model endpoints whose `live` alias the pipeline owns; uploads of other models are ignored. */
  readonly endpoints: readonly ModelEndpoint[];
  /**
   * Where rejections, rollbacks, promotions and failures are published: the stack's on-call topic. Its key
   * must let the state machine's role encrypt (CDK's grantPublish does for a topic of this app).
   *
   * @default - a topic of its own (output NotificationTopicArn), with `notificationEmails` subscribed
   */
  readonly topic?: sns.ITopic;
  /**
   * On-call addresses subscribed to the pipeline's own topic (ignored when `topic` is given) (rejections, rollbacks, promotions, failures).
   * Each must confirm the subscription email AWS sends.
   *
   * @default - no subscription: subscribe to the topic (output NotificationTopicArn) yourself
   */
  readonly notificationEmails?: readonly string[];
  /** @default lambda.Architecture.ARM_64 */
  readonly architecture?: lambda.Architecture;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
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
   * After this a lock whose holder never released it (an execution stopped by hand) is free again. Each
   * bake check renews it, so it only needs to cover the longest gap between checks.
   *
   * @default Duration.hours(6)
   */
  readonly lockTtl?: Duration;
  /**
   * Alarm thresholds of each model's versions (merged over DEFAULT_ALARM_THRESHOLDS): the pipeline creates
   * the alarms of every version it publishes with these (the stack creates those of the bootstrap versions).
   *
   * @default DEFAULT_ALARM_THRESHOLDS for every model
   */
  readonly alarmThresholds?: Readonly<Record<string, Partial<AlarmThresholds>>>;
  /** Recent logged requests of the champion replayed against a candidate. @default 200 */
  readonly replayRequests?: number;
  /** Must equal the endpoints' `predictionLogShards`. @default 4 */
  readonly predictionLogShards?: number;
  /** Memory of the validation function, which runs two models side by side. @default 3008 */
  readonly validationMemorySize?: number;
}

/**
 * The validation-and-promote pipeline: an upload of `candidates/<model>/<version>/manifest.json` (the
 * manifest is written last, so its arrival means the bundle is complete) starts a Step Functions STANDARD
 * execution through an EventBridge rule. The execution registers the version (a duplicate is rejected),
 * takes the model's lock (uploads of one model run one at a time; the next waits, retrying), validates the
 * candidate against the gates, and either rejects it (registry + SNS; the champion keeps serving) or
 * publishes a Lambda version for it and walks its rollout: canary, linear, A/B experiment, shadow or all at
 * once, checking the candidate's version-scoped alarms while steps bake and rolling back when one fires.
 * The same state machine runs operator requests (`{"operation": "promote" | "rollback", ...}`).
 *
 * After the first deploy, the routing function this construct creates is the only writer of each
 * endpoint's `live` alias (see ModelEndpoint): CloudFormation never updates the alias.
 */
export class PromotionPipeline extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly topic: sns.ITopic;
  readonly rule: events.Rule;
  readonly registryFunction: lambda.Function;
  readonly validateFunction: lambda.Function;
  readonly publishFunction: lambda.Function;
  readonly routingFunction: lambda.Function;
  /** Serves `GET /v1/models/{name}` from the registry (read only). */
  readonly modelsFunction: lambda.Function;

  private readonly logRetention: logs.RetentionDays;
  private readonly architecture: lambda.Architecture;

  constructor(scope: Construct, id: string, props: PromotionPipelineProps) {
    super(scope, id);
    validate(props);
    this.logRetention = props.logRetention ?? logs.RetentionDays.THREE_MONTHS;
    this.architecture = props.architecture ?? lambda.Architecture.ARM_64;
    const models = props.endpoints.map((endpoint) => endpoint.modelName);
    const modelFunctions = JSON.stringify(Object.fromEntries(props.endpoints.map((e) => [e.modelName, e.function.functionName])));
    const bucket = props.modelBucket;
    const stack = Stack.of(this);

    // --- notifications -------------------------------------------------------------------------------
    this.topic = props.topic ?? this.ownTopic(props.notificationEmails ?? []);

    // --- functions -----------------------------------------------------------------------------------
    this.registryFunction = this.pipelineFunction('RegistryFunction', 'registry', 'registry writes: register, lock, statuses, routing records', {
      REGISTRY_TABLE: props.registryTable.tableName,
      LOCK_TTL_SECONDS: String((props.lockTtl ?? Duration.hours(6)).toSeconds()),
    });
    this.allow(this.registryFunction, ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], [props.registryTable.tableArn]);
    this.allow(this.registryFunction, ['dynamodb:Query'], [`${props.registryTable.tableArn}/index/bySequence`]);

    this.validateFunction = this.pipelineFunction(
      'ValidateFunction',
      'validate',
      'candidate validation: loads candidate and champion with onnxruntime, runs the gates',
      {
        REGISTRY_TABLE: props.registryTable.tableName,
        PREDICTION_TABLE: props.predictionTable.tableName,
        PREDICTION_LOG_SHARDS: String(props.predictionLogShards ?? 4),
        REPLAY_LIMIT: String(props.replayRequests ?? 200),
        BUNDLE_WAIT_SECONDS: '60',
      },
      { onnx: true, memorySize: props.validationMemorySize ?? 3008, timeout: Duration.minutes(10) },
    );
    this.allow(this.validateFunction, ['s3:GetObject'], models.flatMap((m) => [bucket.arnForObjects(`candidates/${m}/*`), bucket.arnForObjects(`models/${m}/*`)]));
    this.allow(this.validateFunction, ['dynamodb:GetItem'], [props.registryTable.tableArn]);
    this.allow(this.validateFunction, ['dynamodb:Query'], [`${props.predictionTable.tableArn}/index/byModelVersion`]);

    this.publishFunction = this.pipelineFunction('PublishFunction', 'publish', 'copies an accepted bundle to models/ and publishes a Lambda version for it', {
      MODEL_FUNCTIONS: modelFunctions,
    });
    this.allow(this.publishFunction, ['s3:GetObject'], models.map((m) => bucket.arnForObjects(`candidates/${m}/*`)));
    this.allow(this.publishFunction, ['s3:PutObject'], models.map((m) => bucket.arnForObjects(`models/${m}/*`)));
    this.allow(
      this.publishFunction,
      ['lambda:GetFunctionConfiguration', 'lambda:UpdateFunctionConfiguration', 'lambda:PublishVersion'],
      props.endpoints.map((e) => e.function.functionArn),
    );

    this.routingFunction = this.pipelineFunction('RoutingFunction', 'routing', 'the only writer of the live aliases: rollout steps, rollbacks, operator changes', {
      DEPLOYMENT_NAME: stack.stackName,
      MODEL_FUNCTIONS: modelFunctions,
      BAKE_CHECK_SECONDS: String((props.bakeCheckInterval ?? Duration.seconds(60)).toSeconds()),
      ALARM_THRESHOLDS: JSON.stringify(props.alarmThresholds ?? {}),
      ALARM_ACTIONS: JSON.stringify([this.topic.topicArn]),
    });
    this.allow(
      this.routingFunction,
      ['lambda:UpdateAlias', 'lambda:GetAlias'],
      props.endpoints.map((e) => `${e.function.functionArn}:${ModelEndpoint.LIVE_ALIAS_NAME}`),
    );

    this.modelsFunction = this.pipelineFunction(
      'ModelsFunction',
      'models',
      'GET /v1/models/{name}: live versions, weights and history from the registry (read only)',
      { REGISTRY_TABLE: props.registryTable.tableName },
      { invokedBy: { kind: 'api-gateway' } },
    );
    this.allow(this.modelsFunction, ['dynamodb:GetItem'], [props.registryTable.tableArn]);
    this.allow(this.modelsFunction, ['dynamodb:Query'], [`${props.registryTable.tableArn}/index/bySequence`]);

    if (props.modelBucketKey) {
      const viaS3 = { StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` } };
      for (const fn of [this.validateFunction, this.publishFunction]) {
        fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [props.modelBucketKey.keyArn], conditions: viaS3 }));
      }
      this.publishFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:GenerateDataKey'], resources: [props.modelBucketKey.keyArn], conditions: viaS3 }));
    }

    // Shadow mirroring: each inference function reads the shadow its model has (the MODEL item of the
    // registry) and invokes that version of itself asynchronously.
    for (const endpoint of props.endpoints) {
      endpoint.function.addEnvironment('REGISTRY_TABLE', props.registryTable.tableName);
      // A Policy of its own, not the role's default policy: the function ARN in it would otherwise make the
      // function depend on itself.
      const mirror = new iam.Policy(this, `${endpoint.node.id}Mirror`, {
        statements: [
          new iam.PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [props.registryTable.tableArn] }),
          new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [`${endpoint.function.functionArn}:*`] }),
        ],
      });
      mirror.attachToRole(endpoint.function.role as iam.IRole);
      Validations.of(mirror).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(endpoint.function.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
        reason: 'Shadow mirroring invokes published versions of this same function; version numbers are assigned by the pipeline at runtime.',
      });
    }

    // --- state machine -------------------------------------------------------------------------------
    const definition = this.definition(props);
    const logGroup = new logs.LogGroup(this, 'StateMachineLogs', { retention: this.logRetention, removalPolicy: RemovalPolicy.RETAIN });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: 'modelgate: validate an uploaded model version, then roll it out or reject it; operator promote/rollback',
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    // The Notify states publish as this role: with an encrypted topic that takes kms:GenerateDataKey* and
    // kms:Decrypt on its key too, which grantPublish adds and SnsPublish's own sns:Publish grant does not.
    this.topic.grantPublish(this.stateMachine);

    // --- trigger -------------------------------------------------------------------------------------
    const deadLetters = new sqs.Queue(this, 'TriggerDeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.rule = new events.Rule(this, 'UploadRule', {
      description: 'modelgate: a candidate manifest uploaded to candidates/<model>/<version>/ starts the promotion pipeline',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [bucket.bucketName] },
          object: { key: events.Match.anyOf(...models.map((m) => events.Match.wildcard(`candidates/${m}/*/manifest.json`))) },
        },
      },
      targets: [new targets.SfnStateMachine(this.stateMachine, { deadLetterQueue: deadLetters, retryAttempts: 8, maxEventAge: Duration.hours(2) })],
    });

    Validations.of(deadLetters).acknowledge(
      { id: 'AwsSolutions-SQS3', reason: 'This queue is itself the dead-letter queue of the upload rule\'s target: events EventBridge could not deliver to the state machine.' },
      { id: 'Serverless-SQSRedrivePolicy', reason: 'This queue is itself the dead-letter queue of the upload rule\'s target; nothing consumes it automatically, so it needs no redrive.' },
    );
    this.acknowledgeWildcards(props, models);
  }

  private definition(props: PromotionPipelineProps): sfn.IChainable {
    const executionId = sfn.JsonPath.stringAt('$$.Execution.Id');
    const candidate = {
      model: sfn.JsonPath.stringAt('$.candidate.model'),
      version: sfn.JsonPath.stringAt('$.candidate.version'),
    };
    const invoke = (id: string, fn: lambda.IFunction, payload: Record<string, unknown>, resultPath: string, timeout = Duration.seconds(60)) => {
      const task = new tasks.LambdaInvoke(this, id, {
        lambdaFunction: fn,
        payload: sfn.TaskInput.fromObject(payload),
        payloadResponseOnly: true,
        resultPath,
        retryOnServiceExceptions: true,
        taskTimeout: sfn.Timeout.duration(timeout),
      });
      task.addRetry({ errors: ['RegistryConflictError'], interval: Duration.seconds(1), maxAttempts: 3, backoffRate: 2 });
      return task;
    };
    const registry = (id: string, payload: Record<string, unknown>, resultPath = sfn.JsonPath.DISCARD) => invoke(id, this.registryFunction, payload, resultPath);
    const routing = (id: string, payload: Record<string, unknown>, resultPath = sfn.JsonPath.DISCARD) => invoke(id, this.routingFunction, payload, resultPath);
    const notify = (id: string, noticePath: string) =>
      new tasks.SnsPublish(this, id, {
        topic: this.topic,
        subject: sfn.JsonPath.stringAt(`${noticePath}.subject`),
        message: sfn.TaskInput.fromJsonPathAt(`${noticePath}.message`),
        resultPath: sfn.JsonPath.DISCARD,
      });
    const release = (id: string, modelPath: string) => registry(id, { action: 'release-lock', model: sfn.JsonPath.stringAt(modelPath), executionId });

    // Failure handling: restore the champion's routing if a step moved traffic, record, notify, release.
    const failed = new sfn.Fail(this, 'PipelineFailed', { errorPath: '$.error.Error', causePath: '$.error.Cause' });
    const releaseAfterFailure = release('ReleaseLockAfterFailure', '$.candidate.model').next(failed);
    const notifyFailure = notify('NotifyFailure', '$.recorded.notice');
    notifyFailure.addCatch(releaseAfterFailure, { resultPath: '$.notifyError' }).next(releaseAfterFailure);
    const recordFailure = registry('RecordFailure', { action: 'record-failure', executionId, state: sfn.JsonPath.objectAt('$') }, '$.recorded');
    recordFailure.addCatch(releaseAfterFailure, { resultPath: '$.recordError' }).next(notifyFailure);
    const restoreRouting = routing('RestoreRouting', { action: 'restore', state: sfn.JsonPath.objectAt('$') });
    restoreRouting.addCatch(recordFailure, { resultPath: '$.restoreError' }).next(recordFailure);
    const onFailure = <T extends sfn.TaskStateBase | sfn.Map>(task: T): T => {
      task.addCatch(restoreRouting, { errors: ['States.ALL'], resultPath: '$.error' });
      return task;
    };

    // Upload path.
    const register = registry('Register', { action: 'register', event: sfn.JsonPath.objectAt('$'), executionId }, '$.candidate');
    const duplicate = notify('NotifyDuplicate', '$.candidate.notice').next(
      new sfn.Fail(this, 'Duplicate', { error: 'DUPLICATE_VERSION', cause: 'this model version is registered already; the upload was not processed' }),
    );
    const acquireLock = onFailure(registry('AcquireLock', { action: 'acquire-lock', ...{ model: candidate.model }, executionId }, '$.lock'));
    const waitForLock = new sfn.Wait(this, 'WaitForLock', { time: sfn.WaitTime.duration(props.lockRetryInterval ?? Duration.seconds(30)) });
    const markValidating = onFailure(registry('MarkValidating', { action: 'mark-validating', ...candidate, executionId }));
    const validateCandidate = onFailure(
      invoke(
        'Validate',
        this.validateFunction,
        {
          ...candidate,
          bucket: sfn.JsonPath.stringAt('$.candidate.bucket'),
          candidatePrefix: sfn.JsonPath.stringAt('$.candidate.candidatePrefix'),
          modelPrefix: sfn.JsonPath.stringAt('$.candidate.modelPrefix'),
          executionId,
        },
        '$.validation',
        Duration.minutes(10),
      ),
    );
    const recordValidation = onFailure(
      registry('RecordValidation', { action: 'record-validation', ...candidate, executionId, validation: sfn.JsonPath.objectAt('$.validation') }, '$.recorded'),
    );
    const rejected = notify('NotifyRejection', '$.recorded.notice')
      .next(release('ReleaseLockAfterRejection', '$.candidate.model'))
      .next(new sfn.Fail(this, 'Rejected', { error: 'Rejected', causePath: '$.recorded.notice.subject' }));
    const publish = onFailure(
      invoke(
        'Publish',
        this.publishFunction,
        {
          ...candidate,
          bucket: sfn.JsonPath.stringAt('$.candidate.bucket'),
          candidatePrefix: sfn.JsonPath.stringAt('$.candidate.candidatePrefix'),
          modelPrefix: sfn.JsonPath.stringAt('$.candidate.modelPrefix'),
          files: sfn.JsonPath.listAt('$.validation.files'),
          executionId,
        },
        '$.published',
        Duration.minutes(5),
      ),
    );
    const plan = onFailure(
      routing(
        'PlanRollout',
        {
          action: 'plan',
          model: candidate.model,
          spec: sfn.JsonPath.objectAt('$.validation.rollout'),
          candidate: { version: candidate.version, lambdaVersion: sfn.JsonPath.stringAt('$.published.lambdaVersion') },
          champion: sfn.JsonPath.objectAt('$.validation.champion'),
        },
        '$.rollout',
      ),
    );
    const alarmResources = [`arn:${Stack.of(this).partition}:cloudwatch:${Stack.of(this).region}:${Stack.of(this).account}:alarm:${deploymentAlarmPrefix(Stack.of(this).stackName)}*`];
    const createAlarms = onFailure(
      new sfn.Map(this, 'CreateAlarms', { itemsPath: '$.rollout.alarms', maxConcurrency: 5, resultPath: sfn.JsonPath.DISCARD }).itemProcessor(
        new tasks.CallAwsService(this, 'PutAlarm', {
          service: 'cloudwatch',
          action: 'putMetricAlarm',
          iamAction: 'cloudwatch:PutMetricAlarm',
          iamResources: alarmResources,
          parameters: Object.fromEntries(
            ['AlarmName', 'AlarmDescription', 'ComparisonOperator', 'Threshold', 'EvaluationPeriods', 'DatapointsToAlarm', 'TreatMissingData', 'AlarmActions', 'Metrics'].map((field) => [field, sfn.JsonPath.objectAt(`$.${field}`)]),
          ),
          resultPath: sfn.JsonPath.DISCARD,
        }),
      ),
    );
    const startRollout = new sfn.Pass(this, 'StartRollout', { result: sfn.Result.fromObject({ index: 0 }), resultPath: '$.cursor' });
    const applyStep = onFailure(
      routing('ApplyStep', { action: 'apply-step', model: candidate.model, rollout: sfn.JsonPath.objectAt('$.rollout'), stepIndex: sfn.JsonPath.numberAt('$.cursor.index') }, '$.step'),
    );
    const recordStep = onFailure(
      registry(
        'RecordStep',
        {
          action: 'record-step',
          ...candidate,
          executionId,
          rollout: sfn.JsonPath.objectAt('$.rollout'),
          step: sfn.JsonPath.objectAt('$.step'),
          published: sfn.JsonPath.objectAt('$.published'),
        },
        '$.recorded',
      ),
    );
    const nextStep = new sfn.Pass(this, 'NextStep', { parameters: { 'index.$': 'States.MathAdd($.cursor.index, 1)' }, resultPath: '$.cursor' });
    const done = notify('NotifyOutcome', '$.recorded.notice')
      .next(release('ReleaseLock', '$.candidate.model'))
      .next(new sfn.Succeed(this, 'RolledOut'));
    const lastStep = new sfn.Choice(this, 'LastStep?').when(sfn.Condition.booleanEquals('$.step.last', true), done).otherwise(nextStep.next(applyStep));

    const bakeWait = new sfn.Wait(this, 'Bake', { time: sfn.WaitTime.secondsPath('$.step.bake.checkSeconds') });
    const checkAlarms = onFailure(
      new tasks.CallAwsService(this, 'CheckAlarms', {
        service: 'cloudwatch',
        action: 'describeAlarms',
        parameters: { AlarmNamePrefix: sfn.JsonPath.stringAt('$.rollout.alarmPrefix'), StateValue: 'ALARM' },
        iamAction: 'cloudwatch:DescribeAlarms',
        iamResources: alarmResources,
        resultSelector: { 'metricAlarms.$': '$.MetricAlarms' },
        resultPath: '$.alarms',
      }),
    );
    const rollBack = onFailure(routing('RollBack', { action: 'rollback', model: candidate.model, rollout: sfn.JsonPath.objectAt('$.rollout') }));
    const recordRollback = onFailure(
      registry(
        'RecordRollback',
        { action: 'record-rollback', ...candidate, executionId, alarms: sfn.JsonPath.listAt('$.alarms.metricAlarms[*].AlarmName'), rollout: sfn.JsonPath.objectAt('$.rollout') },
        '$.recorded',
      ),
    );
    const rolledBack = rollBack
      .next(recordRollback)
      .next(notify('NotifyRollback', '$.recorded.notice'))
      .next(release('ReleaseLockAfterRollback', '$.candidate.model'))
      .next(new sfn.Fail(this, 'RolledBack', { error: 'RolledBack', causePath: '$.recorded.notice.subject' }));
    const bakeTick = onFailure(
      registry('BakeTick', { action: 'bake-tick', model: candidate.model, executionId, bake: sfn.JsonPath.objectAt('$.step.bake') }, '$.step.bake'),
    );
    const yielded = release('YieldToOperator', '$.candidate.model').next(new sfn.Succeed(this, 'Yielded', { comment: 'an operator promote/rollback took over the model' }));
    bakeWait
      .next(checkAlarms)
      .next(
        new sfn.Choice(this, 'AlarmFiring?')
          .when(sfn.Condition.isPresent('$.alarms.metricAlarms[0]'), rolledBack)
          .otherwise(
            bakeTick.next(
              new sfn.Choice(this, 'KeepBaking?')
                .when(sfn.Condition.booleanEquals('$.step.bake.preempted', true), yielded)
                .when(sfn.Condition.numberGreaterThan('$.step.bake.checks', 0), bakeWait)
                .otherwise(lastStep),
            ),
          ),
      );

    const upload = register.next(
      new sfn.Choice(this, 'Duplicate?')
        .when(sfn.Condition.booleanEquals('$.candidate.duplicate', true), duplicate)
        .otherwise(
          acquireLock.next(
            new sfn.Choice(this, 'LockAcquired?')
              .when(
                sfn.Condition.booleanEquals('$.lock.acquired', true),
                markValidating
                  .next(validateCandidate)
                  .next(recordValidation)
                  .next(
                    new sfn.Choice(this, 'Accepted?')
                      .when(sfn.Condition.booleanEquals('$.recorded.accepted', true), publish.next(plan).next(createAlarms).next(startRollout).next(applyStep).next(recordStep).next(
                        new sfn.Choice(this, 'Bake?').when(sfn.Condition.numberGreaterThan('$.step.bake.checks', 0), bakeWait).otherwise(lastStep),
                      ))
                      .otherwise(rejected),
                  ),
              )
              .otherwise(waitForLock.next(acquireLock)),
          ),
        ),
    );

    // Operator path: promote / rollback under the same lock (a baking rollout yields at its next check).
    const controlFailed = release('ReleaseControlLockAfterFailure', '$.model').next(
      new sfn.Fail(this, 'ControlFailed', { errorPath: '$.error.Error', causePath: '$.error.Cause' }),
    );
    const onControlFailure = <T extends sfn.TaskStateBase>(task: T): T => {
      task.addCatch(controlFailed, { errors: ['States.ALL'], resultPath: '$.error' });
      return task;
    };
    const acquireControlLock = onControlFailure(
      registry('AcquireControlLock', { action: 'acquire-lock', model: sfn.JsonPath.stringAt('$.model'), executionId, preempt: true }, '$.lock'),
    );
    const control = acquireControlLock.next(
      new sfn.Choice(this, 'ControlLockAcquired?')
        .when(
          sfn.Condition.booleanEquals('$.lock.acquired', true),
          onControlFailure(registry('PlanControl', { action: 'plan-control', request: sfn.JsonPath.objectAt('$') }, '$.control'))
            .next(onControlFailure(routing('ApplyControl', { action: 'set', model: sfn.JsonPath.stringAt('$.model'), control: sfn.JsonPath.objectAt('$.control') })))
            .next(onControlFailure(registry('RecordControl', { action: 'record-control', model: sfn.JsonPath.stringAt('$.model'), executionId, control: sfn.JsonPath.objectAt('$.control') }, '$.recorded')))
            .next(onControlFailure(notify('NotifyControl', '$.recorded.notice')))
            .next(release('ReleaseControlLock', '$.model'))
            .next(new sfn.Succeed(this, 'RoutingChanged')),
        )
        .otherwise(new sfn.Wait(this, 'WaitForControlLock', { time: sfn.WaitTime.duration(Duration.seconds(5)) }).next(acquireControlLock)),
    );

    return new sfn.Choice(this, 'Operation?').when(sfn.Condition.isPresent('$.operation'), control).otherwise(upload);
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
    key.addToResourcePolicy(new iam.PolicyStatement({ sid: 'AllowCloudWatchAlarms', principals: [cloudWatch], actions: ['kms:Decrypt', 'kms:GenerateDataKey*'], resources: ['*'], conditions: alarmsOfThisDeployment }));
    topic.addToResourcePolicy(new iam.PolicyStatement({ sid: 'AllowCloudWatchAlarms', principals: [cloudWatch], actions: ['sns:Publish'], resources: [topic.topicArn], conditions: alarmsOfThisDeployment }));
    for (const email of emails) {
      const subscription = topic.addSubscription(new subscriptions.EmailSubscription(email));
      Validations.of(subscription).acknowledge({
        id: 'Serverless-SNSRedrivePolicy',
        reason: 'An email subscription: SNS retries delivery itself, and a notice that cannot be mailed is also in the registry and the execution history.',
      });
    }
    return topic;
  }

  private pipelineFunction(
    id: string,
    handler: 'registry' | 'validate' | 'publish' | 'routing' | 'models',
    description: string,
    environment: Record<string, string>,
    options: { onnx?: boolean; memorySize?: number; timeout?: Duration; invokedBy?: Invoker } = {},
  ): lambda.Function {
    const fn = new ModelgateFunction(this, id, {
      handler,
      description: `modelgate ${description}`,
      environment,
      invokedBy: options.invokedBy ?? { kind: 'step-functions' },
      architecture: this.architecture,
      logRetention: this.logRetention,
      ...(options.onnx ? { onnx: true } : {}),
      ...(options.memorySize ? { memorySize: options.memorySize } : {}),
      ...(options.timeout ? { timeout: options.timeout } : {}),
    });
    return fn.function;
  }

  private allow(fn: lambda.Function, actions: string[], resources: string[]): void {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources }));
  }

  /** Wildcards that are the point of a grant, spelled as cdk-nag reports them, with why. */
  private acknowledgeWildcards(props: PromotionPipelineProps, models: readonly string[]): void {
    const stack = Stack.of(this);
    const bucket = nagArnOf(props.modelBucket);
    const ack = (fn: lambda.Function, findings: readonly string[], reason: string) =>
      Validations.of(fn.role as iam.Role).acknowledge(...findings.map((finding) => ({ id: `AwsSolutions-IAM5[${finding}]`, reason })));
    const objects = "Scoped to the served models' prefixes; the object keys below them (one folder per model version) are chosen by uploads at runtime.";
    ack(this.validateFunction, models.flatMap((m) => [`Resource::${bucket}/candidates/${m}/*`, `Resource::${bucket}/models/${m}/*`]), objects);
    ack(this.publishFunction, models.flatMap((m) => [`Resource::${bucket}/candidates/${m}/*`, `Resource::${bucket}/models/${m}/*`]), objects);
    // The state machine role: LambdaInvoke grants each pipeline function and its versions.
    const invoked = [this.registryFunction, this.validateFunction, this.publishFunction, this.routingFunction].map(
      (fn) => `Resource::<${stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction)}.Arn>:*`,
    );
    Validations.of(this.stateMachine.role).acknowledge(
      ...invoked.map((finding) => ({
        id: `AwsSolutions-IAM5[${finding}]`,
        reason: 'CDK\'s LambdaInvoke grants the pipeline functions and their qualified ARNs; the state machine invokes $LATEST of functions of this stack only.',
      })),
      {
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudwatch:${tokenOr(stack.region, '<AWS::Region>')}:${tokenOr(stack.account, '<AWS::AccountId>')}:alarm:${deploymentAlarmPrefix(stack.stackName)}*]`,
        reason: 'Version-scoped alarms are named <deployment>/<model>/v<version>/...: the pipeline creates them for each version it publishes (PutMetricAlarm) and reads their state (DescribeAlarms).',
      },
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray tracing of the state machine: PutTraceSegments and GetSamplingRules have no resource-level permissions.' },
      ...(props.topic
        ? []
        : [{ id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]', reason: "grantPublish on the pipeline's encrypted topic: SNS takes a data key of the topic's own key for each message it encrypts; the grant names that one key." }]),
    );
  }
}

function tokenOr(value: string, placeholder: string): string {
  return Token.isUnresolved(value) ? placeholder : value;
}

function validate(props: PromotionPipelineProps): void {
  const errors = new PropErrors('PromotionPipeline');
  errors.require(props.endpoints.length > 0, 'endpoints must hold at least one model endpoint, got: 0');
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
  seconds('lockTtl', props.lockTtl, 60, 7 * 86400);
  errors.integer('replayRequests', props.replayRequests, 0, 10_000);
  errors.integer('predictionLogShards', props.predictionLogShards, 1, 100);
  errors.integer('validationMemorySize', props.validationMemorySize, 1024, 10240);
  errors.throwIfAny();
}
