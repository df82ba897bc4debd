// The CLI's one error handler: every failure a command throws becomes one line that ends with the next step,
// and an exit code from the table in docs/cli.md. No stack trace reaches the user unless asked (--debug); an
// unexpected error's trace goes to a file whose path the line gives.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENDPOINTS_FILE } from '../local/state-files';
import { stateDirOf, targetKind, type TargetFlags } from './target-options';
import { UsageError } from './usage-error';

/** Exit codes (docs/cli.md): 1 is a definite negative outcome; 2 means no outcome could be produced. */
export const EXIT = { ok: 0, failed: 1, noOutcome: 2 } as const;

export interface FailureContext {
  /** The command that failed; none when the command itself is unknown. */
  readonly command?: string;
  /** The command's parsed flags, when parsing got that far: they say which target was meant. */
  readonly values?: Readonly<Record<string, unknown>>;
  readonly debug: boolean;
}

export interface Failure {
  readonly message: string;
  readonly nextStep: string;
  readonly exitCode: number;
}

/** Prints the failure (stderr; also a JSON object on stdout under --json) and returns the exit code. */
export function reportFailure(error: unknown, context: FailureContext): number {
  const failure = describeFailure(error, context);
  console.error(`modelgate${context.command ? ` ${context.command}` : ''}: ${failure.message}; ${failure.nextStep}`);
  if (context.debug && error instanceof Error && error.stack) console.error(error.stack);
  if (context.values?.json === true) console.log(JSON.stringify({ error: failure.message, nextStep: failure.nextStep, exitCode: failure.exitCode }));
  return failure.exitCode;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT']);
const CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'TokenRefreshRequired',
]);
const PERMISSION_ERRORS = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation']);

export function describeFailure(error: unknown, context: FailureContext): Failure {
  if (error instanceof UsageError) {
    const help = context.command ? `modelgate ${context.command} --help` : 'modelgate --help';
    return { message: error.message, nextStep: error.nextStep ?? `see \`${help}\``, exitCode: EXIT.noOutcome };
  }
  const e = (error ?? {}) as { name?: string; message?: string; code?: string; address?: string; port?: number; hostname?: string };
  const code = e.code ?? (error as { cause?: { code?: string } } | undefined)?.cause?.code;
  if (code !== undefined && CONNECTION_CODES.has(code)) return unreachable(code, e, context);
  if (e.name && CREDENTIAL_ERRORS.has(e.name)) {
    return {
      message: `AWS did not accept the credentials (${e.name}: ${firstLine(e.message)})`,
      nextStep: 'log in again (e.g. `aws sso login`), or choose credentials with AWS_PROFILE / --profile',
      exitCode: EXIT.noOutcome,
    };
  }
  if (e.name && PERMISSION_ERRORS.has(e.name)) {
    return {
      message: `the target refused the request (${e.name}: ${firstLine(e.message)})`,
      nextStep: 'use credentials allowed to operate the stack (docs/infrastructure.md)',
      exitCode: EXIT.noOutcome,
    };
  }
  if (e.name === 'ResourceNotFoundException') {
    return {
      message: `the target has no such resource (${firstLine(e.message)})`,
      nextStep: 'check that --state-dir or --stack names the stack you mean, and that it is deployed or running',
      exitCode: EXIT.noOutcome,
    };
  }
  const message = `unexpected error: ${e.name ?? 'Error'}: ${firstLine(e.message ?? String(error))}`;
  if (context.debug) return { message, nextStep: 'the full trace follows; please report it', exitCode: EXIT.noOutcome };
  const trace = writeTrace(error);
  return {
    message,
    nextStep: trace ? `the full trace is in ${trace} (--debug prints it); please report it` : 'rerun with --debug for the full trace; please report it',
    exitCode: EXIT.noOutcome,
  };
}

function unreachable(code: string, e: { address?: string; port?: number; hostname?: string; message?: string }, context: FailureContext): Failure {
  const where = e.address ? `${e.address}${e.port ? `:${e.port}` : ''}` : (e.hostname ?? firstLine(e.message));
  const values = (context.values ?? {}) as TargetFlags & Readonly<Record<string, unknown>>;
  if (values['dynamodb-endpoint'] !== undefined || values['s3-endpoint'] !== undefined) {
    return {
      message: `nothing answers at ${where} (${code})`,
      nextStep: 'start the server named by --dynamodb-endpoint / --s3-endpoint, or correct the address',
      exitCode: EXIT.noOutcome,
    };
  }
  let kind: 'local' | 'aws' = 'local';
  try {
    kind = targetKind(values);
  } catch {
    // The flags were refused before the target was reached; the address says enough.
  }
  if (kind === 'aws') {
    return { message: `cannot reach AWS at ${where} (${code})`, nextStep: 'check the network connection and the region (--region or AWS_REGION)', exitCode: EXIT.noOutcome };
  }
  return {
    message: `the local runtime is not running: nothing answers at ${where} (${code}), the address in ${join(stateDirOf(values), ENDPOINTS_FILE)}`,
    nextStep: 'start it with `npm start` (it rewrites that file), then run this again',
    exitCode: EXIT.noOutcome,
  };
}

function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n')[0] ?? '';
}

/** Writes the trace where the user can find it; undefined when even that fails. */
function writeTrace(error: unknown): string | undefined {
  const file = join(tmpdir(), `modelgate-error-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}.log`);
  try {
    const detail =
      error instanceof Error ? `${error.stack ?? error.message}${error.cause ? `\ncause: ${String((error.cause as Error).stack ?? error.cause)}` : ''}` : String(error);
    writeFileSync(file, `modelgate ${process.argv.slice(2).join(' ')}\n${detail}\n`);
    return file;
  } catch {
    return undefined;
  }
}
