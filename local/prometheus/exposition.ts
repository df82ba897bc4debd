// Metric families rendered in the Prometheus text exposition format 0.0.4, or in OpenMetrics 1.0 when the
// scraper asks for it. Pure: families in, text out. The rules that differ between the two formats:
// - counters: 0.0.4 names the family `<name>_total` in HELP and TYPE; OpenMetrics names it `<name>` and only
//   the sample carries `_total`;
// - OpenMetrics declares a family's unit (`# UNIT`, the name ending in `_<unit>`) and ends with `# EOF`;
// - OpenMetrics escapes `"` in HELP as well as `\` and line feeds.

export type LabelSet = Readonly<Record<string, string>>;

export interface ValueSample {
  readonly labels: LabelSet;
  readonly value: number;
}

export interface HistogramSample {
  readonly labels: LabelSet;
  /** Cumulative counts at each upper bound, bounds ascending, without +Inf (which is `count`). */
  readonly buckets: readonly { readonly le: number; readonly count: number }[];
  readonly count: number;
  readonly sum: number;
}

interface FamilyBase {
  /** Without the `_total` of counters; ending in `_<unit>` when `unit` is set. */
  readonly name: string;
  readonly help: string;
  /** A base unit (`seconds`, `bytes`, `ratio`...): OpenMetrics' UNIT line. */
  readonly unit?: string;
}

export type MetricFamily =
  | (FamilyBase & { readonly type: 'counter' | 'gauge'; readonly samples: readonly ValueSample[] })
  | (FamilyBase & { readonly type: 'histogram'; readonly samples: readonly HistogramSample[] });

export type ExpositionFormat = 'text' | 'openmetrics';

export const CONTENT_TYPES: Readonly<Record<ExpositionFormat, string>> = {
  text: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Suffixes OpenMetrics reserves for the samples of a family: a family name may not end with them. */
const RESERVED_SUFFIXES = ['_total', '_created', '_count', '_sum', '_bucket', '_gcount', '_gsum', '_info'];

/**
 * The format a scraper asked for in its Accept header: OpenMetrics 1.0 when `application/openmetrics-text`
 * (without a version, or version 1.0.0) is acceptable at least as much as the text format, as Prometheus asks
 * (`application/openmetrics-text;version=1.0.0,...,text/plain;version=0.0.4;q=0.5,*\/*;q=0.1`); else 0.0.4.
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  let openMetrics = 0;
  let text = 0;
  for (const range of (accept ?? '').split(',')) {
    const [type = '', ...parameters] = range.split(';').map((part) => part.trim().toLowerCase());
    const parameter = (key: string) => parameters.find((p) => p.startsWith(`${key}=`))?.slice(key.length + 1);
    const q = Number(parameter('q') ?? 1);
    if (!(q > 0)) continue;
    if (type === 'application/openmetrics-text' && ['1.0.0', undefined].includes(parameter('version'))) openMetrics = Math.max(openMetrics, q);
    else if (type === 'text/plain' || type === 'text/*' || type === '*/*') text = Math.max(text, q);
  }
  return openMetrics > 0 && openMetrics >= text ? 'openmetrics' : 'text';
}

/** The families in one format. Throws on a family no scraper would accept (a programming error, not input). */
export function renderExposition(families: readonly MetricFamily[], format: ExpositionFormat): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const family of families) {
    checkFamily(family, seen);
    const declared = format === 'text' && family.type === 'counter' ? `${family.name}_total` : family.name;
    if (format === 'openmetrics') {
      lines.push(`# TYPE ${declared} ${family.type}`);
      if (family.unit !== undefined) lines.push(`# UNIT ${declared} ${family.unit}`);
      lines.push(`# HELP ${declared} ${escapeHelp(family.help, format)}`);
    } else {
      lines.push(`# HELP ${declared} ${escapeHelp(family.help, format)}`);
      lines.push(`# TYPE ${declared} ${family.type}`);
    }
    if (family.type === 'histogram') {
      for (const sample of family.samples) {
        for (const bucket of sample.buckets) lines.push(line(`${family.name}_bucket`, { ...sample.labels, le: formatBound(bucket.le, format) }, bucket.count));
        lines.push(line(`${family.name}_bucket`, { ...sample.labels, le: '+Inf' }, sample.count));
        lines.push(line(`${family.name}_count`, sample.labels, sample.count));
        lines.push(line(`${family.name}_sum`, sample.labels, sample.sum));
      }
    } else {
      const sampleName = family.type === 'counter' ? `${family.name}_total` : family.name;
      for (const sample of family.samples) lines.push(line(sampleName, sample.labels, sample.value));
    }
  }
  if (format === 'openmetrics') lines.push('# EOF');
  return `${lines.join('\n')}\n`;
}

function checkFamily(family: MetricFamily, seen: Set<string>): void {
  const problems: string[] = [];
  if (!METRIC_NAME.test(family.name)) problems.push('is not a metric name');
  if (RESERVED_SUFFIXES.some((suffix) => family.name.endsWith(suffix))) problems.push(`ends with a suffix reserved for samples (${RESERVED_SUFFIXES.join(', ')})`);
  if (family.unit !== undefined && !family.name.endsWith(`_${family.unit}`)) problems.push(`does not end with its unit _${family.unit}`);
  if (seen.has(family.name)) problems.push('appears twice');
  const labelSets = new Set<string>();
  for (const sample of family.samples) {
    const names = Object.keys(sample.labels);
    const bad = names.filter((name) => !LABEL_NAME.test(name) || name.startsWith('__') || (family.type === 'histogram' && name === 'le'));
    if (bad.length > 0) problems.push(`has invalid label names: ${bad.join(', ')}`);
    const key = JSON.stringify(names.sort().map((name) => [name, sample.labels[name]]));
    if (labelSets.has(key)) problems.push(`has two samples with the labels ${key}`);
    labelSets.add(key);
    if (family.type === 'histogram') {
      const { buckets, count } = sample as HistogramSample;
      const ordered = buckets.every((b, i) => i === 0 || (b.le > (buckets[i - 1] as typeof b).le && b.count >= (buckets[i - 1] as typeof b).count));
      if (!ordered || (buckets.at(-1)?.count ?? 0) > count) problems.push(`has buckets that are not cumulative with ascending bounds (labels ${key})`);
    }
  }
  if (problems.length > 0) throw new Error(`metric family ${JSON.stringify(family.name)} ${problems.join('; ')}`);
  seen.add(family.name);
}

function line(name: string, labels: LabelSet, value: number): string {
  const pairs = Object.entries(labels).map(([key, labelValue]) => `${key}="${escapeLabelValue(labelValue)}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${formatNumber(value)}`;
}

/** Label values escape backslash, double quote and line feed, in both formats. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(help: string, format: ExpositionFormat): string {
  const escaped = help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return format === 'openmetrics' ? escaped.replace(/"/g, '\\"') : escaped;
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** OpenMetrics compares `le` as text across scrapes: whole bounds keep their `.0`, as its canonical floats do. */
function formatBound(le: number, format: ExpositionFormat): string {
  const text = formatNumber(le);
  return format === 'openmetrics' && Number.isInteger(le) && !text.includes('e') ? `${text}.0` : text;
}
