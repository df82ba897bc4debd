// POST /v1/events: outcome events joined to their prediction (or unit) and counted into the running
// experiment's arm. Parsing and attribution are core/experiments/events.ts; this wires the reads and writes.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { HttpError, MethodNotAllowedError, NotFoundError } from '../../core/errors';
import { eventResult, eventsResponse, exposuresToLookUp, parseEventsRequest, planEvents, type EventResult, type PredictionFacts } from '../../core/experiments/events';
import type { ExperimentStore } from '../../adapters/experiment-store';
import { mapLimit } from '../../contracts/experiment-environment';

export interface EventsDependencies {
  readonly store: Pick<ExperimentStore, 'list' | 'exposures' | 'countEvent' | 'countEarlyEvent'>;
  readonly predictions: (ids: readonly string[]) => Promise<Map<string, PredictionFacts>>;
  readonly logger: Logger;
  readonly newEventId: () => string;
}

export const EVENTS_PATH = '/v1/events';
/** Counter writes in flight per request: enough to answer 1000 events in well under a second, gentle on the table. */
const WRITE_CONCURRENCY = 25;

/**
 * Answers 200 with one result per event (accepted, duplicate, not_found, not_in_experiment, ignored,
 * invalid, retry) and counts; 400 naming every bad field for a malformed body (nothing counted).
 */
export function eventsHandler(deps: EventsDependencies): (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> {
  return async (event) => {
    try {
      if (!/^\/v1\/events\/?$/.test(event.path)) throw new NotFoundError(`no route ${event.httpMethod} ${event.path}`, [{ field: 'path', reason: `no route ${event.path}` }]);
      if (event.httpMethod.toUpperCase() !== 'POST')
        throw new MethodNotAllowedError(`${event.httpMethod} is not allowed on ${event.path}`, [{ field: 'method', reason: 'POST only' }]);
      const body = event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
      const events = parseEventsRequest(body, deps.newEventId);
      const predictionIds = events.flatMap((e) => (e.predictionId === undefined ? [] : [e.predictionId]));
      const [experiments, predictions] = await Promise.all([
        deps.store.list('running'),
        predictionIds.length > 0 ? deps.predictions(predictionIds) : Promise.resolve(new Map<string, PredictionFacts>()),
      ]);
      const exposures = await deps.store.exposures(exposuresToLookUp(events, { predictions, experiments }));
      const plan = planEvents(events, { predictions, experiments, exposures });
      const byId = new Map(experiments.map((e) => [e.id, e]));
      const outcomes = await mapLimit(plan.writes, WRITE_CONCURRENCY, async (write) => ({ write, ...(await deps.store.countEvent(write, byId.get(write.experimentId)!)) }));
      // Counted for the analysis to explain the events it is missing; losing one of these costs no statistic.
      await mapLimit(plan.early, WRITE_CONCURRENCY, (early) =>
        deps.store.countEarlyEvent(early).catch((error: unknown) => deps.logger.warn('early event not counted', { error: String(error) })),
      );
      const results = [...plan.results];
      const byIndex = new Map<number, typeof outcomes>();
      for (const outcome of outcomes) byIndex.set(outcome.write.index, [...(byIndex.get(outcome.write.index) ?? []), outcome]);
      for (const [index, written] of byIndex) results[index] = eventResult(index, written[0]!.write.eventId, written);
      const answer = eventsResponse(results as EventResult[]);
      deps.logger.info('events', answer.summary);
      return json(200, answer);
    } catch (error) {
      if (error instanceof HttpError) return json(error.statusCode, { error: error.name, message: error.message, issues: error.issues });
      deps.logger.error('events failed', error as Error);
      return json(500, { error: 'InternalError', message: 'the events could not be recorded; the error is logged. Events are idempotent by eventId: send them again' });
    }
  };
}

function json(statusCode: number, body: unknown): APIGatewayProxyResult {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
