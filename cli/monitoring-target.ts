import { readFile } from 'node:fs/promises';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ManifestStore } from '../lambdas/adapters/manifest-store';
import { MonitoringStore } from '../lambdas/adapters/monitoring-store';
import { parseManifestJson, type Manifest } from '../lambdas/core/manifest';
import { Registry } from '../lambdas/adapters/registry';
import { localDynamoClient, localS3Client } from '../local/aws-clients';
import { registeredModels } from './registry';
import { unknownName } from './suggest';
import { requireOutput, resolveTarget } from './target';
import type { TargetFlags } from './target-options';
import { UsageError } from './usage-error';

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
  /** The stack's registry, when there is a stack: it knows models and versions that have no traffic yet. */
  readonly registry?: Registry;
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
    return target(dynamodb, flags.table, flags['prediction-table'], fixedManifest, manifests, undefined);
  }
  const stack = await resolveTarget(flags);
  const manifests = new ManifestStore(stack.s3, requireOutput(stack, 'ModelBucketName'), 0);
  const registry = stack.outputs.RegistryTableName ? new Registry(stack.dynamodb, stack.outputs.RegistryTableName) : undefined;
  return target(
    stack.dynamodb,
    flags.table ?? requireOutput(stack, 'MonitoringTableName'),
    flags['prediction-table'] ?? stack.outputs.PredictionTableName,
    fixedManifest,
    manifests,
    registry,
  );
}

function target(
  dynamodb: DynamoDBClient,
  table: string,
  predictionTable: string | undefined,
  fixed: Manifest | undefined,
  manifests: ManifestStore | undefined,
  registry: Registry | undefined,
): MonitoringTarget {
  return {
    dynamodb,
    store: new MonitoringStore(dynamodb, table),
    ...(predictionTable ? { predictionTable } : {}),
    ...(registry ? { registry } : {}),
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

/**
 * The versions of `model` the monitoring table has seen since `since`, or just `version`. A model or version
 * that neither the monitoring table nor the registry knows is refused (exit 2), naming the known ones.
 */
export async function versionsOf(target: MonitoringTarget, model: string, version: string | undefined, since: string): Promise<string[]> {
  const seen = await target.store.listVersions();
  const byVersion = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });
  const registered = target.registry ? await target.registry.listVersions(model) : [];
  if (registered.length === 0 && !seen.some((v) => v.model === model)) {
    const known = new Set([...seen.map((v) => v.model), ...((target.registry && (await registeredModels(target.registry))) ?? [])]);
    throw unknownName('model', model, [...known].sort(), { whenNone: 'serve one and send it traffic first (docs/monitoring.md)' });
  }
  if (version !== undefined) {
    const versions = new Set([...seen.filter((v) => v.model === model).map((v) => v.version), ...registered.map((v) => v.version)]);
    if (!versions.has(version)) throw unknownName(`${model} version`, version, [...versions].sort(byVersion));
    return [version];
  }
  return seen
    .filter((v) => v.model === model && v.lastSeen >= since)
    .map((v) => v.version)
    .sort(byVersion);
}
