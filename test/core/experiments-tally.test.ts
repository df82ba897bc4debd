// From events and logged predictions to per-arm tallies to the report: each step with known answers.
import { beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../lambdas/core/errors';
import { planExperiment, type ExperimentDefinition } from '../../lambdas/core/experiments/definition';
import { eventResult, eventsResponse, exposureKey, exposuresToLookUp, parseEventsRequest, planEvents, type PredictionFacts } from '../../lambdas/core/experiments/events';
import { sightingKey, streamDeltas, unitSightings, type UnitExposure } from '../../lambdas/core/experiments/exposure';
import { fixedHorizonTest } from '../../lambdas/core/experiments/frequentist';
import { analyzeExperiment, snapshotOf } from '../../lambdas/core/experiments/report';
import { addDelta, eventDelta, groundTruthDelta, metricStats, TALLY, type TallyDelta } from '../../lambdas/core/experiments/tally';
import type { StreamChange } from '../../lambdas/core/monitoring/window';
import type { PredictionRecord } from '../../lambdas/core/prediction-record';

const START = new Date('2025-03-01T00:00:00.000Z');
const requestExperiment = planExperiment(
  { id: 'exp-request', model: 'churn', control: '1', treatment: '2', metric: 'conversion', guardrails: 'revenue:mean,accuracy,logLoss', startDelaySeconds: 0 },
  START,
);
const unitExperiment = planExperiment({ id: 'exp-unit', model: 'bank', control: 'a', treatment: 'b', metric: 'conversion', assignment: 'unit', startDelaySeconds: 0 }, START);

describe('event deltas', () => {
  it('a mean metric sums per-unit totals and their squares, however many events a unit has', () => {
    const revenue = { name: 'revenue', kind: 'mean' as const };
    const tally: TallyDelta = {};
    const totals = new Map<string, number>();
    for (const [unit, value] of [
      ['a', 3],
      ['b', 2],
      ['a', 5],
    ] as const) {
      addDelta(tally, eventDelta(revenue, totals.get(unit), value));
      totals.set(unit, (totals.get(unit) ?? 0) + value);
    }
    // unit a: 3 + 5 = 8, unit b: 2 -> sum 10, sum of squares 64 + 4.
    expect(tally).toEqual({ 'e:revenue:events': 3, 'e:revenue:units': 2, 'e:revenue:sum': 10, 'e:revenue:sq': 68 });
  });

  it('a proportion counts a unit once, on its first positive event', () => {
    const conversion = { name: 'conversion', kind: 'proportion' as const };
    expect(eventDelta(conversion, undefined, 1)).toEqual({ 'e:conversion:events': 1, 'e:conversion:units': 1 });
    expect(eventDelta(conversion, 1, 1)).toEqual({ 'e:conversion:events': 1 });
    expect(eventDelta(conversion, undefined, 0)).toEqual({ 'e:conversion:events': 1 });
    expect(eventDelta(conversion, 0, 1)).toEqual({ 'e:conversion:events': 1, 'e:conversion:units': 1 });
  });

  it('per exposed unit: units without events count as zero in a mean', () => {
    const tally = { units: 4, 'e:revenue:sum': 10, 'e:revenue:sq': 68, 'e:conversion:units': 1 };
    expect(metricStats({ name: 'revenue', kind: 'mean', source: 'event', direction: 'increase' }, tally)).toEqual({ n: 4, sum: 10, sumSquares: 68 });
    expect(metricStats({ name: 'conversion', kind: 'proportion', source: 'event', direction: 'increase' }, tally)).toEqual({ n: 4, conversions: 1 });
  });
});

describe('ground-truth deltas', () => {
  const errors = [
    { name: 'absoluteError', source: 'ground-truth' as const },
    { name: 'squaredError', source: 'ground-truth' as const },
  ];

  it('tally the errors of a labelled regression prediction', () => {
    expect(groundTruthDelta(errors, { value: 10 }, 13)).toEqual({
      'g:absoluteError:n': 1,
      'g:absoluteError:sum': 3,
      'g:absoluteError:sq': 9,
      'g:squaredError:n': 1,
      'g:squaredError:sum': 9,
      'g:squaredError:sq': 81,
    });
  });

  // Counters are DynamoDB numbers: an error of 1e100 squared (1e200) would fail the stream batch's write
  // every time it is retried, and one of 1e-70 squared (1e-140) is below the smallest number it stores.
  it('leave out an error too large for the counters and count one too small as 0', () => {
    expect(groundTruthDelta(errors, { value: 0 }, 1e100)).toEqual({});
    expect(groundTruthDelta(errors, { value: 0 }, 1e16)).toEqual({ 'g:absoluteError:n': 1, 'g:absoluteError:sum': 1e16, 'g:absoluteError:sq': 1e32 });
    expect(groundTruthDelta(errors, { value: 0 }, 1e-70)).toEqual({
      'g:absoluteError:n': 1,
      'g:absoluteError:sum': 0,
      'g:absoluteError:sq': 0,
      'g:squaredError:n': 1,
      'g:squaredError:sum': 0,
      'g:squaredError:sq': 0,
    });
  });
});

describe('POST /v1/events body', () => {
  let n = 0;
  const ids = () => `generated-${++n}`;

  it('takes one event, an array, or {"events": [...]}; value defaults to 1', () => {
    expect(parseEventsRequest('{"predictionId":"p1","name":"conversion"}', ids)).toEqual([{ predictionId: 'p1', name: 'conversion', value: 1, eventId: 'generated-1' }]);
    expect(parseEventsRequest('[{"unitId":"u1","name":"revenue","value":12.5,"eventId":"e1"}]', ids)).toEqual([{ unitId: 'u1', name: 'revenue', value: 12.5, eventId: 'e1' }]);
    expect(parseEventsRequest('{"events":[{"predictionId":"p","name":"click"},{"predictionId":"q","name":"click"}]}', ids)).toHaveLength(2);
    expect(
      parseEventsRequest('[{"unitId":"u","name":"revenue","value":1e30},{"unitId":"u","name":"revenue","value":-1e-30},{"unitId":"u","name":"revenue","value":0}]', ids).map(
        (e) => e.value,
      ),
    ).toEqual([1e30, -1e-30, 0]);
  });

  it.each([
    ['', 'body: expected an event object or an array of events'],
    ['nope', 'body: not JSON'],
    ['42', 'body: expected an event object or an array of events'],
    ['[]', 'body: expected at least one event'],
    ['{"name":"conversion"}', 'predictionId: one of predictionId or unitId is required'],
    ['{"predictionId":"p","unitId":"u","name":"conversion"}', 'unitId: give predictionId or unitId, not both'],
    ['[{"predictionId":"p","name":"conversion"},{"predictionId":"p","name":"conversion","value":"1"}]', 'events[1].value: must be a finite number, got "1"'],
    // The unit's total and its square are stored as DynamoDB numbers: a value must keep them in its range.
    [
      '{"predictionId":"p","name":"revenue","value":1e308}',
      'value: must be 0 or have a magnitude between 1e-30 and 1e+30 (sums of values and of their squares are stored), got 1e+308',
    ],
    ['{"unitId":"u","name":"revenue","value":-5e-324}', 'value: must be 0 or have a magnitude between 1e-30 and 1e+30'],
    ['[{"unitId":"u","name":"revenue","value":1},{"unitId":"u","name":"revenue","value":1e31}]', 'events[1].value: must be 0 or have a magnitude between'],
    ['{"predictionId":"p","name":"has space"}', 'name: must be a letter then up to 63 letters'],
    // Described without JSON.stringify, which recursed and threw (a 500) on 10,000 nested arrays.
    [`{"predictionId":"p","name":${'['.repeat(10_000)}${']'.repeat(10_000)}}`, "name: must be a letter then up to 63 letters, digits, '_' or '-', got an array of 1"],
    [`{"predictionId":"p","name":"x","value":${'['.repeat(10_000)}${']'.repeat(10_000)}}`, 'value: must be a finite number, got an array of 1'],
    ['{"predictionId":"p","name":"x","colour":"red"}', 'colour: is not a field of an event'],
    ['{"predictionId":"p","name":"x","eventId":""}', 'eventId: must be a non-empty string'],
  ])('400 naming the field for %j', (body, issue) => {
    try {
      parseEventsRequest(body, ids);
      throw new Error('expected a ValidationError');
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((i) => `${i.field}: ${i.reason}`).join('\n')).toContain(issue);
    }
  });

  it('refuses more than 1000 events in one request', () => {
    const body = JSON.stringify(Array.from({ length: 1001 }, () => ({ predictionId: 'p', name: 'x' })));
    expect(() => parseEventsRequest(body, ids)).toThrow(/at most 1000 events/);
  });
});

describe('attributing events', () => {
  const at = (minutes: number) => new Date(START.getTime() + minutes * 60_000).toISOString();
  const predictions = new Map<string, PredictionFacts>([
    ['served-by-1', { model: 'churn', version: '1', timestamp: at(5) }],
    ['served-by-2', { model: 'churn', version: '2', timestamp: at(6) }],
    ['before-start', { model: 'churn', version: '2', timestamp: at(-1) }],
    ['other-version', { model: 'churn', version: '3', timestamp: at(7) }],
    ['bank-unit', { model: 'bank', version: 'b', timestamp: at(8), unitId: 'u7' }],
    ['bank-unexposed', { model: 'bank', version: 'a', timestamp: at(8), unitId: 'u8' }],
  ]);
  const experiments = [requestExperiment, unitExperiment];
  const events = parseEventsRequest(
    JSON.stringify([
      { predictionId: 'served-by-2', name: 'conversion', eventId: 'e0' },
      { predictionId: 'unknown', name: 'conversion', eventId: 'e1' },
      { predictionId: 'before-start', name: 'conversion', eventId: 'e2' },
      { predictionId: 'other-version', name: 'conversion', eventId: 'e3' },
      { predictionId: 'served-by-1', name: 'pageview', eventId: 'e4' },
      { predictionId: 'served-by-1', name: 'conversion', value: 3, eventId: 'e5' },
      { predictionId: 'served-by-1', name: 'revenue', value: 19.9, eventId: 'e6' },
      { unitId: 'u7', name: 'conversion', eventId: 'e7' },
      { unitId: 'nobody', name: 'conversion', eventId: 'e8' },
      { predictionId: 'bank-unexposed', name: 'conversion', eventId: 'e9' },
      { predictionId: 'bank-unit', name: 'conversion', eventId: 'e10' },
    ]),
    () => 'unused',
  );

  it('asks for the unit assignments it needs', () => {
    expect(exposuresToLookUp(events, { predictions, experiments })).toEqual([
      { experimentId: 'exp-unit', unitId: 'u7' },
      { experimentId: 'exp-unit', unitId: 'nobody' },
      { experimentId: 'exp-unit', unitId: 'u8' },
    ]);
  });

  it('decides every event, in order, with a reason', () => {
    // u7 was first exposed to the control, although this prediction was served by b: intention to treat.
    const exposures = new Map([[exposureKey('exp-unit', 'u7'), 'control' as const]]);
    const { results, writes, early } = planEvents(events, { predictions, experiments, exposures });
    expect(results.map((r) => r?.status ?? 'write')).toEqual([
      'write',
      'not_found',
      'not_in_experiment',
      'not_in_experiment',
      'ignored',
      'invalid',
      'write',
      'write',
      'not_found',
      'retry',
      'write',
    ]);
    // Served by the treatment a minute before the experiment started counting: too early, and said so.
    expect(results[2]?.reason).toBe(
      `the prediction was served at ${at(-1)}, before experiment exp-request started counting at ${requestExperiment.startedAt}: events about it are not counted`,
    );
    expect(early).toEqual([{ index: 2, experimentId: 'exp-request', arm: 'treatment', eventId: 'e2' }]);
    expect(results[3]?.reason).toBe('the prediction was not served by an arm of a running experiment after its start');
    expect(results[4]?.reason).toBe('no running experiment measures "pageview" (exp-request: conversion, revenue)');
    expect(results[5]?.reason).toBe('conversion is a proportion metric: value must be 1 (it happened) or 0, got 3');
    expect(writes.map((w) => `${w.index} ${w.experimentId} ${w.arm} ${w.unitKey} ${w.metric.name} ${w.value}`)).toEqual([
      '0 exp-request treatment served-by-2 conversion 1',
      '6 exp-request control served-by-1 revenue 19.9',
      '7 exp-unit control u7 conversion 1',
      '10 exp-unit control u7 conversion 1',
    ]);
  });

  it('counts as early only events the experiment measures, about predictions one of its arms served', () => {
    const before = parseEventsRequest(
      JSON.stringify([
        { predictionId: 'before-start', name: 'pageview', eventId: 'p1' },
        { predictionId: 'before-start', name: 'revenue', value: 5, eventId: 'r1' },
      ]),
      () => 'unused',
    );
    const { results, early } = planEvents(before, { predictions, experiments, exposures: new Map() });
    expect(results.map((r) => r?.status)).toEqual(['not_in_experiment', 'not_in_experiment']);
    expect(early).toEqual([{ index: 1, experimentId: 'exp-request', arm: 'treatment', eventId: 'r1' }]);
  });

  it('answers accepted / duplicate / retry from the outcome of the writes', () => {
    const write = { index: 0, experimentId: 'x', arm: 'treatment' as const, unitKey: 'p', eventId: 'e', value: 1, metric: requestExperiment.primaryMetric };
    expect(eventResult(0, 'e', [{ write, status: 'accepted' }])).toEqual({ index: 0, eventId: 'e', status: 'accepted', counted: [{ experiment: 'x', arm: 'treatment' }] });
    expect(eventResult(0, 'e', [{ write, status: 'duplicate' }]).status).toBe('duplicate');
    expect(eventResult(0, 'e', [{ write, status: 'retry', reason: 'throttled' }])).toMatchObject({ status: 'retry', reason: 'throttled' });
    expect(eventsResponse([eventResult(0, 'e', [{ write, status: 'accepted' }])]).summary).toMatchObject({ accepted: 1, duplicate: 0, retry: 0 });
  });
});

describe('exposures and ground truth from the prediction log stream', () => {
  let sequence = 100;
  beforeEach(() => {
    sequence = 100;
  });
  const record = (overrides: Partial<PredictionRecord> & { actual?: string | number }): PredictionRecord & { actual?: string | number } => ({
    predictionId: `p${sequence}`,
    model: 'churn',
    version: '1',
    variant: '1',
    timestamp: '2025-03-01T01:00:00.000Z',
    modelVersionShard: 'x',
    ts: 'x',
    outputs: { label: 'Yes', probabilities: { No: 0.2, Yes: 0.8 } },
    latencyMs: 1,
    batchRows: 1,
    expiresAt: 0,
    ...overrides,
  });
  const change = (eventName: StreamChange['eventName'], image: ReturnType<typeof record>): StreamChange => ({
    eventName,
    shardId: 'shard-1',
    sequenceNumber: String(sequence++),
    image,
  });

  it('request assignment: each prediction is a unit, each request counts once, labels feed accuracy and log loss', () => {
    const changes = [
      change('INSERT', record({ version: '1', batchRows: 1 })),
      change('INSERT', record({ version: '2', batchRows: 2 })),
      change('INSERT', record({ version: '2', batchRows: 2 })),
      change('INSERT', record({ version: '2', timestamp: '2025-02-28T23:59:59.000Z' })),
      change('INSERT', record({ version: '3' })),
      change('INSERT', record({ model: 'other', version: '1' })),
      change('MODIFY', record({ version: '1', actual: 'Yes' })),
      change('MODIFY', record({ version: '2', actual: 'No' })),
      change('MODIFY', record({ version: '2' })),
    ];
    const deltas = streamDeltas(changes, [requestExperiment], new Map());
    expect(Object.fromEntries([...deltas.values()].map((d) => [d.arm, d.delta]))).toEqual({
      control: {
        units: 1,
        requests: 1,
        'g:accuracy:n': 1,
        'g:accuracy:sum': 1,
        'g:accuracy:sq': 1,
        'g:logLoss:n': 1,
        'g:logLoss:sum': -Math.log(0.8),
        'g:logLoss:sq': Math.log(0.8) ** 2,
      },
      treatment: {
        units: 2,
        requests: 1,
        'g:accuracy:n': 1,
        'g:accuracy:sum': 0,
        'g:accuracy:sq': 0,
        'g:logLoss:n': 1,
        'g:logLoss:sum': -Math.log(0.2),
        'g:logLoss:sq': Math.log(0.2) ** 2,
      },
    });
  });

  it('unit assignment: a unit counts once, in the arm it was first exposed to; the other arm serving it is a crossover', () => {
    const changes = [
      change('INSERT', record({ model: 'bank', version: 'b', unitId: 'u1' })),
      change('INSERT', record({ model: 'bank', version: 'b', unitId: 'u1' })),
      change('INSERT', record({ model: 'bank', version: 'a', unitId: 'u2' })),
      change('INSERT', record({ model: 'bank', version: 'a', unitId: 'u1' })),
      change('INSERT', record({ model: 'bank', version: 'a' })),
    ];
    expect(unitSightings(changes, [unitExperiment]).map((s) => `${s.unitId} ${s.arm} ${s.seenBy}`)).toEqual(['u1 treatment shard-1/100', 'u2 control shard-1/102']);
    // As the store answers: both sightings created their unit's exposure.
    const exposures = new Map<string, UnitExposure>([
      [sightingKey('exp-unit', 'u1'), { first: true, arm: 'treatment' }],
      [sightingKey('exp-unit', 'u2'), { first: true, arm: 'control' }],
    ]);
    const deltas = Object.fromEntries([...streamDeltas(changes, [unitExperiment], exposures).values()].map((d) => [d.arm, d.delta]));
    expect(deltas).toEqual({ treatment: { units: 1, requests: 3, crossovers: 1 }, control: { units: 1, requests: 1 } });
    // A retried batch whose units were recorded by another batch counts requests only.
    const seenBefore = new Map([...exposures].map(([k, v]) => [k, { ...v, first: false }]));
    expect([...streamDeltas(changes, [unitExperiment], seenBefore).values()].map((d) => d.delta.units ?? 0)).toEqual([0, 0]);
    expect(streamDeltas(changes.slice(4), [unitExperiment], new Map()).size).toBe(0);
  });
});

describe('the report', () => {
  const tally = (units: number, conversions: number, extra: Record<string, number> = {}) => ({
    [TALLY.units]: units,
    [TALLY.requests]: units,
    [TALLY.eventUnits('conversion')]: conversions,
    ...extra,
  });
  const later = (days: number) => new Date(START.getTime() + days * 86_400_000);
  const definition = (overrides: Partial<ExperimentDefinition> = {}): ExperimentDefinition => ({
    ...planExperiment({ id: 'exp', model: 'churn', control: '1', treatment: '2', metric: 'conversion', baseline: 0.2, mde: 0.25, startDelaySeconds: 0 }, START),
    ...overrides,
  });

  it('reads the primary with the engine on the tallies, as the offline calculator would', () => {
    const report = analyzeExperiment(definition(), { control: tally(1200, 240), treatment: tally(1210, 330) }, later(3));
    const expected = fixedHorizonTest({ n: 1200, conversions: 240 }, { n: 1210, conversions: 330 });
    expect(report.metrics[0]).toMatchObject({
      name: 'conversion',
      status: 'analysed',
      lift: expected.lift,
      ci: expected.ci,
      pValue: expected.pValue,
      adjustedPValue: expected.pValue,
      verdict: 'better',
    });
    expect(report.requiredUnitsPerArm).toBe(1094);
    expect(report.plannedFrom).toBe('baseline');
    expect(report.srm).toMatchObject({ of: 'requests', observed: [1200, 1210], mismatch: false });
    expect(report.decision).toBe('ship-treatment');
    expect(report.reasons[0]).toMatchObject({ code: 'significant-win', metric: 'conversion' });
    expect(report.reasons[0]?.text).toMatch(/^Primary metric "conversion" improved significantly: lift 0\.36/);
    expect(report.daysRunning).toBe(3);
    expect(snapshotOf(report)).toMatchObject({
      units: { control: 1200, treatment: 1210 },
      decision: 'ship-treatment',
      metrics: { conversion: { lift: expected.lift, ci: expected.ci } },
    });
  });

  it('keeps running before the planned sample with the fixed-horizon engine, not with the sequential one', () => {
    const small = { control: tally(400, 80), treatment: tally(400, 130) };
    expect(analyzeExperiment(definition(), small, later(1))).toMatchObject({
      decision: 'keep-running',
      reasons: [{ code: 'not-enough-sample', unitsPerArm: 400, requiredUnitsPerArm: 1094 }],
    });
    expect(analyzeExperiment(definition({ engine: 'sequential', sequentialTuning: 1000 }), small, later(1)).decision).toBe('ship-treatment');
  });

  it('marks a sample ratio mismatch invalid, whatever the lift', () => {
    const report = analyzeExperiment(definition(), { control: tally(1000, 200), treatment: tally(1300, 400) }, later(3));
    expect(report.decision).toBe('invalid');
    expect(report.srm?.mismatch).toBe(true);
    expect(report.reasons[0]?.code).toBe('sample-ratio-mismatch');
  });

  it('waits without traffic, plans from the observed control when there was no baseline', () => {
    const empty = analyzeExperiment(definition(), { control: {}, treatment: {} }, later(0));
    expect(empty).toMatchObject({ srm: null, decision: 'keep-running', metrics: [{ status: 'waiting', reason: 'needs at least 2 units per arm (control 0, treatment 0)' }] });
    const unplanned = definition({ requiredSampleSizePerArm: null, baseline: undefined });
    expect(analyzeExperiment(unplanned, { control: tally(100, 20), treatment: tally(100, 22) }, later(1))).toMatchObject({
      plannedFrom: 'observed-control',
      requiredUnitsPerArm: 1094,
    });
  });

  it('keeps control when a guardrail gets significantly worse, and at the maximum duration without a difference', () => {
    const guarded = { ...definition(), guardrailMetrics: [{ name: 'errors', kind: 'proportion' as const, source: 'event' as const, direction: 'decrease' as const }] };
    const harm = analyzeExperiment(guarded, { control: tally(2000, 400, { 'e:errors:units': 20 }), treatment: tally(2000, 480, { 'e:errors:units': 80 }) }, later(3));
    expect(harm).toMatchObject({ decision: 'keep-control', reasons: [{ code: 'guardrail-breached', metric: 'errors' }] });
    const flat = analyzeExperiment(definition(), { control: tally(600, 120), treatment: tally(600, 121) }, later(15));
    expect(flat).toMatchObject({ decision: 'keep-control', reasons: [{ code: 'no-significant-difference' }, { code: 'max-duration-reached' }] });
  });

  it('analyses the unit arm split as units, and warns about crossovers', () => {
    const unit = { ...definition(), assignment: 'unit' as const };
    const report = analyzeExperiment(unit, { control: tally(500, 100, { crossovers: 2 }), treatment: tally(520, 130) }, later(1));
    expect(report.srm?.of).toBe('units');
    expect(report.warnings[0]).toMatch(/^2 prediction\(s\) of exposed units were served by the other arm/);
  });
});
