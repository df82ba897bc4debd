// The words of `modelgate replay`: what it is about to send, its progress, and its report as lines for people
// (JSON is the report itself).
import { duration } from './live-line';
import type { ReplayProgress, ReplayReport } from './replay-engine';

export interface ReplayPlan {
  readonly model: string;
  /** The versions answering the model's traffic, with their shares; the first one's manifest checked the rows. */
  readonly live: readonly { readonly version: string; readonly weight: number }[];
  readonly input: string;
  readonly rows: number;
  readonly bad: number;
  readonly rate: number;
  readonly durationMs?: number;
  readonly labels?: { readonly column: string; readonly delayMs: number };
  /** Where: the local state folder, or the stack and region. */
  readonly target: string;
}

export function describePlan(plan: ReplayPlan): string {
  const live = plan.live.map((l) => `v${l.version}${plan.live.length > 1 ? ` ${Math.round(l.weight * 100)}%` : ''}`).join(', ');
  const how = plan.durationMs === undefined ? `each row once (${duration((plan.rows * 1000) / plan.rate)})` : `for ${duration(plan.durationMs)}`;
  const labels = plan.labels ? `; labels from column ${plan.labels.column}, ${plan.labels.delayMs === 0 ? 'at once' : `${duration(plan.labels.delayMs)} after each answer`}` : '';
  const bad = plan.bad > 0 ? ` (${plan.bad} bad, not sent)` : '';
  return `replaying ${plan.rows} rows of ${plan.input}${bad} to ${plan.model} (${live}, ${plan.target}) at ${plan.rate} rows/s, ${how}${labels}`;
}

export function describeProgress(progress: ReplayProgress): string {
  return `${duration(progress.elapsedMs)}: ${progress.sent} sent, ${progress.answered} answered, ${progress.failed} failed, ${Math.round(progress.lagMs)} ms behind schedule`;
}

export function describeReport(report: ReplayReport): string[] {
  const lines = [
    `sent ${report.sent} rows in ${report.requests} requests at ${report.achievedRate.toFixed(1)} rows/s: ${report.answered} answered, ${report.failed} failed; done in ${duration(report.elapsedMs)}${report.labels ? ', the last labels included' : ''}`,
  ];
  for (const [reason, rows] of Object.entries(report.failures).sort((a, b) => b[1] - a[1])) lines.push(`  ${rows} failed: ${reason}`);
  const latency = report.latencyMs;
  lines.push(
    latency === null
      ? 'latency: nothing was answered'
      : `latency: p50 ${latency.p50.toFixed(0)} ms, p90 ${latency.p90.toFixed(0)} ms, p99 ${latency.p99.toFixed(0)} ms, max ${latency.max.toFixed(0)} ms`,
  );
  lines.push(
    report.lag.behind
      ? `lag: BEHIND, up to ${duration(report.lag.maxMs)} behind schedule, ${report.achievedRate.toFixed(1)} of the ${report.rate} rows/s asked: the replayer could not keep up, so the figures describe a lower rate`
      : `lag: kept up (at most ${Math.round(report.lag.maxMs)} ms behind schedule)`,
  );
  if (report.labels) {
    const { posted, accepted, rejected, failed } = report.labels;
    lines.push(`labels: ${posted} posted, ${accepted} accepted, ${rejected} rejected, ${failed} failed`);
  }
  if (report.bad.count > 0) {
    const more = report.bad.count - report.bad.examples.length;
    lines.push(`bad rows: ${report.bad.count}, not sent${more > 0 ? ` (the first ${report.bad.examples.length})` : ''}`);
    for (const bad of report.bad.examples) lines.push(`  line ${bad.line}: ${bad.reason}`);
  }
  return lines;
}

/** Whether the replay is a success: every row sent answered, every label posted accepted. */
export function replaySucceeded(report: ReplayReport): boolean {
  return report.failed === 0 && (report.labels === undefined || (report.labels.failed === 0 && report.labels.rejected === 0));
}
