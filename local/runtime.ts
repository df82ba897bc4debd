import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startApiGateway, LocalApiGateway, type ApiGatewayServer } from './api-gateway';
import { startApiGatewayApi } from './api-gateway-api';
import { LOCAL_CREDENTIALS, localDynamoClient, localS3Client } from './aws-clients';
import { startDynamoDb, startS3, type LocalS3, type LocalService } from './aws-services';
import { startCloudFormationApi } from './cloudformation/api';
import { provisioners } from './cloudformation/provisioners';
import { LocalCloudFormation, type StackState } from './cloudformation/stacks';
import { startDynamoDbStreams, type LocalDynamoDbStreams } from './dynamodb-streams';
import { LocalFaults } from './faults';
import { LocalLambdaService } from './lambda-service';
import { ENDPOINTS_FILE, PREDICTION_LOG_FALLBACK_FILE, type LocalEndpoints } from './state-files';
import { startLambdaApi } from './lambda-api';
import { startPipelineServices, type PipelineServices } from './pipeline-services';
import { synthesizeLocal, type SynthesizedStack } from './synth';
import { LocalAlarms } from './alarms';
import { experimentViews } from './experiment-views';
import { dashboardRoutes, dynamoRegistrySource, modelsView, registryTableName, type RegistrySource } from './dashboard';
import { monitoringViewsOfStack } from './monitoring-views';
import { FunctionLogs } from './function-logs';
import { LocalIam } from './iam/local-iam';
import { LocalMetricStore } from './metrics-store';
import { metricsRoute } from './prometheus/route';
import { MetricTotals } from './prometheus/totals';
import { answers, assertPortFree } from './ports';
import { LocalSns } from './sns';
import { metricsNamespace } from '../lambdas/core/naming';
import { API_CLIENTS, apiKeyOutputName, type ApiClient } from '../lambdas/core/api-clients';
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
  /** The models-as-data file (default modelgate.config.json at the repository's root; `npm start -- --config`). */
  readonly configFile?: string;
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
  /** The value of the base stack's first key of each kind of client (its `<Kind>ApiKeyId` outputs). */
  readonly apiKeys: Readonly<Record<ApiClient, string>>;
  readonly stack: SynthesizedStack;
  /** API Gateway: the REST APIs of every stack, their deployments and the routes the stages serve. */
  readonly gateway: LocalApiGateway;
  /** CloudFormation: the base stack and every stack created through its API. */
  readonly cloudFormation: LocalCloudFormation;
  readonly lambda: LocalLambdaService;
  /** Writes through this endpoint produce stream records (the DynamoDB streams proxy in front of dynalite). */
  readonly dynamoDbEndpoint: string;
  /** DynamoDB streams of the stacks' tables, delivered to their event source mappings. */
  readonly streams: LocalDynamoDbStreams;
  readonly s3Endpoint: string;
  readonly stateDir: string;
  /** Physical names of the base stack's resources, by logical id. */
  readonly names: ReadonlyMap<string, string>;
  /** CloudWatch metrics from the functions' EMF lines (GetMetricStatistics-style queries). */
  readonly metrics: LocalMetricStore;
  /** The stacks' CloudWatch alarms and those the pipeline puts (describeAlarms, setAlarmState, evaluate). */
  readonly alarms: LocalAlarms;
  /** The stacks' SNS topics (publish, recent notifications). */
  readonly sns: LocalSns;
  /** The base stack's outputs (ApiUrl is the local API). */
  readonly outputs: Readonly<Record<string, string>>;
  /** EventBridge, Step Functions (executions, history) and the promotion pipeline's state machine. */
  readonly pipeline: PipelineServices;
  /** The local Lambda API (AWS_ENDPOINT_URL_LAMBDA of the functions). */
  readonly lambdaEndpoint: string;
  /** The local CloudFormation API (AWS_ENDPOINT_URL_CLOUDFORMATION of the functions). */
  readonly cloudFormationEndpoint: string;
  /** The local API Gateway API (AWS_ENDPOINT_URL_API_GATEWAY of the functions). */
  readonly apiGatewayEndpoint: string;
  /** Permissions: the running stacks' IAM model, the functions' identities, the authorizer (docs/local-runtime.md). */
  readonly iam: LocalIam;
  /** Faults injected into S3, DynamoDB and Lambda calls (none unless a test injects them; docs/local-runtime.md). */
  readonly faults: LocalFaults;
  close(): Promise<void>;
}

/** A start the runtime refuses for a reason the message gives (npm start prints it, without a trace). */
export class RuntimeStartError extends Error {
  override readonly name = 'RuntimeStartError';
}

const REGION = 'us-east-1';
const ACCOUNT_ID = '000000000000';
const REPO_ROOT = resolve(import.meta.dirname, '..');
/** What `cdk deploy` acknowledges for the base stack. */
const DEPLOY_CAPABILITIES = ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM', 'CAPABILITY_AUTO_EXPAND'];

/**
 * Starts the synthesized stack on this machine: the local AWS services (dynalite, s3rver, Lambda in worker
 * threads, API Gateway, CloudWatch alarms, SNS, EventBridge, Step Functions, CloudFormation), then the base
 * stack through the local CloudFormation — created, or updated when the state folder holds it — after the
 * stacks an earlier run created are brought back. Everything binds to loopback and keeps its state under
 * `stateDir`.
 */
export async function startRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const host = options.host ?? '127.0.0.1';
  const stateDir = resolve(options.stateDir ?? join(REPO_ROOT, '.modelgate'));
  await assertPortFree(host, options.port ?? 3000);
  await removeStaleEndpoints(stateDir);
  if (!options.clean && existsSync(join(stateDir, 'lambda.json')) && !existsSync(join(stateDir, 'cloudformation'))) {
    throw new RuntimeStartError(`${stateDir} was written by an earlier local runtime that kept no stacks: start once with --clean`);
  }
  // Synthesized before the state folder is cleaned or written: bad configuration (a declared model without its
  // bundle) stops the start with the state as it was.
  const assemblyDir = join(stateDir, 'cdk.out');
  const createdByThisStart = [stateDir, assemblyDir].find((dir) => !existsSync(dir));
  let stack: SynthesizedStack;
  try {
    stack = synthesizeLocal(assemblyDir, options.configFile);
  } catch (error) {
    if (createdByThisStart) rmSync(createdByThisStart, { recursive: true, force: true });
    throw error;
  }
  if (options.clean) {
    for (const entry of readdirSync(stateDir)) if (join(stateDir, entry) !== assemblyDir) rmSync(join(stateDir, entry), { recursive: true, force: true });
  }
  mkdirSync(join(stateDir, 'logs'), { recursive: true });
  const print = options.print ?? ((text: string) => console.log(text));
  // Every call a function, the state machine, CloudFormation or a service makes is checked against the
  // stacks' permissions (local/iam); the model follows the stacks as the local CloudFormation changes them.
  let lambdaService: LocalLambdaService | undefined;
  const iam = new LocalIam({ region: REGION, accountId: ACCOUNT_ID, print, functionPolicy: (name, qualifier) => lambdaService?.policy(name, qualifier) ?? [] });
  // Time scale: metrics and alarms keep minutes of this length, and the monitoring functions read the scale.
  const timeScale = options.timeScale ?? 1;
  // Prometheus counters count from this start (a reset Prometheus expects); the store keeps the CloudWatch window.
  const totals = new MetricTotals();
  const metrics = new LocalMetricStore({ snapshotFile: join(stateDir, 'metrics', 'snapshot.json'), minuteMs: scaledMinuteMs(timeScale), onDatum: totals.add });
  const functionLogs = new FunctionLogs({ directory: join(stateDir, 'logs'), metrics, echo: options.echoLogs ?? true });

  const faults = new LocalFaults();
  const started: LocalService[] = [];
  try {
    const dynamo = await startDynamoDb({ host, port: options.dynamoDbPort ?? 0, path: join(stateDir, 'dynamodb') });
    started.push(dynamo);
    const s3: LocalS3 = await startS3({ host, port: options.s3Port ?? 0, directory: join(stateDir, 's3'), buckets: [] });
    started.push(s3);
    const dynamodb = localDynamoClient(dynamo.endpoint);
    // dynalite has no streams: writes through this proxy produce them (local/dynamodb-streams.ts).
    const streams = await startDynamoDbStreams({ target: dynamo.endpoint, host, region: REGION, tables: [] });
    started.push(streams);
    // Functions and the CLI reach S3 and DynamoDB through the IAM gateways; the runtime's own provisioning does not.
    const gateways = await iam.startGateways({ s3: s3.endpoint, dynamodb: streams.endpoint, host, faults });
    started.push(gateways.s3, gateways.dynamodb);

    // The functions get the Lambda, CloudFormation and API Gateway APIs' addresses; those serve the services
    // created just below.
    const lambdaApi = await startLambdaApi({
      lambda: () => lambdaService as LocalLambdaService,
      host,
      authorize: (headers, action, arn) => iam.lambdaApiRefusal(headers, action, arn),
    });
    started.push(lambdaApi);
    const gateway = new LocalApiGateway({ stateFile: join(stateDir, 'apigateway.json'), region: REGION, accountId: ACCOUNT_ID });
    const gatewayApi = await startApiGatewayApi({ gateway, host, authorize: (headers, method, path) => iam.apiGatewayApiRefusal(headers, method, path) });
    started.push(gatewayApi);
    let cloudFormationService: LocalCloudFormation | undefined;
    const cloudFormationApi = await startCloudFormationApi({
      cloudFormation: () => cloudFormationService as LocalCloudFormation,
      host,
      authorize: (headers, call) => iam.cloudFormationRefusal(headers, call),
    });
    started.push(cloudFormationApi);
    const lambda = new LocalLambdaService({
      region: REGION,
      accountId: ACCOUNT_ID,
      stateFile: join(stateDir, 'lambda.json'),
      baseEnvironment: {
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL_S3: gateways.s3.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: gateways.dynamodb.endpoint,
        PREDICTION_LOG_FALLBACK_FILE: join(stateDir, PREDICTION_LOG_FALLBACK_FILE),
        AWS_ENDPOINT_URL_LAMBDA: lambdaApi.endpoint,
        AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormationApi.endpoint,
        AWS_ENDPOINT_URL_API_GATEWAY: gatewayApi.endpoint,
        NODE_ENV: 'production',
        // Time scale: read by the monitoring functions (lambdas/contracts/monitoring-environment.ts).
        ...(timeScale !== 1 ? { [TIME_SCALE_VARIABLE]: String(timeScale) } : {}),
      },
      onLogLine: functionLogs.onLogLine,
      credentials: (functionName) => iam.functionCredentials(functionName),
      faults,
      metrics,
      ...(options.random ? { random: options.random } : {}),
    });
    lambdaService = lambda;
    const sns = new LocalSns({
      topics: [],
      historyFile: join(stateDir, 'sns', 'notifications.jsonl'),
      lambda,
      authorizePublish: (caller, topicArn) => iam.authorizePublish(caller, topicArn),
      ...(options.webhookUrl ? { webhookUrl: options.webhookUrl } : {}),
      ...(options.print ? { print: options.print } : {}),
    });
    const alarms = new LocalAlarms({
      definitions: [],
      metrics,
      sns,
      region: REGION,
      accountId: ACCOUNT_ID,
      stateFile: join(stateDir, 'alarms.json'),
      ...(options.print ? { print: options.print } : {}),
    });
    const pipeline = await startPipelineServices({
      region: REGION,
      accountId: ACCOUNT_ID,
      lambda,
      s3,
      sns,
      alarms,
      dynamodb,
      host,
      stateDir,
      timeScale,
      createDeployment: (restApiId, stageName, description) => gateway.createDeployment(restApiId, { stageName, ...(description ? { description } : {}) }),
      iam,
      ...(options.print ? { print: options.print } : {}),
    });
    const cloudFormation: LocalCloudFormation = new LocalCloudFormation({
      region: REGION,
      accountId: ACCOUNT_ID,
      directory: join(stateDir, 'cloudformation'),
      // As CloudFormation does since 2023: every stack status change is an event on the default bus.
      onStackStatus: (changed, status, reason) =>
        pipeline.eventBridge.put({
          version: '0',
          id: randomUUID(),
          'detail-type': 'CloudFormation Stack Status Change',
          source: 'aws.cloudformation',
          account: ACCOUNT_ID,
          time: new Date().toISOString(),
          region: REGION,
          resources: [changed.stackId],
          detail: { 'stack-id': changed.stackId, 'status-details': { status, ...(reason ? { 'status-reason': reason } : {}) } },
        }),
      provisioners: provisioners({
        region: REGION,
        accountId: ACCOUNT_ID,
        repoRoot: REPO_ROOT,
        assetDirectory: () => stack.assemblyDir,
        lambda,
        gateway,
        s3: localS3Client(s3.endpoint),
        dynamodb,
        streams,
        sns,
        alarms,
        eventBridge: pipeline.eventBridge,
        stepFunctions: pipeline.stepFunctions,
        dashboards: new Map(),
      }),
      roleExists: (arn) => cloudFormation.resources('AWS::IAM::Role').some((role) => role.attributes.Arn === arn),
      authorizeResource: (change) => iam.authorizeResourceChange(change),
      onResourcesChanged: (changed) => iam.followStack(changed),
    });
    cloudFormationService = cloudFormation;

    // The stacks an earlier run created come back first; the base stack is then deployed over them (an update
    // when the state folder holds it, nothing to do when its template has not changed).
    await cloudFormation.restore();
    await pipeline.releaseInterrupted(registryTableName(outputsOf(cloudFormation, stack.stackName)));
    // A bucket deployment uploads to candidates/ (the pipeline validates and rolls it out): on a first start,
    // the runtime waits for those executions so it serves once it says it is ready.
    const base = await cloudFormation.deploy({ stackName: stack.stackName, templateBody: JSON.stringify(stack.template), capabilities: DEPLOY_CAPABILITIES });
    pipeline.eventBridge.startSchedules();
    await pipeline.settle();

    const baseOutputs = Object.fromEntries(base.outputs.map((o) => [o.OutputKey, o.OutputValue]));
    const registryTable = registryTableName(baseOutputs);
    const registry = options.registryHistory ?? (registryTable ? dynamoRegistrySource(dynamodb, registryTable) : undefined);
    let apiUrl = '';
    const experimentTable = baseOutputs.ExperimentTableName;
    // Dashboard monitoring section: the monitor's own settings and the runtime's time scale.
    const monitoring = monitoringViewsOfStack({
      lambda,
      dynamodb,
      s3: localS3Client(s3.endpoint),
      deployment: stack.stackName,
      timeScale,
      alarms: () => alarms.describeAlarms().MetricAlarms,
    });
    const dashboard = dashboardRoutes({
      stackName: stack.stackName,
      namespace: metricsNamespace(stack.stackName),
      apiUrl: () => apiUrl,
      routes: () => gateway.routes(),
      lambda,
      metrics,
      alarms,
      sns,
      ...(registry ? { registry } : {}),
      ...(experimentTable ? { experiments: experimentViews(dynamodb, experimentTable) } : {}),
      ...(monitoring ? { monitoring } : {}),
    });
    const prometheus = metricsRoute(() => ({
      namespace: metricsNamespace(stack.stackName),
      series: totals.series(),
      requests: totals.requests(),
      alarms: alarms.describeAlarms().MetricAlarms,
      models: modelsView({ lambda, routes: () => gateway.routes() }),
    }));
    const api: ApiGatewayServer = await startApiGateway({
      gateway,
      lambda,
      canInvoke: (name, qualifier, sourceArn) => iam.apiGatewayMayInvoke(name, qualifier, sourceArn),
      region: REGION,
      accountId: ACCOUNT_ID,
      host,
      port: options.port ?? 3000,
      extraRoutes: async (request, response) => prometheus(request, response) || (await dashboard(request, response)),
      onServed: totals.addRequest,
    });
    apiUrl = api.url;
    metrics.startSnapshots();
    alarms.start(options.alarmTickMs);
    const outputs = { ...baseOutputs, ...('ApiUrl' in baseOutputs ? { ApiUrl: `${api.url}/` } : {}) };
    const apiKeys = Object.fromEntries(
      API_CLIENTS.flatMap((client) => {
        const id = baseOutputs[apiKeyOutputName(client)];
        return id ? [[client, gateway.getApiKey(id).value]] : [];
      }),
    ) as Record<ApiClient, string>;
    writeFileSync(
      join(stateDir, ENDPOINTS_FILE),
      `${JSON.stringify(
        {
          apiUrl: api.url,
          apiKeys,
          dynamoDbEndpoint: gateways.dynamodb.endpoint,
          s3Endpoint: gateways.s3.endpoint,
          region: REGION,
          stackName: stack.stackName,
          outputs,
          lambdaEndpoint: lambdaApi.endpoint,
          stepFunctionsEndpoint: pipeline.stepFunctionsEndpoint,
          cloudFormationEndpoint: cloudFormationApi.endpoint,
          apiGatewayEndpoint: gatewayApi.endpoint,
        } satisfies LocalEndpoints,
        null,
        2,
      )}\n`,
    );
    return {
      apiUrl: api.url,
      apiKeys,
      stack,
      gateway,
      cloudFormation,
      lambda,
      dynamoDbEndpoint: gateways.dynamodb.endpoint,
      streams,
      s3Endpoint: gateways.s3.endpoint,
      stateDir,
      names: new Map(Object.values(base.resources).map((r) => [r.logicalId, r.physicalName])),
      outputs,
      metrics,
      alarms,
      sns,
      pipeline,
      lambdaEndpoint: lambdaApi.endpoint,
      cloudFormationEndpoint: cloudFormationApi.endpoint,
      apiGatewayEndpoint: gatewayApi.endpoint,
      iam,
      faults,
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

/** A live stack's outputs, by key (none when there is no such stack). */
function outputsOf(cloudFormation: LocalCloudFormation, stackName: string): Record<string, string> {
  const stack: StackState | undefined = cloudFormation.listStacks().find((s) => s.stackName === stackName);
  return Object.fromEntries((stack?.outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
}

/**
 * The endpoints file of a runtime that is gone (killed, crashed) would send the CLI to dead addresses: it is
 * removed before anything else. One whose API still answers belongs to a runtime using this state folder.
 */
async function removeStaleEndpoints(stateDir: string): Promise<void> {
  const file = join(stateDir, ENDPOINTS_FILE);
  if (!existsSync(file)) return;
  let apiUrl: unknown;
  try {
    ({ apiUrl } = JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalEndpoints>);
  } catch {
    apiUrl = undefined;
  }
  if (typeof apiUrl === 'string' && (await answers(apiUrl))) {
    throw new RuntimeStartError(`another local runtime uses ${stateDir} (its API answers at ${apiUrl}): stop it first, or give another --state-dir`);
  }
  rmSync(file, { force: true });
}
