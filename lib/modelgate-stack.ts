import * as fs from 'node:fs';
import * as path from 'node:path';
import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { ModelApi, type QuotaSettings, type ThrottleSettings } from './api/model-api';
import { ModelBucket, type ModelBucketEncryption } from './storage/model-bucket';
import { ModelEndpoint, modelIdentityProblems } from './serving/model-endpoint';
import { ModelRegistryTable } from './storage/model-registry-table';
import { acknowledgeBucketDeployment } from './validation/nag-acknowledgements';
import { PredictionLogTable } from './storage/prediction-log-table';
import { PromotionPipeline } from './pipeline/promotion-pipeline';
import { PropErrors, show } from './validation/prop-validation';
import { DEFAULT_ALARM_THRESHOLDS, type AlarmThresholds } from '../lambdas/core/monitoring/alarms';
import { ModelMonitoring } from './monitoring/model-monitoring';
import { MonitoringDashboard } from './monitoring/monitoring-dashboard';
import { VersionAlarms } from './monitoring/version-alarms';
import { ExperimentService } from './experiments/experiment-service';

/** A bundle folder holds this manifest, and the model file the manifest names (`model.file`). */
export const MANIFEST_FILE = 'manifest.json';
const DEFAULT_MODEL_FILE = 'model.onnx';

export interface ModelSpec {
  /** Lower-case letters, digits and dashes; the API path segment. */
  readonly name: string;
  /** The version served at bootstrap; its bundle lives under `models/<name>/<version>/`. */
  readonly version: string;
  /**
   * A local bundle folder (manifest.json, the model file it names, anything else alongside) uploaded on
   * deploy to `candidates/<name>/<version>/`, so the promotion pipeline validates and rolls it out like any
   * upload and a fresh stack serves something. Its manifest must name the same model and version.
   *
   * @default - nothing uploaded: the bundle arrives through the promotion pipeline
   */
  readonly bundlePath?: string;
  /** @default 2048 */
  readonly memorySize?: number;
  /** @default - unreserved */
  readonly reservedConcurrency?: number;
  /** @default - none (see ModelEndpoint: this is an alias property) */
  readonly provisionedConcurrency?: number;
  /**
   * Alarm thresholds of this model's versions (merged over the defaults; docs/monitoring.md). The stack
   * creates the alarms of `version`; the promotion pipeline those of the versions it publishes.
   *
   * @default DEFAULT_ALARM_THRESHOLDS
   */
  readonly alarms?: Partial<AlarmThresholds>;
}

export interface ModelgateStackProps extends StackProps {
  /** The models to serve, one function each. */
  readonly models: readonly ModelSpec[];
  /** @default 'api' */
  readonly apiStageName?: string;
  /** @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
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
  /** On-call addresses subscribed to the pipeline's notification topic. @default - none */
  readonly notificationEmails?: readonly string[];
}

/**
 * The serving foundation: model bucket, prediction log, one inference function per model behind a
 * `live` alias, and the REST API in front of them.
 */
export class ModelgateStack extends Stack {
  readonly modelBucket: ModelBucket;
  readonly predictionLog: PredictionLogTable;
  readonly endpoints: readonly ModelEndpoint[];
  readonly api: ModelApi;
  readonly monitoring: ModelMonitoring;
  readonly alarms: readonly VersionAlarms[];
  readonly registry: ModelRegistryTable;
  readonly pipeline: PromotionPipeline;
  readonly experiments: ExperimentService;

  constructor(scope: Construct, id: string, props: ModelgateStackProps) {
    super(scope, id, props);
    validate(props);

    this.modelBucket = new ModelBucket(this, 'ModelBucket', { encryption: props.bucketEncryption });
    this.predictionLog = new PredictionLogTable(this, 'PredictionLog');

    this.endpoints = props.models.map(
      (model) =>
        new ModelEndpoint(this, `${pascalCase(model.name)}Endpoint`, {
          modelName: model.name,
          modelVersion: model.version,
          modelBucket: this.modelBucket.bucket,
          modelBucketKey: this.modelBucket.encryptionKey,
          predictionTable: this.predictionLog.table,
          memorySize: model.memorySize,
          reservedConcurrency: model.reservedConcurrency,
          provisionedConcurrency: model.provisionedConcurrency,
          logLevel: props.logLevel,
          logRetention: props.logRetention,
        }),
    );

    this.registry = new ModelRegistryTable(this, 'ModelRegistry');
    this.pipeline = new PromotionPipeline(this, 'Pipeline', {
      modelBucket: this.modelBucket.bucket,
      modelBucketKey: this.modelBucket.encryptionKey,
      predictionTable: this.predictionLog.table,
      registryTable: this.registry.table,
      endpoints: this.endpoints,
      notificationEmails: props.notificationEmails,
      logRetention: props.logRetention,
      // The alarms the pipeline creates for the versions it publishes use the same thresholds as the stack's.
      alarmThresholds: Object.fromEntries(props.models.map((model) => [model.name, { ...model.alarms }])),
    });

    for (const model of props.models) {
      if (model.bundlePath) this.deployBundle(model, model.bundlePath, props.logRetention);
    }

    this.monitoring = new ModelMonitoring(this, 'Monitoring', {
      predictionTable: this.predictionLog.table,
      modelBucket: this.modelBucket.bucket,
      modelBucketKey: this.modelBucket.encryptionKey,
      logLevel: props.logLevel,
      logRetention: props.logRetention,
    });
    const thresholdsOf = (model: ModelSpec): AlarmThresholds => ({ ...DEFAULT_ALARM_THRESHOLDS, ...model.alarms });
    this.alarms = props.models.map(
      (model) =>
        new VersionAlarms(this, `${pascalCase(model.name)}V${pascalCase(model.version)}Alarms`, {
          model: model.name,
          version: model.version,
          thresholds: { ...thresholdsOf(model), monitorPeriodSeconds: this.monitoring.monitorPeriod.toSeconds() },
          // One on-call topic: the pipeline's (its key lets CloudWatch publish).
          topic: this.pipeline.topic,
        }),
    );
    new MonitoringDashboard(this, 'Dashboard', {
      versions: props.models.map((model) => ({ model: model.name, version: model.version, features: thresholdsOf(model).featureDrift.features })),
    });

    this.api = new ModelApi(this, 'Api', {
      feedbackFunction: this.monitoring.feedbackFunction,
      endpoints: this.endpoints,
      stageName: props.apiStageName,
      throttle: props.throttle,
      stageThrottle: props.stageThrottle,
      quota: props.quota,
      executionLogLevel: props.executionLogLevel,
      logRetention: props.logRetention,
      modelsFunction: this.pipeline.modelsFunction,
    });
    this.experiments = new ExperimentService(this, 'Experiments', {
      api: this.api.api,
      predictionTable: this.predictionLog.table,
      endpoints: this.endpoints,
      logLevel: props.logLevel,
      logRetention: props.logRetention,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.api.url, description: 'Base URL (stage included)' });
    new CfnOutput(this, 'ApiKeyId', {
      value: this.api.apiKey.keyId,
      description: 'aws apigateway get-api-key --include-value --api-key <id>',
    });
    new CfnOutput(this, 'ModelBucketName', { value: this.modelBucket.bucket.bucketName });
    new CfnOutput(this, 'PredictionTableName', { value: this.predictionLog.table.tableName });
    new CfnOutput(this, 'ExperimentTableName', { value: this.experiments.table.table.tableName });
    new CfnOutput(this, 'MonitoringTableName', { value: this.monitoring.table.table.tableName });
    new CfnOutput(this, 'MonitorFunctionName', { value: this.monitoring.monitorFunction.functionName });
    new CfnOutput(this, 'RegistryTableName', { value: this.registry.table.tableName });
    new CfnOutput(this, 'PipelineStateMachineArn', { value: this.pipeline.stateMachine.stateMachineArn });
    new CfnOutput(this, 'NotificationTopicArn', { value: this.pipeline.topic.topicArn });
    for (const endpoint of this.endpoints) {
      const prefix = pascalCase(endpoint.modelName);
      new CfnOutput(this, `${prefix}FunctionArn`, { value: endpoint.function.functionArn });
      new CfnOutput(this, `${prefix}LiveAliasArn`, { value: endpoint.liveAlias.functionArn });
    }
  }

  /**
   * Uploads a local bundle as a candidate: the pipeline validates it and rolls it out (docs/pipeline.md). The
   * sync does not write the manifest last, so the validation waits for the files the manifest names. Never
   * deletes what is already there.
   */
  private deployBundle(model: ModelSpec, bundlePath: string, logRetention?: logs.RetentionDays): void {
    const id = `${pascalCase(model.name)}Bundle`;
    const deployment = new s3deploy.BucketDeployment(this, id, {
      sources: [s3deploy.Source.asset(bundlePath)],
      destinationBucket: this.modelBucket.bucket,
      destinationKeyPrefix: `candidates/${model.name}/${model.version}/`,
      prune: false,
      retainOnDelete: true,
      memoryLimit: 512,
      logGroup: new logs.LogGroup(this, `${id}Logs`, {
        retention: logRetention ?? logs.RetentionDays.THREE_MONTHS,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    acknowledgeBucketDeployment(deployment, this.modelBucket.bucket, this.modelBucket.encryptionKey !== undefined);
  }
}

function validate(props: ModelgateStackProps): void {
  const errors = new PropErrors('ModelgateStack');
  errors.require(props.models.length > 0, 'models must list at least one model, got: []');
  const names = props.models.map((model) => model.name);
  const duplicates = [...new Set(names.filter((name, i) => names.indexOf(name) !== i))];
  errors.require(duplicates.length === 0, `models must have distinct names, got duplicates: ${show(duplicates)}`);
  props.models.forEach((model, i) => {
    errors.add(...modelIdentityProblems(model.name, model.version).map((problem) => `models[${i}]: ${problem}`));
    if (model.bundlePath !== undefined) errors.add(...bundleProblems(model, i, model.bundlePath));
  });
  errors.throwIfAny();
}

/** A bundle folder must exist, hold its manifest and model file, and describe the model it is deployed as. */
function bundleProblems(model: ModelSpec, index: number, bundlePath: string): string[] {
  const where = `models[${index}].bundlePath`;
  const manifestPath = path.join(bundlePath, MANIFEST_FILE);
  if (!fs.existsSync(manifestPath)) {
    const found = fs.existsSync(bundlePath) ? `no ${MANIFEST_FILE} in it` : 'not found';
    return [`${where} must be a bundle folder holding ${MANIFEST_FILE} and the model file, got: ${show(bundlePath)} (${found})`];
  }
  let manifest: { name?: unknown; version?: unknown; model?: { file?: unknown } };
  try {
    manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as typeof manifest;
  } catch (error) {
    return [`${where}/${MANIFEST_FILE} must be JSON, got: ${(error as Error).message}`];
  }
  const problems: string[] = [];
  if (manifest.name !== model.name) {
    problems.push(`${where}/${MANIFEST_FILE} must name model ${show(model.name)}, got: ${show(manifest.name)}`);
  }
  if (manifest.version !== model.version) {
    problems.push(`${where}/${MANIFEST_FILE} must have version ${show(model.version)}, got: ${show(manifest.version)}`);
  }
  const modelFile = manifest.model?.file ?? DEFAULT_MODEL_FILE;
  if (typeof modelFile !== 'string' || !fs.existsSync(path.join(bundlePath, modelFile))) {
    problems.push(`${where} must hold the model file its manifest names, got: ${show(modelFile)} (not found)`);
  }
  return problems;
}

/** `churn-v2` -> `ChurnV2`: construct ids and output names. */
function pascalCase(name: string): string {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
