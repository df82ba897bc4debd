import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { PACKAGE_ROOT } from '../package-root';
import { BUNDLE_HANDLER, bundledCode, HANDLERS_DIR } from './bundling';
import { functionName as deployedName, metricsNamespace } from '../../lambdas/core/naming';
import { PropErrors, show } from '../validation/prop-validation';

/**
 * Every deployed function, by the name of its entry file `lambdas/handlers/<name>.ts`: one entry per
 * function, named like the function (its deployed name is `<stack>-<name>`, a model's `<stack>-model-<m>`).
 */
export type HandlerName =
  | 'inference'
  | 'feedback'
  | 'aggregator'
  | 'monitor'
  | 'models'
  | 'registry'
  | 'validate'
  | 'publish'
  | 'routing'
  | 'provision'
  | 'experiment-events'
  | 'experiments'
  | 'experiment-aggregator'
  | 'experiment-analysis'
  | 'api-key-authorizer'
  | 'batch-job'
  | 'batch-score';

/** Who invokes the function: decides whether it needs a dead-letter queue, and says why not. */
export type Invoker =
  | { readonly kind: 'api-gateway' }
  | { readonly kind: 'step-functions' }
  | { readonly kind: 'stream'; readonly deadLetterQueue: sqs.IQueue }
  | { readonly kind: 'schedule'; readonly deadLetterQueue: sqs.IQueue };

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export interface ModelgateFunctionProps {
  /** The entry `lambdas/handlers/<handler>.ts`; also the Powertools service name. */
  readonly handler: HandlerName;
  /**
   * The deployment the function belongs to (the base stack's name): its default name and metrics
   * namespace derive from it (core/naming.ts).
   *
   * @default - the name of the stack the function is defined in
   */
  readonly deployment?: string;
  /**
   * The deployed name. Explicit names keep two stages in one account apart and let the pipeline and the
   * CLI find functions by convention.
   *
   * @default `<deployment>-<handler>`
   */
  readonly functionName?: string;
  readonly description: string;
  /** Variables beyond the ones every function gets (POWERTOOLS_SERVICE_NAME, _LOG_LEVEL, _METRICS_NAMESPACE). */
  readonly environment?: Readonly<Record<string, string>>;
  readonly invokedBy: Invoker;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default Duration.seconds(60) */
  readonly timeout?: Duration;
  /** Package onnxruntime-node (linux binaries of `architecture` only). @default false */
  readonly onnx?: boolean;
  /** @default lambda.Architecture.ARM_64 */
  readonly architecture?: lambda.Architecture;
  /** @default - unreserved */
  readonly reservedConcurrency?: number;
  /** @default 'INFO' */
  readonly logLevel?: LogLevel;
  /**
   * Lambda's own log lines (START, END, REPORT: ~0.4 KB per invocation). The inference function keeps only
   * warnings: at one invocation per prediction they would cost $0.20 per million in ingestion (docs/cost.md);
   * Lambda's Duration and Invocations metrics do not need them.
   * @default lambda.SystemLogLevel.INFO
   */
  readonly systemLogLevel?: lambda.SystemLogLevel;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The code. A model stack passes the inference code its base stack published.
   *
   * @default - the handler bundled at synth (lib/functions/bundling.ts)
   */
  readonly code?: lambda.Code;
}

const PINNED_RUNTIME_REASON = 'Pinned to Node.js 22: the runtime the handlers (and the onnxruntime-node binding) are built and tested for (node@22 devDependency).';
const XRAY_REASON = 'X-Ray PutTraceSegments / PutTelemetryRecords do not support resource-level permissions (added by tracing: ACTIVE).';

/**
 * One Lambda function of modelgate, built the same way for every handler: its own log group (with
 * retention, kept when the stack goes), its own role (logs to that group only, no AWS managed policy; grants are
 * added with `allow`), Node.js 22 on arm64 with X-Ray, the esbuild bundle of `lambdas/handlers/<handler>.ts`
 * (onnxruntime-node beside it when asked), the cdk-nag acknowledgements every function shares, and the
 * metadata by which the local runtime runs the handler's source instead of the bundle.
 */
export class ModelgateFunction extends Construct {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly functionName: string;

  constructor(scope: Construct, id: string, props: ModelgateFunctionProps) {
    super(scope, id);
    const deployment = props.deployment ?? Stack.of(this).stackName;
    this.functionName = props.functionName ?? deployedName(deployment, props.handler);
    validate(props, this.functionName);
    const architecture = props.architecture ?? lambda.Architecture.ARM_64;
    const entry = path.join(HANDLERS_DIR, `${props.handler}.ts`);

    // No explicit name: a retained group with a fixed name would make re-creating the stack fail.
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `modelgate ${this.functionName}`,
    });
    this.allow(['logs:CreateLogStream', 'logs:PutLogEvents'], [this.logGroup.logGroupArn]);

    this.function = new lambda.Function(this, 'Function', {
      functionName: this.functionName,
      description: props.description.slice(0, 256),
      code: props.code ?? bundledCode({ entry, ...(props.onnx ? { onnxPlatform: architecture === lambda.Architecture.X86_64 ? 'x64' : 'arm64' } : {}) }),
      handler: BUNDLE_HANDLER,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(60),
      tracing: lambda.Tracing.ACTIVE,
      reservedConcurrentExecutions: props.reservedConcurrency,
      role: this.role,
      logGroup: this.logGroup,
      // JSON, so Lambda can filter its own lines by level; the handlers' lines are JSON already (Powertools writes
      // its logs and EMF metrics straight to stdout, which Lambda does not wrap).
      loggingFormat: lambda.LoggingFormat.JSON,
      systemLogLevelV2: props.systemLogLevel ?? lambda.SystemLogLevel.INFO,
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: props.handler,
        POWERTOOLS_METRICS_NAMESPACE: metricsNamespace(deployment),
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
      },
      ...(props.invokedBy.kind === 'schedule' ? { deadLetterQueue: props.invokedBy.deadLetterQueue } : {}),
    });
    // The local runtime runs this source file instead of the bundle (docs/local-runtime.md).
    const cfn = this.function.node.defaultChild as lambda.CfnFunction;
    cfn.addMetadata('modelgate:entry', path.relative(PACKAGE_ROOT, entry).split(path.sep).join('/'));
    cfn.addMetadata('modelgate:handler', 'handler');

    Validations.of(this.role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: XRAY_REASON });
    Validations.of(this.function).acknowledge(
      { id: 'AwsSolutions-L1', reason: PINNED_RUNTIME_REASON },
      { id: 'Serverless-LambdaLatestVersion', reason: PINNED_RUNTIME_REASON },
      ...deadLetterAcknowledgement(props.invokedBy),
    );
  }

  /** Adds a statement to the function's own role. */
  allow(actions: string[], resources: string[], conditions?: Record<string, unknown>): void {
    this.role.addToPolicy(new iam.PolicyStatement({ actions, resources, ...(conditions ? { conditions } : {}) }));
  }

  /** Wildcard resources that are the point of a grant, spelled as cdk-nag reports them (AwsSolutions-IAM5), with why. */
  acknowledgeWildcards(findings: readonly string[], reason: string): void {
    Validations.of(this.role).acknowledge(...findings.map((finding) => ({ id: `AwsSolutions-IAM5[${finding}]`, reason })));
  }
}

function deadLetterAcknowledgement(invoker: Invoker): { id: string; reason: string }[] {
  switch (invoker.kind) {
    case 'api-gateway':
      return [{ id: 'Serverless-LambdaDLQ', reason: 'Invoked synchronously by API Gateway only: failures return to the caller, there is no event to dead-letter.' }];
    case 'step-functions':
      return [
        {
          id: 'Serverless-LambdaDLQ',
          reason: 'Invoked synchronously by Step Functions, which retries and catches its errors in the state machine: there is no event to dead-letter.',
        },
      ];
    case 'stream':
      return [
        {
          id: 'Serverless-LambdaDLQ',
          reason: 'Invoked by its stream event source mapping only, never asynchronously; the mapping sends batches that exhaust their retries to the dead-letter queue.',
        },
      ];
    case 'schedule':
      return [];
  }
}

function validate(props: ModelgateFunctionProps, functionName: string): void {
  const errors = new PropErrors('ModelgateFunction');
  errors.require(
    Token.isUnresolved(functionName) || /^[A-Za-z0-9_-]{1,64}$/.test(functionName),
    `functionName must be 1-64 letters, digits, '-' or '_' (Lambda's rule), got: ${show(functionName)} (${functionName.length} characters)`,
  );
  const literal = (value: number | undefined) => (value === undefined || Token.isUnresolved(value) ? undefined : value);
  errors.integer('memorySize', literal(props.memorySize), 128, 10240);
  if (props.timeout !== undefined) {
    const seconds = props.timeout.toMilliseconds() / 1000;
    errors.require(Number.isInteger(seconds) && seconds >= 1 && seconds <= 900, `timeout must be a whole number of seconds between 1 and 900, got: ${seconds}`);
  }
  errors.integer('reservedConcurrency', literal(props.reservedConcurrency), 0, 100_000);
  errors.throwIfAny();
}
