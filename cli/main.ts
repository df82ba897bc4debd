// `modelgate <command>`: finds the command, parses its flags and loads its implementation only then (a dynamic
// import per command: `--help` and typos load no SDK, onnxruntime or local runtime). Every failure goes
// through cli/failure.ts, so exit codes and messages follow one table (docs/cli.md).
import { parseCommandArgs, type ParsedArgs } from './args';
import type { CommandSpec, OptionSpecs } from './command';
import { reportFailure } from './failure';
import { abtestSpec } from './specs/abtest';
import { batchSpec } from './specs/batch';
import { driftSpec } from './specs/drift';
import { errorsSpec } from './specs/errors';
import { experimentSpec } from './specs/experiment';
import { modelsSpec } from './specs/models';
import { packageSpec } from './specs/package';
import { promoteSpec } from './specs/promote';
import { pushSpec } from './specs/push';
import { qualitySpec } from './specs/quality';
import { reingestSpec } from './specs/reingest';
import { replaySpec } from './specs/replay';
import { retireSpec } from './specs/retire';
import { rollbackSpec } from './specs/rollback';
import { validateSpec } from './specs/validate';
import { nearest } from './suggest';
import { UsageError } from './usage-error';

/** Every command, in the order of the help text. */
export const COMMANDS: readonly CommandSpec[] = [
  packageSpec,
  validateSpec,
  pushSpec,
  modelsSpec,
  promoteSpec,
  rollbackSpec,
  retireSpec,
  driftSpec,
  qualitySpec,
  errorsSpec,
  replaySpec,
  experimentSpec,
  abtestSpec,
  reingestSpec,
  batchSpec,
];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: modelgate <command> [options]',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `modelgate <command> --help` for the options of one command. Every command takes --json; --debug',
    'prints the full trace of an unexpected error.',
    'Environment (a flag wins): MODELGATE_STATE_DIR (the local state folder), MODELGATE_TARGET=aws|local,',
    'MODELGATE_STACK, and the standard AWS_* variables.',
    'Exit codes: 0 ok; 1 the outcome failed (rejected, rolled back, drift found with --fail-on-drift...);',
    '2 no outcome (bad usage, an unknown name, an unreachable target, an unexpected error).',
  ].join('\n');
}

/** Runs the CLI and returns the exit code (the table is in docs/cli.md). */
export async function main(argv: readonly string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const [name, ...rest] = argv.filter((arg) => arg !== '--debug');
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const about = name === 'help' && rest[0] !== undefined ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    if (name === undefined) console.error(help());
    else console.log(about?.usage ?? help());
    return name === undefined ? 2 : 0;
  }
  const spec = COMMANDS.find((c) => c.name === name);
  if (!spec) {
    const guess = nearest(
      name,
      COMMANDS.map((c) => c.name),
    );
    const error = new UsageError(`unknown command "${name}"`, guess ? `did you mean "${guess}"?` : 'run `modelgate --help` for the commands');
    return reportFailure(error, { values: { json: rest.includes('--json') }, debug });
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(spec.usage);
    return 0;
  }
  let parsed: ParsedArgs<OptionSpecs> | undefined;
  try {
    parsed = parse(spec, rest);
    for (const note of parsed.notes) console.error(`modelgate ${name}: ${note}`);
    spec.preflight?.(parsed);
    const run = await spec.load();
    return await run(parsed);
  } catch (error) {
    return reportFailure(error, { command: name, values: parsed?.values ?? { json: rest.includes('--json') }, debug });
  }
}

/** The command's flags; with sub-commands, the sub-command's, and the sub-command as the first positional. */
function parse(spec: CommandSpec, args: readonly string[]): ParsedArgs<OptionSpecs> {
  if (!spec.subcommands) return parseCommandArgs(spec.name, spec, args);
  const names = Object.keys(spec.subcommands);
  const [sub, ...rest] = args;
  const list = `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
  if (sub === undefined || sub.startsWith('-')) throw new UsageError(`which sub-command: ${list}?`, `e.g. \`modelgate ${spec.name} ${names.at(-1)}\``);
  const subSpec = spec.subcommands[sub];
  if (!subSpec) {
    const guess = nearest(sub, names);
    throw new UsageError(`unknown sub-command "${sub}" (${names.join(', ')})`, guess ? `did you mean "${guess}"?` : `see \`modelgate ${spec.name} --help\``);
  }
  const parsed = parseCommandArgs(`${spec.name} ${sub}`, subSpec, rest);
  return { ...parsed, positionals: [sub, ...parsed.positionals] };
}
