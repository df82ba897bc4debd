// Ground truth: the body of POST /v1/feedback, the per-item checks against the logged prediction and its
// model, and the per-item answer. The label is written onto the prediction item itself (docs/monitoring.md).
import { dynamoNumberProblem } from '../dynamodb-number';
import { ValidationError, type Issue } from '../errors';
import type { Manifest } from '../manifest-types';
import { describeJsonValue, readJsonBody } from '../json-body';

/** Items one request may carry (the handler reads them with BatchGetItem, 100 keys a call). */
export const MAX_FEEDBACK_ITEMS = 1000;

export interface FeedbackItem {
  readonly predictionId: string;
  readonly actual: string | number;
  /** The caller's id of the outcome event, stored with the label (tracing, deduplication upstream). */
  readonly eventId?: string;
  /** When the outcome happened (ISO-8601); the label still counts in the window of the prediction. */
  readonly timestamp?: string;
}

export type FeedbackStatus = 'accepted' | 'duplicate' | 'not_found' | 'invalid' | 'conflict';

export interface FeedbackResult {
  readonly index: number;
  readonly predictionId: string;
  readonly status: FeedbackStatus;
  readonly reason?: string;
}

/** What the prediction log holds for a predictionId, as far as feedback needs it. */
export interface LoggedPrediction {
  readonly model: string;
  readonly version: string;
  readonly actual?: string | number;
}

/** A label to write: the item passed every check and the prediction has no label yet. */
export interface LabelWrite {
  readonly index: number;
  readonly predictionId: string;
  readonly actual: string | number;
  readonly eventId?: string;
  readonly outcomeAt?: string;
}

/**
 * Parses the body: one item `{"predictionId", "actual", "eventId"?, "timestamp"?}` or many
 * `{"feedback": [item, ...]}`. A body that is not JSON, or an item of the wrong shape, is a 400 naming
 * every bad field (nothing is written); whether an id exists and whether the actual fits the model are
 * per-item answers, not errors.
 */
export function parseFeedbackRequest(body: string | null | undefined): FeedbackItem[] {
  const parsed = readJsonBody(body, 'a JSON object');
  if (!isObject(parsed)) throw new ValidationError('the body must be a JSON object', [{ field: 'body', reason: 'expected a JSON object' }]);
  const many = Object.hasOwn(parsed, 'feedback');
  const raw: unknown[] = many ? (Array.isArray(parsed.feedback) ? parsed.feedback : []) : [parsed];
  const issues: Issue[] = [];
  if (many && !Array.isArray(parsed.feedback)) issues.push({ field: 'feedback', reason: 'expected an array of feedback items' });
  else if (many && raw.length === 0) issues.push({ field: 'feedback', reason: 'expected at least one item' });
  if (raw.length > MAX_FEEDBACK_ITEMS) issues.push({ field: 'feedback', reason: `at most ${MAX_FEEDBACK_ITEMS} items per request, got ${raw.length}` });
  const items: FeedbackItem[] = [];
  raw.forEach((item, i) => {
    const at = (field: string) => (many ? `feedback[${i}].${field}` : field);
    if (!isObject(item)) {
      issues.push({ field: many ? `feedback[${i}]` : 'body', reason: 'expected an object with predictionId and actual' });
      return;
    }
    const before = issues.length;
    const { predictionId, actual, eventId, timestamp } = item;
    if (typeof predictionId !== 'string' || predictionId === '' || predictionId.length > 256) {
      issues.push({ field: at('predictionId'), reason: 'expected the predictionId the API answered with (a non-empty string)' });
    }
    const actualIssue = Object.hasOwn(item, 'actual') ? actualProblem(actual) : 'is required';
    if (actualIssue) issues.push({ field: at('actual'), reason: actualIssue });
    if (eventId !== undefined && (typeof eventId !== 'string' || eventId.length > 256)) {
      issues.push({ field: at('eventId'), reason: 'expected a string of at most 256 characters' });
    }
    if (timestamp !== undefined && (typeof timestamp !== 'string' || Number.isNaN(Date.parse(timestamp)))) {
      issues.push({ field: at('timestamp'), reason: `expected an ISO-8601 time, got: ${describeJsonValue(timestamp)}` });
    }
    if (issues.length === before) {
      items.push({
        predictionId: predictionId as string,
        actual: actual as string | number,
        ...(eventId === undefined ? {} : { eventId: eventId as string }),
        ...(timestamp === undefined ? {} : { timestamp: new Date(Date.parse(timestamp as string)).toISOString() }),
      });
    }
  });
  if (issues.length > 0) throw new ValidationError(`invalid feedback: ${issues.map((x) => `${x.field}: ${x.reason}`).join('; ')}`, issues);
  return items;
}

function actualProblem(actual: unknown): string | undefined {
  if (typeof actual === 'string') return undefined;
  if (typeof actual !== 'number' || !Number.isFinite(actual)) return `expected a class label (string or number) or a finite number, got: ${describeJsonValue(actual)}`;
  // The label is stored on the prediction item: a number DynamoDB refuses would fail the write.
  return dynamoNumberProblem(actual);
}

/**
 * The actual as the model's own label (`"Yes"`, or the number 1 for numeric class labels; a numeric
 * string matches a numeric label and the other way round), or the reason it does not fit the model.
 */
export function checkActual(manifest: Manifest, actual: string | number): { actual: string | number } | { reason: string } {
  if (manifest.task === 'regression') {
    return typeof actual === 'number' && Number.isFinite(actual)
      ? { actual }
      : { reason: `actual must be a number for the regression model ${manifest.name}, got: ${describeJsonValue(actual)}` };
  }
  const labels = manifest.classLabels ?? [];
  const match = labels.find((label) => String(label) === String(actual));
  return match === undefined
    ? { reason: `actual must be one of the class labels of ${manifest.name} v${manifest.version} (${labels.map((l) => JSON.stringify(l)).join(', ')}), got: ${describeJsonValue(actual)}` }
    : { actual: match };
}

/**
 * Decides each item: unknown prediction, actual that does not fit the model, a label the prediction
 * already has (the same: duplicate; another: conflict — the first label stands), or a label to write.
 * A predictionId repeated within the request is decided once; its later copies are duplicates (or conflicts).
 */
export function planFeedback(
  items: readonly FeedbackItem[],
  logged: ReadonlyMap<string, LoggedPrediction>,
  manifestOf: (model: string, version: string) => Manifest | undefined,
): { results: (FeedbackResult | undefined)[]; writes: LabelWrite[] } {
  const results: (FeedbackResult | undefined)[] = [];
  const writes: LabelWrite[] = [];
  const planned = new Map<string, string | number>();
  items.forEach((item, index) => {
    const base = { index, predictionId: item.predictionId };
    const prediction = logged.get(item.predictionId);
    if (!prediction) {
      results.push({ ...base, status: 'not_found', reason: 'no prediction with this id in the prediction log (unknown, or expired)' });
      return;
    }
    const manifest = manifestOf(prediction.model, prediction.version);
    if (!manifest) {
      results.push({ ...base, status: 'invalid', reason: `the manifest of ${prediction.model} v${prediction.version} is not available` });
      return;
    }
    const checked = checkActual(manifest, item.actual);
    if ('reason' in checked) {
      results.push({ ...base, status: 'invalid', reason: checked.reason });
      return;
    }
    const existing = prediction.actual ?? planned.get(item.predictionId);
    if (existing !== undefined) {
      results.push(
        String(existing) === String(checked.actual)
          ? { ...base, status: 'duplicate' }
          : { ...base, status: 'conflict', reason: `the prediction already has the label ${JSON.stringify(existing)}; the first label stands` },
      );
      return;
    }
    planned.set(item.predictionId, checked.actual);
    results.push(undefined);
    writes.push({
      index,
      predictionId: item.predictionId,
      actual: checked.actual,
      ...(item.eventId === undefined ? {} : { eventId: item.eventId }),
      ...(item.timestamp === undefined ? {} : { outcomeAt: item.timestamp }),
    });
  });
  return { results, writes };
}

/** The answer body: one result per item, in request order, and counts. */
export function feedbackResponse(results: readonly FeedbackResult[]) {
  const count = (status: FeedbackStatus) => results.filter((r) => r.status === status).length;
  return {
    results,
    summary: {
      accepted: count('accepted'),
      duplicate: count('duplicate'),
      notFound: count('not_found'),
      invalid: count('invalid'),
      conflict: count('conflict'),
    },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
