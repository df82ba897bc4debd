import type { Command } from './command';
import { abtestCommand } from './commands/abtest';
import { driftCommand } from './commands/drift';
import { errorsCommand } from './commands/errors';
import { experimentCommand } from './commands/experiment';
import { reingestCommand } from './commands/reingest';
import { packageCommand } from './commands/package';
import { modelsCommand } from './commands/models';
import { promoteCommand, rollbackCommand } from './commands/operate';
import { pushCommand } from './commands/push';
import { validateCommand } from './commands/validate';
import { UsageError } from './usage-error';

const commands: readonly Command[] = [
  driftCommand,
  errorsCommand,
  abtestCommand,
  packageCommand,
  reingestCommand,
  validateCommand,
  pushCommand,
  modelsCommand,
  promoteCommand,
  rollbackCommand,
  experimentCommand,
];

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length), 4);
  return [
    'usage: modelgate <command> [options]',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `modelgate <command> --help` for the options of one command.',
  ].join('\n');
}

/** Runs the CLI and returns the exit code: 0 success, 1 failure, 2 bad usage or bad input. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`modelgate: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError || isParseArgsError(error)) {
      console.error(`modelgate ${name}: ${(error as Error).message}\n\n${command.usage}`);
      return 2;
    }
    throw error;
  }
}

/** `util.parseArgs` reports unknown or malformed options with these codes. */
function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}
