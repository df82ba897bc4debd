// What the commands ask the model registry: its client for a target, and whether a model or version exists.
import { Registry } from '../lambdas/adapters/registry';
import type { VersionRecord } from '../lambdas/core/pipeline/registry-types';
import { unknownName } from './suggest';
import { requireOutput, type Target } from './target';

export function registryOf(target: Target): Registry {
  return new Registry(target.dynamodb, requireOutput(target, 'RegistryTableName'));
}

/** The registered models, or undefined when they cannot be listed (a role without dynamodb:Scan). */
export async function registeredModels(registry: Registry): Promise<string[] | undefined> {
  try {
    return await registry.listModels();
  } catch {
    return undefined;
  }
}

/**
 * The model's versions, newest first. An unknown model, or a version in `versions` the registry has not
 * registered, is bad input (exit 2) naming the known ones, caught before anything is started.
 */
export async function requireRegistered(registry: Registry, model: string, versions: readonly (string | undefined)[] = []): Promise<VersionRecord[]> {
  const registered = await registry.listVersions(model);
  if (registered.length === 0) throw unknownName('model', model, await registeredModels(registry), { whenNone: 'register one with `modelgate push <bundle folder>`' });
  const names = registered.map((v) => v.version);
  for (const version of versions) {
    if (version !== undefined && !names.includes(version)) throw unknownName(`${model} version`, version, names);
  }
  return registered;
}
