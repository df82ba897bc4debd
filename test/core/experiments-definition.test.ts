import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lambdas/core/errors';
import { assignArm, fnv1a32, unitBucket, unitIdOf, wasRouted } from '../../lambdas/core/experiments/assignment';
import { experimentId, metricsOf, planExperiment, type ExperimentRequest } from '../../lambdas/core/experiments/definition';
import { requiredSampleSizePerArm } from '../../lambdas/core/experiments/sample-size';
import { checkSampleRatio } from '../../lambdas/core/experiments/srm';

const NOW = new Date('2025-03-01T12:00:00.000Z');
const valid: ExperimentRequest = { id: 'churn-1-vs-2-abc', model: 'churn', control: '1', treatment: '2', metric: 'conversion' };

function issuesOf(request: ExperimentRequest): string[] {
  try {
    planExperiment(request, NOW);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues.map((i) => `${i.field}: ${i.reason}`);
  }
  throw new Error('expected a ValidationError');
}

describe('planExperiment', () => {
  it('fills in the documented defaults', () => {
    const definition = planExperiment(valid, NOW);
    expect(definition).toMatchObject({
      id: 'churn-1-vs-2-abc',
      model: 'churn',
      control: { version: '1' },
      treatment: { version: '2' },
      split: 0.5,
      assignment: 'request',
      primaryMetric: { name: 'conversion', kind: 'proportion', source: 'event', direction: 'increase' },
      secondaryMetrics: [],
      guardrailMetrics: [],
      minimumDetectableEffect: 0.05,
      alpha: 0.05,
      power: 0.8,
      requiredSampleSizePerArm: null,
      maxDurationDays: 14,
      engine: 'frequentist',
      correction: 'holm',
      status: 'running',
      createdAt: NOW.toISOString(),
      startedAt: '2025-03-01T12:00:15.000Z',
      revision: 1,
    });
  });

  it('plans the sample size with the existing sample-size code (10% -> 12% needs 3841 per arm)', () => {
    const definition = planExperiment({ ...valid, baseline: 0.1, mde: 0.2 }, NOW);
    expect(definition.requiredSampleSizePerArm).toBe(3841);
    expect(definition.requiredSampleSizePerArm).toBe(requiredSampleSizePerArm({ kind: 'proportion', rate: 0.1 }, { relative: 0.2 }));
    const mean = planExperiment({ ...valid, metric: 'revenue:mean', baseline: 'mean=10,standardDeviation=20', mde: 0.1 }, NOW);
    expect(mean.requiredSampleSizePerArm).toBe(requiredSampleSizePerArm({ kind: 'mean', mean: 10, standardDeviation: 20 }, { relative: 0.1 }));
  });

  it('reads metric specs: kind and direction, ground-truth metrics with their own kind and direction', () => {
    const definition = planExperiment({ ...valid, metric: 'revenue:mean', guardrails: 'logLoss,accuracy,latency:mean:decrease', secondary: ['click'] }, NOW);
    expect(metricsOf(definition).map(({ metric, role }) => `${role} ${metric.name} ${metric.kind} ${metric.source} ${metric.direction}`)).toEqual([
      'primary revenue mean event increase',
      'secondary click proportion event increase',
      'guardrail logLoss mean ground-truth decrease',
      'guardrail accuracy proportion ground-truth increase',
      'guardrail latency mean event decrease',
    ]);
  });

  it.each([
    [{ ...valid, model: 'Churn' }, 'model: must be 1-40 lower-case letters, digits and single dashes, got "Churn"'],
    [{ ...valid, treatment: '1' }, 'treatment: must differ from control (both are 1)'],
    [{ ...valid, split: 1.5 }, 'split: must be between 0 and 1 (the treatment share), got 1.5'],
    [{ ...valid, split: 'half' }, 'split: must be a number, got "half"'],
    [{ ...valid, assignment: 'sticky' }, 'assignment: must be one of request, unit, got "sticky"'],
    [{ ...valid, mde: 0 }, 'mde: must be a relative effect greater than 0 (0.05 = 5%) and at most 10, got 0'],
    [{ ...valid, alpha: 1 }, 'alpha: must be between 0 and 1, got 1'],
    [{ ...valid, power: 0 }, 'power: must be between 0 and 1, got 0'],
    [{ ...valid, maxDays: 400 }, 'maxDays: must be greater than 0 and at most 365, got 400'],
    [{ ...valid, engine: 'magic' }, 'engine: must be one of frequentist, sequential, bayesian, got "magic"'],
    [{ ...valid, sequentialTuning: 1000 }, 'sequentialTuning: applies to the sequential engine only'],
    [{ ...valid, metric: undefined }, 'metric: is required: the primary metric, e.g. "conversion"'],
    [{ ...valid, metric: 'conversion:median' }, 'metric: "median" in "conversion:median" is neither a kind (proportion, mean) nor a direction (increase, decrease)'],
    [{ ...valid, metric: 'accuracy:mean' }, 'metric.kind: accuracy is a ground-truth metric of kind proportion, got mean'],
    [{ ...valid, guardrails: 'conversion' }, 'metric: each metric may play one role only, got conversion twice'],
    [{ ...valid, baseline: 1.2 }, 'baseline: the primary metric conversion is a proportion: the baseline is its rate, between 0 and 1, got 1.2'],
    [{ ...valid, startDelaySeconds: -1 }, 'startDelaySeconds: must be between 0 and 3600 seconds, got -1'],
    [{ ...valid, id: 'Bad Id' }, 'id: must be 3-80 lower-case letters, digits and dashes, starting with a letter or digit, got "Bad Id"'],
  ])('names the bad field: %j', (request, issue) => {
    expect(issuesOf(request)).toContain(issue);
  });

  it('reports every bad field at once', () => {
    expect(issuesOf({ model: 'x', control: '1', treatment: '1', split: 2, alpha: -1 })).toEqual([
      'treatment: must differ from control (both are 1)',
      'id: is required (or let the caller generate one)',
      'split: must be between 0 and 1 (the treatment share), got 2',
      'alpha: must be between 0 and 1, got -1',
      'metric: is required: the primary metric, e.g. "conversion"',
    ]);
  });

  it('makes readable ids', () => {
    expect(experimentId('churn', '1', '2', 'k3x9')).toBe('churn-1-vs-2-k3x9');
    expect(experimentId('churn', 'v1.2_rc', 'V2', 'a1')).toBe('churn-v1-2-rc-vs-v2-a1');
  });
});

describe('sticky assignment', () => {
  it('hashes with FNV-1a 32 (published test vectors)', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('is deterministic per (experiment, unit) and independent across experiments', () => {
    expect(unitBucket('exp-1', 'user-42')).toBe(unitBucket('exp-1', 'user-42'));
    const units = Array.from({ length: 2000 }, (_, i) => `user-${i}`);
    const a = units.map((u) => assignArm('exp-a', u, 0.5));
    const b = units.map((u) => assignArm('exp-b', u, 0.5));
    const agree = a.filter((arm, i) => arm === b[i]).length / units.length;
    expect(agree).toBeGreaterThan(0.45);
    expect(agree).toBeLessThan(0.55);
  });

  it.each([0.5, 0.2, 0.9])('gives the treatment its share of sequential ids (split %s), with no sample ratio mismatch', (split) => {
    const units = Array.from({ length: 20_000 }, (_, i) => `customer-${i}`);
    const treated = units.filter((u) => assignArm('churn-1-vs-2-x', u, split) === 'treatment').length;
    const check = checkSampleRatio([units.length - treated, treated], [1 - split, split]);
    expect(check.mismatch).toBe(false);
    expect(Math.abs(treated / units.length - split)).toBeLessThan(0.015);
  });

  it('reads the unit id from the header (any case) or the body field, and ignores it elsewhere', () => {
    expect(unitIdOf({ 'X-Modelgate-Unit-Id': 'u1' }, '{"instances":[]}')).toBe('u1');
    expect(unitIdOf({}, '{"instances":[],"unitId":"u2"}')).toBe('u2');
    expect(unitIdOf({}, '{"instances":[{"unitId":"nested"}]}')).toBeUndefined();
    expect(unitIdOf({}, '{"instances":[]}')).toBeUndefined();
    expect(unitIdOf(null, 'not json "unitId"')).toBeUndefined();
    expect(unitIdOf({ 'x-modelgate-unit-id': 'x'.repeat(300) }, null)).toBeUndefined();
  });

  it('trusts the routed marker at the top of a directly invoked event, never in headers a client sends', () => {
    expect(wasRouted({ httpMethod: 'POST', headers: {}, modelgateRoutedFrom: '1' })).toBe(true);
    expect(wasRouted({ httpMethod: 'POST', headers: { 'x-modelgate-routed-from': '1', modelgateRoutedFrom: '1' } })).toBe(false);
    expect(wasRouted({ httpMethod: 'POST', headers: {}, body: '{"modelgateRoutedFrom":"1"}' })).toBe(false);
    expect(wasRouted(Object.create({ modelgateRoutedFrom: '1' }) as object)).toBe(false);
  });
});
