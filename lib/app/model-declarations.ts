import * as fs from 'node:fs';
import * as path from 'node:path';
import { MANIFEST_FILE } from '../../lambdas/core/pipeline/candidate';
import { declarationProblems, type ModelDeclaration } from '../../lambdas/core/pipeline/declarations';
import { show } from '../validation/prop-validation';

/** Where the CDK app reads the models a team keeps in git: stage -> settings, models by name. */
export const CONFIG_FILE = 'modelgate.config.json';

/** A model declared in the configuration: its settings, and optionally a local bundle to upload on deploy. */
export interface DeclaredModel extends ModelDeclaration {
  /**
   * A bundle folder (manifest.json + the model file) uploaded on deploy to `candidates/<name>/<version>/`, so a
   * fresh stack serves it once the pipeline has rolled it out. Relative paths are relative to the config file.
   *
   * @default - nothing uploaded: the model arrives by `modelgate push`
   */
  readonly bundlePath?: string;
}

export interface StageModels {
  /** A push of a model nobody declared creates it (true) or is rejected with MODEL_NOT_DECLARED (false). */
  readonly allowUndeclaredModels: boolean;
  readonly models: Readonly<Record<string, DeclaredModel>>;
}

/**
 * The models one stage declares, from the config file; every problem is returned with its path and the bad
 * value (the caller reports them together with its own).
 */
export function readStageModels(file: string, stage: string): { models: StageModels; problems: string[] } {
  const none = { models: { allowUndeclaredModels: false, models: {} }, problems: [] as string[] };
  if (!fs.existsSync(file)) return { ...none, problems: [`${show(file)} not found: declare the stages' models there (docs/infrastructure.md, "Models as data")`] };
  let config: unknown;
  try {
    config = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    return { ...none, problems: [`${path.basename(file)} must be JSON: ${(error as Error).message}`] };
  }
  const where = `${path.basename(file)}: stages.${stage}`;
  const stages = (config as { stages?: unknown } | null)?.stages;
  if (stages === null || typeof stages !== 'object' || Array.isArray(stages))
    return { ...none, problems: [`${path.basename(file)}: stages must be an object of stages, got: ${show(stages)}`] };
  const settings = (stages as Record<string, unknown>)[stage];
  if (settings === undefined) return none;
  if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) return { ...none, problems: [`${where} must be an object, got: ${show(settings)}`] };
  const { allowUndeclaredModels = false, models = {}, ...unknown } = settings as { allowUndeclaredModels?: unknown; models?: unknown };
  const problems = Object.keys(unknown).map((key) => `${where}.${key} is not a stage setting (known: allowUndeclaredModels, models)`);
  if (typeof allowUndeclaredModels !== 'boolean') problems.push(`${where}.allowUndeclaredModels must be true or false, got: ${show(allowUndeclaredModels)}`);
  if (models === null || typeof models !== 'object' || Array.isArray(models)) {
    problems.push(`${where}.models must be an object of models by name, got: ${show(models)}`);
    return { ...none, problems };
  }
  const declared: Record<string, DeclaredModel> = {};
  for (const [name, declaration] of Object.entries(models as Record<string, unknown>)) {
    const issues = declarationProblems(`${where}.models.${name}`, name, declaration);
    const bundle = (declaration as { bundle?: unknown } | null)?.bundle;
    if (bundle !== undefined && typeof bundle !== 'string') issues.push(`${where}.models.${name}.bundle must be a folder path, got: ${show(bundle)}`);
    problems.push(...issues);
    if (issues.length > 0) continue;
    const { bundle: _bundle, ...settingsOnly } = declaration as DeclaredModel & { bundle?: string };
    declared[name] = { ...settingsOnly, ...(typeof bundle === 'string' ? { bundlePath: path.resolve(path.dirname(file), bundle) } : {}) };
  }
  return { models: { allowUndeclaredModels: allowUndeclaredModels === true, models: declared }, problems };
}

/**
 * What keeps a declared model's bundle folder from being uploaded as that model: it must exist, hold its
 * manifest and the model file the manifest names, and describe the model. `where` names the setting in the
 * messages; `shown` is the folder as the user wrote it (default: `bundlePath`).
 */
export function bundleProblems(where: string, name: string, bundlePath: string, shown = bundlePath): string[] {
  const manifestPath = path.join(bundlePath, MANIFEST_FILE);
  if (!fs.existsSync(manifestPath)) {
    const found = fs.existsSync(bundlePath) ? `no ${MANIFEST_FILE} in it` : 'not found';
    return [`${where} must be a bundle folder holding ${MANIFEST_FILE} and the model file, got: ${show(shown)} (${found})`];
  }
  let manifest: { name?: unknown; version?: unknown; model?: { file?: unknown } };
  try {
    manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as typeof manifest;
  } catch (error) {
    return [`${where}/${MANIFEST_FILE} must be JSON, got: ${(error as Error).message}`];
  }
  const problems: string[] = [];
  if (manifest.name !== name) problems.push(`${where}/${MANIFEST_FILE} must name model ${show(name)}, got: ${show(manifest.name)}`);
  if (typeof manifest.version !== 'string' || manifest.version === '') problems.push(`${where}/${MANIFEST_FILE} must have a version, got: ${show(manifest.version)}`);
  const modelFile = manifest.model?.file ?? 'model.onnx';
  if (typeof modelFile !== 'string') problems.push(`${where}/${MANIFEST_FILE} must name the model file (model.file), got: ${show(modelFile)}`);
  else if (!fs.existsSync(path.join(bundlePath, modelFile))) {
    problems.push(`${where} must hold the model file its manifest names, got: ${show(path.join(shown, modelFile))} (not found)`);
  }
  return problems;
}
