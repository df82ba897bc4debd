import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { localDynamoClient, localS3Client } from '../local/aws-clients';
import { ENDPOINTS_FILE, type LocalEndpoints } from '../local/state-files';
import { UsageError } from './usage-error';

/** Options every command that talks to a stack accepts (merge into its parseArgs options). */
export const targetOptions = {
  'state-dir': { type: 'string' },
  aws: { type: 'boolean', default: false },
  stack: { type: 'string' },
  profile: { type: 'string' },
  region: { type: 'string' },
} as const;

export const targetUsage = `target (default: the running local runtime):
  --state-dir <dir>   the local runtime's state folder (default .modelgate)
  --aws               a deployed stack instead, with the standard AWS credential chain
  --stack <name>      its CloudFormation stack (default modelgate-dev)
  --profile <name>    AWS profile; --region <region>`;

/** A stack to talk to: its outputs (bucket, table, API URL...) and SDK clients for it. */
export interface Target {
  readonly kind: 'local' | 'aws';
  readonly outputs: Readonly<Record<string, string>>;
  readonly region: string;
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
  /** Endpoint overrides to hand to any other SDK client (local only). */
  readonly endpoints: { readonly s3?: string; readonly dynamodb?: string; readonly stepFunctions?: string; readonly lambda?: string };
}

export interface TargetFlags {
  readonly 'state-dir'?: string;
  readonly aws?: boolean;
  readonly stack?: string;
  readonly profile?: string;
  readonly region?: string;
}

/** Output names a command needs; a missing one is bad usage, not a crash. */
export function requireOutput(target: Target, name: string): string {
  const value = target.outputs[name];
  if (value === undefined) {
    throw new UsageError(`the ${target.kind} stack has no output ${name} (outputs: ${Object.keys(target.outputs).join(', ') || 'none'})`);
  }
  return value;
}

/**
 * Resolves the target stack: by default the local runtime started by `npm start` (found through the
 * endpoints file it writes in its state folder); with --aws a deployed stack's CloudFormation outputs.
 */
export async function resolveTarget(flags: TargetFlags): Promise<Target> {
  if (!flags.aws) {
    const file = join(resolve(flags['state-dir'] ?? '.modelgate'), ENDPOINTS_FILE);
    if (!existsSync(file)) {
      throw new UsageError(`no local runtime is running (${file} not found): start one with \`npm start\`, or target AWS with --aws`);
    }
    const local = JSON.parse(readFileSync(file, 'utf8')) as LocalEndpoints;
    return {
      kind: 'local',
      outputs: local.outputs,
      region: local.region,
      s3: localS3Client(local.s3Endpoint),
      dynamodb: localDynamoClient(local.dynamoDbEndpoint),
      endpoints: {
        s3: local.s3Endpoint,
        dynamodb: local.dynamoDbEndpoint,
        ...(local.stepFunctionsEndpoint ? { stepFunctions: local.stepFunctionsEndpoint } : {}),
        ...(local.lambdaEndpoint ? { lambda: local.lambdaEndpoint } : {}),
      },
    };
  }
  if (flags.profile) process.env.AWS_PROFILE = flags.profile;
  const region = flags.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  const config = region ? { region } : {};
  const stackName = flags.stack ?? 'modelgate-dev';
  const cloudformation = new CloudFormationClient(config);
  const { Stacks } = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
  const outputs = Object.fromEntries((Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  return {
    kind: 'aws',
    outputs,
    region: region ?? (await cloudformation.config.region()),
    s3: new S3Client(config),
    dynamodb: new DynamoDBClient(config),
    endpoints: {},
  };
}
