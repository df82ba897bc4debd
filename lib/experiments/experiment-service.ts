import { Duration, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ExperimentTable } from './experiment-table';
import { predictionStreamSource } from '../storage/prediction-log-table';
import { PropErrors } from '../validation/prop-validation';
import { ModelgateFunction, type Invoker } from '../functions/modelgate-function';

export interface ExperimentServiceProps {
  /** The REST API: gets POST /v1/events, GET /v1/experiments and GET /v1/experiments/{id} (API key required, like every route). */
  readonly api: apigw.RestApi;
  /** The prediction log: events join to it by predictionId; its stream carries exposures and labels. */
  readonly predictionTable: dynamodb.ITable;
  /** How often the scheduled analysis snapshots every running experiment. @default Duration.hours(1) */
  readonly analysisPeriod?: Duration;
  /** Predictions the aggregator takes per invocation (1 to 10000); smaller batches bisect to a poison record sooner. @default 100 */
  readonly aggregationBatchSize?: number;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /** @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
}

/**
 * A/B experiments (docs/experiments.md): the experiment table; POST /v1/events (outcome events counted into
 * the running experiment's arms); GET /v1/experiments[/{id}] (definition, current analysis, snapshots); the
 * aggregator (the prediction log's stream -> exposures and ground truth per arm, exactly once); the scheduled
 * analysis (a snapshot per run: CIs over time). Starting and concluding experiments is the CLI's, with the
 * operator's credentials: no API key can promote a model.
 */
export class ExperimentService extends Construct {
  readonly table: ExperimentTable;
  readonly eventsFunction: lambda.Function;
  readonly experimentsFunction: lambda.Function;
  readonly aggregatorFunction: lambda.Function;
  readonly analysisFunction: lambda.Function;
  readonly schedule: events.Rule;
  readonly deadLetters: sqs.Queue;

  constructor(scope: Construct, id: string, props: ExperimentServiceProps) {
    super(scope, id);
    const analysisPeriod = props.analysisPeriod ?? Duration.hours(1);
    const errors = new PropErrors('ExperimentService');
    const periodMinutes = analysisPeriod.toMinutes({ integral: false });
    errors.require(Number.isInteger(periodMinutes) && periodMinutes >= 1, `analysisPeriod must be a whole number of minutes >= 1, got: ${periodMinutes} minutes`);
    errors.integer('aggregationBatchSize', props.aggregationBatchSize, 1, 10_000);
    errors.throwIfAny();

    this.table = new ExperimentTable(this, 'Table');
    const table = this.table.table;
    const statusIndexArn = `${table.tableArn}/index/${ExperimentTable.BY_STATUS_INDEX}`;
    this.deadLetters = new sqs.Queue(this, 'DeadLetters', { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) });
    Validations.of(this.deadLetters).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason: 'This queue is itself the dead-letter destination of the experiment aggregator stream and the analysis schedule.',
    });
    const environment = { EXPERIMENT_TABLE: table.tableName, PREDICTION_TABLE: props.predictionTable.tableName };
    const make = (
      id: string,
      handler: 'experiment-events' | 'experiments' | 'experiment-aggregator' | 'experiment-analysis',
      description: string,
      timeout: Duration,
      memorySize: number,
      invokedBy: Invoker,
    ) =>
      new ModelgateFunction(this, id, {
        handler,
        description,
        environment,
        invokedBy,
        timeout,
        memorySize,
        ...(props.logLevel ? { logLevel: props.logLevel } : {}),
        ...(props.logRetention ? { logRetention: props.logRetention } : {}),
      });

    const eventsFunction = make('Events', 'experiment-events', 'modelgate: outcome events (POST /v1/events) -> experiment arm counters', Duration.seconds(29), 512, {
      kind: 'api-gateway',
    });
    eventsFunction.allow(['dynamodb:BatchGetItem'], [props.predictionTable.tableArn]);
    eventsFunction.allow(['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'], [table.tableArn]);
    eventsFunction.allow(['dynamodb:Query'], [statusIndexArn]);
    this.eventsFunction = eventsFunction.function;

    const experimentsFunction = make('Experiments', 'experiments', 'modelgate: experiments, their analysis and snapshots (GET /v1/experiments)', Duration.seconds(29), 512, {
      kind: 'api-gateway',
    });
    experimentsFunction.allow(['dynamodb:GetItem', 'dynamodb:Query'], [table.tableArn]);
    experimentsFunction.allow(['dynamodb:Query'], [statusIndexArn]);
    this.experimentsFunction = experimentsFunction.function;

    const aggregator = make('Aggregate', 'experiment-aggregator', 'modelgate: prediction log stream -> experiment exposures and ground truth per arm', Duration.minutes(2), 1024, {
      kind: 'stream',
      deadLetterQueue: this.deadLetters,
    });
    aggregator.allow(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], [table.tableArn]);
    aggregator.allow(['dynamodb:Query'], [statusIndexArn]);
    this.aggregatorFunction = aggregator.function;
    this.aggregatorFunction.addEventSource(
      predictionStreamSource(props.predictionTable, { batchSize: props.aggregationBatchSize ?? 100, maxBatchingWindow: Duration.seconds(5), deadLetters: this.deadLetters }),
    );

    const analysis = make('Analyze', 'experiment-analysis', 'modelgate: scheduled analysis of running experiments (snapshots over time)', Duration.minutes(5), 512, {
      kind: 'schedule',
      deadLetterQueue: this.deadLetters,
    });
    analysis.allow(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem'], [table.tableArn]);
    analysis.allow(['dynamodb:Query'], [statusIndexArn]);
    this.analysisFunction = analysis.function;
    this.schedule = new events.Rule(this, 'Schedule', {
      description: 'modelgate: analyse running experiments',
      schedule: events.Schedule.rate(analysisPeriod),
      targets: [new targets.LambdaFunction(this.analysisFunction, { deadLetterQueue: this.deadLetters, retryAttempts: 2 })],
    });

    // Sticky routing runs in the inference functions (lambdas/adapters/experiment-router.ts): each model's stack
    // gives its function this table's name and the rights it needs (lib/serving/model-stack.ts).
    const integration = (fn: lambda.IFunction) => new apigw.LambdaIntegration(fn, { proxy: true, allowTestInvoke: false });
    const v1 = props.api.root.resourceForPath('v1');
    v1.addResource('events').addMethod('POST', integration(this.eventsFunction));
    const experiments = v1.addResource('experiments');
    experiments.addMethod('GET', integration(this.experimentsFunction));
    experiments.addResource('{id}').addMethod('GET', integration(this.experimentsFunction));
  }
}
