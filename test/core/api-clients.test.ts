// Which routes each kind of API key may call: the authorizer's policy and the route -> kind mapping callers use.
import { describe, expect, it } from 'vitest';
import { apiKeyOutputName, clientOfRoute, clientPolicy, stageArn } from '../../lambdas/core/api-clients';

const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/POST/v1/feedback';
const STAGE = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod';

describe('clientPolicy', () => {
  it("allows a key its kind's routes in the stage the request came to, with its id as principal and in the context", () => {
    expect(clientPolicy(METHOD_ARN, { id: 'k1', client: 'predict' })).toEqual({
      principalId: 'k1',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Action: 'execute-api:Invoke',
            Effect: 'Allow',
            Resource: [`${STAGE}/POST/v1/models/*/predict`, `${STAGE}/POST/v2/models/*/infer`, `${STAGE}/GET/v2/models/*`, `${STAGE}/GET/v1/models/*`],
          },
        ],
      },
      context: { client: 'predict', apiKeyId: 'k1' },
    });
    expect(clientPolicy(METHOD_ARN, { id: 'k2', client: 'feedback' }).policyDocument.Statement[0]?.Resource).toEqual([`${STAGE}/POST/v1/feedback`]);
  });

  it('denies everything in the stage to a key in none of the plans', () => {
    expect(clientPolicy(METHOD_ARN, undefined)).toEqual({
      principalId: 'unknown-api-key',
      policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: [`${STAGE}/*`] }] },
    });
  });

  it('refuses what is not a method ARN', () => {
    expect(stageArn(`${STAGE}/GET/`)).toBe(STAGE);
    expect(() => stageArn('arn:aws:lambda:eu-west-1:123456789012:function:f')).toThrow('not an execute-api method ARN');
  });
});

describe('clientOfRoute', () => {
  it.each([
    ['POST', '/v1/models/churn/predict', 'predict'],
    ['post', '/v2/models/churn/infer', 'predict'],
    ['GET', '/v2/models/churn', 'predict'],
    ['GET', '/v1/models/churn', 'predict'],
    ['POST', '/v1/feedback', 'feedback'],
    ['POST', '/v1/events', 'events'],
    ['GET', '/v1/experiments', 'events'],
    ['GET', '/v1/experiments/exp-1', 'events'],
    ['GET', '/v1/feedback', undefined],
    ['POST', '/v1/feedbackx', undefined],
    ['POST', '/v1/models/churn', undefined],
  ])('%s %s takes the %s key', (method, path, client) => {
    expect(clientOfRoute(method, path)).toBe(client);
  });

  it('names the outputs of the first keys', () => {
    expect(['predict', 'feedback', 'events'].map((c) => apiKeyOutputName(c as 'predict'))).toEqual(['PredictApiKeyId', 'FeedbackApiKeyId', 'EventsApiKeyId']);
  });
});
