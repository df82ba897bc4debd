// The experiment table adapter against dynalite: conditional writes, atomic ADDs, the status index.
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toAttributeMap } from '../../lambdas/adapters/attribute-values';
import { EXPERIMENT_KEYS, ExperimentConflictError, ExperimentStore, predictionFacts } from '../../lambdas/adapters/experiment-store';
import { planExperiment, type ExperimentDefinition } from '../../lambdas/core/experiments/definition';
import type { EventWrite } from '../../lambdas/core/experiments/events';
import { ExperimentTable } from '../../lib/experiments/experiment-table';
import { createTableInput, ensureTable } from '../../local/dynamodb-tables';
import { experimentTableProperties } from '../../local/template-tables';
import { startLocalAws, TABLE, type LocalAws } from '../support/local-aws';

const EXPERIMENTS = 'experiments';
const NOW = new Date('2025-03-01T00:00:00.000Z');
let aws: LocalAws;
let store: ExperimentStore;

beforeAll(async () => {
  aws = await startLocalAws();
  await ensureTable(aws.dynamodb, createTableInput(EXPERIMENTS, experimentTableProperties()));
  store = new ExperimentStore(aws.dynamodb, EXPERIMENTS);
});
afterAll(async () => aws?.close());

function experiment(id: string, model = 'churn', overrides: Record<string, unknown> = {}): ExperimentDefinition {
  return planExperiment({ id, model, control: '1', treatment: '2', metric: 'conversion', guardrails: 'revenue:mean', startDelaySeconds: 0, ...overrides }, NOW);
}

function write(experimentId: string, unitKey: string, eventId: string, metric: 'conversion' | 'revenue', value = 1, arm: 'control' | 'treatment' = 'treatment'): EventWrite {
  const definition = experiment(experimentId);
  const found = metric === 'conversion' ? definition.primaryMetric : definition.guardrailMetrics[0]!;
  return { index: 0, experimentId, metric: found, arm, unitKey, eventId, value };
}

describe('ExperimentStore', () => {
  it('uses the key names the table construct declares', () => {
    expect(EXPERIMENT_KEYS).toEqual({
      partition: ExperimentTable.PARTITION_KEY,
      sort: ExperimentTable.SORT_KEY,
      byStatusIndex: ExperimentTable.BY_STATUS_INDEX,
      statusKey: ExperimentTable.BY_STATUS_PARTITION_KEY,
      modelStartedKey: ExperimentTable.BY_STATUS_SORT_KEY,
      ttl: ExperimentTable.TTL_ATTRIBUTE,
    });
  });

  it('stores a definition with its first revision; one running experiment per model', async () => {
    const definition = experiment('churn-a');
    await store.create(definition, 'alice');
    expect(await store.get('churn-a')).toEqual({ definition, revisions: [{ revision: 1, at: NOW.toISOString(), change: 'created', by: 'alice', definition }] });
    await expect(store.create(experiment('churn-b'), 'bob')).rejects.toThrow(new ExperimentConflictError('model churn already has a running experiment: churn-a; stop it first'));
    await store.create(experiment('bank-a', 'bank'), 'bob');
    expect((await store.list('running')).map((d) => d.id).sort()).toEqual(['bank-a', 'churn-a']);
    expect((await store.list('running', 'churn')).map((d) => d.id)).toEqual(['churn-a']);
    expect(await store.get('nope')).toBeUndefined();
  });

  it('revises under optimistic concurrency, keeps every revision, frees the model when it stops', async () => {
    const { definition } = (await store.get('bank-a'))!;
    const stopped = await store.revise(
      definition,
      { ...definition, status: 'stopped', endedAt: '2025-03-02T00:00:00.000Z' },
      'stopped',
      'carol',
      new Date('2025-03-02T00:00:00.000Z'),
    );
    expect(stopped.revision).toBe(2);
    await expect(store.revise(definition, { ...definition, status: 'concluded' }, 'concluded', 'dave', NOW)).rejects.toThrow(/changed since it was read \(revision 1\)/);
    const stored = (await store.get('bank-a'))!;
    expect(stored.definition.status).toBe('stopped');
    expect(stored.revisions.map((r) => `${r.revision} ${r.change} ${r.by}`)).toEqual(['1 created bob', '2 stopped carol']);
    expect((await store.list('stopped', 'bank')).map((d) => d.id)).toEqual(['bank-a']);
    expect(await store.list('running', 'bank')).toEqual([]);
    await store.create(experiment('bank-b', 'bank'), 'erin');
  });

  it('counts an event once per event id, per unit totals for means, a unit once for proportions', async () => {
    const results = [];
    for (const w of [
      write('churn-a', 'p1', 'e1', 'conversion'),
      write('churn-a', 'p1', 'e1', 'conversion'),
      write('churn-a', 'p1', 'e2', 'conversion'),
      write('churn-a', 'p2', 'e3', 'conversion'),
      write('churn-a', 'p1', 'r1', 'revenue', 3),
      write('churn-a', 'p1', 'r2', 'revenue', 5),
      write('churn-a', 'p2', 'r3', 'revenue', 2),
      write('churn-a', 'p2', 'r3', 'revenue', 2),
      write('churn-a', 'p9', 'c1', 'conversion', 1, 'control'),
    ]) {
      results.push((await store.countEvent(w, experiment('churn-a'))).status);
    }
    expect(results).toEqual(['accepted', 'duplicate', 'accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'duplicate', 'accepted']);
    const tallies = await store.tallies('churn-a');
    expect(tallies.treatment).toEqual({ 'e:conversion:events': 3, 'e:conversion:units': 2, 'e:revenue:events': 3, 'e:revenue:units': 2, 'e:revenue:sum': 10, 'e:revenue:sq': 68 });
    expect(tallies.control).toEqual({ 'e:conversion:events': 1, 'e:conversion:units': 1 });
  });

  it('adds a stream batch to the counters exactly once per stream shard', async () => {
    expect(await store.addStreamDelta('churn-a', 'control', 'shard-1', '100', '150', { units: 40, requests: 40 })).toBe(true);
    expect(await store.addStreamDelta('churn-a', 'control', 'shard-1', '100', '150', { units: 40, requests: 40 })).toBe(false);
    expect(await store.addStreamDelta('churn-a', 'control', 'shard-1', '120', '130', { units: 10 })).toBe(false);
    expect(await store.addStreamDelta('churn-a', 'control', 'shard-1', '151', '160', { units: 5, requests: 2.5 })).toBe(true);
    // Another shard has its own mark; sequence numbers compare as numbers, not strings.
    expect(await store.addStreamDelta('churn-a', 'control', 'shard-2', '9', '9', { units: 1, requests: 1 })).toBe(true);
    expect(await store.addStreamDelta('churn-a', 'control', 'shard-2', '10', '10', { units: 1, requests: 1 })).toBe(true);
    const { control } = await store.tallies('churn-a');
    expect(control).toMatchObject({ units: 47, requests: 44.5, 'e:conversion:units': 1 });
  });

  it('records a unit exposure once; the sighting that created it recognises it on a retry', async () => {
    const definition = experiment('bank-b', 'bank');
    const sighting = { experimentId: 'bank-b', unitId: 'u1', arm: 'treatment' as const, seenBy: 'shard-1/7' };
    expect(await store.recordSighting(sighting, definition, NOW)).toEqual({ first: true, arm: 'treatment' });
    expect(await store.recordSighting(sighting, definition, NOW)).toEqual({ first: true, arm: 'treatment' });
    expect(await store.recordSighting({ ...sighting, arm: 'control', seenBy: 'shard-2/3' }, definition, NOW)).toEqual({ first: false, arm: 'treatment' });
    const exposures = await store.exposures([
      { experimentId: 'bank-b', unitId: 'u1' },
      { experimentId: 'bank-b', unitId: 'u2' },
    ]);
    expect([...exposures]).toEqual([['bank-b\u0000u1', 'treatment']]);
  });

  it('keeps snapshots in time order', async () => {
    for (const minute of [3, 1, 2]) {
      await store.putSnapshot('churn-a', {
        at: `2025-03-01T00:0${minute}:00.000Z`,
        units: { control: minute, treatment: minute },
        srmPValue: null,
        decision: 'keep-running',
        metrics: {},
      });
    }
    expect((await store.snapshots('churn-a')).map((s) => s.units.control)).toEqual([1, 2, 3]);
    expect((await store.snapshots('churn-a', 2)).map((s) => s.units.control)).toEqual([2, 3]);
  });
});

describe('predictionFacts', () => {
  it('reads model, version, time and unit of logged predictions; unknown ids are absent', async () => {
    const base = { model: 'churn', variant: '1', modelVersionShard: 'churn#2#0', outputs: {}, latencyMs: 1, batchRows: 1, expiresAt: 2_000_000_000 };
    await aws.dynamodb.send(
      new PutItemCommand({ TableName: TABLE, Item: toAttributeMap({ ...base, predictionId: 'a', version: '2', timestamp: '2025-03-01T00:00:01.000Z', ts: 'x#a', unitId: 'u1' }) }),
    );
    await aws.dynamodb.send(
      new PutItemCommand({ TableName: TABLE, Item: toAttributeMap({ ...base, predictionId: 'b', version: '1', timestamp: '2025-03-01T00:00:02.000Z', ts: 'x#b' }) }),
    );
    const facts = await predictionFacts(aws.dynamodb, TABLE, ['a', 'b', 'c', 'a']);
    expect(Object.fromEntries(facts)).toEqual({
      a: { model: 'churn', version: '2', timestamp: '2025-03-01T00:00:01.000Z', unitId: 'u1' },
      b: { model: 'churn', version: '1', timestamp: '2025-03-01T00:00:02.000Z' },
    });
  });
});
