import { describe, expect, it } from 'vitest';
import type { RolloutSpec } from '../../lambdas/core/manifest';
import { planRollout, rolloutSpec, RolloutPlanError, type RolloutPlan } from '../../lambdas/core/promotion/rollout-plan';

const live = (version: string) => ({ version });
const split = (champion: string, candidate: string, weight: number) => ({ version: champion, additionalVersion: candidate, additionalWeight: weight });

describe('planRollout', () => {
  it.each<{ spec: RolloutSpec; plan: Omit<RolloutPlan, 'candidate' | 'champion' | 'rollback'> }>([
    {
      spec: { strategy: 'canary' },
      plan: {
        strategy: 'canary',
        steps: [
          { candidateWeight: 0.1, routing: split('3', '4', 0.1), holdMinutes: 30, watchAlarms: true },
          { candidateWeight: 1, routing: live('4'), holdMinutes: 0, watchAlarms: false },
        ],
        final: 'live',
      },
    },
    {
      spec: { strategy: 'canary', canary: { weight: 0.25, bakeMinutes: 5 } },
      plan: {
        strategy: 'canary',
        steps: [
          { candidateWeight: 0.25, routing: split('3', '4', 0.25), holdMinutes: 5, watchAlarms: true },
          { candidateWeight: 1, routing: live('4'), holdMinutes: 0, watchAlarms: false },
        ],
        final: 'live',
      },
    },
    {
      spec: { strategy: 'linear' },
      plan: {
        strategy: 'linear',
        steps: [
          { candidateWeight: 0.25, routing: split('3', '4', 0.25), holdMinutes: 10, watchAlarms: true },
          { candidateWeight: 0.5, routing: split('3', '4', 0.5), holdMinutes: 10, watchAlarms: true },
          { candidateWeight: 0.75, routing: split('3', '4', 0.75), holdMinutes: 10, watchAlarms: true },
          { candidateWeight: 1, routing: live('4'), holdMinutes: 0, watchAlarms: false },
        ],
        final: 'live',
      },
    },
    {
      spec: { strategy: 'linear', linear: { steps: 1, intervalMinutes: 3 } },
      plan: { strategy: 'linear', steps: [{ candidateWeight: 1, routing: live('4'), holdMinutes: 0, watchAlarms: false }], final: 'live' },
    },
    {
      spec: { strategy: 'ab-test' },
      plan: { strategy: 'ab-test', steps: [{ candidateWeight: 0.5, routing: split('3', '4', 0.5), holdMinutes: 0, watchAlarms: true }], final: 'experiment' },
    },
    {
      spec: { strategy: 'ab-test', abTest: { weight: 0.2 } },
      plan: { strategy: 'ab-test', steps: [{ candidateWeight: 0.2, routing: split('3', '4', 0.2), holdMinutes: 0, watchAlarms: true }], final: 'experiment' },
    },
    {
      spec: { strategy: 'shadow', shadow: { sampleRate: 0.3 } },
      plan: {
        strategy: 'shadow',
        steps: [{ candidateWeight: 0, routing: live('3'), holdMinutes: 0, watchAlarms: true }],
        final: 'shadow',
        mirrorSampleRate: 0.3,
      },
    },
    {
      spec: { strategy: 'all-at-once' },
      plan: { strategy: 'all-at-once', steps: [{ candidateWeight: 1, routing: live('4'), holdMinutes: 0, watchAlarms: false }], final: 'live' },
    },
  ])('$spec', ({ spec, plan }) => {
    expect(planRollout(spec, '4', '3')).toEqual({ ...plan, candidate: '4', champion: '3', rollback: live('3') });
  });

  it('defaults a shadow to mirror every request', () => {
    expect(planRollout({ strategy: 'shadow' }, '4', '3').mirrorSampleRate).toBe(1);
  });

  it('keeps the additional version weight in [0, 1): all traffic is a switch of the primary version', () => {
    for (const strategy of ['canary', 'linear', 'ab-test', 'shadow', 'all-at-once'] as const) {
      for (const step of planRollout({ strategy, linear: { steps: 7 } }, 'b', 'a').steps) {
        const { routing, candidateWeight } = step;
        if (routing.additionalWeight !== undefined) {
          expect(routing.additionalWeight).toBeGreaterThan(0);
          expect(routing.additionalWeight).toBeLessThan(1);
          expect(routing).toEqual({ version: 'a', additionalVersion: 'b', additionalWeight: candidateWeight });
        } else {
          expect(routing.version).toBe(candidateWeight === 1 ? 'b' : 'a');
        }
      }
    }
  });

  it('goes all at once for the first version of a model, with nothing to roll back to', () => {
    for (const strategy of ['canary', 'linear', 'ab-test', 'shadow', 'all-at-once'] as const) {
      expect(planRollout({ strategy }, '1')).toEqual({
        strategy: 'all-at-once',
        candidate: '1',
        steps: [{ candidateWeight: 1, routing: live('1'), holdMinutes: 0, watchAlarms: false }],
        final: 'live',
      });
    }
  });

  it.each([
    { spec: { strategy: 'canary', canary: { weight: 1 } }, message: 'rollout.canary.weight must be a weight in (0, 1), got: 1' },
    { spec: { strategy: 'canary', canary: { weight: 0 } }, message: 'rollout.canary.weight must be a weight in (0, 1), got: 0' },
    { spec: { strategy: 'canary', canary: { bakeMinutes: -1 } }, message: 'rollout.canary.bakeMinutes must be a number of minutes >= 0, got: -1' },
    { spec: { strategy: 'linear', linear: { steps: 2.5 } }, message: 'rollout.linear.steps must be an integer from 1 to 100, got: 2.5' },
    { spec: { strategy: 'ab-test', abTest: { weight: 1.5 } }, message: 'rollout.abTest.weight must be a weight in (0, 1), got: 1.5' },
    { spec: { strategy: 'shadow', shadow: { sampleRate: 0 } }, message: 'rollout.shadow.sampleRate must be a share in (0, 1], got: 0' },
  ] as const)('rejects $spec', ({ spec, message }) => {
    expect(() => planRollout(spec as RolloutSpec, '2', '1')).toThrow(RolloutPlanError);
    expect(() => planRollout(spec as RolloutSpec, '2', '1')).toThrow(message);
  });

  it('refuses to roll a version out over itself', () => {
    expect(() => planRollout({ strategy: 'canary' }, '2', '2')).toThrow('candidate and champion are the same version: 2');
  });
});

describe('rolloutSpec', () => {
  it('is canary when the manifest has no rollout', () => {
    expect(rolloutSpec({})).toEqual({ strategy: 'canary' });
  });

  it('takes the upload strategy over the manifest, keeping the manifest settings', () => {
    const rollout: RolloutSpec = { strategy: 'canary', abTest: { weight: 0.3 } };
    expect(rolloutSpec({ rollout })).toBe(rollout);
    expect(rolloutSpec({ rollout }, 'ab-test')).toEqual({ strategy: 'ab-test', abTest: { weight: 0.3 } });
  });
});
