import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lambdas/core/errors';
import type { Manifest } from '../../lambdas/core/manifest-types';
import { checkActual, feedbackResponse, parseFeedbackRequest, planFeedback } from '../../lambdas/core/monitoring/feedback';

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
    expect(parseFeedbackRequest('{"predictionId":"a","actual":"Yes"}')).toEqual([{ predictionId: 'a', actual: 'Yes' }]);
    expect(
      parseFeedbackRequest('{"feedback":[{"predictionId":"a","actual":1,"eventId":"e1","timestamp":"2026-01-02T03:04:05+01:00"},{"predictionId":"b","actual":"No"}]}'),
    ).toEqual([
      { predictionId: 'a', actual: 1, eventId: 'e1', timestamp: '2026-01-02T02:04:05.000Z' },
      { predictionId: 'b', actual: 'No' },
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
  ])('400 naming the field: %s', (_, body, field) => {
    expect(issuesOf(body).map((issue) => issue.field)).toContain(field);
  });
});

describe('checkActual', () => {
  it('maps the actual onto the model\'s own class label, numeric strings included', () => {
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
