// Outcome events: the body of POST /v1/events, which experiment arm and unit each event is about (joined to
// the prediction it names, or to the unit's recorded assignment), and the per-event answer.
import { ValidationError, type Issue } from '../errors';
import { MAX_UNIT_ID_LENGTH } from './assignment';
import { armOfVersion, METRIC_NAME_PATTERN, metricsOf, type ExperimentDefinition, type MetricDefinition } from './definition';
import { eventValueProblem, talliedValueProblem } from './tally';
import { describeJsonKey, describeJsonValue, readJsonBody } from '../json-body';

/** Events one request may carry. */
export const MAX_EVENTS = 1000;
const MAX_ID_LENGTH = 256;

export interface OutcomeEvent {
  readonly predictionId?: string;
  readonly unitId?: string;
  readonly name: string;
  /** 1 when the body leaves it out: "it happened". */
  readonly value: number;
  /** The caller's id, or one generated for the event (then a resend counts again: send ids to be safe). */
  readonly eventId: string;
}

export type EventStatus = 'accepted' | 'duplicate' | 'not_found' | 'not_in_experiment' | 'ignored' | 'invalid' | 'retry';

export interface EventResult {
  readonly index: number;
  readonly eventId: string;
  readonly status: EventStatus;
  readonly reason?: string;
  /** The experiments (and arms) the event was counted in. */
  readonly counted?: readonly { readonly experiment: string; readonly arm: 'control' | 'treatment' }[];
}

/**
 * Parses `event`, `[event, ...]` or `{"events": [event, ...]}`, where an event is
 * `{"predictionId" | "unitId", "name", "value"?, "eventId"?}`. Anything malformed is a 400 naming every bad
 * field (`events[3].value`) and nothing is written; whether the ids exist is a per-event answer.
 */
export function parseEventsRequest(body: string | null | undefined, newEventId: () => string): OutcomeEvent[] {
  const parsed = readJsonBody(body, 'an event object or an array of events');
  const wrapped = isObject(parsed) && Object.hasOwn(parsed, 'events');
  const many = Array.isArray(parsed) || wrapped;
  const raw: unknown = wrapped ? (parsed as { events: unknown }).events : parsed;
  const issues: Issue[] = [];
  if (!isObject(raw) && !Array.isArray(raw)) {
    throw new ValidationError('expected an event or an array of events', [{ field: wrapped ? 'events' : 'body', reason: 'expected an event object or an array of events' }]);
  }
  const items: unknown[] = Array.isArray(raw) ? raw : [raw];
  if (items.length === 0) issues.push({ field: wrapped ? 'events' : 'body', reason: 'expected at least one event' });
  if (items.length > MAX_EVENTS) issues.push({ field: wrapped ? 'events' : 'body', reason: `at most ${MAX_EVENTS} events per request, got ${items.length}` });
  const events: OutcomeEvent[] = [];
  items.slice(0, MAX_EVENTS).forEach((item, i) => {
    const at = (field: string) => (many ? `events[${i}].${field}` : field);
    if (!isObject(item)) {
      issues.push({ field: many ? `events[${i}]` : 'body', reason: 'expected an object {predictionId or unitId, name, value?, eventId?}' });
      return;
    }
    const before = issues.length;
    const { predictionId, unitId, name, value, eventId } = item;
    for (const key of Object.keys(item)) {
      if (!['predictionId', 'unitId', 'name', 'value', 'eventId'].includes(key))
        issues.push({ field: at(describeJsonKey(key)), reason: 'is not a field of an event (predictionId, unitId, name, value, eventId)' });
    }
    if (predictionId === undefined && unitId === undefined) issues.push({ field: at('predictionId'), reason: 'one of predictionId or unitId is required' });
    if (predictionId !== undefined && unitId !== undefined) issues.push({ field: at('unitId'), reason: 'give predictionId or unitId, not both' });
    if (predictionId !== undefined && !(typeof predictionId === 'string' && predictionId !== '' && predictionId.length <= MAX_ID_LENGTH)) {
      issues.push({ field: at('predictionId'), reason: 'expected the predictionId the API answered with (a non-empty string)' });
    }
    if (unitId !== undefined && !(typeof unitId === 'string' && unitId !== '' && unitId.length <= MAX_UNIT_ID_LENGTH)) {
      issues.push({ field: at('unitId'), reason: `expected a non-empty string of at most ${MAX_UNIT_ID_LENGTH} characters` });
    }
    if (name === undefined) issues.push({ field: at('name'), reason: 'is required, e.g. "conversion"' });
    else if (typeof name !== 'string' || !METRIC_NAME_PATTERN.test(name))
      issues.push({ field: at('name'), reason: `must be a letter then up to 63 letters, digits, '_' or '-', got ${describeJsonValue(name)}` });
    if (value !== undefined) {
      const problem = typeof value === 'number' ? talliedValueProblem(value) : `must be a finite number, got ${describeJsonValue(value)}`;
      if (problem) issues.push({ field: at('value'), reason: problem });
    }
    if (eventId !== undefined && !(typeof eventId === 'string' && eventId !== '' && eventId.length <= MAX_ID_LENGTH)) {
      issues.push({ field: at('eventId'), reason: `must be a non-empty string of at most ${MAX_ID_LENGTH} characters` });
    }
    if (issues.length > before) return;
    events.push({
      ...(predictionId === undefined ? {} : { predictionId: predictionId as string }),
      ...(unitId === undefined ? {} : { unitId: unitId as string }),
      name: name as string,
      value: value === undefined ? 1 : (value as number),
      eventId: (eventId as string | undefined) ?? newEventId(),
    });
  });
  if (issues.length > 0)
    throw new ValidationError(
      `invalid events: ${issues
        .slice(0, 20)
        .map((x) => `${x.field}: ${x.reason}`)
        .join('; ')}`,
      issues.slice(0, 100),
    );
  return events;
}

/** What the prediction log holds about a prediction, as far as attribution needs it. */
export interface PredictionFacts {
  readonly model: string;
  readonly version: string;
  readonly timestamp: string;
  readonly unitId?: string;
}

/** Where the planner looks things up: joined predictions, running experiments, recorded unit assignments. */
export interface AttributionContext {
  readonly predictions: ReadonlyMap<string, PredictionFacts>;
  /** Running experiments; at most one per model. */
  readonly experiments: readonly ExperimentDefinition[];
  /** `exposureKey(experiment, unit)` -> the arm the unit was first exposed to. */
  readonly exposures: ReadonlyMap<string, 'control' | 'treatment'>;
}

export function exposureKey(experimentId: string, unitId: string): string {
  return `${experimentId}\u0000${unitId}`;
}

/** One count to make: the event's value for its unit in one experiment arm. */
export interface EventWrite {
  readonly index: number;
  readonly experimentId: string;
  readonly metric: MetricDefinition;
  readonly arm: 'control' | 'treatment';
  /** The unit of analysis: the prediction (request assignment) or the unit id (unit assignment). */
  readonly unitKey: string;
  readonly eventId: string;
  readonly value: number;
}

/**
 * An event that came too early: its prediction was served by an arm of a running experiment that measures the
 * event, but before the experiment started counting (`startedAt`). Not counted; the arm keeps how many there
 * were (`TALLY.earlyEvents`), so the analysis can say why they are missing.
 */
export interface EarlyEvent {
  readonly index: number;
  readonly experimentId: string;
  readonly arm: 'control' | 'treatment';
  readonly eventId: string;
}

/** The (experiment, unit) assignments the planner needs: look them up before calling `planEvents`. */
export function exposuresToLookUp(events: readonly OutcomeEvent[], context: Omit<AttributionContext, 'exposures'>): { experimentId: string; unitId: string }[] {
  const wanted = new Map<string, { experimentId: string; unitId: string }>();
  for (const event of events) {
    for (const { experiment, unitId } of candidates(event, context)) {
      if (experiment.assignment === 'unit' && unitId !== undefined) wanted.set(exposureKey(experiment.id, unitId), { experimentId: experiment.id, unitId });
    }
  }
  return [...wanted.values()];
}

/**
 * Decides every event: the prediction is unknown (not_found); it was not served by an arm of a running
 * experiment after its start, or its unit was never exposed (not_in_experiment, or retry while the exposure
 * may still be on its way from the prediction log's stream); no experiment measures the event's name
 * (ignored); the value does not fit the metric (invalid); or counts to make (one per experiment measuring it).
 * A not_in_experiment whose prediction an arm served before the experiment started counting is also `early`.
 */
export function planEvents(events: readonly OutcomeEvent[], context: AttributionContext): { results: (EventResult | undefined)[]; writes: EventWrite[]; early: EarlyEvent[] } {
  const results: (EventResult | undefined)[] = [];
  const writes: EventWrite[] = [];
  const early: EarlyEvent[] = [];
  events.forEach((event, index) => {
    const base = { index, eventId: event.eventId };
    if (event.predictionId !== undefined && !context.predictions.has(event.predictionId)) {
      results.push({ ...base, status: 'not_found', reason: 'no prediction with this id in the prediction log (unknown, or expired)' });
      return;
    }
    const found = candidates(event, context);
    const inExperiment: { experiment: ExperimentDefinition; arm: 'control' | 'treatment'; unitKey: string }[] = [];
    let waitingForExposure = false;
    for (const { experiment, arm, unitId } of found) {
      if (experiment.assignment === 'request') {
        inExperiment.push({ experiment, arm: arm as 'control' | 'treatment', unitKey: event.predictionId as string });
        continue;
      }
      const exposed = unitId === undefined ? undefined : context.exposures.get(exposureKey(experiment.id, unitId));
      if (exposed) inExperiment.push({ experiment, arm: exposed, unitKey: unitId as string });
      else if (unitId !== undefined && event.predictionId !== undefined) waitingForExposure = true;
    }
    if (inExperiment.length === 0) {
      if (waitingForExposure) {
        results.push({
          ...base,
          status: 'retry',
          reason: "the unit's exposure is not recorded yet (exposures arrive from the prediction log's stream within seconds): send the event again",
        });
      } else if (event.unitId !== undefined) {
        results.push({ ...base, status: 'not_found', reason: `unit ${JSON.stringify(event.unitId)} has not been exposed to a running unit-level experiment` });
      } else {
        const tooEarly = earlyCandidates(event, context);
        early.push(...tooEarly.map(({ experiment, arm }) => ({ index, experimentId: experiment.id, arm, eventId: event.eventId })));
        const served = context.predictions.get(event.predictionId as string)?.timestamp;
        const reason =
          tooEarly.length > 0
            ? `the prediction was served at ${served}, before experiment ${tooEarly.map((c) => c.experiment.id).join(', ')} started counting at ${tooEarly.map((c) => c.experiment.startedAt).join(', ')}: events about it are not counted`
            : 'the prediction was not served by an arm of a running experiment after its start';
        results.push({ ...base, status: 'not_in_experiment', reason });
      }
      return;
    }
    const planned: EventWrite[] = [];
    const problems: string[] = [];
    for (const { experiment, arm, unitKey } of inExperiment) {
      const metric = metricsOf(experiment).find((m) => m.metric.source === 'event' && m.metric.name === event.name)?.metric;
      if (!metric) continue;
      const problem = eventValueProblem(metric, event.value);
      if (problem) problems.push(problem);
      else planned.push({ index, experimentId: experiment.id, metric, arm, unitKey, eventId: event.eventId, value: event.value });
    }
    if (planned.length > 0) {
      results.push(undefined);
      writes.push(...planned);
    } else if (problems.length > 0) {
      results.push({ ...base, status: 'invalid', reason: problems.join('; ') });
    } else {
      const measured = inExperiment.map(
        ({ experiment }) =>
          `${experiment.id}: ${
            metricsOf(experiment)
              .filter((m) => m.metric.source === 'event')
              .map((m) => m.metric.name)
              .join(', ') || 'no event metrics'
          }`,
      );
      results.push({ ...base, status: 'ignored', reason: `no running experiment measures "${event.name}" (${measured.join('; ')})` });
    }
  });
  return { results, writes, early };
}

/** The answer for one event from the outcome of its writes (one per experiment that measures it). */
export function eventResult(index: number, eventId: string, outcomes: readonly { write: EventWrite; status: 'accepted' | 'duplicate' | 'retry'; reason?: string }[]): EventResult {
  const counted = outcomes.filter((o) => o.status === 'accepted').map((o) => ({ experiment: o.write.experimentId, arm: o.write.arm }));
  const retry = outcomes.find((o) => o.status === 'retry');
  if (retry) return { index, eventId, status: 'retry', reason: retry.reason ?? 'the count could not be written: send the event again', ...(counted.length > 0 ? { counted } : {}) };
  if (counted.length > 0) return { index, eventId, status: 'accepted', counted };
  return { index, eventId, status: 'duplicate', reason: 'an event with this eventId was counted already' };
}

/** The answer body: one result per event, in request order, and counts. */
export function eventsResponse(results: readonly EventResult[]) {
  const count = (status: EventStatus) => results.filter((r) => r.status === status).length;
  return {
    results,
    summary: {
      accepted: count('accepted'),
      duplicate: count('duplicate'),
      notFound: count('not_found'),
      notInExperiment: count('not_in_experiment'),
      ignored: count('ignored'),
      invalid: count('invalid'),
      retry: count('retry'),
    },
  };
}

/** The running experiments an event may be about, with the arm its prediction was served by. */
function candidates(event: OutcomeEvent, context: Omit<AttributionContext, 'exposures'>): { experiment: ExperimentDefinition; arm?: 'control' | 'treatment'; unitId?: string }[] {
  if (event.unitId !== undefined) {
    return context.experiments.filter((e) => e.assignment === 'unit').map((experiment) => ({ experiment, unitId: event.unitId }));
  }
  const prediction = context.predictions.get(event.predictionId as string);
  if (!prediction) return [];
  return context.experiments
    .filter((e) => e.model === prediction.model && prediction.timestamp >= e.startedAt)
    .map((experiment) => ({ experiment, arm: armOfVersion(experiment, prediction.version), unitId: prediction.unitId }))
    .filter((c) => c.arm !== undefined && (c.experiment.assignment === 'request' || c.unitId !== undefined));
}

/** The running experiments measuring the event whose arm served its prediction before they started counting. */
function earlyCandidates(event: OutcomeEvent, context: Omit<AttributionContext, 'exposures'>): { experiment: ExperimentDefinition; arm: 'control' | 'treatment' }[] {
  const prediction = context.predictions.get(event.predictionId as string);
  if (!prediction) return [];
  return context.experiments
    .filter((e) => e.model === prediction.model && prediction.timestamp < e.startedAt)
    .filter((e) => metricsOf(e).some((m) => m.metric.source === 'event' && m.metric.name === event.name))
    .flatMap((experiment) => {
      const arm = armOfVersion(experiment, prediction.version);
      return arm === undefined || (experiment.assignment === 'unit' && prediction.unitId === undefined) ? [] : [{ experiment, arm }];
    });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
