// Fuzz: generated bodies for every POST route and hostile paths, run in-process against the handlers' use
// cases with dynalite and s3rver behind them (the churn model served, its predictions logged, a running
// experiment to count events into). No answer may be a 5xx, and every 4xx must name a field and a reason.
// A few thousand bodies per route keep CI in seconds; `npm run fuzz` sends 10,000 per route over HTTP.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExperimentStore, predictionFacts } from '../../lambdas/adapters/experiment-store';
import { FeedbackStore } from '../../lambdas/adapters/feedback-store';
import { ManifestStore } from '../../lambdas/adapters/manifest-store';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { parseManifestJson } from '../../lambdas/core/manifest';
import { mulberry32 } from '../../lambdas/core/random';
import { eventsHandler } from '../../lambdas/use-cases/experiments/record-events';
import { feedbackHandler } from '../../lambdas/use-cases/record-ground-truth';
import { proxyEvent } from '../../local/api-gateway-event';
import { createTableInput, ensureTable } from '../../local/dynamodb-tables';
import { experimentTableProperties } from '../../local/template-tables';
import { classifyAnswer, fuzzBody, fuzzExperiments, fuzzPath, type AnswerClass, type FuzzContext, type Route } from '../support/fuzz';
import { BUCKET, TABLE, lambdaContext, serve, startLocalAws, type LocalAws } from '../support/local-aws';

const BODIES_PER_ROUTE = 2_000;
const PATHS = 1_000;
const SEED = 20_261_205;

const bundleDir = new URL('../../examples/churn/v1/', import.meta.url);
const manifest = parseManifestJson(readFileSync(new URL('manifest.json', bundleDir), 'utf8'));
const modelBytes = new Uint8Array(readFileSync(new URL(manifest.model.file, bundleDir)));
const rows = csvInstances(manifest, parseCsv(readFileSync(new URL('holdout.csv', bundleDir), 'utf8'))).slice(0, 50);
const logger = new Logger({ serviceName: 'fuzz', logLevel: 'SILENT' });

type Handler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

describe('fuzz', () => {
  let aws: LocalAws;
  const handlers = {} as Record<Route, Handler>;
  let context: FuzzContext;

  beforeAll(async () => {
    aws = await startLocalAws();
    const serving = await serve(aws, manifest, modelBytes);
    const inference: Handler = (event) => serving.handle(event, lambdaContext);
    handlers.predict = inference;
    handlers.infer = inference;
    handlers.feedback = feedbackHandler({ store: new FeedbackStore(aws.dynamodb, TABLE), manifests: new ManifestStore(aws.s3, BUCKET), logger });
    await ensureTable(aws.dynamodb, createTableInput('experiments', experimentTableProperties()));
    const experiments = new ExperimentStore(aws.dynamodb, 'experiments');
    for (const experiment of fuzzExperiments(new Date())) await experiments.create(experiment, 'fuzz');
    handlers.events = eventsHandler({ store: experiments, predictions: (ids) => predictionFacts(aws.dynamodb, TABLE, ids), logger, newEventId: randomUUID });
    const answer = await inference(proxyEvent({ method: 'POST', path: '/v1/models/churn/predict', body: JSON.stringify({ instances: rows.slice(0, 20) }) }));
    const predictionIds = (JSON.parse(answer.body) as { predictions: { predictionId: string }[] }).predictions.map((p) => p.predictionId);
    context = {
      manifest,
      rows,
      predictionIds: [...predictionIds, randomUUID(), 'not-a-prediction'],
      unitIds: ['user-1', 'user-2', 'u'.repeat(256)],
      eventNames: ['conversion', 'revenue', 'click'],
    };
  });
  afterAll(async () => aws?.close());

  const paths: Record<Route, string> = { predict: '/v1/models/churn/predict', infer: '/v2/models/churn/infer', feedback: '/v1/feedback', events: '/v1/events' };

  /** Counts answers by class, keeping a few of each failing class to show. */
  function tally() {
    const counts: Record<AnswerClass, number> = { ok: 0, named: 0, unnamed: 0, 'server-error': 0 };
    const failures: string[] = [];
    return {
      counts,
      failures,
      add(status: number, body: string, what: string) {
        const kind = classifyAnswer(status, body);
        counts[kind]++;
        if ((kind === 'unnamed' || kind === 'server-error') && failures.length < 5) failures.push(`${status} for ${what.slice(0, 300)}: ${body.slice(0, 300)}`);
      },
    };
  }

  it.each(['predict', 'infer', 'feedback', 'events'] as const)('%s: no 5xx, every 4xx names a field and a reason', async (route) => {
    const random = mulberry32(SEED + route.length);
    const result = tally();
    for (let i = 0; i < BODIES_PER_ROUTE; i++) {
      const body = fuzzBody(route, random, context);
      const response = await handlers[route](proxyEvent({ method: 'POST', path: paths[route], body }));
      result.add(response.statusCode, response.body, body);
    }
    expect(result.failures).toEqual([]);
    expect(result.counts['server-error'] + result.counts.unnamed).toBe(0);
    // The generator reaches past validation too: some bodies are answered, most are refused.
    expect(result.counts.ok).toBeGreaterThan(BODIES_PER_ROUTE / 20);
    expect(result.counts.named).toBeGreaterThan(BODIES_PER_ROUTE / 4);
  });

  it('paths: no 5xx from any handler, every 4xx names a field and a reason', async () => {
    const random = mulberry32(SEED);
    const result = tally();
    for (let i = 0; i < PATHS; i++) {
      const { method, path } = fuzzPath(random);
      const [pathname = '', query = ''] = path.split('?');
      const event = proxyEvent({ method, path: pathname, query: new URLSearchParams(query), body: JSON.stringify({ instances: [rows[0]] }) });
      for (const handler of [handlers.predict, handlers.feedback, handlers.events]) {
        const response = await handler(event);
        result.add(response.statusCode, response.body, `${method} ${path}`);
      }
    }
    expect(result.failures).toEqual([]);
    expect(result.counts['server-error'] + result.counts.unnamed).toBe(0);
  });
});
