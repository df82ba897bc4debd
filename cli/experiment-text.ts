// The words of `modelgate experiment`: a definition and a report as lines for people (JSON is the report itself).
import type { ExperimentDefinition } from '../lambdas/core/experiments/definition';
import type { ExperimentReport, MetricReport } from '../lambdas/core/experiments/report';

export function describeDefinition(definition: ExperimentDefinition): string[] {
  const share = (value: number) => `${Number((value * 100).toFixed(2))}%`;
  const arm = (side: 'control' | 'treatment') => `v${definition[side].version}${definition[side].lambdaVersion ? ` (Lambda version ${definition[side].lambdaVersion})` : ''}`;
  const metric = (m: ExperimentDefinition['primaryMetric']) => `${m.name} (${m.kind}, ${m.source}, ${m.direction === 'increase' ? 'higher' : 'lower'} is better)`;
  return [
    `experiment ${definition.id}: ${definition.model} ${arm('control')} (control) vs ${arm('treatment')} (treatment)`,
    ...(definition.hypothesis ? [`  hypothesis     ${definition.hypothesis}`] : []),
    `  assignment     ${definition.assignment === 'unit' ? 'by unit id (sticky: x-modelgate-unit-id header or unitId field)' : "per request (the live alias's weights)"}, treatment ${share(definition.split)}`,
    `  primary        ${metric(definition.primaryMetric)}`,
    ...definition.secondaryMetrics.map((m) => `  secondary      ${metric(m)}`),
    ...definition.guardrailMetrics.map((m) => `  guardrail      ${metric(m)}`),
    `  plan           MDE ${share(definition.minimumDetectableEffect)} relative, alpha ${definition.alpha}, power ${definition.power}: ` +
      (definition.requiredSampleSizePerArm === null
        ? 'sample size planned from the control as data arrives (no --baseline)'
        : `${definition.requiredSampleSizePerArm} units per arm`),
    `  engine         ${definition.engine}${definition.engine === 'sequential' ? ` (tuning ${definition.sequentialTuning} units)` : ''}, ${definition.correction} across primary and secondary metrics`,
    `  runs           from ${definition.startedAt} for at most ${definition.maxDurationDays} days (status ${definition.status}, revision ${definition.revision})`,
  ];
}

export function describeReport(report: ExperimentReport): string[] {
  const lines: string[] = [];
  const row = (label: string, value: string) => lines.push(`  ${label.padEnd(15)}${value}`);
  lines.push(`analysis at ${report.at}: day ${formatNumber(report.daysRunning, 3)} of ${report.maxDurationDays}, ${report.engine} engine, alpha ${report.alpha}`);
  const { control, treatment } = report.arms;
  row(
    'arms',
    `control v${control.version}: ${control.units} units, ${formatNumber(control.requests, 6)} requests; treatment v${treatment.version}: ${treatment.units} units, ${formatNumber(treatment.requests, 6)} requests`,
  );
  if (report.srm) {
    const expected = report.srm.expected.map((e) => formatNumber(e, 5)).join(' / ');
    row(
      'sample ratio',
      `${report.srm.mismatch ? 'MISMATCH' : 'ok'} (p ${formatP(report.srm.pValue)}): ${report.srm.of} ${report.srm.observed.join(' / ')} against ${expected} expected`,
    );
  } else {
    row('sample ratio', 'no traffic yet');
  }
  const early = control.earlyEvents + treatment.earlyEvents;
  if (early > 0) {
    row('too early', `${early} event(s) about predictions served before counting began (not counted): control ${control.earlyEvents}, treatment ${treatment.earlyEvents}`);
  }
  row(
    'sample size',
    report.requiredUnitsPerArm === null
      ? `${report.unitsPerArm} units per arm; cannot plan yet`
      : `${report.unitsPerArm} of ${report.requiredUnitsPerArm} units per arm (${report.plannedFrom === 'baseline' ? 'planned from the baseline' : 'planned from the control so far'})`,
  );
  const interval = report.engine === 'bayesian' ? 'credible interval' : report.engine === 'sequential' ? 'confidence sequence' : 'confidence interval';
  lines.push(
    `  ${'metric'.padEnd(18)}${'role'.padEnd(11)}${'control'.padEnd(11)}${'treatment'.padEnd(11)}${'lift'.padEnd(10)}${`${Math.round((1 - report.alpha) * 100)}% ${interval}`.padEnd(26)}evidence`,
  );
  for (const metric of report.metrics) lines.push(`  ${metricLine(metric)}`);
  lines.push(`decision: ${report.decisionText}`);
  for (const reason of report.reasons) lines.push(`  - ${reason.text}`);
  for (const warning of report.warnings) lines.push(`warning: ${warning}`);
  return lines;
}

function metricLine(metric: MetricReport): string {
  const value = (mean: number | null) => (mean === null ? '-' : metric.kind === 'proportion' ? formatPercent(mean, false) : formatNumber(mean, 4));
  const head = `${metric.name.padEnd(18)}${metric.role.padEnd(11)}${value(metric.control.mean).padEnd(11)}${value(metric.treatment.mean).padEnd(11)}`;
  if (metric.status === 'waiting') return `${head}waiting: ${metric.reason}`;
  const [low, high] = metric.ci as readonly [number, number];
  const evidence =
    metric.chanceToWin !== undefined
      ? `chance to win ${formatPercent(metric.chanceToWin, false)}`
      : `p ${formatP(metric.pValue as number)}${metric.adjustedPValue !== undefined && metric.adjustedPValue !== metric.pValue ? ` (adjusted ${formatP(metric.adjustedPValue)})` : ''}`;
  return `${head}${formatPercent(metric.lift as number).padEnd(10)}${`[${formatPercent(low)}, ${formatPercent(high)}]`.padEnd(26)}${evidence}, ${metric.verdict}`;
}

function formatNumber(value: number, digits: number): string {
  return Number(value.toPrecision(digits)).toString();
}

function formatPercent(value: number, signed = true): string {
  const text = `${Number((value * 100).toFixed(2))}%`;
  return signed && value > 0 ? `+${text}` : text;
}

function formatP(p: number): string {
  return p < 1e-4 ? p.toExponential(1) : Number(p.toPrecision(3)).toString();
}
