// The deployment's API keys end to end, on the stack as `npm start` runs it: the three usage plans and first keys
// the base stack creates, its key authorizer on every method (the model stack's included, through AuthorizerId),
// over HTTP. A predict key predicts and cannot post labels or events; a feedback or events key posts its own
// and cannot predict; no key, or a key of no plan, gets API Gateway's refusal before any function runs.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_CLIENTS, type ApiClient } from '../../lambdas/core/api-clients';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { parseManifestJson } from '../../lambdas/core/manifest';
import { startRuntime, type Runtime } from '../../local/runtime';

const manifest = parseManifestJson(readFileSync('examples/churn/v1/manifest.json', 'utf8'));
const stateDir = mkdtempSync(join(tmpdir(), 'modelgate-keys-e2e-'));
let runtime: Runtime;

/** One route of each kind, with a body its function answers without a 5xx (a 400 still proves the key was admitted). */
const ROUTES: Readonly<Record<ApiClient, { readonly method: string; readonly path: string; readonly body?: unknown }>> = {
  predict: {
    method: 'POST',
    path: '/v1/models/churn/predict',
    body: { instances: csvInstances(manifest, parseCsv(readFileSync('examples/churn/v1/holdout.csv', 'utf8'))).slice(0, 1) },
  },
  feedback: { method: 'POST', path: '/v1/feedback', body: { feedback: [] } },
  events: { method: 'POST', path: '/v1/events', body: [] },
};

async function call(client: ApiClient, key: string | undefined): Promise<{ status: number; body: { error?: string; message?: string } }> {
  const { method, path, body } = ROUTES[client];
  const response = await fetch(`${runtime.apiUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'x-api-key': key }) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { error?: string; message?: string } };
}

beforeAll(async () => {
  runtime = await startRuntime({ clean: true, stateDir, port: 0, echoLogs: false, print: () => undefined });
}, 12 * 60_000);

afterAll(async () => {
  await runtime?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

describe("the deployment's API keys", () => {
  it('gives each kind of client its own first key (npm start prints them)', () => {
    expect(Object.keys(runtime.apiKeys).sort()).toEqual([...API_CLIENTS].sort());
    expect(new Set(Object.values(runtime.apiKeys)).size).toBe(3);
  });

  it("admits each key to its own kind's route and refuses it on the others, naming the route", async () => {
    for (const keyClient of API_CLIENTS) {
      for (const routeClient of API_CLIENTS) {
        const answer = await call(routeClient, runtime.apiKeys[keyClient]);
        const what = `${keyClient} key on ${ROUTES[routeClient].method} ${ROUTES[routeClient].path}`;
        if (keyClient === routeClient) {
          // Its function answered: not API Gateway's 401/403, not a failure.
          expect([401, 403], `${what}: ${JSON.stringify(answer.body)}`).not.toContain(answer.status);
          expect(answer.status, `${what}: ${JSON.stringify(answer.body)}`).toBeLessThan(500);
          if (keyClient === 'predict') expect(answer.status).toBe(200);
        } else {
          expect(answer, what).toEqual({
            status: 403,
            // The dev stage's API: $context.path includes the stage, as on AWS.
            body: {
              error: 'ForbiddenError',
              message: `this API key may not call ${ROUTES[routeClient].method} /dev${ROUTES[routeClient].path}: predicting, posting labels and posting events each take their own key`,
              requestId: expect.any(String),
            },
          });
        }
      }
    }
  });

  it('answers 401 without a key and 403 with a key of no plan, on every kind of route', async () => {
    for (const client of API_CLIENTS) {
      expect(await call(client, undefined), client).toMatchObject({ status: 401, body: { error: 'UnauthorizedError', message: expect.stringContaining('x-api-key') } });
      expect(await call(client, 'a-key-nobody-issued-0123456789'), client).toMatchObject({ status: 403, body: { error: 'ForbiddenError' } });
    }
  });
});
