// The experiment handlers against dynalite: outcome events joined to logged predictions, the stream aggregator
// (exactly once under retries), the read API and the scheduled analysis, on one request-level experiment.
import { BatchWriteItemCommand } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toAttributeMap } from '../../lambdas/adapters/attribute-values';
import { ExperimentStore, predictionFacts } from '../../lambdas/adapters/experiment-store';
import { planExperiment } from '../../lambdas/core/experiments/definition';
import { analyzeExperiment } from '../../lambdas/core/experiments/report';
import type { LoggedRecord, StreamChange } from '../../lambdas/core/monitoring/window';
import { aggregateForExperiments } from '../../lambdas/use-cases/experiments/aggregate-exposures';
import { analyzeRunning } from '../../lambdas/use-cases/experiments/analyze-experiments';
import { eventsHandler } from '../../lambdas/use-cases/experiments/record-events';
import { experimentsApi } from '../../lambdas/use-cases/experiments/serve-experiments';
import { proxyEvent } from '../../local/api-gateway-event';
import { createTableInput, ensureTable } from '../../local/dynamodb-tables';
import { experimentTableProperties } from '../../local/template-tables';
import { startLocalAws, TABLE, type LocalAws } from '../support/local-aws';

const EXPERIMENTS = 'experiments';
const START = new Date(Date.now() - 3_600_000);
const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
let aws: LocalAws;
let store: ExperimentStore;
let ids = 0;

const definition = planExperiment(
  { id: 'churn-exp', model: 'churn', control: '1', treatment: '2', metric: 'conversion', guardrails: 'revenue:mean,accuracy', baseline: 0.2, mde: 0.5, startDelaySeconds: 0 },
  START,
);

/** Logged predictions: `n` per version, alternating, after the start. */
function records(n: number): LoggedRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const predictionId = `pred-${i}`;
    const timestamp = new Date(START.getTime() + 60_000 + i * 1000).toISOString();
    const version = i % 2 === 0 ? '1' : '2';
    return {
      predictionId,
      model: 'churn',
      version,
      variant: version,
      timestamp,
      modelVersionShard: `churn#${version}#0`,
      ts: `${timestamp}#${predictionId}`,
      outputs: { label: 'Yes', probabilities: { No: 0.3, Yes: 0.7 } },
      latencyMs: 1,
      batchRows: 1,
      expiresAt: 2_000_000_000,
    };
  });
}
const logged = records(40);

function changes(items: readonly LoggedRecord[], eventName: 'INSERT' | 'MODIFY', firstSequence: number): StreamChange[] {
  return items.map((image, i) => ({ eventName, shardId: 'shard-a', sequenceNumber: String(firstSequence + i), image }));
}

function post(body: unknown) {
  const handle = eventsHandler({ store, predictions: (predictionIds) => predictionFacts(aws.dynamodb, TABLE, predictionIds), logger, newEventId: () => `generated-${++ids}` });
  return handle(proxyEvent({ method: 'POST', path: '/v1/events', body: typeof body === 'string' ? body : JSON.stringify(body) }));
}

beforeAll(async () => {
  aws = await startLocalAws();
  await ensureTable(aws.dynamodb, createTableInput(EXPERIMENTS, experimentTableProperties()));
  store = new ExperimentStore(aws.dynamodb, EXPERIMENTS);
  await store.create(definition, 'test');
  for (let i = 0; i < logged.length; i += 25) {
    await aws.dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: logged.slice(i, i + 25).map((r) => ({ PutRequest: { Item: toAttributeMap(r) } })) } }));
  }
});
afterAll(async () => aws?.close());

describe('the experiment aggregator', () => {
  it('counts each prediction an arm served as an exposure, once even when the batch is retried', async () => {
    const batch = changes(logged, 'INSERT', 1000);
    expect(await aggregateForExperiments({ store, logger }, 'shard-a', batch)).toEqual({ experiments: 1, sightings: 0, updates: 2, alreadyApplied: 0 });
    expect(await aggregateForExperiments({ store, logger }, 'shard-a', batch)).toEqual({ experiments: 1, sightings: 0, updates: 0, alreadyApplied: 2 });
    const { control, treatment } = await store.tallies('churn-exp');
    expect([control.units, treatment.units, control.requests, treatment.requests]).toEqual([20, 20, 20, 20]);
  });

  it('counts labels into the ground-truth metrics of the arm that served the prediction', async () => {
    const labelled = logged.slice(0, 4).map((r, i) => ({ ...r, actual: i < 2 ? 'Yes' : 'No', labeledAt: new Date().toISOString() }));
    await aggregateForExperiments({ store, logger }, 'shard-a', changes(labelled, 'MODIFY', 2000));
    const { control, treatment } = await store.tallies('churn-exp');
    // control served pred-0 (Yes: correct) and pred-2 (No: wrong); treatment pred-1 (correct) and pred-3 (wrong).
    expect([control['g:accuracy:n'], control['g:accuracy:sum'], treatment['g:accuracy:n'], treatment['g:accuracy:sum']]).toEqual([2, 1, 2, 1]);
  });
});

describe('POST /v1/events', () => {
  it('counts events into the arm of their prediction, once per event id, and answers per event', async () => {
    const response = await post([
      { predictionId: 'pred-1', name: 'conversion', eventId: 'c-1' },
      { predictionId: 'pred-1', name: 'conversion', eventId: 'c-1' },
      { predictionId: 'pred-3', name: 'conversion', eventId: 'c-3' },
      { predictionId: 'pred-0', name: 'conversion', eventId: 'c-0' },
      { predictionId: 'pred-0', name: 'revenue', value: 12.5, eventId: 'r-0' },
      { predictionId: 'missing', name: 'conversion' },
      { predictionId: 'pred-5', name: 'pageview' },
      { predictionId: 'pred-5', name: 'conversion', value: 2 },
    ]);
    expect(response.statusCode).toBe(200);
    const answer = JSON.parse(response.body) as { results: { status: string; counted?: unknown }[]; summary: Record<string, number> };
    expect(answer.results.map((r) => r.status)).toEqual(['accepted', 'duplicate', 'accepted', 'accepted', 'accepted', 'not_found', 'ignored', 'invalid']);
    expect(answer.results[0]).toMatchObject({ eventId: 'c-1', counted: [{ experiment: 'churn-exp', arm: 'treatment' }] });
    expect(answer.summary).toEqual({ accepted: 4, duplicate: 1, notFound: 1, notInExperiment: 0, ignored: 1, invalid: 1, retry: 0 });
    const again = JSON.parse((await post({ predictionId: 'pred-3', name: 'conversion', eventId: 'c-3' })).body) as { results: { status: string }[] };
    expect(again.results[0]?.status).toBe('duplicate');
    const { control, treatment } = await store.tallies('churn-exp');
    expect([control['e:conversion:units'], treatment['e:conversion:units'], control['e:revenue:sum'], control['e:revenue:sq']]).toEqual([1, 2, 12.5, 156.25]);
  });

  it('answers 400 naming the fields of a malformed body, 405 and 404 elsewhere', async () => {
    const bad = await post([{ predictionId: 'pred-1', name: 'conversion', value: 'yes' }, { name: 'x' }]);
    expect(bad.statusCode).toBe(400);
    expect((JSON.parse(bad.body) as { issues: { field: string }[] }).issues.map((i) => i.field)).toEqual(['events[0].value', 'events[1].predictionId']);
    const handle = eventsHandler({ store, predictions: async () => new Map(), logger, newEventId: () => 'x' });
    expect((await handle(proxyEvent({ method: 'GET', path: '/v1/events' }))).statusCode).toBe(405);
    expect((await handle(proxyEvent({ method: 'POST', path: '/v1/other', body: '{}' }))).statusCode).toBe(404);
  });
});

describe('GET /v1/experiments and the scheduled analysis', () => {
  it('serves the definition, its revisions, the current analysis and the snapshots', async () => {
    expect(await analyzeRunning(store, new Date())).toEqual({ analysed: [{ id: 'churn-exp', decision: 'keep-running' }], failed: [] });
    const response = await experimentsApi(store, { httpMethod: 'GET', path: '/v1/experiments/churn-exp', pathParameters: { id: 'churn-exp' } }, new Date());
    expect(response.statusCode).toBe(200);
    const body = JSON.parse(response.body) as {
      experiment: { id: string };
      revisions: unknown[];
      analysis: { arms: { control: { units: number } }; metrics: { name: string; control: { n: number } }[]; srm: { mismatch: boolean } };
      snapshots: unknown[];
    };
    expect(body.experiment.id).toBe('churn-exp');
    expect(body.revisions).toHaveLength(1);
    expect(body.analysis.arms.control.units).toBe(20);
    expect(body.analysis.metrics.map((m) => `${m.name} ${m.control.n}`)).toEqual(['conversion 20', 'revenue 20', 'accuracy 2']);
    expect(body.analysis.srm.mismatch).toBe(false);
    expect(body.snapshots).toHaveLength(1);
    const listed = JSON.parse((await experimentsApi(store, { httpMethod: 'GET', path: '/v1/experiments', pathParameters: null }, new Date())).body) as {
      experiments: { id: string; status: string }[];
    };
    expect(listed.experiments).toEqual([expect.objectContaining({ id: 'churn-exp', status: 'running' })]);
  });

  it.each([
    [{ httpMethod: 'GET', path: '/v1/experiments/unknown-exp', pathParameters: { id: 'unknown-exp' } }, 404],
    [{ httpMethod: 'GET', path: '/v1/experiments/Bad%20Id', pathParameters: { id: 'Bad Id' } }, 404],
    [{ httpMethod: 'DELETE', path: '/v1/experiments/churn-exp', pathParameters: { id: 'churn-exp' } }, 405],
  ])('%j -> %i', async (event, statusCode) => {
    expect((await experimentsApi(store, event, new Date())).statusCode).toBe(statusCode);
  });
});

// Last: a second running experiment, which the analysis above does not expect.
describe('POST /v1/events before an experiment counts', () => {
  it('counts events about predictions served before counting began as too early, in their arm, and the analysis reports them', async () => {
    const early = planExperiment({ id: 'late-exp', model: 'late', control: '1', treatment: '2', metric: 'conversion' }, new Date());
    await store.create(early, 'test');
    const served = new Date().toISOString();
    const prediction = { ...logged[1]!, predictionId: 'late-pred', model: 'late', version: '2', timestamp: served, ts: `${served}#late-pred`, modelVersionShard: 'late#2#0' };
    await aws.dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: [{ PutRequest: { Item: toAttributeMap(prediction) } }] } }));
    const answer = JSON.parse(
      (
        await post([
          { predictionId: 'late-pred', name: 'conversion', eventId: 'too-soon' },
          { predictionId: 'late-pred', name: 'pageview' },
        ])
      ).body,
    ) as { results: { status: string; reason: string }[] };
    expect(answer.results.map((r) => r.status)).toEqual(['not_in_experiment', 'not_in_experiment']);
    expect(answer.results[0]?.reason).toBe(
      `the prediction was served at ${served}, before experiment late-exp started counting at ${early.startedAt}: events about it are not counted`,
    );
    const tallies = await store.tallies('late-exp');
    expect([tallies.control.early, tallies.treatment.early, tallies.treatment['e:conversion:events']]).toEqual([undefined, 1, undefined]);
    const report = analyzeExperiment(early, tallies, new Date());
    expect([report.arms.control.earlyEvents, report.arms.treatment.earlyEvents]).toEqual([0, 1]);
  });
});
