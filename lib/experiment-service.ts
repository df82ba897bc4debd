import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ExperimentTable } from './experiment-table';
import type { ModelEndpoint } from './model-endpoint';
import { predictionStreamSource } from './prediction-log-table';
import { PropErrors } from './prop-validation';
import { ESM_BUNDLING, markHandlerSource, REPO_ROOT } from './handler-function';

const HANDLERS = path.join(REPO_ROOT, 'lambdas', 'handlers', 'experiments');

export interface ExperimentServiceProps {
  /** The REST API: gets POST /v1/events, GET /v1/experiments and GET /v1/experiments/{id} (API key required, like every route). */
  readonly api: apigw.RestApi;
  /** The prediction log: events join to it by predictionId; its stream carries exposures and labels. */
  readonly predictionTable: dynamodb.ITable;
  /** The model functions: they get the table's name and the rights sticky (unit-level) routing needs. */
  readonly endpoints: readonly ModelEndpoint[];
  /** How often the scheduled analysis snapshots every running experiment. @default Duration.hours(1) */
  readonly analysisPeriod?: Duration;
  /** Predictions the aggregator takes per invocation (1 to 10000). @default 1000 */
  readonly aggregationBatchSize?: number;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /** @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
}

type FunctionName = 'events' | 'experiments' | 'aggregate' | 'analyze';

/**
 * A/B experiments (docs/experiments.md): the experiment table; POST /v1/events (outcome events counted into
 * the running experiment's arms); GET /v1/experiments[/{id}] (definition, current analysis, snapshots); the
 * aggregator (the prediction log's stream -> exposures and ground truth per arm, exactly once); the scheduled
 * analysis (a snapshot per run: CIs over time). Starting and concluding experiments is the CLI's, with the
 * operator's credentials: no API key can promote a model.
 */
export class ExperimentService extends Construct {
  readonly table: ExperimentTable;
  readonly eventsFunction: NodejsFunction;
  readonly experimentsFunction: NodejsFunction;
  readonly aggregatorFunction: NodejsFunction;
  readonly analysisFunction: NodejsFunction;
  readonly schedule: events.Rule;
  readonly deadLetters: sqs.Queue;

  constructor(scope: Construct, id: string, props: ExperimentServiceProps) {
    super(scope, id);
    const analysisPeriod = props.analysisPeriod ?? Duration.hours(1);
    const errors = new PropErrors('ExperimentService');
    const periodMinutes = analysisPeriod.toMinutes({ integral: false });
    errors.require(Number.isInteger(periodMinutes) && periodMinutes >= 1, `analysisPeriod must be a whole number of minutes >= 1, got: ${periodMinutes} minutes`);
    errors.integer('aggregationBatchSize', props.aggregationBatchSize, 1, 10_000);
    errors.require(props.endpoints.length > 0, 'endpoints must hold at least one model endpoint, got: 0');
    errors.throwIfAny();

    this.table = new ExperimentTable(this, 'Table');
    const table = this.table.table;
    const statusIndexArn = `${table.tableArn}/index/${ExperimentTable.BY_STATUS_INDEX}`;
    this.deadLetters = new sqs.Queue(this, 'DeadLetters', { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) });
    Validations.of(this.deadLetters).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason: 'This queue is itself the dead-letter destination of the experiment aggregator stream and the analysis schedule.',
    });
    const environment = { EXPERIMENT_TABLE: table.tableName, PREDICTION_TABLE: props.predictionTable.tableName, POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO' };
    const allow = (fn: NodejsFunction, actions: string[], resources: string[]) => fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources }));

    this.eventsFunction = this.function('events', 'modelgate: outcome events (POST /v1/events) -> experiment arm counters', Duration.seconds(29), 512, environment, props);
    allow(this.eventsFunction, ['dynamodb:BatchGetItem'], [props.predictionTable.tableArn]);
    allow(this.eventsFunction, ['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'], [table.tableArn]);
    allow(this.eventsFunction, ['dynamodb:Query'], [statusIndexArn]);

    this.experimentsFunction = this.function('experiments', 'modelgate: experiments, their analysis and snapshots (GET /v1/experiments)', Duration.seconds(29), 512, environment, props);
    allow(this.experimentsFunction, ['dynamodb:GetItem', 'dynamodb:Query'], [table.tableArn]);
    allow(this.experimentsFunction, ['dynamodb:Query'], [statusIndexArn]);

    this.aggregatorFunction = this.function('aggregate', 'modelgate: prediction log stream -> experiment exposures and ground truth per arm', Duration.minutes(2), 1024, environment, props);
    allow(this.aggregatorFunction, ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], [table.tableArn]);
    allow(this.aggregatorFunction, ['dynamodb:Query'], [statusIndexArn]);
    this.aggregatorFunction.addEventSource(
      predictionStreamSource(props.predictionTable, { batchSize: props.aggregationBatchSize ?? 1000, maxBatchingWindow: Duration.seconds(5), deadLetters: this.deadLetters }),
    );

    this.analysisFunction = this.function('analyze', 'modelgate: scheduled analysis of running experiments (snapshots over time)', Duration.minutes(5), 512, environment, props);
    allow(this.analysisFunction, ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem'], [table.tableArn]);
    allow(this.analysisFunction, ['dynamodb:Query'], [statusIndexArn]);
    this.schedule = new events.Rule(this, 'Schedule', {
      description: 'modelgate: analyse running experiments',
      schedule: events.Schedule.rate(analysisPeriod),
      targets: [new targets.LambdaFunction(this.analysisFunction, { deadLetterQueue: this.deadLetters, retryAttempts: 2 })],
    });

    // Sticky routing runs in the inference functions (lambdas/adapters/experiment-router.ts): they read the
    // running experiments and invoke their own function's other version. A separate policy, not the role's
    // default one: the function depends on its default policy, and this one names the function's ARN.
    for (const endpoint of props.endpoints) {
      endpoint.function.addEnvironment('EXPERIMENT_TABLE', table.tableName);
      const policy = new iam.Policy(this, `${endpoint.node.id}Routing`, {
        statements: [
          new iam.PolicyStatement({ actions: ['dynamodb:Query'], resources: [statusIndexArn] }),
          new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [`${endpoint.function.functionArn}:*`] }),
        ],
      });
      endpoint.function.role?.attachInlinePolicy(policy);
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(endpoint.function.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
        reason: 'The router invokes the published version of the other experiment arm; versions are published after the deploy by the promotion pipeline, so they are named by wildcard within this one function.',
      });
    }

    const integration = (fn: lambda.IFunction) => new apigw.LambdaIntegration(fn, { proxy: true, allowTestInvoke: false });
    const v1 = props.api.root.resourceForPath('v1');
    v1.addResource('events').addMethod('POST', integration(this.eventsFunction));
    const experiments = v1.addResource('experiments');
    experiments.addMethod('GET', integration(this.experimentsFunction));
    experiments.addResource('{id}').addMethod('GET', integration(this.experimentsFunction));
  }

  private function(name: FunctionName, description: string, timeout: Duration, memorySize: number, environment: Record<string, string>, props: ExperimentServiceProps): NodejsFunction {
    const entry = path.join(HANDLERS, `${name}-function.ts`);
    const id = `${name.charAt(0).toUpperCase()}${name.slice(1)}`;
    const logGroup = new logs.LogGroup(this, `${id}Logs`, { retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.RETAIN });
    const role = new iam.Role(this, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: `modelgate experiment ${name}` });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    const fn = new NodejsFunction(this, `${id}Function`, {
      description,
      entry,
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize,
      timeout,
      tracing: lambda.Tracing.ACTIVE,
      role,
      logGroup,
      environment: { ...environment, POWERTOOLS_SERVICE_NAME: `experiment-${name}` },
      // The analysis is invoked asynchronously by its schedule: a run that fails its retries lands here.
      ...(name === 'analyze' ? { deadLetterQueue: this.deadLetters } : {}),
      bundling: ESM_BUNDLING,
    });
    markHandlerSource(fn, entry);
    Validations.of(role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray PutTraceSegments / PutTelemetryRecords do not support resource-level permissions (added by tracing: ACTIVE).' });
    Validations.of(fn).acknowledge(
      { id: 'AwsSolutions-L1', reason: 'Pinned to Node.js 22: the runtime the handlers and their tests are built and tested for (node@22 devDependency).' },
      { id: 'Serverless-LambdaLatestVersion', reason: 'Pinned to Node.js 22: the runtime the handlers and their tests are built and tested for (node@22 devDependency).' },
      ...(name === 'events' || name === 'experiments'
        ? [{ id: 'Serverless-LambdaDLQ', reason: 'Invoked synchronously by API Gateway only: failures return to the caller, there is no event to dead-letter.' }]
        : []),
      ...(name === 'aggregate'
        ? [{ id: 'Serverless-LambdaDLQ', reason: 'Invoked by its stream event source mapping only, never asynchronously; the mapping sends batches that exhaust their retries to the dead-letter queue.' }]
        : []),
    );
    return fn;
  }
}
