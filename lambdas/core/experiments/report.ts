// The analysis of a stored experiment at one moment: per-arm tallies -> per-metric sufficient statistics ->
// the configured engine, the sample ratio check against the configured split, correction across the
// primary and secondary metrics, guardrails, and the decision with its reasons. Pure, and cheap: its cost
// does not depend on traffic (a few numbers per arm).
import { analyzeMetric, type AnalysisResult } from './analysis';
import { DECISION_TEXT, describeReason } from './decision-text';
import { decide, type Decision, type MetricReading, type Reason } from './decision';
import { metricsOf, type ExperimentDefinition, type MetricDefinition, type MetricRole } from './definition';
import { EXPERIMENT_DEFAULTS } from './defaults';
import { adjustPValues } from './multiple-testing';
import { requiredSampleSizePerArm, type Baseline } from './sample-size';
import { checkSampleRatio, type SampleRatioCheck } from './srm';
import { armMoments, ExperimentDataError, isProportion, type ArmStats } from './sufficient-statistics';
import { metricStats, TALLY, type Tally } from './tally';

export interface ArmSummary {
  readonly version: string;
  /** Units of analysis exposed: predictions (request assignment) or distinct units (unit assignment). */
  readonly units: number;
  /** Randomised requests (a request of k rows counts once). */
  readonly requests: number;
  /** Unit assignment: predictions of a unit served by the other arm (stickiness broken). */
  readonly crossovers: number;
  /**
   * Outcome events about predictions this arm served before the experiment started counting: answered
   * not_in_experiment and not counted (every attempt counts, resends included).
   */
  readonly earlyEvents: number;
}

export interface MetricReport {
  readonly name: string;
  readonly role: MetricRole;
  readonly kind: MetricDefinition['kind'];
  readonly source: MetricDefinition['source'];
  readonly direction: MetricDefinition['direction'];
  readonly control: { readonly n: number; readonly mean: number | null };
  readonly treatment: { readonly n: number; readonly mean: number | null };
  /** `waiting`: the data cannot be analysed yet (`reason` says why). */
  readonly status: 'analysed' | 'waiting';
  readonly reason?: string;
  /** Relative lift of the treatment over control, and its interval (confidence, or credible for Bayesian). */
  readonly lift?: number;
  readonly ci?: readonly [number, number];
  readonly pValue?: number;
  /** Holm / Benjamini-Hochberg across the primary and secondary metrics. */
  readonly adjustedPValue?: number;
  readonly chanceToWin?: number;
  readonly risk?: { readonly control: number; readonly treatment: number };
  /** `better` / `worse`: significant in the metric's good / bad direction. */
  readonly verdict?: 'better' | 'worse' | 'inconclusive';
}

export interface ExperimentReport {
  readonly experimentId: string;
  readonly model: string;
  /** When this analysis was made (ISO-8601). */
  readonly at: string;
  readonly status: ExperimentDefinition['status'];
  readonly engine: ExperimentDefinition['engine'];
  readonly alpha: number;
  readonly assignment: ExperimentDefinition['assignment'];
  readonly split: number;
  readonly daysRunning: number;
  readonly maxDurationDays: number;
  readonly arms: { readonly control: ArmSummary; readonly treatment: ArmSummary };
  /** Units (unit assignment) or requests (request assignment) per arm against the split; null before any traffic. */
  readonly srm: (Omit<SampleRatioCheck, 'degreesOfFreedom'> & { readonly of: 'units' | 'requests' }) | null;
  /** Units per arm the primary metric needs; null while it cannot be planned (no baseline and no data). */
  readonly requiredUnitsPerArm: number | null;
  readonly plannedFrom: 'baseline' | 'observed-control' | null;
  /** The primary metric's units in the smaller arm. */
  readonly unitsPerArm: number;
  readonly metrics: readonly MetricReport[];
  readonly decision: Decision;
  readonly decisionText: string;
  readonly reasons: readonly (Reason & { readonly text: string })[];
  readonly warnings: readonly string[];
}

export interface ArmTallies {
  readonly control: Tally;
  readonly treatment: Tally;
}

const MS_PER_DAY = 86_400_000;

export function analyzeExperiment(definition: ExperimentDefinition, tallies: ArmTallies, now: Date): ExperimentReport {
  const end = definition.endedAt ? Math.min(Date.parse(definition.endedAt), now.getTime()) : now.getTime();
  const daysRunning = Math.max(0, (end - Date.parse(definition.startedAt)) / MS_PER_DAY);
  const arm = (side: 'control' | 'treatment'): ArmSummary => ({
    version: definition[side].version,
    units: tallies[side][TALLY.units] ?? 0,
    requests: round6(tallies[side][TALLY.requests] ?? 0),
    crossovers: tallies[side][TALLY.crossovers] ?? 0,
    earlyEvents: tallies[side][TALLY.earlyEvents] ?? 0,
  });
  const arms = { control: arm('control'), treatment: arm('treatment') };
  const warnings: string[] = [];

  const srmOf = definition.assignment === 'unit' ? 'units' : 'requests';
  const observed = [Math.round(arms.control[srmOf]), Math.round(arms.treatment[srmOf])];
  let srm: ExperimentReport['srm'] = null;
  if (observed[0]! + observed[1]! > 0) {
    const { degreesOfFreedom: _df, ...check } = checkSampleRatio(observed, [1 - definition.split, definition.split]);
    srm = { ...check, of: srmOf };
  }
  const crossovers = arms.control.crossovers + arms.treatment.crossovers;
  if (crossovers > 0)
    warnings.push(`${crossovers} prediction(s) of exposed units were served by the other arm: sticky routing was bypassed (a stale router or a client setting the routed header)`);

  const options = { engine: definition.engine, alpha: definition.alpha, sequentialTuning: definition.sequentialTuning, scale: 'relative' as const };
  const analysed = metricsOf(definition).map(({ metric, role }) => {
    const control = metricStats(metric, tallies.control);
    const treatment = metricStats(metric, tallies.treatment);
    try {
      return { metric, role, control, treatment, result: analyzeMetric(control, treatment, options) };
    } catch (error) {
      if (!(error instanceof ExperimentDataError)) throw error;
      return { metric, role, control, treatment, waiting: waitingReason(control, treatment, error) };
    }
  });

  // The family corrected for multiple testing: the primary and secondary metrics with a p-value.
  const family = analysed.filter((m) => m.role !== 'guardrail' && m.result && m.result.engine !== 'bayesian');
  const adjusted = new Map<string, number>();
  if (family.length > 0) {
    const values = adjustPValues(
      family.map((m) => (m.result as { pValue: number }).pValue),
      definition.correction,
    );
    family.forEach((m, i) => {
      adjusted.set(m.metric.name, values[i]!);
    });
  }

  const primary = analysed[0]!;
  const required = plannedSampleSize(definition, primary.metric, primary.control);
  const unitsPerArm = Math.min(primary.control.n, primary.treatment.n);

  const metrics: MetricReport[] = analysed.map((m) => {
    const base = {
      name: m.metric.name,
      role: m.role,
      kind: m.metric.kind,
      source: m.metric.source,
      direction: m.metric.direction,
      control: { n: m.control.n, mean: meanOf(m.control) },
      treatment: { n: m.treatment.n, mean: meanOf(m.treatment) },
    };
    if (!m.result) return { ...base, status: 'waiting' as const, reason: m.waiting as string };
    const adjustedPValue = adjusted.get(m.metric.name);
    const decisive = m.role === 'guardrail' ? pValueOf(m.result) : adjustedPValue;
    return {
      ...base,
      status: 'analysed' as const,
      lift: m.result.lift,
      ci: m.result.ci,
      ...(m.result.engine === 'bayesian' ? { chanceToWin: m.result.chanceToWin, risk: m.result.risk } : { pValue: m.result.pValue }),
      ...(adjustedPValue === undefined ? {} : { adjustedPValue }),
      verdict: verdictOf(m.result, decisive, m.metric.direction === 'increase', definition.alpha),
    };
  });

  const { decision, reasons } = decideExperiment(definition, analysed, metrics, srm, required, unitsPerArm, daysRunning);
  return {
    experimentId: definition.id,
    model: definition.model,
    at: now.toISOString(),
    status: definition.status,
    engine: definition.engine,
    alpha: definition.alpha,
    assignment: definition.assignment,
    split: definition.split,
    daysRunning,
    maxDurationDays: definition.maxDurationDays,
    arms,
    srm,
    requiredUnitsPerArm: required.units,
    plannedFrom: required.from,
    unitsPerArm,
    metrics,
    decision,
    decisionText: DECISION_TEXT[decision],
    reasons: reasons.map((reason) => ({ ...reason, text: describeReason(reason) })),
    warnings,
  };
}

type Analysed = { metric: MetricDefinition; role: MetricRole; control: ArmStats; treatment: ArmStats; result?: AnalysisResult; waiting?: string };

function decideExperiment(
  definition: ExperimentDefinition,
  analysed: readonly Analysed[],
  metrics: readonly MetricReport[],
  srm: ExperimentReport['srm'],
  required: { units: number | null },
  unitsPerArm: number,
  daysRunning: number,
): { decision: Decision; reasons: readonly Reason[] } {
  const requiredUnitsPerArm = required.units ?? Number.POSITIVE_INFINITY;
  const timeUp = daysRunning >= definition.maxDurationDays;
  if (srm?.mismatch) {
    const { pValue, threshold, observed, expected } = srm;
    return { decision: 'invalid', reasons: [{ code: 'sample-ratio-mismatch', pValue, threshold, observed, expected }] };
  }
  const primary = analysed[0]!;
  const readings: MetricReading[] = analysed
    .filter((m) => m.result !== undefined)
    .map((m) => ({ name: m.metric.name, role: m.role, higherIsBetter: m.metric.direction === 'increase', result: m.result as AnalysisResult }));
  if (primary.result && srm) {
    return decide({
      sampleRatio: { ...srm, degreesOfFreedom: 1 },
      metrics: readings,
      unitsPerArm,
      requiredUnitsPerArm,
      daysRunning,
      maxDurationDays: definition.maxDurationDays,
      alpha: definition.alpha,
      correction: definition.correction,
      chanceToWinThreshold: EXPERIMENT_DEFAULTS.chanceToWinThreshold,
    });
  }
  // The primary cannot be analysed yet (no traffic, or no variation): a guardrail may still say no.
  const breached = metrics.filter((m) => m.role === 'guardrail' && m.verdict === 'worse');
  if (breached.length > 0) {
    return {
      decision: 'keep-control',
      reasons: breached.map((m) => ({
        code: 'guardrail-breached' as const,
        metric: m.name,
        lift: m.lift as number,
        ci: m.ci as readonly [number, number],
        ...(m.pValue === undefined ? {} : { pValue: m.pValue }),
        ...(m.chanceToWin === undefined ? {} : { chanceToWin: m.chanceToWin }),
      })),
    };
  }
  if (timeUp) return { decision: 'keep-control', reasons: [{ code: 'max-duration-reached', daysRunning, maxDurationDays: definition.maxDurationDays }] };
  return { decision: 'keep-running', reasons: [{ code: 'not-enough-sample', unitsPerArm, requiredUnitsPerArm: required.units ?? 0 }] };
}

/** From the baseline the experiment was planned with, else from the control's data so far (a re-plan as data arrives). */
function plannedSampleSize(definition: ExperimentDefinition, primary: MetricDefinition, control: ArmStats): { units: number | null; from: ExperimentReport['plannedFrom'] } {
  if (definition.requiredSampleSizePerArm !== null) return { units: definition.requiredSampleSizePerArm, from: 'baseline' };
  let baseline: Baseline | undefined;
  if (control.n >= 2) {
    const moments = armMoments(control);
    baseline = primary.kind === 'proportion' ? { kind: 'proportion', rate: moments.mean } : { kind: 'mean', mean: moments.mean, standardDeviation: Math.sqrt(moments.variance) };
  }
  if (!baseline) return { units: null, from: null };
  try {
    return {
      units: requiredSampleSizePerArm(baseline, { relative: definition.minimumDetectableEffect }, { alpha: definition.alpha, power: definition.power }),
      from: 'observed-control',
    };
  } catch (error) {
    if (error instanceof ExperimentDataError) return { units: null, from: null };
    throw error;
  }
}

function verdictOf(result: AnalysisResult, decisivePValue: number | undefined, higherIsBetter: boolean, alpha: number): 'better' | 'worse' | 'inconclusive' {
  let moved: 'up' | 'down' | undefined;
  if (result.engine === 'bayesian') {
    const threshold = EXPERIMENT_DEFAULTS.chanceToWinThreshold;
    moved = result.chanceToWin >= threshold ? 'up' : result.chanceToWin <= 1 - threshold ? 'down' : undefined;
  } else if (decisivePValue !== undefined && decisivePValue < alpha) {
    moved = result.lift > 0 ? 'up' : 'down';
  }
  if (moved === undefined) return 'inconclusive';
  return (moved === 'up') === higherIsBetter ? 'better' : 'worse';
}

function pValueOf(result: AnalysisResult): number | undefined {
  return result.engine === 'bayesian' ? undefined : result.pValue;
}

function meanOf(stats: ArmStats): number | null {
  if (stats.n === 0) return null;
  return isProportion(stats) ? stats.conversions / stats.n : stats.sum / stats.n;
}

function waitingReason(control: ArmStats, treatment: ArmStats, error: ExperimentDataError): string {
  if (control.n < 2 || treatment.n < 2) return `needs at least 2 units per arm (control ${control.n}, treatment ${treatment.n})`;
  return error.issues.map((i) => i.reason).join('; ');
}

function round6(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** The compact record of one analysis kept over time, for "confidence intervals over time" charts. */
export interface AnalysisSnapshot {
  readonly at: string;
  readonly units: { readonly control: number; readonly treatment: number };
  readonly srmPValue: number | null;
  readonly decision: Decision;
  readonly metrics: Readonly<
    Record<
      string,
      {
        readonly lift?: number;
        readonly ci?: readonly [number, number];
        readonly pValue?: number;
        readonly adjustedPValue?: number;
        readonly chanceToWin?: number;
        readonly control: number | null;
        readonly treatment: number | null;
      }
    >
  >;
}

export function snapshotOf(report: ExperimentReport): AnalysisSnapshot {
  return {
    at: report.at,
    units: { control: report.arms.control.units, treatment: report.arms.treatment.units },
    srmPValue: report.srm?.pValue ?? null,
    decision: report.decision,
    metrics: Object.fromEntries(
      report.metrics.map((m) => [
        m.name,
        {
          control: m.control.mean,
          treatment: m.treatment.mean,
          ...(m.lift === undefined ? {} : { lift: m.lift }),
          ...(m.ci === undefined ? {} : { ci: m.ci }),
          ...(m.pValue === undefined ? {} : { pValue: m.pValue }),
          ...(m.adjustedPValue === undefined ? {} : { adjustedPValue: m.adjustedPValue }),
          ...(m.chanceToWin === undefined ? {} : { chanceToWin: m.chanceToWin }),
        },
      ]),
    ),
  };
}
