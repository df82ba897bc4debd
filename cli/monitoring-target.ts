import { readFile } from 'node:fs/promises';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ManifestStore } from '../lambdas/adapters/manifest-store';
import { MonitoringStore } from '../lambdas/adapters/monitoring-store';
import { parseManifestJson, type Manifest } from '../lambdas/core/manifest';
import { localDynamoClient, localS3Client } from '../local/aws-clients';
import { requireOutput, resolveTarget, targetOptions, targetUsage, type TargetFlags } from './target';
import { UsageError } from './usage-error';

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

export interface MonitoringTargetFlags extends TargetFlags {
  readonly 'dynamodb-endpoint'?: string;
  readonly 's3-endpoint'?: string;
  readonly table?: string;
  readonly 'prediction-table'?: string;
  readonly bucket?: string;
  readonly manifest?: string;
}

export interface MonitoringTarget {
  readonly dynamodb: DynamoDBClient;
  readonly store: MonitoringStore;
  readonly predictionTable?: string;
  manifestOf(model: string, version: string): Promise<Manifest>;
}

/**
 * The monitoring table, prediction log and manifests to read: the running local runtime (its endpoints
 * file) or a deployed stack (--aws), as every command finds its target; or, with --dynamodb-endpoint,
 * exactly the servers and tables named on the command line.
 */
export async function resolveMonitoringTarget(flags: MonitoringTargetFlags): Promise<MonitoringTarget> {
  const fixedManifest = flags.manifest ? parseManifestJson(await readManifest(flags.manifest)) : undefined;
  if (flags['dynamodb-endpoint']) {
    if (!flags.table) throw new UsageError('--dynamodb-endpoint needs --table (the monitoring table)');
    if (!fixedManifest && !(flags['s3-endpoint'] && flags.bucket)) throw new UsageError('--dynamodb-endpoint needs --manifest, or --s3-endpoint and --bucket');
    const dynamodb = localDynamoClient(flags['dynamodb-endpoint']);
    const manifests = flags['s3-endpoint'] && flags.bucket ? new ManifestStore(localS3Client(flags['s3-endpoint']), flags.bucket, 0) : undefined;
    return target(dynamodb, flags.table, flags['prediction-table'], fixedManifest, manifests);
  }
  const stack = await resolveTarget(flags);
  const manifests = new ManifestStore(stack.s3, requireOutput(stack, 'ModelBucketName'), 0);
  return target(stack.dynamodb, flags.table ?? requireOutput(stack, 'MonitoringTableName'), flags['prediction-table'] ?? stack.outputs.PredictionTableName, fixedManifest, manifests);
}

function target(dynamodb: DynamoDBClient, table: string, predictionTable: string | undefined, fixed: Manifest | undefined, manifests: ManifestStore | undefined): MonitoringTarget {
  return {
    dynamodb,
    store: new MonitoringStore(dynamodb, table),
    ...(predictionTable ? { predictionTable } : {}),
    async manifestOf(model, version) {
      if (fixed && fixed.name === model && fixed.version === version) return fixed;
      if (!manifests) throw new UsageError(`--manifest describes ${fixed?.name} v${fixed?.version}, not ${model} v${version}`);
      const found = await manifests.get(model, version);
      if ('reason' in found) throw new UsageError(`the manifest of ${model} v${version} cannot be read: ${found.reason}`);
      return found;
    },
  };
}

async function readManifest(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --manifest ${path}: ${(error as Error).message}`);
  }
}

/** `30m`, `1h`, `24h`, `7d` in milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+)([mhd])$/.exec(text);
  if (!match || Number(match[1]) === 0) throw new UsageError(`${flag} must be a duration such as 30m, 1h, 24h or 7d, got: ${text}`);
  return Number(match[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'm' | 'h' | 'd'];
}

/** The versions of `model` the monitoring table has seen since `since` (or just `version`). */
export async function versionsOf(store: MonitoringStore, model: string, version: string | undefined, since: string): Promise<string[]> {
  if (version !== undefined) return [version];
  const seen = (await store.listVersions()).filter((v) => v.model === model && v.lastSeen >= since);
  return seen.map((v) => v.version).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}
