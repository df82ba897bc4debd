import { describe, expect, it } from 'vitest';
import type { AnalysisResult } from '../../lambdas/core/experiments/analysis';
import { decide, type ExperimentSnapshot, type MetricReading, type ReasonCode } from '../../lambdas/core/experiments/decision';
import { DECISION_TEXT, describeReason } from '../../lambdas/core/experiments/decision-text';
import { checkSampleRatio } from '../../lambdas/core/experiments/srm';

function frequentist(lift: number, pValue: number, engine: 'frequentist' | 'sequential' = 'frequentist'): AnalysisResult {
  return { engine, scale: 'relative', lift, ci: [lift - 0.1, lift + 0.1], pValue, standardError: 0.05 };
}

function bayesian(lift: number, chanceToWin: number): AnalysisResult {
  return {
    engine: 'bayesian',
    scale: 'relative',
    lift,
    ci: [lift - 0.1, lift + 0.1],
    chanceToWin,
    risk: { control: 0.01, treatment: 0.01 },
    standardError: 0.05,
  };
}

function metric(name: string, role: MetricReading['role'], result: AnalysisResult, higherIsBetter = true): MetricReading {
  return { name, role, higherIsBetter, result };
}

function snapshot(overrides: Partial<ExperimentSnapshot>): ExperimentSnapshot {
  return {
    sampleRatio: checkSampleRatio([5000, 5100], [0.5, 0.5]),
    metrics: [metric('conversion', 'primary', frequentist(0.05, 0.5))],
    unitsPerArm: 5000,
    requiredUnitsPerArm: 3841,
    daysRunning: 14,
    maxDurationDays: 28,
    ...overrides,
  };
}

function codes(s: ExperimentSnapshot): ReasonCode[] {
  return decide(s).reasons.map((r) => r.code);
}

describe('experiment decision rules', () => {
  it.each([
    {
      name: 'a sample ratio mismatch makes it invalid, whatever the metrics say',
      snapshot: snapshot({
        sampleRatio: checkSampleRatio([1000, 1200], [0.5, 0.5]),
        metrics: [metric('conversion', 'primary', frequentist(0.2, 1e-6))],
      }),
      decision: 'invalid',
      reasons: ['sample-ratio-mismatch'],
    },
    {
      name: 'a guardrail significantly worse keeps control, even with a winning primary',
      snapshot: snapshot({
        metrics: [metric('conversion', 'primary', frequentist(0.1, 0.001)), metric('latency', 'guardrail', frequentist(0.15, 0.01), false)],
      }),
      decision: 'keep-control',
      reasons: ['guardrail-breached'],
    },
    {
      name: 'a guardrail that improved is no breach',
      snapshot: snapshot({
        metrics: [metric('conversion', 'primary', frequentist(0.1, 0.001)), metric('latency', 'guardrail', frequentist(-0.15, 0.01), false)],
      }),
      decision: 'ship-treatment',
      reasons: ['significant-win'],
    },
    {
      name: 'a significant win at the planned sample ships',
      snapshot: snapshot({ metrics: [metric('conversion', 'primary', frequentist(0.1, 0.01))] }),
      decision: 'ship-treatment',
      reasons: ['significant-win'],
    },
    {
      name: 'a significant loss keeps control',
      snapshot: snapshot({ metrics: [metric('conversion', 'primary', frequentist(-0.1, 0.01))] }),
      decision: 'keep-control',
      reasons: ['significant-loss'],
    },
    {
      name: 'a rise of a lower-is-better primary is a loss',
      snapshot: snapshot({ metrics: [metric('error rate', 'primary', frequentist(0.1, 0.01), false)] }),
      decision: 'keep-control',
      reasons: ['significant-loss'],
    },
    {
      name: 'fixed horizon: a significant result before the planned sample is peeking, keep running',
      snapshot: snapshot({ unitsPerArm: 1000, metrics: [metric('conversion', 'primary', frequentist(0.1, 0.001))] }),
      decision: 'keep-running',
      reasons: ['not-enough-sample'],
    },
    {
      name: 'sequential: a significant result may be acted on before the planned sample',
      snapshot: snapshot({
        unitsPerArm: 1000,
        metrics: [metric('conversion', 'primary', frequentist(0.1, 0.001, 'sequential'))],
      }),
      decision: 'ship-treatment',
      reasons: ['significant-win'],
    },
    {
      name: 'sequential without significance before the planned sample keeps running',
      snapshot: snapshot({
        unitsPerArm: 1000,
        metrics: [metric('conversion', 'primary', frequentist(0.1, 0.2, 'sequential'))],
      }),
      decision: 'keep-running',
      reasons: ['not-enough-sample'],
    },
    {
      name: 'no significant difference at the planned sample keeps control',
      snapshot: snapshot({}),
      decision: 'keep-control',
      reasons: ['no-significant-difference'],
    },
    {
      name: 'the maximum duration ends the experiment short of its sample',
      snapshot: snapshot({ unitsPerArm: 1000, daysRunning: 28 }),
      decision: 'keep-control',
      reasons: ['no-significant-difference', 'max-duration-reached'],
    },
    {
      name: 'correction across metrics: p 0.03 on the primary is not a win among three metrics (Holm)',
      snapshot: snapshot({
        metrics: [
          metric('conversion', 'primary', frequentist(0.1, 0.03)),
          metric('revenue', 'secondary', frequentist(0.05, 0.04)),
          metric('clicks', 'secondary', frequentist(0.05, 0.5)),
        ],
      }),
      decision: 'keep-control',
      reasons: ['no-significant-difference'],
    },
    {
      name: 'Benjamini-Hochberg: 0.03, 0.04 and 0.02 all adjust to 0.04, a win (Holm would give 0.06)',
      snapshot: snapshot({
        correction: 'benjamini-hochberg',
        metrics: [
          metric('conversion', 'primary', frequentist(0.1, 0.03)),
          metric('revenue', 'secondary', frequentist(0.05, 0.04)),
          metric('clicks', 'secondary', frequentist(0.05, 0.02)),
        ],
      }),
      decision: 'ship-treatment',
      reasons: ['significant-win'],
    },
    {
      name: 'bayesian: chance to win >= 0.95 is a win',
      snapshot: snapshot({ metrics: [metric('conversion', 'primary', bayesian(0.05, 0.97))] }),
      decision: 'ship-treatment',
      reasons: ['significant-win'],
    },
    {
      name: 'bayesian: chance to win <= 0.05 on a guardrail is a breach',
      snapshot: snapshot({
        metrics: [metric('conversion', 'primary', bayesian(0.05, 0.97)), metric('revenue', 'guardrail', bayesian(-0.05, 0.02))],
      }),
      decision: 'keep-control',
      reasons: ['guardrail-breached'],
    },
  ] as const)('$name', ({ snapshot: s, decision, reasons }) => {
    expect(decide(s).decision).toBe(decision);
    expect(codes(s)).toEqual(reasons);
  });

  it('reasons carry the numbers behind them', () => {
    const s = snapshot({
      metrics: [metric('conversion', 'primary', frequentist(0.1, 0.03)), metric('revenue', 'secondary', frequentist(0.05, 0.04))],
    });
    expect(decide(s).reasons[0]).toEqual({
      code: 'no-significant-difference',
      metric: 'conversion',
      lift: 0.1,
      ci: [0.1 - 0.1, 0.1 + 0.1],
      pValue: 0.03,
      adjustedPValue: 0.06,
    });
  });

  it('needs exactly one primary metric', () => {
    expect(() => decide(snapshot({ metrics: [] }))).toThrow(/exactly one primary metric, got 0/);
  });

  it('has words for every decision and reason, kept apart from the rules', () => {
    expect(Object.keys(DECISION_TEXT).sort()).toEqual(['invalid', 'keep-control', 'keep-running', 'ship-treatment']);
    const invalid = decide(snapshot({ sampleRatio: checkSampleRatio([1000, 1200], [0.5, 0.5]) }));
    expect(describeReason(invalid.reasons[0]!)).toBe(
      'Sample ratio mismatch: units per arm 1000 / 1200 against expected 1100.0 / 1100.0 (p 2.0e-5 < 0.001); ' + 'assignment or logging is broken, so no metric can be trusted.',
    );
    const late = decide(snapshot({ unitsPerArm: 1000, daysRunning: 30 }));
    expect(late.reasons.map(describeReason)).toEqual([
      'Primary metric "conversion" shows no significant difference: lift 0.05 (CI -0.05 to 0.15), p 0.5, adjusted p 0.5.',
      'Maximum duration reached: 30 of 28 days.',
    ]);
  });
});
