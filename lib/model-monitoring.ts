import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULT_WINDOW_MINUTES } from '../lambdas/core/monitoring/window';
import { MonitoringTable } from './monitoring-table';
import { nagArnOf } from './nag-acknowledgements';
import { predictionStreamSource } from './prediction-log-table';
import { PropErrors } from './prop-validation';
import { ESM_BUNDLING, markHandlerSource, REPO_ROOT } from './handler-function';

const HANDLERS = path.join(REPO_ROOT, 'lambdas', 'handlers');

export interface ModelMonitoringProps {
  /** The prediction log; its NEW_IMAGE stream feeds the aggregator, feedback writes labels onto its items. */
  readonly predictionTable: dynamodb.ITable;
  /** The model bucket: the functions read `models/<model>/<version>/manifest.json` (baseline, class labels). */
  readonly modelBucket: s3.IBucket;
  readonly modelBucketKey?: kms.IKey;
  /** Window length in minutes (must divide the monitor period). @default 5 */
  readonly windowMinutes?: number;
  /** How often the monitor runs, and the period its drift report covers. @default Duration.hours(1) */
  readonly monitorPeriod?: Duration;
  /** How far back quality looks for (late) labels. @default Duration.hours(24) */
  readonly qualityLookback?: Duration;
  /** Predictions the aggregator takes per invocation (1 to 10000). @default 1000 */
  readonly aggregationBatchSize?: number;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /** @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
}

/**
 * Monitoring off the request path: the feedback function (POST /v1/feedback: labels onto the prediction
 * log), the aggregator (the log's stream -> per-window aggregates in the monitoring table) and the
 * scheduled monitor (windows -> drift and quality -> EMF metrics that the alarms watch). docs/monitoring.md.
 */
export class ModelMonitoring extends Construct {
  readonly table: MonitoringTable;
  readonly feedbackFunction: NodejsFunction;
  readonly aggregatorFunction: NodejsFunction;
  readonly monitorFunction: NodejsFunction;
  readonly schedule: events.Rule;
  readonly deadLetters: sqs.Queue;
  readonly monitorPeriod: Duration;

  constructor(scope: Construct, id: string, props: ModelMonitoringProps) {
    super(scope, id);
    const windowMinutes = props.windowMinutes ?? DEFAULT_WINDOW_MINUTES;
    this.monitorPeriod = props.monitorPeriod ?? Duration.hours(1);
    const qualityLookback = props.qualityLookback ?? Duration.hours(24);
    const errors = new PropErrors('ModelMonitoring');
    errors.integer('windowMinutes', props.windowMinutes, 1, 60);
    const periodMinutes = this.monitorPeriod.toMinutes({ integral: false });
    errors.require(
      Number.isInteger(periodMinutes) && periodMinutes >= windowMinutes && periodMinutes % windowMinutes === 0,
      `monitorPeriod must be a whole multiple of windowMinutes (${windowMinutes}), got: ${periodMinutes} minutes`,
    );
    const lookbackHours = qualityLookback.toHours({ integral: false });
    errors.require(Number.isInteger(lookbackHours) && lookbackHours >= 1, `qualityLookback must be a whole number of hours >= 1, got: ${lookbackHours} hours`);
    errors.integer('aggregationBatchSize', props.aggregationBatchSize, 1, 10_000);
    errors.throwIfAny();

    this.table = new MonitoringTable(this, 'Table');
    this.deadLetters = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetters).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason: 'This queue is itself the dead-letter destination of the aggregator stream and the monitor schedule; it has no queue behind it.',
    });

    const environment = {
      MODEL_BUCKET: props.modelBucket.bucketName,
      PREDICTION_TABLE: props.predictionTable.tableName,
      MONITORING_TABLE: this.table.table.tableName,
      WINDOW_MINUTES: String(windowMinutes),
      MONITOR_PERIOD_MINUTES: String(periodMinutes),
      QUALITY_LOOKBACK_HOURS: String(lookbackHours),
      POWERTOOLS_METRICS_NAMESPACE: 'modelgate',
      POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
    };
    const make = (name: 'feedback' | 'aggregate' | 'monitor', description: string, timeout: Duration) =>
      this.function(name, description, timeout, environment, props);

    this.feedbackFunction = make('feedback', 'modelgate: ground truth (POST /v1/feedback) onto the prediction log', Duration.seconds(29));
    this.feedbackFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'], resources: [props.predictionTable.tableArn] }),
    );

    this.aggregatorFunction = make('aggregate', 'modelgate: prediction log stream -> per-window monitoring aggregates', Duration.minutes(2));
    this.aggregatorFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:PutItem'], resources: [this.table.table.tableArn] }),
    );
    this.aggregatorFunction.addEventSource(
      predictionStreamSource(props.predictionTable, { batchSize: props.aggregationBatchSize ?? 1000, maxBatchingWindow: Duration.seconds(30), deadLetters: this.deadLetters }),
    );

    this.monitorFunction = make('monitor', 'modelgate: scheduled drift and quality per model version -> CloudWatch metrics', Duration.minutes(5));
    this.monitorFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:Query'], resources: [this.table.table.tableArn] }));
    this.schedule = new events.Rule(this, 'Schedule', {
      description: 'modelgate: run the monitor',
      schedule: events.Schedule.rate(this.monitorPeriod),
      targets: [new targets.LambdaFunction(this.monitorFunction, { deadLetterQueue: this.deadLetters, retryAttempts: 2 })],
    });
  }

  private function(
    name: 'feedback' | 'aggregate' | 'monitor',
    description: string,
    timeout: Duration,
    environment: Record<string, string>,
    props: ModelMonitoringProps,
  ): NodejsFunction {
    const entry = path.join(HANDLERS, `${name}.ts`);
    const id = `${name.charAt(0).toUpperCase()}${name.slice(1)}`;
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const role = new iam.Role(this, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: `modelgate ${name}` });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    // Every function reads manifests: baselines to bin against, class labels to check feedback with.
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [props.modelBucket.arnForObjects('models/*/manifest.json')] }));
    if (props.modelBucketKey) {
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [props.modelBucketKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } },
        }),
      );
    }
    const fn = new NodejsFunction(this, `${id}Function`, {
      description,
      entry,
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: name === 'feedback' ? 512 : 1024,
      timeout,
      tracing: lambda.Tracing.ACTIVE,
      role,
      logGroup,
      environment: { ...environment, POWERTOOLS_SERVICE_NAME: name },
      // The monitor is invoked asynchronously by its schedule: a run that fails its retries lands here.
      ...(name === 'monitor' ? { deadLetterQueue: this.deadLetters } : {}),
      bundling: ESM_BUNDLING,
    });
    markHandlerSource(fn, entry);
    Validations.of(role).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::${nagArnOf(props.modelBucket)}/models/*/manifest.json]`,
        reason: 'Reads the manifest of whichever model version a prediction names; versions are published after the deploy by the promotion pipeline.',
      },
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray PutTraceSegments / PutTelemetryRecords do not support resource-level permissions (added by tracing: ACTIVE).' },
    );
    Validations.of(fn).acknowledge(
      { id: 'AwsSolutions-L1', reason: 'Pinned to Node.js 22: the runtime the handlers and their tests are built and tested for (node@22 devDependency).' },
      { id: 'Serverless-LambdaLatestVersion', reason: 'Pinned to Node.js 22: the runtime the handlers and their tests are built and tested for (node@22 devDependency).' },
      ...(name === 'feedback'
        ? [{ id: 'Serverless-LambdaDLQ', reason: 'Invoked synchronously by API Gateway only: failures return to the caller, there is no event to dead-letter.' }]
        : []),
      ...(name === 'aggregate'
        ? [{ id: 'Serverless-LambdaDLQ', reason: 'Invoked by its stream event source mapping only, never asynchronously; the mapping sends batches that exhaust their retries to the dead-letter queue.' }]
        : []),
    );
    return fn;
  }
}
