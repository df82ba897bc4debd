import { describe, expect, it } from 'vitest';
import { breaches, evaluateAlarm, evaluationRangeLength, type AlarmRule, type AlarmState, type PeriodValue, type TreatMissingData } from '../../local/alarm-evaluation';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 1, 12, 0);

/** "0 - X - X", oldest first: 0 within the threshold (1), X breaching, - missing. */
function range(pattern: string): PeriodValue[] {
  return pattern.split(/\s+/).map((cell, i) => ({ timestamp: T0 + i * MINUTE, value: cell === '-' ? undefined : cell === 'X' ? 5 : 0 }));
}

function rule(treatMissingData: TreatMissingData, datapointsToAlarm = 3, evaluationPeriods = 3): AlarmRule {
  return { comparisonOperator: 'GreaterThanOrEqualToThreshold', threshold: 1, evaluationPeriods, datapointsToAlarm, treatMissingData };
}

describe('evaluateAlarm: the examples of the CloudWatch documentation (3 of 3, evaluation range of 5)', () => {
  // Columns: missing, ignore, breaching, notBreaching. "keep" = the current state is retained.
  const table: [string, AlarmState | 'keep', AlarmState | 'keep', AlarmState, AlarmState][] = [
    ['0 - X - X', 'OK', 'OK', 'OK', 'OK'],
    ['- - - - 0', 'OK', 'OK', 'OK', 'OK'],
    ['- - - - -', 'INSUFFICIENT_DATA', 'keep', 'ALARM', 'OK'],
    ['0 X X - X', 'ALARM', 'ALARM', 'ALARM', 'ALARM'],
    ['- - X - -', 'ALARM', 'keep', 'ALARM', 'OK'],
  ];
  const modes: TreatMissingData[] = ['missing', 'ignore', 'breaching', 'notBreaching'];
  for (const [pattern, ...expected] of table) {
    modes.forEach((mode, i) => {
      for (const current of ['OK', 'ALARM', 'INSUFFICIENT_DATA'] as const) {
        const want = expected[i] === 'keep' ? current : (expected[i] as AlarmState);
        it(`${pattern} with ${mode}, currently ${current} -> ${want}`, () => {
          expect(evaluateAlarm(rule(mode), range(pattern), current).state).toBe(want);
        });
      }
    });
  }
});

describe('evaluateAlarm: M out of N', () => {
  const cases: [string, number, number, TreatMissingData, AlarmState, AlarmState][] = [
    // pattern, M, N, treatMissingData, current, expected
    ['- - 0 X X', 2, 3, 'missing', 'OK', 'ALARM'],
    ['- - X 0 0', 2, 3, 'missing', 'ALARM', 'OK'],
    ['X 0 X 0 0', 2, 3, 'missing', 'ALARM', 'OK'], // only the 3 most recent count
    ['0 0 X 0 X', 2, 3, 'notBreaching', 'OK', 'ALARM'], // need not be consecutive
    ['X - 0 - -', 2, 3, 'breaching', 'OK', 'ALARM'], // 2 existing + 1 filled as breaching
    ['X - 0 - -', 2, 3, 'notBreaching', 'ALARM', 'OK'],
    ['X - 0 - -', 2, 3, 'missing', 'ALARM', 'OK'], // 1 of 2 existing breaching, 2 needed
    ['X - 0 - -', 2, 3, 'ignore', 'ALARM', 'ALARM'], // the fill could go either way: keep
    ['X - 0 - -', 2, 3, 'ignore', 'OK', 'OK'],
    ['0 - 0 - -', 2, 3, 'ignore', 'ALARM', 'OK'], // even a breaching fill leaves 1 of 3: decided
    ['X - X - -', 2, 3, 'ignore', 'OK', 'ALARM'], // 2 breaching already: decided
    ['- X', 1, 1, 'missing', 'OK', 'ALARM'],
    ['X -', 1, 1, 'notBreaching', 'ALARM', 'ALARM'], // range holds N + 2 periods; the latest existing one decides
    ['0 0 0 0 X X X', 3, 5, 'missing', 'OK', 'ALARM'],
    ['0 0 0 X X 0 0', 3, 5, 'missing', 'ALARM', 'OK'],
  ];
  for (const [pattern, m, n, mode, current, expected] of cases) {
    it(`${m} of ${n}, ${pattern}, ${mode}, currently ${current} -> ${expected}`, () => {
      expect(evaluateAlarm(rule(mode, m, n), range(pattern), current).state).toBe(expected);
    });
  }
});

describe('evaluateAlarm: reasons and evaluated datapoints', () => {
  it('lists the breaching datapoints, most recent first, in CloudWatch words', () => {
    const result = evaluateAlarm(rule('missing'), range('0 - X X X'), 'OK');
    expect(result.state).toBe('ALARM');
    expect(result.reason).toBe(
      'Threshold Crossed: 3 out of the last 3 datapoints [5.0 (01/01/26 12:04:00), 5.0 (01/01/26 12:03:00), 5.0 (01/01/26 12:02:00)] were greater than or equal to the threshold (1.0) (minimum 3 datapoints for OK -> ALARM transition).',
    );
    expect(result.evaluatedDatapoints.map((p) => p.timestamp)).toEqual([T0 + 4 * MINUTE, T0 + 3 * MINUTE, T0 + 2 * MINUTE]);
  });

  it('says how many datapoints were unknown when there are none', () => {
    expect(evaluateAlarm(rule('missing'), range('- - - - -'), 'OK').reason).toBe('Insufficient Data: 5 datapoints were unknown.');
  });

  it('looks back N + 2 periods', () => {
    expect(evaluationRangeLength(3)).toBe(5);
  });
});

describe('breaches', () => {
  const cases: [Parameters<typeof breaches>[0], number, boolean][] = [
    ['GreaterThanOrEqualToThreshold', 1, true],
    ['GreaterThanThreshold', 1, false],
    ['GreaterThanThreshold', 1.01, true],
    ['LessThanThreshold', 1, false],
    ['LessThanThreshold', 0.99, true],
    ['LessThanOrEqualToThreshold', 1, true],
  ];
  for (const [operator, value, expected] of cases) {
    it(`${value} ${operator} 1 is ${expected}`, () => expect(breaches(operator, value, 1)).toBe(expected));
  }
});
