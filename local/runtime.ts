import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { readFile } from 'node:fs/promises';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startApiGateway, restApisFromTemplate, type ApiGatewayServer, type RestApiDefinition } from './api-gateway';
import { LOCAL_CREDENTIALS, localDynamoClient, localS3Client } from './aws-clients';
import { startDynamoDb, startS3, type LocalS3, type LocalService } from './aws-services';
import { createTableInput, ensureTable, type CfnTableProperties } from './dynamodb-tables';
import { startDynamoDbStreams, streamedTablesFromTemplate, streamSubscriptionsFromTemplate, type LocalDynamoDbStreams } from './dynamodb-streams';
import { LocalLambdaService, type FunctionDefinition } from './lambda-service';
import { startLambdaApi } from './lambda-api';
import { startPipelineServices, type PipelineServices } from './pipeline-services';
import { synthesizeLocal, type SynthesizedStack } from './synth';
import { LocalAlarms, alarmsFromTemplate, registerAlarmIdentities } from './alarms';
import { experimentTableName, experimentViews } from './experiment-views';
import { dashboardRoutes, dynamoRegistrySource, registryTableName, type RegistrySource } from './dashboard';
import { monitoringViewsOfStack } from './monitoring-views';
import { FunctionLogs } from './function-logs';
import { LocalMetricStore } from './metrics-store';
import { assertPortFree } from './ports';
import { LocalSns, registerTopicIdentities, topicsFromTemplate } from './sns';
import { resolveValue, resourcesOfType, type CfnResource, type ResolutionContext } from './template';
import { metricsNamespace } from '../lambdas/core/naming';
import { scaledMinuteMs, TIME_SCALE_VARIABLE } from '../lambdas/contracts/monitoring-environment';

export interface RuntimeOptions {
  /** Address every server binds to (default 127.0.0.1: nothing leaves the machine). */
  readonly host?: string;
  /** The API port (default 3000); 0 picks a free one. */
  readonly port?: number;
  /** DynamoDB and S3 ports (default 0: free ports). */
  readonly dynamoDbPort?: number;
  readonly s3Port?: number;
  /** Folder holding every piece of local state (default .modelgate). */
  readonly stateDir?: string;
  /** Start from an empty state folder. */
  readonly clean?: boolean;
  /** Print function log lines (default true). */
  readonly echoLogs?: boolean;
  /** Uniform [0, 1) source for alias routing (seeded in tests). */
  readonly random?: () => number;
  /** Every SNS notification is also POSTed here (loopback URLs only). */
  readonly webhookUrl?: string;
  /** How often alarms are checked for a new minute to evaluate, in ms (default a twelfth of a minute, scaled). */
  readonly alarmTickMs?: number;
  /**
   * Time runs this many times faster (default 1; docs/local-runtime.md): Wait states, lock retries, scheduled
   * rules, and a minute of monitoring time — aggregation windows, the monitor's sliding window, metric
   * periods and alarm evaluation.
   */
  readonly timeScale?: number;
  /** Where SNS notifications, alarm changes and execution results are printed (default console.log). */
  readonly print?: (text: string) => void;
  /** Where the dashboard reads promotions and rejections (default: a Scan of the registry table, if any). */
  readonly registryHistory?: RegistrySource;
}

export interface Runtime {
  readonly apiUrl: string;
  readonly stack: SynthesizedStack;
  readonly apis: readonly RestApiDefinition[];
  readonly lambda: LocalLambdaService;
  /** Writes through this endpoint produce stream records (the DynamoDB streams proxy in front of dynalite). */
  readonly dynamoDbEndpoint: string;
  /** DynamoDB streams of the template's tables, delivered to their event source mappings. */
  readonly streams: LocalDynamoDbStreams;
  readonly s3Endpoint: string;
  readonly stateDir: string;
  /** Physical names of the template's buckets and tables, by logical id. */
  readonly names: ReadonlyMap<string, string>;
  /** CloudWatch metrics from the functions' EMF lines (GetMetricStatistics-style queries). */
  readonly metrics: LocalMetricStore;
  /** The template's CloudWatch alarms (describeAlarms, setAlarmState, evaluate). */
  readonly alarms: LocalAlarms;
  /** The template's SNS topics (publish, recent notifications). */
  readonly sns: LocalSns;
  /** The stack's outputs as the local resources resolve them (ApiUrl is the local API). */
  readonly outputs: Readonly<Record<string, string>>;
  /** EventBridge, Step Functions (executions, history) and the promotion pipeline's state machine. */
  readonly pipeline: PipelineServices;
  /** The local Lambda API (AWS_ENDPOINT_URL_LAMBDA of the functions). */
  readonly lambdaEndpoint: string;
  close(): Promise<void>;
}

/**
 * Written to `<stateDir>/endpoints.json` while the runtime runs: how the CLI and scripts find the local
 * stack (endpoints and resolved stack outputs), as they read CloudFormation outputs for a deployed stack.
 */
export interface LocalEndpoints {
  readonly apiUrl: string;
  readonly dynamoDbEndpoint: string;
  readonly s3Endpoint: string;
  readonly region: string;
  readonly stackName: string;
  readonly outputs: Readonly<Record<string, string>>;
  /** The local Lambda and Step Functions APIs (promote, rollback, following a push). */
  readonly lambdaEndpoint?: string;
  readonly stepFunctionsEndpoint?: string;
}

export const ENDPOINTS_FILE = 'endpoints.json';

const REGION = 'us-east-1';
const ACCOUNT_ID = '000000000000';
const REPO_ROOT = resolve(import.meta.dirname, '..');

/** Lower-case, dash-separated, at most 63 characters: valid as a bucket name and readable as a table name. */
function physicalName(stackName: string, logicalId: string): string {
  return `${stackName}-${logicalId}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63).replace(/-+$/, '');
}

/**
 * Starts the synthesized stack on this machine: dynalite with the template's tables, s3rver with its
 * buckets, its Lambda functions (versions and aliases) in worker threads, its REST API on HTTP, and the
 * bucket deployments it declares. Everything binds to loopback and keeps its state under `stateDir`.
 */
export async function startRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const host = options.host ?? '127.0.0.1';
  const stateDir = resolve(options.stateDir ?? join(REPO_ROOT, '.modelgate'));
  await assertPortFree(host, options.port ?? 3000);
  if (options.clean) rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(join(stateDir, 'logs'), { recursive: true });

  const stack = synthesizeLocal(join(stateDir, 'cdk.out'));
  const { template } = stack;
  const context: ResolutionContext = { region: REGION, accountId: ACCOUNT_ID, stackName: stack.stackName, refs: new Map(), attributes: new Map() };
  const names = new Map<string, string>();
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const name = explicitName(resource) ?? physicalName(stack.stackName, logicalId);
    names.set(logicalId, name);
    context.refs.set(logicalId, name);
    const service = resource.Type.split('::')[1]?.toLowerCase() ?? 'unknown';
    context.attributes.set(`${logicalId}.Arn`, `arn:aws:${service}:${REGION}:${ACCOUNT_ID}:${name}`);
  }
  registerTopicIdentities(template, names, context);
  registerAlarmIdentities(template, names, context);
  // Time scale: metrics and alarms keep minutes of this length, and the monitoring functions read the scale.
  const timeScale = options.timeScale ?? 1;
  const metrics = new LocalMetricStore({ snapshotFile: join(stateDir, 'metrics', 'snapshot.json'), minuteMs: scaledMinuteMs(timeScale) });
  const functionLogs = new FunctionLogs({ directory: join(stateDir, 'logs'), metrics, echo: options.echoLogs ?? true });

  const started: LocalService[] = [];
  try {
    const dynamo = await startDynamoDb({ host, port: options.dynamoDbPort ?? 0, path: join(stateDir, 'dynamodb') });
    started.push(dynamo);
    const buckets = resourcesOfType(template, 'AWS::S3::Bucket').map(([id]) => names.get(id) as string);
    const s3: LocalS3 = await startS3({ host, port: options.s3Port ?? 0, directory: join(stateDir, 's3'), buckets });
    started.push(s3);
    for (const [id] of resourcesOfType(template, 'AWS::S3::Bucket')) {
      const name = names.get(id) as string;
      context.attributes.set(`${id}.Arn`, `arn:aws:s3:::${name}`);
      context.attributes.set(`${id}.RegionalDomainName`, `${name}.s3.${REGION}.amazonaws.com`);
    }

    const dynamodb = localDynamoClient(dynamo.endpoint);
    for (const [id, table] of resourcesOfType(template, 'AWS::DynamoDB::Table')) {
      const name = names.get(id) as string;
      context.attributes.set(`${id}.Arn`, `arn:aws:dynamodb:${REGION}:${ACCOUNT_ID}:table/${name}`);
      context.attributes.set(`${id}.StreamArn`, `arn:aws:dynamodb:${REGION}:${ACCOUNT_ID}:table/${name}/stream/local`);
      await ensureTable(dynamodb, createTableInput(name, table.Properties as unknown as CfnTableProperties));
    }
    // dynalite has no streams: writes through this proxy produce them (local/dynamodb-streams.ts).
    const streams = await startDynamoDbStreams({ target: dynamo.endpoint, host, region: REGION, tables: streamedTablesFromTemplate(template, names, context) });
    started.push(streams);

    // The functions get the Lambda API's address (shadow mirroring, the pipeline's Lambda adapter); it serves
    // the service created just below.
    let lambdaService: LocalLambdaService | undefined;
    const lambdaApi = await startLambdaApi({ lambda: () => lambdaService as LocalLambdaService, host });
    started.push(lambdaApi);
    const lambda = new LocalLambdaService({
      region: REGION,
      accountId: ACCOUNT_ID,
      stateFile: join(stateDir, 'lambda.json'),
      baseEnvironment: {
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: streams.endpoint,
        PREDICTION_LOG_FALLBACK_FILE: join(stateDir, 'prediction-log-fallback.jsonl'),
        AWS_ENDPOINT_URL_LAMBDA: lambdaApi.endpoint,
        NODE_ENV: 'production',
        // Time scale: read by the monitoring functions (lambdas/contracts/monitoring-environment.ts).
        ...(timeScale !== 1 ? { [TIME_SCALE_VARIABLE]: String(timeScale) } : {}),
      },
      onLogLine: functionLogs.onLogLine,
      ...(options.random ? { random: options.random } : {}),
    });
    const functions = resourcesOfType(template, 'AWS::Lambda::Function').filter(([, f]) => f.Metadata?.['modelgate:entry'] !== undefined);
    for (const [id] of functions) context.attributes.set(`${id}.Arn`, lambda.functionArn(names.get(id) as string));
    lambda.define(functions.map(([id, resource]) => functionDefinition(id, resource, names.get(id) as string, context)));
    bootstrapVersionsAndAliases(template.Resources, lambda, context);
    for (const subscription of streamSubscriptionsFromTemplate(template, context)) streams.subscribe(subscription, lambda);
    lambdaService = lambda;
    const sns = new LocalSns({ topics: topicsFromTemplate(template, context), historyFile: join(stateDir, 'sns', 'notifications.jsonl'), lambda, ...(options.webhookUrl ? { webhookUrl: options.webhookUrl } : {}), ...(options.print ? { print: options.print } : {}) });
    const alarms = new LocalAlarms({ definitions: alarmsFromTemplate(template, context), metrics, sns, region: REGION, accountId: ACCOUNT_ID, stateFile: join(stateDir, 'alarms.json'), ...(options.print ? { print: options.print } : {}) });
    const pipeline = await startPipelineServices({ template, context, names, lambda, s3, sns, alarms, dynamodb, host, stateDir, timeScale, ...(options.print ? { print: options.print } : {}) });
    // A bucket deployment uploads to candidates/ (the pipeline validates and rolls it out): on a first start,
    // wait for those executions so the runtime serves once it says it is ready.
    await deployBucketContents(stack, localS3Client(s3.endpoint), context);
    await pipeline.settle();
    const registryTable = registryTableName(template, context);
    const registry = options.registryHistory ?? (registryTable ? dynamoRegistrySource(dynamodb, registryTable) : undefined);

    const apis = restApisFromTemplate(template, context);
    let apiUrl = '';
    const experimentTable = experimentTableName(template, context);
    // Dashboard monitoring section: the monitor's own settings and the runtime's time scale.
    const monitoring = monitoringViewsOfStack({ lambda, dynamodb, s3: localS3Client(s3.endpoint), deployment: stack.stackName, timeScale, alarms: () => alarms.describeAlarms().MetricAlarms });
    const extraRoutes = dashboardRoutes({ stackName: stack.stackName, namespace: metricsNamespace(stack.stackName), apiUrl: () => apiUrl, apis, lambda, metrics, alarms, sns, ...(registry ? { registry } : {}), ...(experimentTable ? { experiments: experimentViews(dynamodb, experimentTable) } : {}), ...(monitoring ? { monitoring } : {}) });
    const api: ApiGatewayServer = await startApiGateway({ apis, lambda, host, port: options.port ?? 3000, extraRoutes });
    apiUrl = api.url;
    metrics.startSnapshots();
    alarms.start(options.alarmTickMs);
    const outputs = resolveOutputs(stack, context, api.url);
    writeFileSync(
      join(stateDir, ENDPOINTS_FILE),
      `${JSON.stringify({ apiUrl: api.url, dynamoDbEndpoint: streams.endpoint, s3Endpoint: s3.endpoint, region: REGION, stackName: stack.stackName, outputs, lambdaEndpoint: lambdaApi.endpoint, stepFunctionsEndpoint: pipeline.stepFunctionsEndpoint } satisfies LocalEndpoints, null, 2)}\n`,
    );
    return {
      apiUrl: api.url,
      stack,
      apis,
      lambda,
      dynamoDbEndpoint: streams.endpoint,
      streams,
      s3Endpoint: s3.endpoint,
      stateDir,
      names,
      outputs,
      metrics,
      alarms,
      sns,
      pipeline,
      lambdaEndpoint: lambdaApi.endpoint,
      async close() {
        await pipeline.close();
        rmSync(join(stateDir, ENDPOINTS_FILE), { force: true });
        await api.close();
        await lambda.close();
        alarms.close();
        await sns.flush();
        await functionLogs.close();
        metrics.close();
        await Promise.all(started.map((service) => service.close()));
      },
    };
  } catch (error) {
    await functionLogs.close();
    await Promise.all(started.map((service) => service.close()));
    throw error;
  }
}

/** The template's outputs resolved against the local resources; an output about a resource the runtime does not emulate is left out. */
/** The name a template gives a resource itself (FunctionName, TableName...), as AWS then uses it. */
function explicitName(resource: CfnResource): string | undefined {
  const property = { 'AWS::Lambda::Function': 'FunctionName' }[resource.Type];
  const value = property === undefined ? undefined : resource.Properties?.[property];
  return typeof value === 'string' ? value : undefined;
}

function resolveOutputs(stack: SynthesizedStack, context: ResolutionContext, apiUrl: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  for (const [name, output] of Object.entries(stack.template.Outputs ?? {})) {
    try {
      outputs[name] = String(resolveValue(output.Value, context, `Outputs.${name}`));
    } catch {
      // e.g. an API key id: nothing local stands for it.
    }
  }
  if ('ApiUrl' in outputs) outputs.ApiUrl = `${apiUrl}/`;
  return outputs;
}

function functionDefinition(logicalId: string, resource: CfnResource, name: string, context: ResolutionContext): FunctionDefinition {
  const properties = resource.Properties as { Environment?: { Variables?: unknown }; Timeout?: number; MemorySize?: number };
  const variables = resolveValue(properties.Environment?.Variables ?? {}, context, `${logicalId}.Environment.Variables`) as Record<string, unknown>;
  return {
    logicalId,
    name,
    entry: join(REPO_ROOT, String(resource.Metadata?.['modelgate:entry'])),
    handlerExport: String(resource.Metadata?.['modelgate:handler'] ?? 'handler'),
    environment: Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, String(v)])),
    timeoutSeconds: properties.Timeout ?? 3,
    memoryMb: properties.MemorySize ?? 128,
  };
}

/**
 * What CloudFormation does for AWS::Lambda::Version and AWS::Lambda::Alias on the first deploy: publish
 * the version, point the alias at it. Later starts keep the versions and routing saved in the state
 * folder — after the first deploy the promotion pipeline owns alias routing (docs/infrastructure.md).
 */
function bootstrapVersionsAndAliases(resources: Readonly<Record<string, CfnResource>>, lambda: LocalLambdaService, context: ResolutionContext): void {
  const functionOf = (value: unknown) => String(resolveValue(value, context)).split(':').pop() as string;
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::Lambda::Version') continue;
    const fn = functionOf((resource.Properties as { FunctionName: unknown }).FunctionName);
    const existing = lambda.getFunction(fn).versions;
    const version = existing[0] ?? lambda.publishVersion(fn, String((resource.Properties as { Description?: string }).Description ?? ''));
    context.attributes.set(`${id}.Version`, version.version);
    context.refs.set(id, lambda.functionArn(fn, version.version));
  }
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::Lambda::Alias') continue;
    const properties = resource.Properties as { FunctionName: unknown; FunctionVersion: unknown; Name: string; RoutingConfig?: { AdditionalVersionWeights?: { FunctionVersion: unknown; FunctionWeight: number }[] } };
    const fn = functionOf(properties.FunctionName);
    context.refs.set(id, lambda.functionArn(fn, properties.Name));
    if (lambda.getFunction(fn).aliases.some((alias) => alias.name === properties.Name)) continue;
    const weights = Object.fromEntries(
      (properties.RoutingConfig?.AdditionalVersionWeights ?? []).map((w) => [String(resolveValue(w.FunctionVersion, context)), w.FunctionWeight]),
    );
    lambda.putAlias(fn, { name: properties.Name, functionVersion: String(resolveValue(properties.FunctionVersion, context)), additionalVersionWeights: weights });
  }
}

/**
 * Custom::CDKBucketDeployment: copies the asset folder of each source into the destination bucket and
 * prefix, skipping objects that are already there (a restart does not overwrite what the pipeline wrote).
 */
async function deployBucketContents(stack: SynthesizedStack, s3: ReturnType<typeof localS3Client>, context: ResolutionContext): Promise<void> {
  for (const [id, resource] of resourcesOfType(stack.template, 'Custom::CDKBucketDeployment')) {
    const properties = resource.Properties as { SourceObjectKeys: string[]; DestinationBucketName: unknown; DestinationBucketKeyPrefix?: string };
    const bucket = String(resolveValue(properties.DestinationBucketName, context, `${id}.DestinationBucketName`));
    const prefix = properties.DestinationBucketKeyPrefix ? `${properties.DestinationBucketKeyPrefix.replace(/\/$/, '')}/` : '';
    for (const key of properties.SourceObjectKeys) {
      const folder = join(stack.assemblyDir, `asset.${key.replace(/\.zip$/, '')}`);
      if (!existsSync(folder)) throw new Error(`${id}: asset folder ${folder} is missing from the synthesized assembly`);
      // The manifest last, as `modelgate push` uploads: its arrival is what starts the promotion pipeline.
      const files = listFiles(folder).sort((x, y) => Number(x.endsWith(`${sep}manifest.json`)) - Number(y.endsWith(`${sep}manifest.json`)));
      for (const file of files) {
        const objectKey = `${prefix}${relative(folder, file).split('\\').join('/')}`;
        if (await objectExists(s3, bucket, objectKey)) continue;
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: objectKey, Body: await readFile(file) }));
      }
    }
  }
}

function listFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((entry) => {
    const path = join(folder, entry);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

async function objectExists(s3: ReturnType<typeof localS3Client>, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (error) {
    if ((error as { name?: string }).name === 'NotFound' || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw error;
  }
}

