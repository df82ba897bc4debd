/** One `modelgate <name>` sub-command. `run` returns the process exit code: 0 success, 1 failure. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  run(args: string[]): Promise<number>;
}
