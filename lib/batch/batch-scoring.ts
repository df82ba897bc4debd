import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';
import { BATCH_PREFIX, BATCH_VARIABLES } from '../../lambdas/contracts/batch-job';
import { MODELS_PREFIX } from '../../lambdas/core/pipeline/candidate';
import { ModelgateFunction, type LogLevel } from '../functions/modelgate-function';
import { nagArnOf } from '../validation/nag-acknowledgements';
import { PropErrors } from '../validation/prop-validation';

export interface BatchScoringProps {
  /** Bundles are read from its models/ prefix; batch inputs and outputs live under its batch/ prefix. */
  readonly modelBucket: s3.IBucket;
  /** @default - the bucket is not encrypted with a customer key */
  readonly modelBucketKey?: kms.IKey;
  /** Where a job finds the version the model's traffic goes to. */
  readonly registryTable: dynamodb.ITable;
  /**
   * Memory of the scoring function, MB: onnxruntime runs one batch at a time with one thread, and Lambda gives
   * CPU in proportion to memory.
   *
   * @default 2048
   */
  readonly scoringMemorySize?: number;
  /** @default 'INFO' */
  readonly logLevel?: LogLevel;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Batch inference (docs/batch.md): a state machine that checks a job and cuts its input into chunks at row
 * boundaries (prepare), scores the chunks with a Distributed Map — an ItemReader on the prepare step's list of
 * chunks, one scoring function per chunk reading its byte range of the input and reusing the serving session
 * code, its concurrency and tolerated failures from the execution input — and writes the summary. The functions and the
 * state machine may read and write objects under batch/ of the model bucket and read bundles, nothing else.
 */
export class BatchScoring extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly jobFunction: ModelgateFunction;
  readonly scoringFunction: ModelgateFunction;
  private readonly bucket: s3.IBucket;

  constructor(scope: Construct, id: string, props: BatchScoringProps) {
    super(scope, id);
    validate(props);
    // The ResultWriter whose bucket comes from the execution input (ResultWriterV2) renders only with this flag;
    // set on this construct alone, before it has children, it changes nothing else of the app.
    this.node.setContext(cxapi.STEPFUNCTIONS_USE_DISTRIBUTED_MAP_RESULT_WRITER_V2, true);
    const stack = Stack.of(this);
    const bucket = props.modelBucket;
    this.bucket = bucket;
    const environment = { [BATCH_VARIABLES.bucket]: bucket.bucketName, [BATCH_VARIABLES.registryTable]: props.registryTable.tableName };
    const common = {
      environment,
      invokedBy: { kind: 'step-functions' } as const,
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
      ...(props.logLevel ? { logLevel: props.logLevel } : {}),
    };
    const batchObjects = bucket.arnForObjects(`${BATCH_PREFIX}*`);
    const bundles = bucket.arnForObjects(`${MODELS_PREFIX}*`);
    const viaS3 = { StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` } };

    this.jobFunction = new ModelgateFunction(this, 'JobFunction', {
      handler: 'batch-job',
      description: 'modelgate batch jobs: check a job and read its input before scoring; summarize its parts after',
      timeout: Duration.minutes(15),
      memorySize: 1024,
      ...common,
    });
    this.jobFunction.allow(['s3:GetObject'], [batchObjects, bundles]);
    this.jobFunction.allow(['s3:PutObject'], [batchObjects]);
    this.jobFunction.allow(['dynamodb:GetItem'], [props.registryTable.tableArn]);

    this.scoringFunction = new ModelgateFunction(this, 'ScoringFunction', {
      handler: 'batch-score',
      description: 'modelgate batch scoring: one chunk of an input through the serving session, its part written to S3',
      timeout: Duration.minutes(5),
      memorySize: props.scoringMemorySize ?? 2048,
      onnx: true,
      ...common,
    });
    this.scoringFunction.allow(['s3:GetObject'], [batchObjects, bundles]);
    this.scoringFunction.allow(['s3:PutObject'], [batchObjects]);
    if (props.modelBucketKey) {
      this.jobFunction.allow(['kms:Decrypt', 'kms:GenerateDataKey'], [props.modelBucketKey.keyArn], viaS3);
      this.scoringFunction.allow(['kms:Decrypt', 'kms:GenerateDataKey'], [props.modelBucketKey.keyArn], viaS3);
    }

    const logGroup = new logs.LogGroup(this, 'StateMachineLogs', { retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.RETAIN });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: 'modelgate batch inference: check the job and its input, score it in batches (Distributed Map), write the summary',
      definitionBody: sfn.DefinitionBody.fromChainable(this.definition()),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    // The ItemReader and ResultWriter name the model bucket: CDK grants their S3 actions on its objects (with a
    // bucketNamePath it would grant them on every bucket's). Jobs are checked to be under batch/ by the prepare step.
    const role = this.stateMachine.role;
    if (props.modelBucketKey) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [props.modelBucketKey.keyArn], conditions: viaS3 }));
    }
    this.acknowledge(props);
  }

  private definition(): sfn.IChainable {
    const prepare = this.invoke('Prepare', this.jobFunction.function, { step: 'prepare', job: sfn.JsonPath.entirePayload });
    const summarize = this.invoke('Summarize', this.jobFunction.function, { step: 'summarize', job: sfn.JsonPath.entirePayload, results: sfn.JsonPath.objectAt('$.results') });
    const map = new sfn.DistributedMap(this, 'Score', {
      // The items are the prepare step's chunks (byte ranges of the input, cut at row boundaries), not the input's
      // rows: each child reads its own range and parses it straight into the model's tensors, where rows handed
      // over by a CSV ItemReader would be JSON objects of strings whose parse alone takes as long as the model.
      itemReader: new sfn.S3JsonItemReader({ bucket: this.bucket, key: sfn.JsonPath.stringAt('$.chunks.key') }),
      itemSelector: { chunk: sfn.JsonPath.stringAt('$$.Map.Item.Value'), job: sfn.JsonPath.objectAt('$.batchInput') },
      maxConcurrencyPath: '$.maxConcurrency',
      toleratedFailurePercentagePath: '$.toleratedFailurePercentage',
      // Express children: a chunk takes seconds, and Express bills by duration instead of per state transition.
      mapExecutionType: sfn.StateMachineType.EXPRESS,
      resultWriterV2: new sfn.ResultWriterV2({ bucket: this.bucket, prefix: sfn.JsonPath.stringAt('$.resultsPrefix') }),
      resultPath: '$.results',
      label: 'score',
    });
    const task = new tasks.LambdaInvoke(this, 'ScoreChunk', {
      lambdaFunction: this.scoringFunction.function,
      payloadResponseOnly: true,
      taskTimeout: sfn.Timeout.duration(Duration.minutes(5)),
    });
    task.addRetry({
      errors: ['Lambda.TooManyRequestsException', 'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException'],
      interval: Duration.seconds(2),
      maxAttempts: 6,
      backoffRate: 2,
    });
    map.itemProcessor(task);
    return prepare.next(map).next(summarize);
  }

  /** A step whose result replaces the state (the default ResultPath: aws-local-stepfunctions takes an explicit "$" for a key). */
  private invoke(id: string, fn: lambda.IFunction, payload: Record<string, unknown>): tasks.LambdaInvoke {
    const task = new tasks.LambdaInvoke(this, id, {
      lambdaFunction: fn,
      payload: sfn.TaskInput.fromObject(payload),
      payloadResponseOnly: true,
      taskTimeout: sfn.Timeout.duration(Duration.minutes(15)),
    });
    task.addRetry({
      errors: ['Lambda.TooManyRequestsException', 'Lambda.ServiceException', 'Lambda.AWSLambdaException'],
      interval: Duration.seconds(2),
      maxAttempts: 4,
      backoffRate: 2,
    });
    return task;
  }

  /** Wildcards that are the point of a grant, spelled as cdk-nag reports them, with why. */
  private acknowledge(props: BatchScoringProps): void {
    const stack = Stack.of(this);
    const bucket = nagArnOf(props.modelBucket);
    const batch = `Resource::${bucket}/${BATCH_PREFIX}*`;
    const models = `Resource::${bucket}/${MODELS_PREFIX}*`;
    const objects = 'Batch inputs and outputs are objects under batch/ named per job at run time; bundles are read from models/<model>/<version>/ of any model.';
    this.jobFunction.acknowledgeWildcards([batch, models], objects);
    this.scoringFunction.acknowledgeWildcards([batch, models], objects);
    const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    const invoked = [this.jobFunction, this.scoringFunction].map((fn) => `Resource::<${stack.getLogicalId(fn.function.node.defaultChild as lambda.CfnFunction)}.Arn>:*`);
    Validations.of(this.stateMachine.role).acknowledge(
      ...invoked.map((finding) => ({
        id: `AwsSolutions-IAM5[${finding}]`,
        reason: "CDK's LambdaInvoke grants the batch functions and their qualified ARNs; the state machine invokes $LATEST of functions of this stack only.",
      })),
      {
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<${stack.getLogicalId(props.modelBucket.node.defaultChild as s3.CfnBucket)}>/*]`,
        reason: "CDK's grant for the Distributed Map's ItemReader and ResultWriter on the model bucket's objects; the prepare step refuses inputs and outputs outside batch/.",
      },

      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray tracing of the state machine: PutTraceSegments and GetSamplingRules have no resource-level permissions.' },
    );
    const mapPolicy = this.stateMachine.node.tryFindChild('DistributedMapPolicy');
    if (mapPolicy) {
      Validations.of(mapPolicy).acknowledge(
        ...['', '/score'].map((run) => ({
          id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:${region}:${account}:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${stack.getLogicalId(this.stateMachine.node.defaultChild as sfn.CfnStateMachine)}"}]}]}${run}:*]`,
          reason: "CDK's Distributed Map policy: the state machine describes, stops and redrives its own executions and map runs, whose names are chosen at run time.",
        })),
      );
    }
  }
}

function validate(props: BatchScoringProps): void {
  const errors = new PropErrors('BatchScoring');
  const memory = props.scoringMemorySize;
  if (memory !== undefined && !Token.isUnresolved(memory)) errors.integer('scoringMemorySize', memory, 128, 10240);
  errors.throwIfAny();
}
