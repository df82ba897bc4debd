import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { HttpError, MethodNotAllowedError, NotFoundError } from '../core/errors';
import type { Manifest } from '../core/manifest';
import { feedbackResponse, parseFeedbackRequest, planFeedback, type FeedbackResult } from '../core/monitoring/feedback';
import type { FeedbackStore } from '../adapters/feedback-store';
import type { ManifestStore } from '../adapters/manifest-store';

export interface FeedbackDependencies {
  readonly store: FeedbackStore;
  readonly manifests: ManifestStore;
  readonly logger: Logger;
  readonly now?: () => Date;
}

export type FeedbackHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

export const FEEDBACK_PATH = '/v1/feedback';

/**
 * POST /v1/feedback: joins each item to its prediction (BatchGetItem by predictionId), checks the actual
 * against that prediction's model, writes the labels that pass (once per prediction), and answers 200
 * with one result per item. A malformed body is a 400 and writes nothing.
 */
export function feedbackHandler(deps: FeedbackDependencies): FeedbackHandler {
  const now = deps.now ?? (() => new Date());
  return async (event) => {
    try {
      if (!/^\/v1\/feedback\/?$/.test(event.path)) throw new NotFoundError(`no route ${event.httpMethod} ${event.path}`, [{ field: 'path', reason: `no route ${event.path}` }]);
      if (event.httpMethod.toUpperCase() !== 'POST') throw new MethodNotAllowedError(`${event.httpMethod} is not allowed on ${event.path}`, [{ field: 'method', reason: 'POST only' }]);
      const body = event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
      const items = parseFeedbackRequest(body);
      const logged = await deps.store.getPredictions(items.map((item) => item.predictionId));
      const manifests = new Map<string, Manifest>();
      for (const prediction of logged.values()) {
        const key = `${prediction.model}#${prediction.version}`;
        if (manifests.has(key)) continue;
        const manifest = await deps.manifests.get(prediction.model, prediction.version);
        if ('reason' in manifest) deps.logger.warn('manifest not available', { reason: manifest.reason });
        else manifests.set(key, manifest);
      }
      const plan = planFeedback(items, logged, (model, version) => manifests.get(`${model}#${version}`));
      const labeledAt = now().toISOString();
      const written = await Promise.all(plan.writes.map(async (write) => ({ write, status: await deps.store.writeLabel(write, labeledAt) })));
      const results = [...plan.results];
      for (const { write, status } of written) results[write.index] = { index: write.index, predictionId: write.predictionId, status };
      const answer = feedbackResponse(results as FeedbackResult[]);
      deps.logger.info('feedback', answer.summary);
      return json(200, answer);
    } catch (error) {
      if (error instanceof HttpError) return json(error.statusCode, { error: error.name, message: error.message, issues: error.issues });
      deps.logger.error('feedback failed', error as Error);
      return json(500, { error: 'InternalError', message: 'the feedback could not be recorded; the error is logged' });
    }
  };
}

function json(statusCode: number, body: unknown): APIGatewayProxyResult {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
