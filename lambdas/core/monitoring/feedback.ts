// Ground truth: the body of POST /v1/feedback, the per-item checks against the logged prediction and its
// model, and the per-item answer. The label is written onto the prediction item itself (docs/monitoring.md).
// An item names its prediction by predictionId, or by the model and the value of its join-key field (a
// pass-through field such as customerID): then it joins the latest prediction of that value at or before
// the label's time.
import { dynamoNumberProblem } from '../dynamodb-number';
import { ValidationError, type Issue } from '../errors';
import type { Manifest } from '../manifest-types';
import { describeJsonValue, readJsonBody } from '../json-body';
import { MODEL_NAME_PATTERN } from '../pipeline/identity';
import { passThroughProblem } from '../pass-through';

/** Items one request may carry (the handler reads them with BatchGetItem, 100 keys a call). */
export const MAX_FEEDBACK_ITEMS = 1000;

/** The fields of a feedback body and its items: any other field of an item is its join key, so no pass-through field may be named like these. */
export const FEEDBACK_FIELDS = ['predictionId', 'model', 'actual', 'eventId', 'timestamp', 'feedback'] as const;

/** An entity instead of a predictionId: the model and the value of its join-key field (manifest passThrough[].joinKey). */
export interface JoinKeyReference {
  readonly model: string;
  readonly field: string;
  readonly value: string | number;
}

/** One label; it names its prediction by `predictionId` or by `key`, exactly one of them. */
export interface FeedbackItem {
  readonly predictionId?: string;
  readonly key?: JoinKeyReference;
  readonly actual: string | number;
  /** The caller's id of the outcome event, stored with the label (tracing, deduplication upstream). */
  readonly eventId?: string;
  /** When the outcome happened (ISO-8601); the label still counts in the window of the prediction. */
  readonly timestamp?: string;
}

export type FeedbackStatus = 'accepted' | 'duplicate' | 'not_found' | 'invalid' | 'conflict';

export interface FeedbackResult {
  readonly index: number;
  /** The prediction the label went to: the item's own, or the one its key joined (absent when none did). */
  readonly predictionId?: string;
  /** A by-key item's key, `{ "<field>": value }`, as sent. */
  readonly key?: Readonly<Record<string, string | number>>;
  readonly status: FeedbackStatus;
  readonly reason?: string;
}

/** A parsed body: its items, and whether it was the one-item form (not `{"feedback": [...]}`). */
export interface FeedbackRequest {
  readonly items: readonly FeedbackItem[];
  readonly single: boolean;
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
 * Parses the body: one item `{"predictionId", "actual", "eventId"?, "timestamp"?}` — or
 * `{"model", "<join-key field>": value, "actual", ...}` — or many `{"feedback": [item, ...]}`. A body that is
 * not JSON, or an item of the wrong shape, is a 400 naming every bad field (nothing is written); whether a
 * prediction exists and whether the actual fits the model are per-item answers, not errors.
 */
export function parseFeedbackRequest(body: string | null | undefined): FeedbackRequest {
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
    const key = Object.hasOwn(item, 'model') ? joinKeyReference(item, at, issues) : undefined;
    if (Object.hasOwn(item, 'model') && Object.hasOwn(item, 'predictionId')) {
      issues.push({ field: at('model'), reason: 'name the prediction by predictionId, or by model and its join key, not both' });
    } else if (!Object.hasOwn(item, 'model') && (typeof predictionId !== 'string' || predictionId === '' || predictionId.length > 256)) {
      issues.push({ field: at('predictionId'), reason: 'expected the predictionId the API answered with (a non-empty string), or model and the value of its join key' });
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
        ...(key ? { key } : { predictionId: predictionId as string }),
        actual: actual as string | number,
        ...(eventId === undefined ? {} : { eventId: eventId as string }),
        ...(timestamp === undefined ? {} : { timestamp: new Date(Date.parse(timestamp as string)).toISOString() }),
      });
    }
  });
  if (issues.length > 0) throw new ValidationError(`invalid feedback: ${issues.map((x) => `${x.field}: ${x.reason}`).join('; ')}`, issues);
  return { items, single: !many };
}

/** `{"model": "churn", "customerID": "7590-VHVEG", ...}`: the model and the one field that is not a feedback field. */
function joinKeyReference(item: Record<string, unknown>, at: (field: string) => string, issues: Issue[]): JoinKeyReference | undefined {
  const model = item.model;
  if (typeof model !== 'string' || !MODEL_NAME_PATTERN.test(model)) {
    issues.push({ field: at('model'), reason: `expected a model name (lower-case letters, digits and dashes), got: ${JSON.stringify(model)}` });
    return undefined;
  }
  const fields = Object.keys(item).filter((field) => !(FEEDBACK_FIELDS as readonly string[]).includes(field));
  if (fields.length !== 1) {
    const got = fields.length === 0 ? 'none' : fields.map((f) => `"${f}"`).join(', ');
    issues.push({
      field: at('model'),
      reason: `beside model, name the value of its join-key field (a pass-through field, e.g. "customerID": "7590-VHVEG"), exactly one; got ${got}`,
    });
    return undefined;
  }
  const field = fields[0] as string;
  const problem = passThroughProblem(item[field]);
  if (problem) {
    issues.push({ field: at(field), reason: problem });
    return undefined;
  }
  return { model, field, value: item[field] as string | number };
}

/** The time a by-key item joins at: its outcome time, or when the label arrived. */
export function labelTime(item: FeedbackItem, receivedAt: string): string {
  return item.timestamp ?? receivedAt;
}

/** A by-key item's key as the answer shows it: `{ "customerID": "7590-VHVEG" }`. */
function keyOf(reference: JoinKeyReference): Record<string, string | number> {
  return { [reference.field]: reference.value };
}

/** `customerID "7590-VHVEG" of model churn` */
export function describeKey(reference: JoinKeyReference): string {
  return `${reference.field} ${JSON.stringify(reference.value)} of model ${reference.model}`;
}

/**
 * The 400 for by-key items whose key found no prediction and whose field no served version of the model
 * declares as its join key (`declaredJoinKeys` of the model: the join-key fields of its served versions'
 * manifests, empty when it has none). An item whose key found a prediction is sound by construction.
 */
export function undeclaredKeyIssues(
  items: readonly FeedbackItem[],
  single: boolean,
  unjoined: readonly number[],
  declaredJoinKeys: (model: string) => ReadonlySet<string>,
): Issue[] {
  const issues: Issue[] = [];
  for (const index of unjoined) {
    const key = items[index]?.key;
    if (!key) continue;
    const declared = declaredJoinKeys(key.model);
    if (declared.has(key.field)) continue;
    const theirs = declared.size === 0 ? 'no served version of it declares a join key' : `its join key is ${[...declared].map((f) => `"${f}"`).join(', ')}`;
    issues.push({
      field: single ? key.field : `feedback[${index}].${key.field}`,
      reason: `model ${key.model} declares no pass-through join key "${key.field}" (${theirs}; manifest passThrough[].joinKey)`,
    });
  }
  return issues;
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
    ? {
        reason: `actual must be one of the class labels of ${manifest.name} v${manifest.version} (${labels.map((l) => JSON.stringify(l)).join(', ')}), got: ${describeJsonValue(actual)}`,
      }
    : { actual: match };
}

/**
 * Decides each item: unknown prediction, actual that does not fit the model, a label the prediction
 * already has (the same: duplicate; another: conflict — the first label stands), or a label to write.
 * A by-key item goes to the prediction its key joined (`byKey.joined`, by item index; the use case queries
 * them at `byKey.receivedAt` unless the item has a timestamp), and is not found when none did. A prediction named twice within the request is decided once; its later copies are duplicates
 * (or conflicts).
 */
export function planFeedback(
  items: readonly FeedbackItem[],
  logged: ReadonlyMap<string, LoggedPrediction>,
  manifestOf: (model: string, version: string) => Manifest | undefined,
  byKey?: { readonly joined: ReadonlyMap<number, string>; readonly receivedAt: string },
): { results: (FeedbackResult | undefined)[]; writes: LabelWrite[] } {
  const results: (FeedbackResult | undefined)[] = [];
  const writes: LabelWrite[] = [];
  const planned = new Map<string, string | number>();
  items.forEach((item, index) => {
    const predictionId = item.predictionId ?? byKey?.joined.get(index);
    const base = { index, ...(predictionId === undefined ? {} : { predictionId }), ...(item.key ? { key: keyOf(item.key) } : {}) };
    if (predictionId === undefined) {
      const key = item.key as JoinKeyReference;
      const at = labelTime(item, byKey?.receivedAt ?? 'the time the label arrived');
      results.push({ ...base, status: 'not_found', reason: `no prediction of ${describeKey(key)} at or before ${at} in the prediction log (unknown, or expired)` });
      return;
    }
    const prediction = logged.get(predictionId);
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
    const existing = prediction.actual ?? planned.get(predictionId);
    if (existing !== undefined) {
      results.push(
        String(existing) === String(checked.actual)
          ? { ...base, status: 'duplicate' }
          : { ...base, status: 'conflict', reason: `the prediction already has the label ${JSON.stringify(existing)}; the first label stands` },
      );
      return;
    }
    planned.set(predictionId, checked.actual);
    results.push(undefined);
    writes.push({
      index,
      predictionId,
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
