import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { PREDICTION_LOG_KEYS } from '../../lambdas/contracts/prediction-log';
import { DEFAULT_MONITOR_PERIOD_SECONDS } from '../../lambdas/core/monitoring/alarms';
import { DEFAULT_WINDOW_MINUTES } from '../../lambdas/core/monitoring/window';
import { DEFAULT_DRIFT_WINDOW_MINUTES } from '../../lambdas/contracts/monitoring-environment';
import { MonitoringTable } from './monitoring-table';
import { nagArnOf } from '../validation/nag-acknowledgements';
import { predictionStreamSource } from '../storage/prediction-log-table';
import { PropErrors } from '../validation/prop-validation';
import { ModelgateFunction, type Invoker } from '../functions/modelgate-function';

export interface ModelMonitoringProps {
  /** The prediction log; its NEW_IMAGE stream feeds the aggregator, feedback writes labels onto its items. */
  readonly predictionTable: dynamodb.ITable;
  /** The model bucket: the functions read `models/<model>/<version>/manifest.json` (baseline, class labels). */
  readonly modelBucket: s3.IBucket;
  readonly modelBucketKey?: kms.IKey;
  /** Aggregation window length in minutes: the resolution of drift and quality over time. @default 5 */
  readonly windowMinutes?: number;
  /**
   * How often the monitor runs and publishes drift, prediction drift and quality: the period of their alarms
   * (a whole number of minutes). @default Duration.minutes(5)
   */
  readonly monitorPeriod?: Duration;
  /**
   * The sliding window drift, prediction drift and estimated quality cover, recomputed at every run from the
   * newest aggregation windows; a manifest can set its own (`monitoring.windowMinutes`). @default Duration.hours(1)
   */
  readonly driftWindow?: Duration;
  /** How far back quality looks for (late) labels. @default Duration.hours(24) */
  readonly qualityLookback?: Duration;
  /** Predictions the aggregator takes per invocation (1 to 10000); smaller batches bisect to a poison record sooner. @default 100 */
  readonly aggregationBatchSize?: number;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /** @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
}

/**
 * Monitoring off the request path: the feedback function (POST /v1/feedback: labels onto the prediction
 * log), the aggregator (the log's stream -> per-window aggregates in the monitoring table) and the
 * scheduled monitor (every 5 minutes: windows -> drift and quality -> EMF metrics that the alarms watch). docs/monitoring.md.
 */
export class ModelMonitoring extends Construct {
  readonly table: MonitoringTable;
  readonly feedbackFunction: lambda.Function;
  readonly aggregatorFunction: lambda.Function;
  readonly monitorFunction: lambda.Function;
  readonly schedule: events.Rule;
  readonly deadLetters: sqs.Queue;
  readonly monitorPeriod: Duration;

  constructor(scope: Construct, id: string, props: ModelMonitoringProps) {
    super(scope, id);
    const windowMinutes = props.windowMinutes ?? DEFAULT_WINDOW_MINUTES;
    this.monitorPeriod = props.monitorPeriod ?? Duration.seconds(DEFAULT_MONITOR_PERIOD_SECONDS);
    const driftWindow = props.driftWindow ?? Duration.minutes(DEFAULT_DRIFT_WINDOW_MINUTES);
    const qualityLookback = props.qualityLookback ?? Duration.hours(24);
    const errors = new PropErrors('ModelMonitoring');
    errors.integer('windowMinutes', props.windowMinutes, 1, 60);
    const periodMinutes = this.monitorPeriod.toMinutes({ integral: false });
    errors.require(Number.isInteger(periodMinutes) && periodMinutes >= 1, `monitorPeriod must be a whole number of minutes >= 1, got: ${periodMinutes} minutes`);
    const driftWindowMinutes = driftWindow.toMinutes({ integral: false });
    errors.require(
      Number.isInteger(driftWindowMinutes) && driftWindowMinutes >= windowMinutes && driftWindowMinutes % windowMinutes === 0 && driftWindowMinutes <= 1440,
      `driftWindow must be a whole multiple of windowMinutes (${windowMinutes}) of at most 24 hours, got: ${driftWindowMinutes} minutes`,
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
      DRIFT_WINDOW_MINUTES: String(driftWindowMinutes),
      QUALITY_LOOKBACK_HOURS: String(lookbackHours),
    };
    const make = (id: string, handler: 'feedback' | 'aggregator' | 'monitor', description: string, timeout: Duration, invokedBy: Invoker) => {
      const fn = new ModelgateFunction(this, id, {
        handler,
        description,
        environment,
        invokedBy,
        timeout,
        memorySize: handler === 'feedback' ? 512 : 1024,
        ...(props.logLevel ? { logLevel: props.logLevel } : {}),
        ...(props.logRetention ? { logRetention: props.logRetention } : {}),
      });
      // Every function reads the manifests of the versions it sees (baseline, class labels).
      fn.allow(['s3:GetObject'], [props.modelBucket.arnForObjects('models/*/manifest.json')]);
      if (props.modelBucketKey) {
        fn.allow(['kms:Decrypt'], [props.modelBucketKey.keyArn], { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } });
      }
      fn.acknowledgeWildcards(
        [`Resource::${nagArnOf(props.modelBucket)}/models/*/manifest.json`],
        'Reads the manifest of whichever model version a prediction names; versions are published after the deploy by the promotion pipeline.',
      );
      return fn;
    };

    const feedback = make('Feedback', 'feedback', 'modelgate: ground truth (POST /v1/feedback) onto the prediction log', Duration.seconds(29), { kind: 'api-gateway' });
    feedback.allow(['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'], [props.predictionTable.tableArn]);
    // Feedback by join key: the latest prediction of the key, and — when none — which served versions declare the key.
    feedback.allow(['dynamodb:Query'], [`${props.predictionTable.tableArn}/index/${PREDICTION_LOG_KEYS.byJoinKey.index}`]);
    feedback.allow(['s3:ListBucket'], [props.modelBucket.bucketArn], { StringLike: { 's3:prefix': 'models/*' } });
    this.feedbackFunction = feedback.function;

    const aggregator = make('Aggregate', 'aggregator', 'modelgate: prediction log stream -> per-window monitoring aggregates', Duration.minutes(2), {
      kind: 'stream',
      deadLetterQueue: this.deadLetters,
    });
    aggregator.allow(['dynamodb:GetItem', 'dynamodb:PutItem'], [this.table.table.tableArn]);
    this.aggregatorFunction = aggregator.function;
    this.aggregatorFunction.addEventSource(
      predictionStreamSource(props.predictionTable, { batchSize: props.aggregationBatchSize ?? 100, maxBatchingWindow: Duration.seconds(30), deadLetters: this.deadLetters }),
    );

    const monitor = make('Monitor', 'monitor', 'modelgate: scheduled drift and quality per model version -> CloudWatch metrics', Duration.minutes(5), {
      kind: 'schedule',
      deadLetterQueue: this.deadLetters,
    });
    monitor.allow(['dynamodb:Query'], [this.table.table.tableArn]);
    this.monitorFunction = monitor.function;
    this.schedule = new events.Rule(this, 'Schedule', {
      description: 'modelgate: run the monitor',
      schedule: events.Schedule.rate(this.monitorPeriod),
      targets: [new targets.LambdaFunction(this.monitorFunction, { deadLetterQueue: this.deadLetters, retryAttempts: 2 })],
    });
  }
}
