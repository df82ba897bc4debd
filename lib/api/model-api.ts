import { createHash } from 'node:crypto';
import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as xray from 'aws-cdk-lib/aws-xray';
import { Construct } from 'constructs';
import { API_CLIENTS, API_KEY_HEADER, CLIENT_ROUTES, type ApiClient } from '../../lambdas/core/api-clients';
import { usagePlanName } from '../../lambdas/core/naming';
import { pipelineVariables } from '../../lambdas/contracts/pipeline-environment';
import { ModelgateFunction, type LogLevel } from '../functions/modelgate-function';
import { PropErrors, show } from '../validation/prop-validation';

export interface ThrottleSettings {
  /** Steady-state requests per second. */
  readonly rateLimit: number;
  /** Requests allowed in a burst above the rate (token bucket size). */
  readonly burstLimit: number;
}

export interface QuotaSettings {
  /** Requests allowed per `period` for one API key. */
  readonly limit: number;
  readonly period: apigw.Period;
}

export interface ModelApiProps {
  /**
   * Stage name: the first path segment of every URL.
   *
   * @default 'api'
   */
  readonly stageName?: string;
  /**
   * Throttle per API key, in each kind of client's usage plan.
   *
   * @default { rateLimit: 50, burstLimit: 100 }
   */
  readonly throttle?: ThrottleSettings;
  /**
   * Throttle for the whole stage, all keys together: caps what reaches the functions.
   *
   * @default { rateLimit: 500, burstLimit: 1000 }
   */
  readonly stageThrottle?: ThrottleSettings;
  /**
   * Request quota per API key, in each kind of client's usage plan.
   *
   * @default - no quota
   */
  readonly quota?: QuotaSettings;
  /**
   * Execution log level of the stage (request/response bodies are never logged).
   *
   * @default apigw.MethodLoggingLevel.ERROR
   */
  readonly executionLogLevel?: apigw.MethodLoggingLevel.ERROR | apigw.MethodLoggingLevel.INFO;
  /**
   * Share of requests X-Ray traces (API Gateway decides; the functions behind follow its decision). X-Ray's
   * default, 5% beyond one a second, would cost $0.25 per million predictions (docs/cost.md).
   *
   * @default 0.01
   */
  readonly traceSampleRate?: number;
  /** Retention of access and execution logs. @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /** The model registry: `GET /v1/models/{name}` shows a model's versions, weights and history from it (read only). */
  readonly registryTable: dynamodb.ITable;
  /** @default 'INFO' */
  readonly logLevel?: LogLevel;
  /**
   * Create the account-wide role API Gateway needs to write execution logs (one per account and region:
   * turn this off when another stack or the platform team already manages it).
   *
   * @default true
   */
  readonly manageAccountCloudWatchRole?: boolean;
  /**
   * The ground-truth function: `POST /v1/feedback` (labels joined to logged predictions, docs/monitoring.md).
   *
   * @default - no feedback route
   */
  readonly feedbackFunction?: lambda.IFunction;
}

/**
 * The public API, one for every model: an API Gateway REST API whose model routes each model's own stack adds
 * (lib/serving/model-stack.ts) below the `/v1/models` and `/v2/models` resources created here:
 *
 *   POST /v1/models/<name>/predict   modelgate's own protocol
 *   POST /v2/models/<name>/infer     Open Inference Protocol (v2) inference
 *   GET  /v2/models/<name>           Open Inference Protocol model metadata
 *   GET  /v1/models/<name>           the registry's view (also for models that no longer serve)
 *
 * Each model has its own function, and API Gateway cannot route one `{name}` parameter to different
 * integrations, so the name is a literal path segment per model (the proxy event carries no
 * `pathParameters.name`; the handler routes on `event.path`). A literal resource wins over `{name}`: `GET
 * /v1/models/{name}` answers for names without a stack of their own (unknown or retired models).
 *
 * Every method requires an API key, and each kind of client has its own: one usage plan (throttle, optional
 * quota) per kind — predict, feedback, events — with a key created here. API Gateway only checks that a key
 * is in some plan of the stage, so a Lambda authorizer on every method answers, per key, with the routes of
 * its plan (core/api-clients.ts): a predict key cannot post labels or events, nor a feedback or events key
 * predict. API Gateway caches that answer per key for `AUTHORIZER_CACHE_TTL`. Errors API Gateway produces
 * itself (unknown route, missing or wrong key, throttling, integration failure) are JSON like the handler's
 * errors, `{ "error": <name or API Gateway response type>, "message": <text>, "requestId": <id> }`.
 *
 * Size limits: API Gateway accepts REST payloads up to 10 MB, but a Lambda proxy integration is also
 * bound by Lambda's 6 MB synchronous invocation payload, and the handler rejects bodies above
 * MAX_BODY_BYTES (1 MiB by default) with a 400 ValidationError before parsing them.
 */
export class ModelApi extends Construct {
  readonly api: apigw.RestApi;
  /** One plan per kind of client; a key added to a plan may call that kind's routes only. */
  readonly usagePlans: Readonly<Record<ApiClient, apigw.UsagePlan>>;
  /** The key created for first use of each kind; values are in API Gateway (`aws apigateway get-api-key --include-value`). */
  readonly apiKeys: Readonly<Record<ApiClient, apigw.IApiKey>>;
  /** Admits each key to its plan's routes (on every method, model stacks' included: they get its id). */
  readonly authorizer: apigw.RequestAuthorizer;
  readonly accessLogGroup: logs.LogGroup;
  /** Serves `GET /v1/models/{name}` for every model (read-only access to the registry). */
  readonly modelsFunction: lambda.Function;
  /** Model stacks add their routes below these (ParentId). */
  readonly v1Models: apigw.Resource;
  readonly v2Models: apigw.Resource;
  /** POST methods validate that the body is a JSON object with this validator and model. */
  readonly validator: apigw.RequestValidator;
  readonly jsonObjectModel: apigw.Model;
  /** The group API Gateway writes execution logs to, created here so it gets a retention. */
  readonly executionLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ModelApiProps) {
    super(scope, id);
    validate(props);

    const throttle = props.throttle ?? DEFAULT_THROTTLE;
    const stageThrottle = props.stageThrottle ?? DEFAULT_STAGE_THROTTLE;

    const deployment = Stack.of(this).stackName;
    const authorizerFunction = new ModelgateFunction(this, 'ApiKeyAuthorizer', {
      handler: 'api-key-authorizer',
      description: 'modelgate: API key authorizer: each key may call the routes of its usage plan (predict, feedback, events)',
      // Names, not ids: the plans depend on the stage, the stage on the methods, the methods on this function.
      environment: pipelineVariables({ deployment }),
      invokedBy: { kind: 'api-gateway' },
      memorySize: 256,
      timeout: Duration.seconds(10),
      ...(props.logLevel ? { logLevel: props.logLevel } : {}),
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
    });
    const usagePlans = Stack.of(this).formatArn({ service: 'apigateway', account: '', resource: '/usageplans' });
    authorizerFunction.allow(['apigateway:GET'], [usagePlans, `${usagePlans}/*/keys`]);
    const region = Token.isUnresolved(Stack.of(this).region) ? '<AWS::Region>' : Stack.of(this).region;
    Validations.of(authorizerFunction.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:apigateway:${region}::/usageplans/*/keys]`,
      reason: 'The authorizer finds its plans by name (their ids would make a dependency cycle through the stage); usage plan keys have no resource-level scoping by name.',
    });
    this.authorizer = new apigw.RequestAuthorizer(this, 'Authorizer', {
      handler: authorizerFunction.function,
      identitySources: [apigw.IdentitySource.header(API_KEY_HEADER)],
      resultsCacheTtl: AUTHORIZER_CACHE_TTL,
    });

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.api = new apigw.RestApi(this, 'Api', {
      // Named after the deployment: API Gateway keys its metrics by ApiName, and every stage's API would otherwise be "Api".
      restApiName: Stack.of(this).stackName,
      description: 'modelgate: ONNX model inference',
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      cloudWatchRole: props.manageAccountCloudWatchRole ?? true,
      defaultMethodOptions: { apiKeyRequired: true, authorizer: this.authorizer },
      deployOptions: {
        stageName: props.stageName ?? 'api',
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: apigw.AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
        loggingLevel: props.executionLogLevel ?? apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
        throttlingRateLimit: stageThrottle.rateLimit,
        throttlingBurstLimit: stageThrottle.burstLimit,
      },
    });

    // API Gateway writes execution logs to this fixed name and, left alone, creates the group itself
    // without retention. Created here first, it keeps logs as long as the access logs.
    this.executionLogGroup = new logs.LogGroup(this, 'ExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${this.api.restApiId}/${this.api.deploymentStage.stageName}`,
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // API Gateway makes the sampling decision for the whole request (X-Ray's service name of a stage is
    // `<api name>/<stage>`); Lambda's active tracing follows an upstream decision.
    const stage = props.stageName ?? 'api';
    new xray.CfnSamplingRule(this, 'TraceSampling', {
      samplingRule: {
        ruleName: samplingRuleName(Stack.of(this).stackName),
        priority: 9000,
        fixedRate: props.traceSampleRate ?? DEFAULT_TRACE_SAMPLE_RATE,
        reservoirSize: 0,
        serviceName: `${Stack.of(this).stackName}/${stage}`,
        serviceType: 'AWS::ApiGateway::Stage',
        host: '*',
        httpMethod: '*',
        urlPath: '*',
        resourceArn: '*',
        version: 1,
      },
    });

    // RestApi adds an `Endpoint<hash>` output of its own; the stack names the URL output itself.
    this.api.node.tryRemoveChild('Endpoint');

    addJsonGatewayResponses(this.api);

    const validator = (this.validator = this.api.addRequestValidator('Validator', {
      requestValidatorName: 'body-and-parameters',
      validateRequestBody: true,
      validateRequestParameters: true,
    }));
    // The handler validates against the model's manifest; this only turns away non-object bodies
    // before they cost an invocation.
    const jsonObject = (this.jsonObjectModel = this.api.addModel('JsonObject', {
      contentType: 'application/json',
      modelName: 'JsonObject',
      schema: { schema: apigw.JsonSchemaVersion.DRAFT4, title: 'JsonObject', type: apigw.JsonSchemaType.OBJECT },
    }));
    const postOptions: apigw.MethodOptions = {
      requestValidator: validator,
      requestModels: { 'application/json': jsonObject },
    };

    this.v1Models = this.api.root.addResource('v1').addResource('models');
    this.v2Models = this.api.root.addResource('v2').addResource('models');
    // The registry view of any model; models with a stack of their own also route their literal path here.
    const modelsFunction = new ModelgateFunction(this, 'Models', {
      handler: 'models',
      description: 'modelgate: GET /v1/models/{name}: live versions, weights and history from the registry (read only)',
      environment: { REGISTRY_TABLE: props.registryTable.tableName },
      invokedBy: { kind: 'api-gateway' },
      timeout: Duration.seconds(29),
      ...(props.logLevel ? { logLevel: props.logLevel } : {}),
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
    });
    modelsFunction.allow(['dynamodb:GetItem'], [props.registryTable.tableArn]);
    modelsFunction.allow(['dynamodb:Query'], [`${props.registryTable.tableArn}/index/bySequence`]);
    this.modelsFunction = modelsFunction.function;
    const models = new apigw.LambdaIntegration(this.modelsFunction, { proxy: true, allowTestInvoke: false });
    // Its invoke permission (GET/v1/models/*) also covers the literal /v1/models/<m> of each model stack.
    this.v1Models.addResource('{name}').addMethod('GET', models);

    if (props.feedbackFunction) {
      const feedback = new apigw.LambdaIntegration(props.feedbackFunction, { proxy: true, allowTestInvoke: false });
      this.api.root.getResource('v1')?.addResource('feedback').addMethod('POST', feedback, postOptions);
    }

    const plans = {} as Record<ApiClient, apigw.UsagePlan>;
    const keys = {} as Record<ApiClient, apigw.IApiKey>;
    for (const client of API_CLIENTS) {
      const id = `${client[0]?.toUpperCase()}${client.slice(1)}`;
      plans[client] = this.api.addUsagePlan(`${id}Plan`, {
        name: usagePlanName(deployment, client),
        description: `modelgate ${client} clients: ${CLIENT_ROUTES[client].join(', ')}`,
        throttle,
        quota: props.quota,
        apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
      });
      keys[client] = this.api.addApiKey(`${id}Key`, { description: `modelgate: first ${client} key` });
      plans[client].addApiKey(keys[client]);
    }
    this.usagePlans = plans;
    this.apiKeys = keys;

    Validations.of(this.api).acknowledge(
      {
        id: 'AwsSolutions-COG4',
        reason:
          "Clients are services identified by API keys, one usage plan per kind of client, admitted to their kind's routes by a Lambda authorizer; there are no end users, so no Cognito user pool.",
      },
      {
        id: 'AwsSolutions-APIG3',
        reason: 'Per-key throttling, stage throttling and request validation bound abuse; WAF is an account-level decision taken outside this stack.',
      },
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: 'The account-level API Gateway logging role; this AWS managed policy is the documented way to grant it.',
      },
    );
  }
}

const DEFAULT_THROTTLE: ThrottleSettings = { rateLimit: 50, burstLimit: 100 };
/**
 * How long API Gateway keeps the authorizer's answer for a key: the authorizer runs once per key and TTL
 * (not per request), and a key moved to another plan keeps its old routes at most this long.
 */
const AUTHORIZER_CACHE_TTL = Duration.minutes(5);
const DEFAULT_STAGE_THROTTLE: ThrottleSettings = { rateLimit: 500, burstLimit: 1000 };

/** Access log fields, one JSON object per request. `apiKeyId` is the key's id, never its value. */
const ACCESS_LOG_FIELDS = {
  requestId: apigw.AccessLogField.contextRequestId(),
  extendedRequestId: apigw.AccessLogField.contextExtendedRequestId(),
  requestTime: apigw.AccessLogField.contextRequestTime(),
  ip: apigw.AccessLogField.contextIdentitySourceIp(),
  userAgent: apigw.AccessLogField.contextIdentityUserAgent(),
  apiKeyId: apigw.AccessLogField.contextIdentityApiKeyId(),
  httpMethod: apigw.AccessLogField.contextHttpMethod(),
  resourcePath: apigw.AccessLogField.contextResourcePath(),
  path: apigw.AccessLogField.contextPath(),
  protocol: apigw.AccessLogField.contextProtocol(),
  status: apigw.AccessLogField.contextStatus(),
  responseLength: apigw.AccessLogField.contextResponseLength(),
  responseLatency: apigw.AccessLogField.contextResponseLatency(),
  integrationStatus: apigw.AccessLogField.contextIntegrationStatus(),
  integrationLatency: apigw.AccessLogField.contextIntegrationLatency(),
  errorType: apigw.AccessLogField.contextErrorResponseType(),
  errorMessage: apigw.AccessLogField.contextErrorMessage(),
  xrayTraceId: apigw.AccessLogField.contextXrayTraceId(),
};

const JSON_CONTENT_TYPE = { 'Content-Type': "'application/json'" };

function errorBody(error: string, message: string, issues?: string): string {
  return `{"error":"${error}","message":${message},${issues ? `"issues":${issues},` : ''}"requestId":"$context.requestId"}`;
}

function addJsonGatewayResponses(api: apigw.RestApi): void {
  // REST APIs answer an unknown path or method with 403 "Missing Authentication Token"; say what it is.
  api.addGatewayResponse('NotFound', {
    type: apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
    statusCode: '404',
    responseHeaders: JSON_CONTENT_TYPE,
    templates: { 'application/json': errorBody('NotFoundError', '"no route $context.httpMethod $context.path"') },
  });
  // The authorizer's identity source is the key header: without it API Gateway answers 401 before anything else.
  api.addGatewayResponse('MissingApiKey', {
    type: apigw.ResponseType.UNAUTHORIZED,
    statusCode: '401',
    responseHeaders: JSON_CONTENT_TYPE,
    templates: {
      'application/json': errorBody('UnauthorizedError', `"no API key: send the key of your kind of client (predict, feedback or events) in the ${API_KEY_HEADER} header"`),
    },
  });
  api.addGatewayResponse('WrongApiKey', {
    type: apigw.ResponseType.ACCESS_DENIED,
    statusCode: '403',
    responseHeaders: JSON_CONTENT_TYPE,
    templates: {
      'application/json': errorBody(
        'ForbiddenError',
        '"this API key may not call $context.httpMethod $context.path: predicting, posting labels and posting events each take their own key"',
      ),
    },
  });
  api.addGatewayResponse('BadRequestBody', {
    type: apigw.ResponseType.BAD_REQUEST_BODY,
    statusCode: '400',
    responseHeaders: JSON_CONTENT_TYPE,
    templates: {
      // Like the handlers' 400s, it names the field and the reason: the body, which is not a JSON object.
      'application/json': errorBody(
        'ValidationError',
        '"$util.escapeJavaScript($context.error.validationErrorString)"',
        '[{"field":"(body)","reason":"must be a JSON object: $util.escapeJavaScript($context.error.validationErrorString)"}]',
      ),
    },
  });
  for (const [id, type] of [
    ['Default4XX', apigw.ResponseType.DEFAULT_4XX],
    ['Default5XX', apigw.ResponseType.DEFAULT_5XX],
  ] as const) {
    api.addGatewayResponse(id, {
      type,
      responseHeaders: JSON_CONTENT_TYPE,
      templates: { 'application/json': errorBody('$context.error.responseType', '$context.error.messageString') },
    });
  }
}

const DEFAULT_TRACE_SAMPLE_RATE = 0.01;

/** X-Ray rule names are unique per account and region, at most 32 characters: the deployment's, shortened by a hash. */
function samplingRuleName(deployment: string): string {
  const name = `${deployment}-api`;
  if (name.length <= 32) return name;
  return `${deployment.slice(0, 23)}-${createHash('sha256').update(deployment).digest('hex').slice(0, 8)}`;
}

function validate(props: ModelApiProps): void {
  const errors = new PropErrors('ModelApi');
  if (props.stageName !== undefined) {
    errors.require(/^[A-Za-z0-9_-]{1,64}$/.test(props.stageName), `stageName must be 1-64 letters, digits, '-' or '_', got: ${show(props.stageName)}`);
  }
  for (const [name, settings] of [
    ['throttle', props.throttle],
    ['stageThrottle', props.stageThrottle],
  ] as const) {
    if (!settings) continue;
    errors.positive(`${name}.rateLimit`, settings.rateLimit);
    errors.integer(`${name}.burstLimit`, settings.burstLimit, 1, Number.MAX_SAFE_INTEGER);
  }
  const perKeyRate = (props.throttle ?? DEFAULT_THROTTLE).rateLimit;
  const stageRate = (props.stageThrottle ?? DEFAULT_STAGE_THROTTLE).rateLimit;
  errors.require(!(perKeyRate > stageRate), `throttle.rateLimit (per key) must not exceed the stage's rateLimit (${stageRate}), got: ${perKeyRate}`);
  if (props.quota) errors.integer('quota.limit', props.quota.limit, 1, Number.MAX_SAFE_INTEGER);
  if (props.traceSampleRate !== undefined) {
    errors.require(props.traceSampleRate >= 0 && props.traceSampleRate <= 1, `traceSampleRate must be a share between 0 and 1, got: ${show(props.traceSampleRate)}`);
  }
  errors.throwIfAny();
}
