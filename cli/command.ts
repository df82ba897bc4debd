// What a `modelgate <name>` command declares. The declaration (cli/specs/) is light: main.ts reads every one to
// print help and parse flags, and loads a command's implementation (cli/commands/) only when it runs, so
// `--help` and a typo never load the AWS SDK, onnxruntime or the local runtime.
import type { parseArgs } from 'node:util';
import { UsageError } from './usage-error';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  readonly default?: string | boolean | string[] | boolean[];
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** The flags and positionals one run was given, typed after its option declarations. */
export interface CommandInput<O extends OptionSpecs> {
  readonly values: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true }>>['values'];
  readonly positionals: string[];
}

/** Runs the command; resolves to its exit code (docs/cli.md has the table) or throws (cli/failure.ts maps it). */
export type CommandRun<O extends OptionSpecs> = (input: CommandInput<O>) => Promise<number>;

export interface CommandSpec<O extends OptionSpecs = OptionSpecs> {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: O;
  /** Whether the command takes positional arguments (a model, a folder...). */
  readonly positionals: boolean;
  /** Old flag names still accepted, each with a note on stderr: `{ window: 'since' }`. */
  readonly renamed?: Readonly<Record<string, keyof O & string>>;
  /**
   * Checks that need no client, run before the implementation loads (e.g. cli/target-options.ts checkTarget),
   * so a command that cannot reach its target fails before loading the AWS SDK.
   */
  readonly preflight?: (input: CommandInput<O>) => void;
  /** Sub-commands (`experiment start`), each with its own flags; the command then runs with the sub-command first. */
  readonly subcommands?: Readonly<Record<string, Pick<CommandSpec, 'options' | 'positionals' | 'renamed'>>>;
  load(): Promise<CommandRun<O>>;
}

/**
 * Declares a command: checks that its implementation takes the values its options parse to, then erases
 * the option types so main.ts can hold every command in one list (it parses each with its own options).
 */
export function defineCommand<O extends OptionSpecs>(spec: CommandSpec<O>): CommandSpec {
  return spec as unknown as CommandSpec;
}

/** The one model a command names (`modelgate models churn`); none or several is bad usage showing `example`. */
export function oneModel(command: string, positionals: readonly string[], example: string): string {
  const [model, ...extra] = positionals;
  if (model === undefined || extra.length > 0) {
    throw new UsageError(`${command} takes one model name${extra.length > 0 ? `, got: ${positionals.join(' ')}` : ''}`, `e.g. \`${example}\``);
  }
  return model;
}
