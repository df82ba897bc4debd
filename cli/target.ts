import { readFileSync } from 'node:fs';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { localDynamoClient, localS3Client } from '../local/aws-clients';
import type { LocalEndpoints } from '../local/state-files';
import { localEndpointsFile, stateDirOf, TARGET_ENVIRONMENT, targetKind, type TargetFlags } from './target-options';
import { UsageError } from './usage-error';

/** A stack to talk to: its outputs (bucket, table, API URL...) and SDK clients for it. */
export interface Target {
  readonly kind: 'local' | 'aws';
  /** Where it is, for messages: the local state folder, or the stack and region. */
  readonly description: string;
  readonly outputs: Readonly<Record<string, string>>;
  readonly region: string;
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
  /** Endpoint overrides to hand to any other SDK client (local only). */
  readonly endpoints: { readonly s3?: string; readonly dynamodb?: string; readonly stepFunctions?: string; readonly lambda?: string; readonly apiGateway?: string };
}

/** Output names a command needs; a missing one is bad usage, not a crash. */
export function requireOutput(target: Target, name: string): string {
  const value = target.outputs[name];
  if (value === undefined) {
    throw new UsageError(
      `the ${target.kind} stack (${target.description}) has no output ${name} (outputs: ${Object.keys(target.outputs).join(', ') || 'none'})`,
      target.kind === 'aws'
        ? 'deploy the current stack with `npx cdk deploy`, or name another with --stack'
        : 'restart the local runtime (`npm start`) so it writes the current outputs',
    );
  }
  return value;
}

/**
 * Resolves the target stack: by default the local runtime started by `npm start` (found through the
 * endpoints file it writes in its state folder); with --aws or MODELGATE_TARGET=aws a deployed stack's
 * CloudFormation outputs.
 */
export async function resolveTarget(flags: TargetFlags): Promise<Target> {
  if (targetKind(flags) === 'local') return localTarget(flags);
  if (flags['state-dir'] !== undefined) throw new UsageError('--state-dir names a local runtime, and the target is AWS', 'drop --state-dir, or give --local');
  if (flags.profile) process.env.AWS_PROFILE = flags.profile;
  const region = flags.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  const config = region ? { region } : {};
  const stackName = flags.stack ?? (process.env[TARGET_ENVIRONMENT.stack] || 'modelgate-dev');
  const cloudformation = new CloudFormationClient(config);
  let outputs: Record<string, string>;
  try {
    const { Stacks } = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = Object.fromEntries((Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  } catch (error) {
    if ((error as Error).name === 'ValidationError' && /does not exist/.test((error as Error).message)) {
      throw new UsageError(
        `no stack "${stackName}" in ${region ?? (await cloudformation.config.region())}`,
        `deploy it with \`npx cdk deploy\`, or name yours with --stack or ${TARGET_ENVIRONMENT.stack} (and --region)`,
      );
    }
    throw error;
  }
  const resolvedRegion = region ?? (await cloudformation.config.region());
  return {
    kind: 'aws',
    description: `stack ${stackName} in ${resolvedRegion}`,
    outputs,
    region: resolvedRegion,
    s3: new S3Client(config),
    dynamodb: new DynamoDBClient(config),
    endpoints: {},
  };
}

function localTarget(flags: TargetFlags): Target {
  const file = localEndpointsFile(flags);
  let local: LocalEndpoints;
  try {
    local = JSON.parse(readFileSync(file, 'utf8')) as LocalEndpoints;
  } catch (error) {
    throw new UsageError(`${file} is not the local runtime's endpoints file: ${(error as Error).message}`, 'restart the local runtime with `npm start`');
  }
  return {
    kind: 'local',
    description: `state folder ${stateDirOf(flags)}`,
    outputs: local.outputs,
    region: local.region,
    s3: localS3Client(local.s3Endpoint),
    dynamodb: localDynamoClient(local.dynamoDbEndpoint),
    endpoints: {
      s3: local.s3Endpoint,
      dynamodb: local.dynamoDbEndpoint,
      ...(local.stepFunctionsEndpoint ? { stepFunctions: local.stepFunctionsEndpoint } : {}),
      ...(local.lambdaEndpoint ? { lambda: local.lambdaEndpoint } : {}),
      ...(local.apiGatewayEndpoint ? { apiGateway: local.apiGatewayEndpoint } : {}),
    },
  };
}
