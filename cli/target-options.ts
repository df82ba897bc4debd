// The flags several commands share, with one meaning each (docs/cli.md, "Vocabulary"). Declarations and help
// text only, and which target the flags and environment choose: the code that reaches a target is
// cli/target.ts, loaded when a command runs.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ENDPOINTS_FILE } from '../local/state-files';
import { UsageError } from './usage-error';

export const jsonOption = { json: { type: 'boolean' } } as const;

/** How far back a command looks: `--since 1h` is the last hour. `--window` was drift's name for it. */
export const sinceOption = { since: { type: 'string' } } as const;
export const SINCE_RENAMED = { window: 'since' } as const;

/** Options of every command that talks to a stack. */
export const targetOptions = {
  'state-dir': { type: 'string' },
  local: { type: 'boolean' },
  aws: { type: 'boolean' },
  stack: { type: 'string' },
  profile: { type: 'string' },
  region: { type: 'string' },
} as const;

export const targetUsage = `target (default: the running local runtime, or MODELGATE_TARGET=aws|local):
  --state-dir <dir>   the local runtime's state folder (default: MODELGATE_STATE_DIR, else .modelgate)
  --aws               a deployed stack instead, with the standard AWS credential chain (AWS_PROFILE,
                      AWS_REGION...); --local forces the local runtime when MODELGATE_TARGET=aws
  --stack <name>      its CloudFormation stack (default: MODELGATE_STACK, else modelgate-dev)
  --profile <name>    AWS profile; --region <region>`;

/** Options of the commands that read monitoring data (`drift <model>`, `errors`). */
export const monitoringTargetOptions = {
  ...targetOptions,
  'dynamodb-endpoint': { type: 'string' },
  's3-endpoint': { type: 'string' },
  table: { type: 'string' },
  'prediction-table': { type: 'string' },
  bucket: { type: 'string' },
  manifest: { type: 'string' },
} as const;

export const monitoringTargetUsage = `${targetUsage}
  without a running runtime, name the servers and tables yourself:
  --dynamodb-endpoint <url>  a DynamoDB endpoint (local credentials)
  --table <name>             the monitoring table; --prediction-table <name> the prediction log
  --s3-endpoint <url> --bucket <name>   where the manifests are, or
  --manifest <file>          the model version's manifest.json`;

export interface TargetFlags {
  readonly 'state-dir'?: string;
  readonly local?: boolean;
  readonly aws?: boolean;
  readonly stack?: string;
  readonly profile?: string;
  readonly region?: string;
}

/** The environment variables a session sets once instead of repeating flags (a flag wins over its variable). */
export const TARGET_ENVIRONMENT = { target: 'MODELGATE_TARGET', stateDir: 'MODELGATE_STATE_DIR', stack: 'MODELGATE_STACK' } as const;

/** Local or AWS: --local / --aws, else MODELGATE_TARGET, else local. */
export function targetKind(flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): 'local' | 'aws' {
  if (flags.local && flags.aws) throw new UsageError('--local and --aws exclude each other', 'give one of them');
  if (flags.local) return 'local';
  if (flags.aws) return 'aws';
  const fromEnv = env[TARGET_ENVIRONMENT.target];
  if (fromEnv === undefined || fromEnv === '' || fromEnv === 'local') return 'local';
  if (fromEnv === 'aws') return 'aws';
  throw new UsageError(`${TARGET_ENVIRONMENT.target} must be aws or local, got "${fromEnv}"`, `set it to aws or local, or unset it`);
}

/** The local runtime's state folder: --state-dir, else MODELGATE_STATE_DIR, else .modelgate. */
export function stateDirOf(flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flags['state-dir'] ?? (env[TARGET_ENVIRONMENT.stateDir] || '.modelgate'));
}

/**
 * The endpoints file of the local runtime the flags name, which it writes while it runs; no such file is bad
 * usage naming how to start one.
 */
export function localEndpointsFile(flags: TargetFlags): string {
  const file = join(stateDirOf(flags), ENDPOINTS_FILE);
  if (!existsSync(file)) {
    throw new UsageError(
      `no local runtime is running (${file} not found)`,
      `start one with \`npm start\` (or point --state-dir / ${TARGET_ENVIRONMENT.stateDir} at its state folder), or target a deployed stack with --aws`,
    );
  }
  return file;
}

/**
 * What can be known about the target without loading a client: the flags and environment agree, and a local
 * runtime is running. main.ts checks it before loading a command that needs a stack, so such a command fails
 * in milliseconds rather than after loading the AWS SDK.
 */
export function checkTarget(flags: TargetFlags): void {
  if (targetKind(flags) === 'local') localEndpointsFile(flags);
}
