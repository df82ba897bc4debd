// What to do with an experiment, as pure rules over its analysed metrics. Each reason is data (a code and
// the numbers behind it); the sentences shown to people live in decision-text.ts.
import type { AnalysisResult } from './analysis';
import { EXPERIMENT_DEFAULTS } from './defaults';
import { adjustPValues, type Correction } from './multiple-testing';
import type { SampleRatioCheck } from './srm';
import { ExperimentDataError } from './sufficient-statistics';

export type Decision = 'ship-treatment' | 'keep-control' | 'keep-running' | 'invalid';

/**
 * `primary`: the one metric the decision is about. `secondary`: read alongside it, and part of the family
 * corrected for multiple testing. `guardrail`: must not get significantly worse; read without correction so
 * that harm is caught early (a false alarm costs a rerun, a missed harm costs users).
 */
export type MetricRole = 'primary' | 'secondary' | 'guardrail';

export interface MetricReading {
  readonly name: string;
  readonly role: MetricRole;
  /** false for metrics where lower is better: latency, error rate, cost. */
  readonly higherIsBetter: boolean;
  readonly result: AnalysisResult;
}

export interface ExperimentSnapshot {
  readonly sampleRatio: SampleRatioCheck;
  readonly metrics: readonly MetricReading[];
  /** Units in the smallest arm so far. */
  readonly unitsPerArm: number;
  /** From the plan: requiredSampleSizePerArm(baseline, mde, {alpha, power}). */
  readonly requiredUnitsPerArm: number;
  readonly daysRunning: number;
  readonly maxDurationDays: number;
  /** @default 0.05 */
  readonly alpha?: number;
  /** Across the primary and secondary metrics. @default 'holm' */
  readonly correction?: Correction;
  /** Bayesian engine: chance to win needed for a win (1 minus it for a loss). @default 0.95 */
  readonly chanceToWinThreshold?: number;
}

/** Numbers behind a metric's verdict: adjusted p-value for frequentist engines, chance to win for Bayesian. */
export interface MetricEvidence {
  readonly metric: string;
  readonly lift: number;
  readonly ci: readonly [number, number];
  readonly pValue?: number;
  readonly adjustedPValue?: number;
  readonly chanceToWin?: number;
}

export type Reason =
  | {
      readonly code: 'sample-ratio-mismatch';
      readonly pValue: number;
      readonly threshold: number;
      readonly observed: readonly number[];
      readonly expected: readonly number[];
    }
  | ({ readonly code: 'guardrail-breached' } & MetricEvidence)
  | ({ readonly code: 'significant-win' } & MetricEvidence)
  | ({ readonly code: 'significant-loss' } & MetricEvidence)
  | ({ readonly code: 'no-significant-difference' } & MetricEvidence)
  | { readonly code: 'not-enough-sample'; readonly unitsPerArm: number; readonly requiredUnitsPerArm: number }
  | { readonly code: 'max-duration-reached'; readonly daysRunning: number; readonly maxDurationDays: number };

export type ReasonCode = Reason['code'];

export interface ExperimentDecision {
  readonly decision: Decision;
  readonly reasons: readonly Reason[];
}

type Verdict = 'better' | 'worse' | 'inconclusive';

/**
 * In order: a sample ratio mismatch makes the experiment invalid; a breached guardrail keeps control; a
 * primary win ships and a primary loss keeps control once the result may be read (sequential engine at any
 * time, the others at the planned sample size or the maximum duration); no difference at that point keeps
 * control; otherwise keep running.
 */
export function decide(snapshot: ExperimentSnapshot): ExperimentDecision {
  const rules = {
    alpha: snapshot.alpha ?? EXPERIMENT_DEFAULTS.alpha,
    chanceToWinThreshold: snapshot.chanceToWinThreshold ?? EXPERIMENT_DEFAULTS.chanceToWinThreshold,
  };
  const primary = onlyPrimary(snapshot.metrics);

  const srm = snapshot.sampleRatio;
  if (srm.mismatch) {
    const { pValue, threshold, observed, expected } = srm;
    return { decision: 'invalid', reasons: [{ code: 'sample-ratio-mismatch', pValue, threshold, observed, expected }] };
  }

  const breached = snapshot.metrics
    .filter((m) => m.role === 'guardrail')
    .map((m) => judge(m, pValueOf(m.result), rules))
    .filter((judged) => judged.verdict === 'worse');
  if (breached.length > 0) {
    return {
      decision: 'keep-control',
      reasons: breached.map(({ evidence }) => ({ code: 'guardrail-breached', ...evidence })),
    };
  }

  const adjusted = adjustedPValue(snapshot, primary);
  const { evidence, verdict } = judge(primary, adjusted, rules);
  const primaryEvidence = adjusted === undefined ? evidence : { ...evidence, adjustedPValue: adjusted };
  const { daysRunning, maxDurationDays, unitsPerArm, requiredUnitsPerArm } = snapshot;
  const sampleReached = unitsPerArm >= requiredUnitsPerArm;
  const timeUp = daysRunning >= maxDurationDays;
  // A fixed-horizon p-value read before the planned sample is peeking; the confidence sequence is not.
  const readableNow = primary.result.engine === 'sequential' || sampleReached || timeUp;
  const because = (reason: Reason): Reason[] => (timeUp ? [reason, { code: 'max-duration-reached', daysRunning, maxDurationDays }] : [reason]);

  if (readableNow && verdict === 'better') {
    return { decision: 'ship-treatment', reasons: because({ code: 'significant-win', ...primaryEvidence }) };
  }
  if (readableNow && verdict === 'worse') {
    return { decision: 'keep-control', reasons: because({ code: 'significant-loss', ...primaryEvidence }) };
  }
  if (sampleReached || timeUp) {
    return { decision: 'keep-control', reasons: because({ code: 'no-significant-difference', ...primaryEvidence }) };
  }
  return { decision: 'keep-running', reasons: [{ code: 'not-enough-sample', unitsPerArm, requiredUnitsPerArm }] };
}

function onlyPrimary(metrics: readonly MetricReading[]): MetricReading {
  const primaries = metrics.filter((m) => m.role === 'primary');
  if (primaries.length !== 1) {
    const reason = `need exactly one primary metric, got ${primaries.length}`;
    throw new ExperimentDataError([{ field: 'metrics', reason }]);
  }
  return primaries[0]!;
}

function pValueOf(result: AnalysisResult): number | undefined {
  return result.engine === 'bayesian' ? undefined : result.pValue;
}

/** The primary's p-value corrected across the primary and secondary metrics that have one. */
function adjustedPValue(snapshot: ExperimentSnapshot, primary: MetricReading): number | undefined {
  const family = snapshot.metrics.filter((m) => m.role !== 'guardrail' && pValueOf(m.result) !== undefined);
  if (!family.includes(primary)) return undefined;
  const adjusted = adjustPValues(
    family.map((m) => pValueOf(m.result)!),
    snapshot.correction ?? 'holm',
  );
  return adjusted[family.indexOf(primary)];
}

/** Whether the metric moved significantly, and in its good or its bad direction. */
function judge(metric: MetricReading, decisivePValue: number | undefined, rules: { alpha: number; chanceToWinThreshold: number }): { evidence: MetricEvidence; verdict: Verdict } {
  const { result } = metric;
  const evidence: MetricEvidence =
    result.engine === 'bayesian'
      ? { metric: metric.name, lift: result.lift, ci: result.ci, chanceToWin: result.chanceToWin }
      : { metric: metric.name, lift: result.lift, ci: result.ci, pValue: result.pValue };
  const moved = directionOf(result, decisivePValue, rules);
  if (moved === undefined) return { evidence, verdict: 'inconclusive' };
  return { evidence, verdict: (moved === 'up') === metric.higherIsBetter ? 'better' : 'worse' };
}

function directionOf(result: AnalysisResult, decisivePValue: number | undefined, rules: { alpha: number; chanceToWinThreshold: number }): 'up' | 'down' | undefined {
  if (result.engine === 'bayesian') {
    if (result.chanceToWin >= rules.chanceToWinThreshold) return 'up';
    if (result.chanceToWin <= 1 - rules.chanceToWinThreshold) return 'down';
    return undefined;
  }
  if (decisivePValue === undefined || decisivePValue >= rules.alpha) return undefined;
  return result.lift > 0 ? 'up' : 'down';
}
