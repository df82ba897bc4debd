import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { HttpError } from '../core/errors';
import { buildPredictionRecords } from '../core/prediction-record';
import { parseInferRequest, parsePredictRequest } from '../core/request';
import { inferResponse, modelMetadata, predictResponse } from '../core/responses';
import { matchRoute } from '../core/routes';
import { checkFinitePredictions } from '../core/tensors';
import type { RequestRouter } from '../adapters/experiment-router';
import { ServingMetrics } from '../adapters/metrics';
import { fetchBundle } from '../adapters/model-store';
import { loadModel, loadOnnxRuntime, type LoadedModel } from '../adapters/onnx-runtime';
import { PredictionLog, type FallbackSink } from '../adapters/prediction-log';
import { agreement, isShadowEvent, type ShadowEvent, type ShadowMirror } from '../adapters/shadow-mirror';
import type { ServingConfig } from '../contracts/environment';

export interface ServingDependencies {
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
  readonly fallback: FallbackSink;
  readonly logger: Logger;
  /** Uniform [0, 1) source for input sampling; Math.random unless a test seeds it. */
  readonly random?: () => number;
  /** Sticky experiment routing (adapters/experiment-router.ts): may answer with another version's response. */
  readonly router?: RequestRouter;
  /** Shadow rollouts (adapters/shadow-mirror.ts): mirrors answered requests to the shadow version. */
  readonly shadow?: Pick<ShadowMirror, 'mirror'>;
}

export type ProxyHandler = (event: APIGatewayProxyEvent, context: Pick<Context, 'functionVersion' | 'awsRequestId'>) => Promise<APIGatewayProxyResult>;

export interface Serving {
  readonly model: LoadedModel;
  readonly handle: ProxyHandler;
}

/**
 * Init of the inference function: fetch the bundle named by the environment, check its sha256, create
 * and warm the session. Throws (failing init, with the reason logged by the caller) when the bundle is
 * missing, corrupt or does not answer its contract.
 */
export async function initServing(config: ServingConfig, deps: ServingDependencies): Promise<Serving> {
  // onnxruntime's native library loads while the bundle downloads.
  const [bundle] = await Promise.all([fetchBundle(deps.s3, config.bucket, config.prefix, config.packedFile), loadOnnxRuntime()]);
  const model = await loadModel(bundle.manifest, bundle.modelBytes);
  const { manifest } = model;
  deps.logger.appendKeys({ model: manifest.name, modelVersion: manifest.version });
  deps.logger.info('model ready', { sha256: manifest.model.sha256, s3ObjectVersion: bundle.modelObjectVersion });
  const log = new PredictionLog(deps.dynamodb, config.table, deps.fallback);
  const metrics = new ServingMetrics(config.metricsNamespace, config.serviceName, manifest.name, manifest.version);
  const limits = { maxBatchRows: config.maxBatchRows, maxBodyBytes: config.maxBodyBytes };
  const random = deps.random ?? Math.random;

  /** This version is the shadow: predict the champion's rows, log them, record the agreement; nobody waits. */
  const answerShadow = async ({ modelgateShadow: mirrored }: ShadowEvent, functionVersion: string): Promise<APIGatewayProxyResult> => {
    const predictions = await model.predict(mirrored.rows);
    checkFinitePredictions(manifest, mirrored.rows, predictions);
    const records = buildPredictionRecords(
      {
        manifest,
        rows: mirrored.rows,
        predictions,
        predictionIds: mirrored.rows.map(() => randomUUID()),
        variant: functionVersion,
        answeredAt: new Date(),
        latencyMs: 0,
        requestId: mirrored.requestId,
        random,
      },
      { ttlDays: config.ttlDays, shards: config.logShards },
    );
    await log.write(records);
    const { compared, agreed } = agreement(predictions, mirrored.championPredictions);
    deps.logger.info('shadow agreement', { championVersion: mirrored.championVersion, requestId: mirrored.requestId, compared, agreed });
    metrics.recordShadowAgreement(compared, agreed);
    return json(202, { compared, agreed });
  };

  const handle: ProxyHandler = async (event, context) => {
    try {
      if (isShadowEvent(event as unknown)) return await answerShadow(event as unknown as ShadowEvent, context.functionVersion);
      const routing = deps.router ? await deps.router.route(event) : {};
      if ('response' in routing) return routing.response;
      const route = matchRoute(event.httpMethod, event.path);
      if (route.model !== manifest.name) throw new UnknownModelError(route.model, manifest.name);
      if (route.kind === 'metadata') return json(200, modelMetadata(manifest));
      const body = event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
      const infer = route.kind === 'infer' ? parseInferRequest(manifest, body, limits) : undefined;
      const { rows, passThrough } = infer ?? parsePredictRequest(manifest, body, limits);
      const requestId = infer?.id ?? context.awsRequestId;
      const started = performance.now();
      const predictions = await model.predict(rows);
      const latencyMs = performance.now() - started;
      checkFinitePredictions(manifest, rows, predictions);
      const predictionIds = rows.map(() => randomUUID());
      const records = buildPredictionRecords(
        {
          manifest,
          rows,
          predictions,
          predictionIds,
          variant: context.functionVersion,
          answeredAt: new Date(),
          latencyMs,
          requestId: context.awsRequestId,
          random,
          unitId: routing.unitId,
          passThrough,
        },
        { ttlDays: config.ttlDays, shards: config.logShards },
      );
      const logStarted = performance.now();
      const written = deps.shadow
        ? (
            await Promise.all([
              log.write(records),
              deps.shadow.mirror({
                model: manifest.name,
                championVersion: manifest.version,
                requestId: context.awsRequestId,
                rows,
                championPredictions: predictions,
                championPredictionIds: predictionIds,
              }),
            ])
          )[0]
        : await log.write(records);
      metrics.recordPredictions(rows.length, latencyMs, predictions);
      metrics.recordLogWrite(performance.now() - logStarted, written.fallback);
      if (written.fallback > 0) deps.logger.warn('prediction log fell back', { records: written.fallback });
      return json(
        200,
        route.kind === 'predict' ? predictResponse(manifest, predictionIds, predictions, passThrough) : inferResponse(manifest, requestId, predictionIds, predictions, passThrough),
      );
    } catch (error) {
      return errorResponse(error, metrics, deps.logger);
    } finally {
      metrics.flush();
    }
  };
  return { model, handle };
}

class UnknownModelError extends HttpError {
  override readonly name = 'NotFoundError';
  readonly statusCode = 404;
  constructor(requested: string, served: string) {
    super(`model "${requested}" is not served by this endpoint (it serves "${served}")`, [{ field: 'name', reason: `unknown model "${requested}"` }]);
  }
}

function json(statusCode: number, body: unknown): APIGatewayProxyResult {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function errorResponse(error: unknown, metrics: ServingMetrics, logger: Logger): APIGatewayProxyResult {
  if (error instanceof HttpError) {
    if (error.statusCode < 500) metrics.recordClientError(error.name);
    else metrics.recordError(error.name);
    return json(error.statusCode, { error: error.name, message: error.message, issues: error.issues });
  }
  // Not the client's fault: a bundle that breaks its contract, or the log and its fallback both down.
  const name = (error as Error).name ?? 'Error';
  metrics.recordError(name);
  logger.error('request failed', error as Error);
  return json(500, { error: 'InternalError', message: 'the prediction could not be served; the error is logged' });
}
