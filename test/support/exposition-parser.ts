// A strict reader of the Prometheus text exposition format 0.0.4 and of OpenMetrics 1.0, written from their
// specifications (prometheus.io "Exposition formats"; OpenMetrics 1.0 ABNF) and independent of the renderer it
// checks: the npm parsers of these formats are unmaintained (docs/monitoring.md, "Prometheus and Grafana").
// It throws on anything either format forbids, naming the line; it does not judge what the values mean.

export interface ParsedSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ParsedFamily {
  /** As declared by TYPE: with `_total` for a 0.0.4 counter, without for an OpenMetrics one. */
  readonly name: string;
  readonly type: string;
  readonly help?: string;
  readonly unit?: string;
  readonly samples: ParsedSample[];
}

const METRIC_NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = {
  text: ['counter', 'gauge', 'histogram', 'summary', 'untyped'],
  openmetrics: ['counter', 'gauge', 'histogram', 'gaugehistogram', 'stateset', 'info', 'summary', 'unknown'],
};
const SUFFIXES: Readonly<Record<string, readonly string[]>> = {
  counter: ['_total', '_created'],
  histogram: ['_bucket', '_count', '_sum', '_created'],
  summary: ['', '_count', '_sum', '_created'],
};

export function parseExposition(text: string, format: 'text' | 'openmetrics'): ParsedFamily[] {
  const families: (ParsedFamily & { samples: ParsedSample[]; help?: string; unit?: string })[] = [];
  const byName = new Map<string, (typeof families)[number]>();
  let lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('the exposition does not end with a line feed');
  lines = lines.slice(0, -1);
  if (format === 'openmetrics') {
    if (lines.at(-1) !== '# EOF') throw new Error('OpenMetrics: the last line is not "# EOF"');
    lines = lines.slice(0, -1);
  }
  let current: (typeof families)[number] | undefined;
  const declare = (name: string, where: string) => {
    let declared = byName.get(name);
    if (!declared) {
      declared = { name, type: format === 'text' ? 'untyped' : 'unknown', samples: [] };
      byName.set(name, declared);
      families.push(declared);
    } else if (format === 'openmetrics' && declared !== current) throw new Error(`${where}: family ${name} is interleaved with another`);
    current = declared;
    return declared;
  };
  lines.forEach((line, index) => {
    const where = `line ${index + 1} (${JSON.stringify(line)})`;
    if (line === '') {
      if (format === 'openmetrics') throw new Error(`${where}: OpenMetrics has no empty lines`);
      return;
    }
    if (line.startsWith('#')) {
      const match = new RegExp(`^# (HELP|TYPE|UNIT) (${METRIC_NAME})(?: (.*))?$`).exec(line);
      if (!match) {
        if (format === 'openmetrics') throw new Error(`${where}: not a HELP, TYPE or UNIT line`);
        return; // a comment
      }
      const [, keyword, name = '', rest = ''] = match;
      if (keyword === 'UNIT' && format === 'text') return; // 0.0.4 has no UNIT: a comment
      const family = declare(name, where);
      if (family.samples.length > 0) throw new Error(`${where}: ${keyword} after the family's samples`);
      if (keyword === 'TYPE') {
        if (!TYPES[format].includes(rest)) throw new Error(`${where}: unknown type ${rest}`);
        if (family.type !== (format === 'text' ? 'untyped' : 'unknown')) throw new Error(`${where}: a second TYPE`);
        (family as { type: string }).type = rest;
      } else if (keyword === 'HELP') {
        if (family.help !== undefined) throw new Error(`${where}: a second HELP`);
        family.help = unescapeHelp(rest, format === 'openmetrics' ? ['\\', 'n', '"'] : ['\\', 'n'], where);
      } else {
        if (!name.endsWith(`_${rest}`)) throw new Error(`${where}: the name does not end with its unit _${rest}`);
        family.unit = rest;
      }
      return;
    }
    const sample = parseSample(line, where);
    const family = familyOf(sample.name, byName, format) ?? declare(sample.name, where);
    if (family !== current) {
      if (format === 'openmetrics' && family.samples.length > 0) throw new Error(`${where}: family ${family.name} is interleaved with another`);
      current = family;
    }
    family.samples.push(sample);
  });
  for (const family of families) {
    if (format === 'openmetrics' && family.type === 'counter' && family.name.endsWith('_total')) throw new Error(`OpenMetrics: counter family ${family.name} ends with _total`);
    const suffixes = SUFFIXES[family.type];
    for (const sample of family.samples) {
      const suffix = sample.name.slice(family.name.length);
      if (format === 'text' && family.type === 'counter' ? suffix !== '' : suffixes ? !suffixes.includes(suffix) : suffix !== '') {
        throw new Error(`sample ${sample.name} does not belong to ${family.type} ${family.name}`);
      }
    }
  }
  return families;
}

/** The declared family a sample name belongs to (`x_bucket` to histogram `x`, `x_total` to an OpenMetrics counter `x`). */
function familyOf(sampleName: string, byName: ReadonlyMap<string, ParsedFamily>, format: 'text' | 'openmetrics'): ParsedFamily | undefined {
  const exact = byName.get(sampleName);
  if (exact) return exact;
  for (const [type, suffixes] of Object.entries(SUFFIXES)) {
    if (format === 'text' && type === 'counter') continue;
    for (const suffix of suffixes) {
      if (suffix === '' || !sampleName.endsWith(suffix)) continue;
      const family = byName.get(sampleName.slice(0, -suffix.length));
      if (family?.type === type) return family;
    }
  }
  return undefined;
}

function parseSample(line: string, where: string): ParsedSample {
  const name = new RegExp(`^${METRIC_NAME}`).exec(line)?.[0];
  if (!name) throw new Error(`${where}: no metric name`);
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    rest = rest.slice(1);
    while (!rest.startsWith('}')) {
      const labelName = LABEL_NAME.exec(rest)?.[0];
      if (!labelName || !rest.slice(labelName.length).startsWith('="')) throw new Error(`${where}: bad label`);
      rest = rest.slice(labelName.length + 2);
      let value = '';
      for (;;) {
        const char = rest[0];
        if (char === undefined) throw new Error(`${where}: unterminated label value`);
        rest = rest.slice(1);
        if (char === '"') break;
        if (char === '\n') throw new Error(`${where}: raw line feed in a label value`);
        if (char === '\\') {
          const escaped = rest[0];
          rest = rest.slice(1);
          if (escaped === '\\' || escaped === '"') value += escaped;
          else if (escaped === 'n') value += '\n';
          else throw new Error(`${where}: unknown escape \\${escaped}`);
        } else value += char;
      }
      if (labelName in labels) throw new Error(`${where}: label ${labelName} twice`);
      labels[labelName] = value;
      if (rest.startsWith(',')) rest = rest.slice(1);
      else if (!rest.startsWith('}')) throw new Error(`${where}: expected , or } after a label`);
    }
    rest = rest.slice(1);
  }
  const match = /^ (\S+)(?: (-?\d+(?:\.\d+)?))?$/.exec(rest);
  if (!match) throw new Error(`${where}: expected " value [timestamp]"`);
  return { name, labels, value: parseValue(match[1] as string, where) };
}

function parseValue(text: string, where: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return Number.NaN;
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(text)) throw new Error(`${where}: ${text} is not a number`);
  return Number(text);
}

function unescapeHelp(text: string, allowed: readonly string[], where: string): string {
  return text.replace(/\\(.)/g, (_, char: string) => {
    if (!allowed.includes(char)) throw new Error(`${where}: unknown escape \\${char}`);
    return char === 'n' ? '\n' : char;
  });
}
