// How many rows a quality metric rests on, and whether that is enough for a verdict an alarm may act on.
// Realized quality (monitoring/quality.ts) and estimated quality (estimation/) share the rule.

/**
 * A metric needs at least this many rows in each count it divides by: labelled rows for accuracy,
 * predicted positives for precision, actual positives for recall, the smaller class for ROC AUC
 * (docs/monitoring.md, "Minimum samples"). Below it the value is reported, but no alarm metric is emitted.
 */
export const MIN_METRIC_ROWS = 30;

/** The sample a quality value rests on, and whether it is enough for a verdict (an alarm on it). */
export interface SampleVerdict {
  /** The smallest count the metric divides by (an expected count for estimated quality). */
  readonly size: number;
  readonly minimum: number;
  readonly enough: boolean;
}

export function sampleVerdict(size: number, minimum = MIN_METRIC_ROWS): SampleVerdict {
  return { size, minimum, enough: size >= minimum };
}
