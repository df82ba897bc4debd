// The shell examples of the markdown files, as the docs test (test/docs/examples.test.ts) runs them: fenced
// blocks tagged `sh` (commands; a `# ...` line right under a command is its printed output) or `console`
// (`$ command`, then its output), each with the mark in the HTML comment right above it, if any, and the
// comparison of a documented output with a real one by shape.

/** `<!-- aws-only -->`: needs an AWS account; `<!-- not-run: why -->`: shows a situation the docs do not create. */
export type Mark = { readonly kind: 'aws-only' } | { readonly kind: 'not-run'; readonly reason: string };

export interface Example {
  /** The command as written, continuation lines joined (`\` and newline kept: the shell reads them). */
  readonly command: string;
  /** The documented output lines (empty when the docs show none). */
  readonly output: readonly string[];
}

export interface Block {
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly lang: string;
  readonly mark?: Mark;
  readonly examples: readonly Example[];
  /** The JSON block right after this one, if any: the shape of its last command's output. */
  readonly jsonAfter?: string;
  /** The `text` block right after an `sh` one, if any: the output of its last command. */
  readonly outputAfter?: readonly string[];
  readonly text: string;
}

/** What starts a shell command in the docs. */
const COMMAND_START = /^(npx|npm|curl|sleep|export|aws|[A-Za-z_][A-Za-z0-9_]*=)/;

/** Fenced blocks of a markdown text: sh and console ones parsed into examples, text ones kept for their synopses. */
export function blocksOf(file: string, markdown: string): { blocks: Block[]; untagged: number[] } {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  const untagged: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\S*)\s*$/.exec(lines[i] as string);
    if (!fence) continue;
    const lang = fence[1] as string;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !(lines[i] as string).startsWith('```'); i++) body.push(lines[i] as string);
    const previous =
      lines
        .slice(0, start)
        .reverse()
        .find((l) => l.trim() !== '') ?? '';
    const mark = markOf(previous);
    if (lang === '' && body.some((l) => l.startsWith('$ ') || COMMAND_START.test(l))) untagged.push(start + 1);
    if (lang !== 'sh' && lang !== 'console' && lang !== 'text') continue;
    const examples = lang === 'console' ? consoleExamples(body) : lang === 'sh' ? shExamples(body) : textCommands(body);
    const next = lines.slice(i + 1).findIndex((l) => l.trim() !== '');
    const following = next < 0 ? undefined : lines[i + 1 + next];
    const after: string[] = [];
    if (following === '```json' || (following === '```text' && lang === 'sh')) {
      for (let j = i + 2 + next; j < lines.length && !(lines[j] as string).startsWith('```'); j++) after.push(lines[j] as string);
    }
    blocks.push({
      file,
      line: start + 1,
      lang,
      ...(mark ? { mark } : {}),
      examples,
      ...(following === '```json' ? { jsonAfter: after.join('\n') } : {}),
      ...(following === '```text' && lang === 'sh' ? { outputAfter: after } : {}),
      text: body.join('\n'),
    });
  }
  return { blocks, untagged };
}

function markOf(line: string): Mark | undefined {
  if (/^<!--\s*aws-only\s*-->$/.test(line.trim())) return { kind: 'aws-only' };
  const notRun = /^<!--\s*not-run:\s*(.+?)\s*-->$/.exec(line.trim());
  return notRun ? { kind: 'not-run', reason: notRun[1] as string } : undefined;
}

/** `$ command` (continued by `\`), then output lines until the next `$`; blank lines end an output. */
function consoleExamples(body: readonly string[]): Example[] {
  const examples: { command: string; output: string[] }[] = [];
  for (let i = 0; i < body.length; i++) {
    const line = body[i] as string;
    if (line.startsWith('$ ')) {
      let command = line.slice(2);
      while (continues(command) && i + 1 < body.length) command += `\n${body[++i]}`;
      examples.push({ command, output: [] });
    } else if (examples.length > 0) {
      examples.at(-1)?.output.push(line);
    }
  }
  return examples.map((e) => ({ command: e.command, output: trimBlank(e.output) }));
}

/** One command per line (continued by `\`); comment lines right under a command are its output. */
function shExamples(body: readonly string[]): Example[] {
  const examples: { command: string; output: string[] }[] = [];
  for (let i = 0; i < body.length; i++) {
    const line = body[i] as string;
    if (line.trim() === '') continue;
    if (line.startsWith('# ')) {
      examples.at(-1)?.output.push(line.slice(2));
      continue;
    }
    let command = line;
    while (continues(command) && i + 1 < body.length) command += `\n${body[++i]}`;
    examples.push({ command, output: [] });
  }
  return examples;
}

/** Synopses: a line starting a command, and the indented lines that continue it. */
function textCommands(body: readonly string[]): Example[] {
  const examples: { command: string; output: string[] }[] = [];
  for (const line of body) {
    const text = line.startsWith('$ ') ? line.slice(2) : line;
    if (COMMAND_START.test(text)) examples.push({ command: text, output: [] });
    else if (/^\s+\S/.test(line) && examples.length > 0) examples.at(-1)!.command += ` ${line.trim()}`;
  }
  return examples;
}

/** Whether the shell reads on: a line ending in `\`, or a quote still open (a `#` comment quotes nothing). */
function continues(command: string): boolean {
  if (command.endsWith('\\')) return true;
  let quote: string | undefined;
  let previous = '\n';
  for (const char of command) {
    if (quote) {
      if (char === quote) quote = undefined;
    } else if (char === "'" || char === '"') quote = char;
    else if (char === '#' && /\s/.test(previous)) return false;
    previous = char;
  }
  return quote !== undefined;
}

function trimBlank(lines: readonly string[]): string[] {
  const out = [...lines];
  while (out.length > 0 && (out.at(-1) as string).trim() === '') out.pop();
  return out;
}

/** `NAME=value`: a shell variable the next commands of the file read. */
export function assignmentOf(command: string): string | undefined {
  return /^([A-Za-z_][A-Za-z0-9_]*)=\S/.exec(command)?.[1];
}

/** A `<placeholder>` or an optional `[--flag]`: a synopsis, not a command to run. */
export function isSynopsis(command: string, substitutable: readonly string[]): boolean {
  const rest = substitutable.reduce((text, token) => text.replaceAll(token, ''), command);
  return /<[a-zA-Z][^<>]*>/.test(rest) || /\[--?[a-z]/.test(rest);
}

/**
 * Whether `actual` (the printed lines) has the documented shape `expected`: the same lines in the same order,
 * where any number stands for any number, a hex id (letters a-f and digits, 4 or more) or an ISO time for any
 * other, runs of spaces for runs of spaces, `…` or `...` inside a line for any text, and a line that is only
 * `…` or `...` for any lines. Blank lines are not compared. Returns the ids the documented ones stand for
 * (documented -> printed), or the first line that does not fit.
 */
export function matchShape(expected: readonly string[], actual: readonly string[]): { ok: true; ids: Map<string, string> } | { ok: false; reason: string } {
  const want = expected.map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
  const got = actual.map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
  const ids = new Map<string, string>();
  let g = 0;
  let gap = false;
  for (const line of want) {
    if (/^\s*(…|\.\.\.)\s*$/.test(line)) {
      gap = true;
      continue;
    }
    const { regex, tokens } = linePattern(line);
    let found = -1;
    for (let k = g; k < got.length && (gap || k === g); k++) {
      if (regex.test(got[k] as string)) {
        found = k;
        break;
      }
    }
    if (found < 0) {
      const near = got[g] === undefined ? 'the output ended' : `got: ${got[g]}`;
      return { ok: false, reason: `no line like: ${line}\n  ${gap ? `(after any lines) ${near}` : near}` };
    }
    const captured = regex.exec(got[found] as string) as RegExpExecArray;
    tokens.forEach((token, i) => {
      const printed = captured[i + 1];
      if (printed !== undefined && printed !== token) ids.set(token, printed);
    });
    g = found + 1;
    gap = false;
  }
  if (!gap && g < got.length) return { ok: false, reason: `more output than documented, from: ${got[g]}` };
  return { ok: true, ids };
}

const TOKEN = /(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)|((?<![\w])(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{4,}(?![\w]))|(\d+(?:\.\d+)?(?:e[-+]?\d+)?)|(…|\.\.\.)|(\s+)/g;

function linePattern(line: string): { regex: RegExp; tokens: string[] } {
  const tokens: string[] = [];
  let source = '^';
  let last = 0;
  for (const match of line.matchAll(TOKEN)) {
    source += escapeRegExp(line.slice(last, match.index));
    const [text, iso, hex, number, ellipsis] = match;
    if (iso) source += '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(?:\\.\\d+)?Z';
    else if (hex) {
      tokens.push(hex);
      source += '([0-9a-f]{4,})';
    } else if (number) source += '-?\\d+(?:\\.\\d+)?(?:e[-+]?\\d+)?';
    else if (ellipsis) source += '.*?';
    else source += '\\s+';
    last = (match.index as number) + text.length;
  }
  source += `${escapeRegExp(line.slice(last))}$`;
  return { regex: new RegExp(source), tokens };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether `actual` has the keys of `expected` (recursively; an array's first element stands for all). */
export function jsonShapeProblem(expected: unknown, actual: unknown, at = '$'): string | undefined {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${at}: expected an array, got ${JSON.stringify(actual)}`;
    return expected.length > 0 && actual.length > 0 ? jsonShapeProblem(expected[0], actual[0], `${at}[0]`) : undefined;
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return `${at}: expected an object, got ${JSON.stringify(actual)}`;
    for (const [key, value] of Object.entries(expected)) {
      if (!(key in actual)) return `${at}.${key}: missing`;
      const problem = jsonShapeProblem(value, (actual as Record<string, unknown>)[key], `${at}.${key}`);
      if (problem) return problem;
    }
    return undefined;
  }
  return typeof expected === typeof actual ? undefined : `${at}: expected a ${typeof expected}, got ${JSON.stringify(actual)}`;
}
