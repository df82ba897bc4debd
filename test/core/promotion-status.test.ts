import { describe, expect, it } from 'vitest';
import { MODEL_STATUSES, StatusTransitionError, TRANSITIONS, canTransition, transition } from '../../lambdas/core/promotion/status';

describe('transition', () => {
  it.each([
    ['candidate', 'validating'],
    ['validating', 'rejected'],
    ['validating', 'canary'],
    ['validating', 'experiment'],
    ['validating', 'shadow'],
    ['validating', 'live'],
    ['canary', 'live'],
    ['canary', 'rolled-back'],
    ['experiment', 'live'],
    ['experiment', 'rolled-back'],
    ['experiment', 'retired'],
    ['shadow', 'live'],
    ['shadow', 'canary'],
    ['shadow', 'retired'],
    ['live', 'retired'],
    ['live', 'rolled-back'],
    // An explicit promote or rollback to an earlier version.
    ['retired', 'live'],
    ['rolled-back', 'live'],
    ['retired', 'canary'],
  ])('%s -> %s is allowed', (from, to) => {
    expect(transition(from, to)).toBe(to);
  });

  it.each([
    ['candidate', 'live', 'a candidate version cannot become live (from candidate: validating)'],
    ['candidate', 'canary', 'a candidate version cannot become canary (from candidate: validating)'],
    ['validating', 'retired', 'a validating version cannot become retired (from validating: rejected, canary, experiment, shadow, live)'],
    ['rejected', 'live', 'a rejected version cannot become live (from rejected: no further status)'],
    ['rejected', 'validating', 'a rejected version cannot become validating (from rejected: no further status)'],
    ['canary', 'experiment', 'a canary version cannot become experiment (from canary: live, rolled-back)'],
    ['live', 'canary', 'a live version cannot become canary (from live: retired, rolled-back)'],
    ['live', 'live', 'a live version cannot become live (from live: retired, rolled-back)'],
    ['retired', 'rejected', 'a retired version cannot become rejected (from retired: live, canary)'],
    ['rolled-back', 'retired', 'a rolled-back version cannot become retired (from rolled-back: live, canary)'],
  ])('%s -> %s is refused', (from, to, message) => {
    expect(() => transition(from, to)).toThrow(StatusTransitionError);
    expect(() => transition(from, to)).toThrow(message);
  });

  it('names unknown statuses', () => {
    expect(() => transition('deployed', 'live')).toThrow('unknown status "deployed"');
    expect(() => transition('live', 'archived')).toThrow('unknown status "archived"');
  });

  it('the error carries both statuses', () => {
    try {
      transition('rejected', 'live');
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ name: 'StatusTransitionError', from: 'rejected', to: 'live' });
    }
  });

  it('every status can be reached from candidate, and only rejected is final', () => {
    const reached = new Set<string>(['candidate']);
    const queue = ['candidate'] as (typeof MODEL_STATUSES)[number][];
    while (queue.length > 0) {
      for (const next of TRANSITIONS[queue.shift() as (typeof MODEL_STATUSES)[number]]) {
        if (!reached.has(next)) {
          reached.add(next);
          queue.push(next);
        }
      }
    }
    expect([...reached].sort()).toEqual([...MODEL_STATUSES].sort());
    expect(MODEL_STATUSES.filter((status) => TRANSITIONS[status].length === 0)).toEqual(['rejected']);
    expect(MODEL_STATUSES.some((status) => canTransition(status, 'candidate'))).toBe(false);
  });
});
