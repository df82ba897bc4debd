/**
 * CloudWatch Embedded Metric Format: a JSON log line whose `_aws.CloudWatchMetrics` directives name the
 * metrics (root members holding a number or an array of up to 100 numbers) and the dimension sets (root
 * members holding strings). One line yields one datum per metric per dimension set, as CloudWatch
 * extracts them. Lines that are not EMF, or break its rules, yield nothing: CloudWatch drops those too.
 */
export interface MetricDatum {
  readonly namespace: string;
  readonly metricName: string;
  /** Exactly the dimension set of the directive (may be empty). */
  readonly dimensions: Readonly<Record<string, string>>;
  /** Epoch milliseconds, from `_aws.Timestamp`. */
  readonly timestamp: number;
  readonly values: readonly number[];
  readonly unit?: string;
}

const MAX_VALUES = 100;
const MAX_DIMENSIONS = 30;

interface Directive {
  readonly Namespace?: unknown;
  readonly Dimensions?: unknown;
  readonly Metrics?: unknown;
}

/** Quick test before JSON.parse: most function log lines are not EMF. */
export function looksLikeEmf(line: string): boolean {
  return line.startsWith('{') && line.includes('"_aws"') && line.includes('CloudWatchMetrics');
}

/** The metric data of an EMF line, or undefined when the line is not (valid) EMF. */
export function parseEmfLine(line: string): MetricDatum[] | undefined {
  if (!looksLikeEmf(line)) return undefined;
  let root: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    root = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const aws = root._aws as { Timestamp?: unknown; CloudWatchMetrics?: unknown } | undefined;
  if (!aws || typeof aws.Timestamp !== 'number' || !Array.isArray(aws.CloudWatchMetrics)) return undefined;
  const timestamp = aws.Timestamp;
  const data: MetricDatum[] = [];
  for (const directive of aws.CloudWatchMetrics as Directive[]) {
    if (typeof directive?.Namespace !== 'string' || !Array.isArray(directive.Dimensions) || !Array.isArray(directive.Metrics)) continue;
    const dimensionSets = (directive.Dimensions as unknown[]).filter(
      (set): set is string[] => Array.isArray(set) && set.length <= MAX_DIMENSIONS && set.every((key) => typeof key === 'string'),
    );
    for (const metric of directive.Metrics as { Name?: unknown; Unit?: unknown }[]) {
      if (typeof metric?.Name !== 'string') continue;
      const values = metricValues(root[metric.Name]);
      if (values === undefined) continue;
      for (const set of dimensionSets) {
        // A dimension the directive names but the line does not carry invalidates that dimension set.
        if (!set.every((key) => typeof root[key] === 'string')) continue;
        const dimensions = Object.fromEntries(set.map((key) => [key, root[key] as string]));
        data.push({
          namespace: directive.Namespace,
          metricName: metric.Name,
          dimensions,
          timestamp,
          values,
          ...(typeof metric.Unit === 'string' ? { unit: metric.Unit } : {}),
        });
      }
    }
  }
  return data;
}

function metricValues(value: unknown): number[] | undefined {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || list.length > MAX_VALUES) return undefined;
  return list.every((v) => typeof v === 'number' && Number.isFinite(v)) ? (list as number[]) : undefined;
}
