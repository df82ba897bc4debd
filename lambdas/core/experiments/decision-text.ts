// Words for the decisions and reasons of decision.ts, kept apart from the rules that produce them.
import type { Decision, MetricEvidence, Reason } from './decision';

export const DECISION_TEXT: Readonly<Record<Decision, string>> = {
  'ship-treatment': 'Ship the treatment.',
  'keep-control': 'Keep the control.',
  'keep-running': 'Keep the experiment running.',
  invalid: 'The experiment is invalid: fix the assignment and restart it.',
};

/** One sentence per reason, with the numbers that support it. */
export function describeReason(reason: Reason): string {
  switch (reason.code) {
    case 'sample-ratio-mismatch':
      return (
        `Sample ratio mismatch: units per arm ${reason.observed.join(' / ')} against expected ` +
        `${reason.expected.map((e) => e.toFixed(1)).join(' / ')} ` +
        `(p ${formatP(reason.pValue)} < ${reason.threshold}); ` +
        'assignment or logging is broken, so no metric can be trusted.'
      );
    case 'guardrail-breached':
      return `Guardrail "${reason.metric}" got significantly worse: ${describeEvidence(reason)}.`;
    case 'significant-win':
      return `Primary metric "${reason.metric}" improved significantly: ${describeEvidence(reason)}.`;
    case 'significant-loss':
      return `Primary metric "${reason.metric}" got significantly worse: ${describeEvidence(reason)}.`;
    case 'no-significant-difference':
      return `Primary metric "${reason.metric}" shows no significant difference: ${describeEvidence(reason)}.`;
    case 'not-enough-sample':
      return `Not enough sample yet: ${reason.unitsPerArm} of ${reason.requiredUnitsPerArm} units per arm.`;
    case 'max-duration-reached':
      return `Maximum duration reached: ${reason.daysRunning} of ${reason.maxDurationDays} days.`;
  }
}

function describeEvidence(evidence: MetricEvidence): string {
  const [low, high] = evidence.ci.map(formatNumber);
  const parts = [`lift ${formatNumber(evidence.lift)} (CI ${low} to ${high})`];
  if (evidence.pValue !== undefined) parts.push(`p ${formatP(evidence.pValue)}`);
  if (evidence.adjustedPValue !== undefined) parts.push(`adjusted p ${formatP(evidence.adjustedPValue)}`);
  if (evidence.chanceToWin !== undefined) parts.push(`chance to beat control ${formatNumber(evidence.chanceToWin)}`);
  return parts.join(', ');
}

function formatNumber(value: number): string {
  return Number(value.toPrecision(4)).toString();
}

function formatP(p: number): string {
  return p < 1e-4 ? p.toExponential(1) : Number(p.toPrecision(3)).toString();
}
