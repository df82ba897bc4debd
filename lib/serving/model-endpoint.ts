import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { nagArnOf } from '../validation/nag-acknowledgements';
import { MODEL_NAME_PATTERN, MODEL_VERSION_PATTERN, PropErrors, show } from '../validation/prop-validation';
import { ModelgateFunction } from '../functions/modelgate-function';

/** Lambda's synchronous invocation payload limit is 6 MB; the proxy event envelope needs headroom. */
export const MAX_BODY_BYTES_LIMIT = 5 * 1024 * 1024;

/** Traffic sent from the `live` alias to a published version other than the alias's own. */
export interface AdditionalVersionWeight {
  /** A published version number, e.g. "7". */
  readonly version: string;
  /** Share of invocations routed to `version`, in [0, 1]. */
  readonly weight: number;
}

export interface ModelEndpointProps {
  /** Model name: lower-case letters, digits and dashes; the API path segment under /v1/models and /v2/models. */
  readonly modelName: string;
  /** The model version the function serves at bootstrap (the bundle under `models/<name>/<version>/`). */
  readonly modelVersion: string;
  /** Bucket holding the bundle; the function may read `models/<modelName>/*` and nothing else. */
  readonly modelBucket: s3.IBucket;
  /** Key of the bucket, when it is KMS-encrypted (the function may decrypt through S3 only). */
  readonly modelBucketKey?: kms.IKey;
  /** Prediction log; the function may put items and nothing else. */
  readonly predictionTable: dynamodb.ITable;
  /**
   * Instruction set. Only this architecture's onnxruntime binaries are packaged.
   *
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
  /**
   * Memory in MB (Lambda allocates CPU in proportion; onnxruntime uses the extra cores).
   *
   * @default 2048
   */
  readonly memorySize?: number;
  /**
   * Function timeout. API Gateway stops waiting after 29 s by default, whatever this says.
   *
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * Concurrency reserved for (and capping) this function.
   *
   * @default - unreserved: shares the account's pool
   */
  readonly reservedConcurrency?: number;
  /**
   * Pre-initialised environments on the `live` alias (no cold start for that many concurrent requests).
   * This is a property of the alias resource: see the routing-ownership note on `liveAlias` before
   * changing it after the first deploy.
   *
   * @default - none
   */
  readonly provisionedConcurrency?: number;
  /**
   * Weighted routing written into the `live` alias by CloudFormation. Bootstrap and break-glass only:
   * after the first deploy the promotion pipeline owns the alias (version and routing), and any change
   * of this prop makes CloudFormation rewrite the whole alias. Lambda allows one additional version;
   * each weight is in [0, 1] and their sum must stay below 1.
   *
   * @default - no RoutingConfig in the template: CloudFormation never writes routing
   */
  readonly additionalVersions?: readonly AdditionalVersionWeight[];
  /** @default 90 */
  readonly predictionTtlDays?: number;
  /** Partitions per model version in the byModelVersion index. @default 4 */
  readonly predictionLogShards?: number;
  /** @default 1000 */
  readonly maxBatchRows?: number;
  /** Request body limit the handler enforces (API Gateway's own hard limit is 10 MB). @default 1048576 */
  readonly maxBodyBytes?: number;
  /** @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * One model's inference function and its `live` alias.
 *
 * Who writes the alias — the "one writer" rule. CloudFormation updates an alias whenever the alias's
 * properties in the template change, and then writes all of them (version and routing). If the alias
 * pointed at `currentVersion`, every code or configuration change would publish a new version and point
 * `live` back at it with CDK's routing, undoing a canary or a promotion the pipeline made. So:
 * - CDK creates `live` once, on a bootstrap version whose template never changes (no code hash, fixed
 *   description) and, by default, without routing. Later deploys update `$LATEST` only.
 * - After the first deploy the promotion pipeline is the only writer: it publishes a version per model
 *   version (from `$LATEST`, with that model's environment) and moves `live` / its weights.
 * - `additionalVersions` and `provisionedConcurrency` live on the alias resource: changing either makes
 *   CloudFormation rewrite the alias, pointing it back at the bootstrap version. Use them for bootstrap or
 *   break-glass only, with the pipeline stopped.
 */
export class ModelEndpoint extends Construct {
  static readonly LIVE_ALIAS_NAME = 'live';

  readonly function: lambda.Function;
  /** The version `live` points at until the promotion pipeline moves it. */
  readonly bootstrapVersion: lambda.Version;
  readonly liveAlias: lambda.Alias;
  readonly modelName: string;
  /** S3 key prefix of the bootstrap bundle, e.g. `models/churn/1/`. */
  readonly modelPrefix: string;

  constructor(scope: Construct, id: string, props: ModelEndpointProps) {
    super(scope, id);
    validate(props);

    const architecture = props.architecture ?? lambda.Architecture.ARM_64;
    this.modelName = props.modelName;
    this.modelPrefix = `models/${props.modelName}/${props.modelVersion}/`;

    const inference = new ModelgateFunction(this, 'Inference', {
      handler: 'inference',
      functionName: `${Stack.of(this).stackName}-model-${props.modelName}`,
      description: `modelgate ${props.modelName}: ONNX inference (/v1 predict, /v2 infer + metadata)`,
      onnx: true,
      architecture,
      memorySize: props.memorySize ?? 2048,
      timeout: props.timeout ?? Duration.seconds(30),
      invokedBy: { kind: 'api-gateway' },
      ...(props.reservedConcurrency !== undefined ? { reservedConcurrency: props.reservedConcurrency } : {}),
      ...(props.logLevel ? { logLevel: props.logLevel } : {}),
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
      environment: {
        MODEL_BUCKET: props.modelBucket.bucketName,
        MODEL_PREFIX: this.modelPrefix,
        MODEL_NAME: props.modelName,
        MODEL_VERSION: props.modelVersion,
        PREDICTION_TABLE: props.predictionTable.tableName,
        PREDICTION_TTL_DAYS: String(props.predictionTtlDays ?? 90),
        PREDICTION_LOG_SHARDS: String(props.predictionLogShards ?? 4),
        MAX_BATCH_ROWS: String(props.maxBatchRows ?? 1000),
        MAX_BODY_BYTES: String(props.maxBodyBytes ?? 1048576),
      },
    });
    // Every version of this model is under models/<name>/; the pipeline moves MODEL_PREFIX within it.
    inference.allow(['s3:GetObject'], [props.modelBucket.arnForObjects(`models/${props.modelName}/*`)]);
    if (props.modelBucketKey) {
      inference.allow(['kms:Decrypt'], [props.modelBucketKey.keyArn], { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } });
    }
    inference.allow(['dynamodb:PutItem', 'dynamodb:BatchWriteItem'], [props.predictionTable.tableArn]);
    inference.acknowledgeWildcards(
      [`Resource::${nagArnOf(props.modelBucket)}/models/${props.modelName}/*`],
      "Read access is scoped to this model's prefix; the object keys (one folder per model version) are written later by the promotion pipeline.",
    );
    this.function = inference.function;

    // Published once, when the stack is created: no codeSha256 and a constant description, so the
    // template of this resource (and of the alias on top) never changes. See the class comment.
    this.bootstrapVersion = new lambda.Version(this, 'BootstrapVersion', {
      lambda: this.function,
      description: 'bootstrap version: the promotion pipeline owns the live alias after the first deploy',
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.liveAlias = new lambda.Alias(this, 'LiveAlias', {
      aliasName: ModelEndpoint.LIVE_ALIAS_NAME,
      version: this.bootstrapVersion,
      provisionedConcurrentExecutions: props.provisionedConcurrency,
      additionalVersions: props.additionalVersions?.map(({ version, weight }) => ({
        version: lambda.Version.fromVersionAttributes(this, `RoutedVersion${version}`, {
          lambda: this.function,
          version,
        }),
        weight,
      })),
    });
  }
}

/**
 * Problems with a model's name and version, which become an API path segment, S3 prefixes and DynamoDB
 * key parts. Shared with the stack, which checks its whole model list in one pass.
 */
export function modelIdentityProblems(name: string, version: string): string[] {
  const problems: string[] = [];
  if (!(MODEL_NAME_PATTERN.test(name) && name.length <= 40)) {
    problems.push(`model name must be 1-40 lower-case letters, digits and single dashes, got: ${show(name)}`);
  }
  if (!(MODEL_VERSION_PATTERN.test(version) && version.length <= 40)) {
    problems.push(`model version must be 1-40 letters, digits, '.', '_' or '-' (no '/' or '#'), got: ${show(version)}`);
  }
  return problems;
}

function validate(props: ModelEndpointProps): void {
  const errors = new PropErrors('ModelEndpoint');
  errors.add(...modelIdentityProblems(props.modelName, props.modelVersion));
  errors.integer('memorySize', props.memorySize, 128, 10240);
  if (props.timeout !== undefined) {
    const seconds = props.timeout.toMilliseconds() / 1000;
    errors.require(
      Number.isInteger(seconds) && seconds >= 1 && seconds <= 900,
      `timeout must be a whole number of seconds between 1 and 900, got: ${seconds}`,
    );
  }
  errors.integer('reservedConcurrency', props.reservedConcurrency, 1, 100_000);
  errors.integer('provisionedConcurrency', props.provisionedConcurrency, 1, 100_000);
  if (props.reservedConcurrency !== undefined && props.provisionedConcurrency !== undefined) {
    errors.require(
      props.provisionedConcurrency <= props.reservedConcurrency,
      `provisionedConcurrency must not exceed reservedConcurrency (${props.reservedConcurrency}), got: ${props.provisionedConcurrency}`,
    );
  }
  errors.integer('predictionTtlDays', props.predictionTtlDays, 1, 3650);
  errors.integer('predictionLogShards', props.predictionLogShards, 1, 100);
  errors.integer('maxBatchRows', props.maxBatchRows, 1, 100_000);
  errors.integer('maxBodyBytes', props.maxBodyBytes, 1, MAX_BODY_BYTES_LIMIT);

  const routing = props.additionalVersions ?? [];
  errors.require(
    routing.length <= 1,
    `additionalVersions may hold at most 1 version (a Lambda alias routes to two versions at most), got: ${routing.length} (${show(routing.map((r) => r.version))})`,
  );
  for (const { version, weight } of routing) {
    errors.require(
      /^[1-9][0-9]*$/.test(version),
      `additionalVersions version must be a published version number, got: ${show(version)}`,
    );
    errors.require(
      Number.isFinite(weight) && weight >= 0 && weight <= 1,
      `additionalVersions weight must be between 0 and 1, got: ${weight}`,
    );
  }
  const total = routing.reduce((sum, { weight }) => sum + weight, 0);
  errors.require(
    routing.length === 0 || total < 1,
    `additionalVersions weights must sum to less than 1 (the alias's own version gets the rest), got: ${total}`,
  );
  errors.throwIfAny();
}
