// One parser for every command's flags, so a flag is refused, suggested and renamed the same way everywhere.
import { parseArgs } from 'node:util';
import type { CommandInput, CommandSpec, OptionSpecs } from './command';
import { nearest } from './suggest';
import { UsageError } from './usage-error';

/** Flags main.ts handles for every command before the command's own flags are parsed. */
export const GLOBAL_FLAGS = ['help', 'debug'] as const;

export interface ParsedArgs<O extends OptionSpecs> extends CommandInput<O> {
  /** Notes for stderr, e.g. that a renamed flag was used. */
  readonly notes: readonly string[];
}

/**
 * The command's flags and positionals. Refuses an unknown flag (suggesting the nearest known one), a string
 * flag without a value, a value given to a boolean flag and positionals to a command that takes none;
 * accepts a renamed flag's old name with a note.
 */
export function parseCommandArgs<O extends OptionSpecs>(
  command: string,
  spec: Pick<CommandSpec<O>, 'options' | 'positionals' | 'renamed'>,
  args: readonly string[],
): ParsedArgs<O> {
  const renamed: Readonly<Record<string, string>> = spec.renamed ?? {};
  const options: OptionSpecs = { ...spec.options, ...Object.fromEntries(Object.entries(renamed).map(([old, now]) => [old, spec.options[now] as OptionSpecs[string]])) };
  const { tokens } = parseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true });
  const values: Record<string, string | boolean | string[]> = {};
  const positionals: string[] = [];
  const notes: string[] = [];
  const seenAs = new Map<string, string>();
  const help = `\`modelgate ${command} --help\` lists the options`;
  for (const token of tokens) {
    if (token.kind === 'positional') {
      if (!spec.positionals) throw new UsageError(`unexpected argument "${token.value}": ${command} takes options only`, help);
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== 'option') continue;
    const option = options[token.name];
    if (!option || !token.rawName.startsWith('--')) {
      const guess = nearest(token.name, [...Object.keys(spec.options), ...GLOBAL_FLAGS]);
      throw new UsageError(`unknown option ${token.rawName}`, guess ? `did you mean --${guess}?` : help);
    }
    const name = renamed[token.name] ?? token.name;
    const previous = seenAs.get(name);
    if (previous !== undefined && previous !== token.rawName) throw new UsageError(`${previous} and ${token.rawName} are the same option: give it once`, help);
    seenAs.set(name, token.rawName);
    if (name !== token.name) notes.push(`${token.rawName} is now --${name} (same meaning); the old name will go away`);
    if (option.type === 'boolean') {
      if (token.inlineValue) throw new UsageError(`${token.rawName} takes no value, got "${token.value}"`, help);
      values[name] = true;
      continue;
    }
    if (token.value === undefined || (!token.inlineValue && /^--?[a-zA-Z]/.test(token.value))) {
      throw new UsageError(`${token.rawName} needs a value${token.value === undefined ? '' : ` (got the option ${token.value})`}`, help);
    }
    values[name] = option.multiple ? [...((values[name] as string[] | undefined) ?? []), token.value] : token.value;
  }
  for (const [name, option] of Object.entries(spec.options)) {
    if (values[name] === undefined && option.default !== undefined) values[name] = option.default as string | boolean | string[];
  }
  return { values: values as ParsedArgs<O>['values'], positionals, notes };
}

/** A duration flag's value in milliseconds: `30s`, `10m`, `1h`, `7d`; zero or anything else is bad usage naming the flag. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+)([smhd])$/.exec(text);
  if (!match || Number(match[1]) === 0) throw new UsageError(`${flag} must be a duration such as 30s, 10m, 1h or 7d, got: ${text}`);
  return Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
}
