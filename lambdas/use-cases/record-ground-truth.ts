import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { HttpError, MethodNotAllowedError, NotFoundError, ValidationError } from '../core/errors';
import type { Manifest } from '../core/manifest';
import {
  feedbackResponse,
  labelTime,
  parseFeedbackRequest,
  planFeedback,
  undeclaredKeyIssues,
  type FeedbackItem,
  type FeedbackResult,
  type JoinKeyReference,
} from '../core/monitoring/feedback';
import { joinKeyField, joinKeyOf } from '../core/pass-through';
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
 * POST /v1/feedback: joins each item to its prediction — by predictionId, or by model and join key (the
 * latest prediction of that key at or before the label's time, from the byJoinKey index) — reads them
 * (BatchGetItem), checks the actual against each prediction's model, writes the labels that pass (once per
 * prediction), and answers 200 with one result per item. A malformed body, or a key field no served version
 * of the model declares as its join key, is a 400 and writes nothing; a one-item body whose key joins no
 * prediction is a 404 naming the key.
 */
export function feedbackHandler(deps: FeedbackDependencies): FeedbackHandler {
  const now = deps.now ?? (() => new Date());
  /** The prediction each by-key item joins (by item index): the latest of its key at or before its label's time. */
  const joinKeys = async (items: readonly FeedbackItem[], receivedAt: string): Promise<Map<number, string>> => {
    const joined = new Map<number, string>();
    await Promise.all(
      items.map(async (item, index) => {
        if (!item.key) return;
        const predictionId = await deps.store.latestPrediction(joinKeyOf(item.key.model, item.key.field, item.key.value), labelTime(item, receivedAt));
        if (predictionId !== undefined) joined.set(index, predictionId);
      }),
    );
    return joined;
  };

  /** Per model of the unjoined items, the join-key fields its served versions declare. */
  const declaredJoinKeys = async (items: readonly FeedbackItem[], unjoined: readonly number[]): Promise<Map<string, Set<string>>> => {
    const models = new Set(unjoined.map((index) => (items[index] as FeedbackItem & { key: JoinKeyReference }).key.model));
    const declared = new Map<string, Set<string>>();
    for (const model of models) {
      const fields = (await deps.manifests.servedManifests(model)).map(joinKeyField).filter((field): field is string => field !== undefined);
      declared.set(model, new Set(fields));
    }
    return declared;
  };

  return async (event) => {
    try {
      if (!/^\/v1\/feedback\/?$/.test(event.path)) throw new NotFoundError(`no route ${event.httpMethod} ${event.path}`, [{ field: 'path', reason: `no route ${event.path}` }]);
      if (event.httpMethod.toUpperCase() !== 'POST')
        throw new MethodNotAllowedError(`${event.httpMethod} is not allowed on ${event.path}`, [{ field: 'method', reason: 'POST only' }]);
      const body = event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
      const { items, single } = parseFeedbackRequest(body);
      const receivedAt = now().toISOString();
      const joined = await joinKeys(items, receivedAt);
      const unjoined = items.flatMap((item, index) => (item.key && !joined.has(index) ? [index] : []));
      if (unjoined.length > 0) {
        const declared = await declaredJoinKeys(items, unjoined);
        const issues = undeclaredKeyIssues(items, single, unjoined, (model) => declared.get(model) ?? new Set());
        if (issues.length > 0) throw new ValidationError(`invalid feedback: ${issues.map((x) => `${x.field}: ${x.reason}`).join('; ')}`, issues);
      }
      const logged = await deps.store.getPredictions([...items.flatMap((item) => (item.predictionId ? [item.predictionId] : [])), ...joined.values()]);
      const manifests = new Map<string, Manifest>();
      for (const prediction of logged.values()) {
        const key = `${prediction.model}#${prediction.version}`;
        if (manifests.has(key)) continue;
        const manifest = await deps.manifests.get(prediction.model, prediction.version);
        if ('reason' in manifest) deps.logger.warn('manifest not available', { reason: manifest.reason });
        else manifests.set(key, manifest);
      }
      const plan = planFeedback(items, logged, (model, version) => manifests.get(`${model}#${version}`), { joined, receivedAt });
      const [onlyResult] = plan.results;
      if (single && items[0]?.key && onlyResult?.status === 'not_found') {
        throw new NotFoundError(onlyResult.reason as string, [{ field: items[0].key.field, reason: onlyResult.reason as string }]);
      }
      const written = await Promise.all(plan.writes.map(async (write) => ({ write, status: await deps.store.writeLabel(write, receivedAt) })));
      const results = [...plan.results];
      for (const { write, status } of written) {
        const key = items[write.index]?.key;
        results[write.index] = { index: write.index, predictionId: write.predictionId, ...(key ? { key: { [key.field]: key.value } } : {}), status };
      }
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
