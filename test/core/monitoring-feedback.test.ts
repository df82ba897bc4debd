import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lambdas/core/errors';
import type { Manifest } from '../../lambdas/core/manifest-types';
import { checkActual, feedbackResponse, parseFeedbackRequest, planFeedback, undeclaredKeyIssues } from '../../lambdas/core/monitoring/feedback';

const churn = { name: 'churn', version: '1', task: 'binary-classification', classLabels: ['No', 'Yes'] } as unknown as Manifest;
const digits = { name: 'digits', version: '2', task: 'multiclass-classification', classLabels: [0, 1, 2] } as unknown as Manifest;
const price = { name: 'price', version: '1', task: 'regression' } as unknown as Manifest;

function issuesOf(body: string | null): { field: string; reason: string }[] {
  try {
    parseFeedbackRequest(body);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return [...(error as ValidationError).issues];
  }
  throw new Error('expected a ValidationError');
}

describe('parseFeedbackRequest', () => {
  it('takes one item or many, with optional eventId and timestamp (normalised to UTC)', () => {
    expect(parseFeedbackRequest('{"predictionId":"a","actual":"Yes"}')).toEqual({ items: [{ predictionId: 'a', actual: 'Yes' }], single: true });
    expect(
      parseFeedbackRequest('{"feedback":[{"predictionId":"a","actual":1,"eventId":"e1","timestamp":"2026-01-02T03:04:05+01:00"},{"predictionId":"b","actual":"No"}]}'),
    ).toEqual({
      items: [
        { predictionId: 'a', actual: 1, eventId: 'e1', timestamp: '2026-01-02T02:04:05.000Z' },
        { predictionId: 'b', actual: 'No' },
      ],
      single: false,
    });
  });

  it('takes the model and the value of its join key instead of a predictionId', () => {
    expect(parseFeedbackRequest('{"model":"churn","customerID":"7590-VHVEG","actual":"Yes","timestamp":"2026-01-02T03:04:05Z"}').items).toEqual([
      { key: { model: 'churn', field: 'customerID', value: '7590-VHVEG' }, actual: 'Yes', timestamp: '2026-01-02T03:04:05.000Z' },
    ]);
    expect(parseFeedbackRequest('{"feedback":[{"model":"churn","accountNumber":42,"actual":"No"}]}').items).toEqual([
      { key: { model: 'churn', field: 'accountNumber', value: 42 }, actual: 'No' },
    ]);
  });

  it.each([
    ['not JSON', '{"predictionId": ', 'body'],
    ['empty', '', 'body'],
    ['an array', '[]', 'body'],
    ['no predictionId', '{"actual":"Yes"}', 'predictionId'],
    ['no actual', '{"predictionId":"a"}', 'actual'],
    ['null actual', '{"predictionId":"a","actual":null}', 'actual'],
    ['object actual', '{"predictionId":"a","actual":{"x":1}}', 'actual'],
    // The label is written onto the prediction item: DynamoDB stores magnitudes in [1e-130, 1e126) and 0.
    ['an actual DynamoDB cannot store (1e308)', '{"predictionId":"a","actual":1e308}', 'actual'],
    ['an actual DynamoDB cannot store (5e-324)', '{"feedback":[{"predictionId":"a","actual":1},{"predictionId":"b","actual":5e-324}]}', 'feedback[1].actual'],
    ['bad timestamp', '{"predictionId":"a","actual":"Yes","timestamp":"yesterday"}', 'timestamp'],
    // Described without JSON.stringify, which recursed and threw (a 500) on 10,000 nested arrays.
    ['an actual nested 10,000 deep', `{"predictionId":"a","actual":${'['.repeat(10_000)}${']'.repeat(10_000)}}`, 'actual'],
    ['a timestamp nested 10,000 deep', `{"predictionId":"a","actual":"Yes","timestamp":${'['.repeat(10_000)}${']'.repeat(10_000)}}`, 'timestamp'],
    ['bad item in a list', '{"feedback":[{"predictionId":"a","actual":"Yes"},{"predictionId":7,"actual":"No"}]}', 'feedback[1].predictionId'],
    ['feedback not a list', '{"feedback":{"predictionId":"a"}}', 'feedback'],
    ['empty list', '{"feedback":[]}', 'feedback'],
    ['a model without a key', '{"model":"churn","actual":"Yes"}', 'model'],
    ['a model with two keys', '{"model":"churn","customerID":"a","accountId":"b","actual":"Yes"}', 'model'],
    ['a model and a predictionId', '{"model":"churn","customerID":"a","predictionId":"p","actual":"Yes"}', 'model'],
    ['a model name that cannot be one', '{"model":"Churn Model","customerID":"a","actual":"Yes"}', 'model'],
    ['a key that is not an identifier', '{"feedback":[{"model":"churn","customerID":{"id":1},"actual":"Yes"}]}', 'feedback[0].customerID'],
  ])('400 naming the field: %s', (_, body, field) => {
    expect(issuesOf(body).map((issue) => issue.field)).toContain(field);
  });
});

describe('checkActual', () => {
  it("maps the actual onto the model's own class label, numeric strings included", () => {
    expect(checkActual(churn, 'Yes')).toEqual({ actual: 'Yes' });
    expect(checkActual(digits, '2')).toEqual({ actual: 2 });
    expect(checkActual(digits, 1)).toEqual({ actual: 1 });
    expect(checkActual(price, 12.5)).toEqual({ actual: 12.5 });
  });

  it('explains a label the model does not have, or a non-number for regression', () => {
    expect(checkActual(churn, 'Maybe')).toEqual({ reason: expect.stringContaining('one of the class labels of churn v1 ("No", "Yes"), got: "Maybe"') });
    expect(checkActual(digits, 3)).toHaveProperty('reason');
    expect(checkActual(price, '12.5')).toEqual({ reason: expect.stringContaining('must be a number') });
  });
});

describe('planFeedback', () => {
  const logged = new Map([
    ['p1', { model: 'churn', version: '1' }],
    ['p2', { model: 'churn', version: '1', actual: 'Yes' }],
    ['p3', { model: 'churn', version: '1', actual: 'No' }],
    ['p4', { model: 'gone', version: '9' }],
  ]);
  const manifestOf = (model: string) => (model === 'churn' ? churn : undefined);

  it('writes new labels and reports every other item per item', () => {
    const items = [
      { predictionId: 'p1', actual: 'Yes' },
      { predictionId: 'p2', actual: 'Yes' },
      { predictionId: 'p3', actual: 'Yes' },
      { predictionId: 'nope', actual: 'Yes' },
      { predictionId: 'p1', actual: 'Yes' },
      { predictionId: 'p1', actual: 'No' },
      { predictionId: 'p4', actual: 'Yes' },
      { predictionId: 'p1', actual: 'Maybe' },
    ];
    const { results, writes } = planFeedback(items, logged, manifestOf);
    expect(writes).toEqual([{ index: 0, predictionId: 'p1', actual: 'Yes' }]);
    expect(results.map((r) => r?.status)).toEqual([undefined, 'duplicate', 'conflict', 'not_found', 'duplicate', 'conflict', 'invalid', 'invalid']);
    const response = feedbackResponse([{ index: 0, predictionId: 'p1', status: 'accepted' }, ...(results.slice(1) as never[])]);
    expect(response.summary).toEqual({ accepted: 1, duplicate: 2, notFound: 1, invalid: 2, conflict: 2 });
  });
});

describe('feedback by join key', () => {
  const key = { model: 'churn', field: 'customerID', value: 'c-1' } as const;

  it('writes the label onto the prediction the key joined, and reports a key that joined none, naming it', () => {
    const logged = new Map([['p1', { model: 'churn', version: '1' }]]);
    const items = [
      { key, actual: 'Yes' },
      { key: { ...key, value: 'c-2' }, actual: 'No', timestamp: '2026-01-02T00:00:00.000Z' },
      { key, actual: 'Yes' },
    ];
    const { results, writes } = planFeedback(items, logged, () => churn, {
      joined: new Map([
        [0, 'p1'],
        [2, 'p1'],
      ]),
      receivedAt: '2026-01-03T00:00:00.000Z',
    });
    expect(writes).toEqual([{ index: 0, predictionId: 'p1', actual: 'Yes' }]);
    expect(results[1]).toEqual({
      index: 1,
      key: { customerID: 'c-2' },
      status: 'not_found',
      reason: 'no prediction of customerID "c-2" of model churn at or before 2026-01-02T00:00:00.000Z in the prediction log (unknown, or expired)',
    });
    // The same customer twice in one request joins the same prediction: the second label is a duplicate.
    expect(results[2]).toEqual({ index: 2, predictionId: 'p1', key: { customerID: 'c-1' }, status: 'duplicate' });
  });

  it('is a 400 when no served version of the model declares the field as its join key', () => {
    const items = [
      { key, actual: 'Yes' },
      { key: { model: 'churn', field: 'accountId', value: 'a' }, actual: 'Yes' },
      { key: { model: 'fraud', field: 'customerID', value: 'c' }, actual: 'Yes' },
    ];
    const declared = (model: string) => new Set(model === 'churn' ? ['customerID'] : []);
    expect(undeclaredKeyIssues(items, false, [0, 1, 2], declared)).toEqual([
      { field: 'feedback[1].accountId', reason: 'model churn declares no pass-through join key "accountId" (its join key is "customerID"; manifest passThrough[].joinKey)' },
      {
        field: 'feedback[2].customerID',
        reason: 'model fraud declares no pass-through join key "customerID" (no served version of it declares a join key; manifest passThrough[].joinKey)',
      },
    ]);
    expect(undeclaredKeyIssues([items[1] as (typeof items)[number]], true, [0], declared)[0]?.field).toBe('accountId');
  });
});
