import * as fs from 'node:fs';
import * as path from 'node:path';
import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import type { Construct } from 'constructs';
import { API_CLIENTS, apiKeyOutputName } from '../lambdas/core/api-clients';
import type { DeploymentDeclarations } from '../lambdas/core/pipeline/declarations';
import { bundlePrefixes, MANIFEST_FILE } from '../lambdas/core/pipeline/candidate';
import { bundleProblems, type DeclaredModel } from './app/model-declarations';
import { BatchScoring } from './batch/batch-scoring';
import { ModelApi, type QuotaSettings, type ThrottleSettings } from './api/model-api';
import { ExperimentService } from './experiments/experiment-service';
import type { LogLevel } from './functions/modelgate-function';
import { ModelMonitoring } from './monitoring/model-monitoring';
import { MonitoringDashboard } from './monitoring/monitoring-dashboard';
import { PromotionPipeline } from './pipeline/promotion-pipeline';
import { ModelServingTemplate } from './serving/model-serving-template';
import { ModelBucket, type ModelBucketEncryption } from './storage/model-bucket';
import { ModelRegistryTable } from './storage/model-registry-table';
import { PredictionLogTable } from './storage/prediction-log-table';
import { acknowledgeBucketDeployment } from './validation/nag-acknowledgements';
import { PropErrors } from './validation/prop-validation';
import { declarationProblems } from '../lambdas/core/pipeline/declarations';

export interface ModelgateStackProps extends StackProps {
  /**
   * The models this deployment declares (models as data): each one's settings — memory, reserved concurrency,
   * alarm thresholds, rollout default — and optionally a local bundle uploaded on deploy. A declared model is
   * served once a version of it is pushed (or its bundle uploaded); the pipeline creates its stack then.
   *
   * @default - none
   */
  readonly models?: Readonly<Record<string, DeclaredModel>>;
  /**
   * Whether a push of a model nobody declared creates it. When false such a push is rejected with
   * MODEL_NOT_DECLARED and a message that says how to allow it.
   *
   * @default false
   */
  readonly allowUndeclaredModels?: boolean;
  /** @default 'api' */
  readonly apiStageName?: string;
  /** @default 'INFO' */
  readonly logLevel?: LogLevel;
  /** Retention of function and access logs. @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /** @default apigw.MethodLoggingLevel.ERROR */
  readonly executionLogLevel?: apigw.MethodLoggingLevel.ERROR | apigw.MethodLoggingLevel.INFO;
  /** Per API key. @default { rateLimit: 50, burstLimit: 100 } */
  readonly throttle?: ThrottleSettings;
  /** All keys together. @default { rateLimit: 500, burstLimit: 1000 } */
  readonly stageThrottle?: ThrottleSettings;
  /** @default - no quota */
  readonly quota?: QuotaSettings;
  /** @default 'kms' */
  readonly bucketEncryption?: ModelBucketEncryption;
  /** On-call addresses subscribed to the on-call topic. @default - none */
  readonly notificationEmails?: readonly string[];
}

/**
 * A modelgate deployment, `modelgate-<stage>`: everything models share — the model bucket, the prediction
 * log, the registry, the API (one URL and one key per kind of client for every model), monitoring, experiments, the promotion
 * pipeline and the on-call topic — and no model. Each model gets a CloudFormation stack of its own
 * (lib/serving/model-stack.ts), created by the pipeline when its first version is accepted, from the template
 * this stack publishes (docs/infrastructure.md).
 */
export class ModelgateStack extends Stack {
  readonly modelBucket: ModelBucket;
  readonly predictionLog: PredictionLogTable;
  readonly registry: ModelRegistryTable;
  readonly monitoring: ModelMonitoring;
  readonly api: ModelApi;
  readonly experiments: ExperimentService;
  readonly serving: ModelServingTemplate;
  readonly pipeline: PromotionPipeline;
  readonly batch: BatchScoring;

  constructor(scope: Construct, id: string, props: ModelgateStackProps = {}) {
    super(scope, id, props);
    const models = props.models ?? {};
    validate(models);

    this.modelBucket = new ModelBucket(this, 'ModelBucket', { encryption: props.bucketEncryption });
    this.predictionLog = new PredictionLogTable(this, 'PredictionLog');
    this.registry = new ModelRegistryTable(this, 'ModelRegistry');
    const logs_ = { ...(props.logLevel ? { logLevel: props.logLevel } : {}), ...(props.logRetention ? { logRetention: props.logRetention } : {}) };

    this.monitoring = new ModelMonitoring(this, 'Monitoring', {
      predictionTable: this.predictionLog.table,
      modelBucket: this.modelBucket.bucket,
      modelBucketKey: this.modelBucket.encryptionKey,
      ...logs_,
    });
    this.api = new ModelApi(this, 'Api', {
      feedbackFunction: this.monitoring.feedbackFunction,
      registryTable: this.registry.table,
      stageName: props.apiStageName,
      throttle: props.throttle,
      stageThrottle: props.stageThrottle,
      quota: props.quota,
      executionLogLevel: props.executionLogLevel,
      ...logs_,
    });
    this.experiments = new ExperimentService(this, 'Experiments', { api: this.api.api, predictionTable: this.predictionLog.table, ...logs_ });

    const declarations: DeploymentDeclarations = {
      deployment: this.stackName,
      allowUndeclaredModels: props.allowUndeclaredModels ?? false,
      models: Object.fromEntries(Object.entries(models).map(([name, { bundlePath: _bundle, ...settings }]) => [name, settings])),
    };
    this.serving = new ModelServingTemplate(this, 'ModelServing', {
      modelBucket: this.modelBucket.bucket,
      modelBucketKey: this.modelBucket.encryptionKey,
      predictionTable: this.predictionLog.table,
      registryTable: this.registry.table,
      experimentTable: this.experiments.table.table,
      api: this.api,
      declarations,
      ...logs_,
    });
    this.pipeline = new PromotionPipeline(this, 'Pipeline', {
      modelBucket: this.modelBucket.bucket,
      modelBucketKey: this.modelBucket.encryptionKey,
      predictionTable: this.predictionLog.table,
      registryTable: this.registry.table,
      api: this.api,
      serving: this.serving,
      notificationEmails: props.notificationEmails,
      ...logs_,
    });
    this.batch = new BatchScoring(this, 'Batch', {
      modelBucket: this.modelBucket.bucket,
      modelBucketKey: this.modelBucket.encryptionKey,
      registryTable: this.registry.table,
      ...logs_,
    });
    new MonitoringDashboard(this, 'Dashboard', {});

    for (const [name, model] of Object.entries(models)) {
      if (model.bundlePath) this.uploadBundle(name, model.bundlePath, props.logRetention);
    }

    new CfnOutput(this, 'ApiUrl', { value: this.api.api.url, description: 'Base URL (stage included)' });
    for (const client of API_CLIENTS) {
      new CfnOutput(this, apiKeyOutputName(client), {
        value: this.api.apiKeys[client].keyId,
        description: `The first ${client} key: aws apigateway get-api-key --include-value --api-key <id>`,
      });
    }
    new CfnOutput(this, 'ModelBucketName', { value: this.modelBucket.bucket.bucketName });
    new CfnOutput(this, 'PredictionTableName', { value: this.predictionLog.table.tableName });
    new CfnOutput(this, 'ExperimentTableName', { value: this.experiments.table.table.tableName });
    new CfnOutput(this, 'MonitoringTableName', { value: this.monitoring.table.table.tableName });
    new CfnOutput(this, 'MonitorFunctionName', { value: this.monitoring.monitorFunction.functionName });
    new CfnOutput(this, 'RegistryTableName', { value: this.registry.table.tableName });
    new CfnOutput(this, 'PipelineStateMachineArn', { value: this.pipeline.stateMachine.stateMachineArn });
    new CfnOutput(this, 'BatchStateMachineArn', { value: this.batch.stateMachine.stateMachineArn });
    new CfnOutput(this, 'NotificationTopicArn', { value: this.pipeline.topic.topicArn });
  }

  /**
   * Uploads a declared model's local bundle as a candidate: the pipeline validates it and rolls it out (and
   * creates the model's stack). The sync does not write the manifest last, so the validation waits for the
   * files the manifest names. Never deletes what is already there.
   */
  private uploadBundle(name: string, bundlePath: string, logRetention?: logs.RetentionDays): void {
    const version = (JSON.parse(fs.readFileSync(path.join(bundlePath, MANIFEST_FILE), 'utf8')) as { version: string }).version;
    const id = `${name
      .split('-')
      .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
      .join('')}Bundle`;
    const deployment = new s3deploy.BucketDeployment(this, id, {
      sources: [s3deploy.Source.asset(bundlePath)],
      destinationBucket: this.modelBucket.bucket,
      destinationKeyPrefix: bundlePrefixes(name, version).candidatePrefix,
      prune: false,
      retainOnDelete: true,
      memoryLimit: 512,
      logGroup: new logs.LogGroup(this, `${id}Logs`, { retention: logRetention ?? logs.RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY }),
    });
    // The pipeline must be listening (its upload rule) and reading what it needs (template, declarations) before the
    // candidate arrives.
    deployment.node.addDependency(this.serving.publication, this.pipeline.rule);
    acknowledgeBucketDeployment(deployment, this.modelBucket.bucket, this.modelBucket.encryptionKey !== undefined);
  }
}

function validate(models: Readonly<Record<string, DeclaredModel>>): void {
  const errors = new PropErrors('ModelgateStack');
  for (const [name, model] of Object.entries(models)) {
    const { bundlePath, ...settings } = model;
    errors.add(...declarationProblems(`models.${name}`, name, settings));
    if (bundlePath !== undefined) errors.add(...bundleProblems(`models.${name}.bundlePath`, name, bundlePath));
  }
  errors.throwIfAny();
}
