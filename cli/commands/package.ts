// `modelgate package`: builds a bundle (model.onnx without ZipMap, manifest.json, holdout.csv) from a model and
// its training CSV. The inference rules are pure (lambdas/core/packaging.ts); this file reads and writes files
// and runs the model through the same runtime adapter that serves it.
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { constants, gunzipSync, inflateSync } from 'node:zlib';
import { ModelLoadError, loadModel, type LoadedModel } from '../../lambdas/adapters/onnx-runtime';
import { sha256Hex } from '../../lambdas/adapters/model-store';
import { CsvError, parseCsv } from '../../lambdas/core/csv';
import { ManifestError, ValidationError, describeIssues } from '../../lambdas/core/errors';
import { ForeignModelError, foreignModelError, recognizeForeignModel, type Compression } from '../../lambdas/core/foreign-models';
import { MLMODEL_FILE, MlflowModelError, exampleInstances, parseMlmodel, signatureMismatches, type MlflowModel } from '../../lambdas/core/mlflow-model';
import { validateRows, type Row } from '../../lambdas/core/request';
import type { Manifest, RolloutStrategy, Task } from '../../lambdas/core/manifest';
import { ROLLOUT_STRATEGIES } from '../../lambdas/core/manifest-types';
import { OnnxFormatError, prepareModel } from '../../lambdas/core/onnx-graph';
import { PackagingError, draftManifest, tableRows, tableTargets, withBaseline, withCalibration, withDefaultGates } from '../../lambdas/core/packaging';
import { PROMOTION_DEFAULTS } from '../../lambdas/core/promotion/defaults';
import { evaluatePredictions, type MetricSet } from '../../lambdas/core/promotion/evaluation';
import { ContractError } from '../../lambdas/core/tensors';
import type { CommandInput, CommandRun } from '../command';
import type { packageOptions } from '../specs/package';
import { requireOneOf } from '../suggest';
import { UsageError } from '../usage-error';

const TASKS: readonly Task[] = ['binary-classification', 'multiclass-classification', 'regression'];
const MODEL_FILE = 'model.onnx';
const NO_HOLDOUT_NOTE = 'no --holdout: no quality gate is written, so a first version goes live without one (give --holdout, docs/bundle.md)';

export const runPackage: CommandRun<typeof packageOptions> = async ({ values }) => {
  const request = readRequest(values);
  let bundle: Bundle;
  try {
    bundle = await build(request);
  } catch (error) {
    const problem = inputProblem(error);
    if (problem === undefined) throw error;
    throw new UsageError(problem.message, problem.nextStep);
  }
  try {
    await mkdir(request.out, { recursive: true });
    await writeFile(join(request.out, MODEL_FILE), bundle.modelBytes);
    await writeFile(join(request.out, 'manifest.json'), `${JSON.stringify(bundle.manifest, null, 2)}\n`);
    // The bytes that were evaluated, written rather than copied: --holdout may already be <out>/holdout.csv.
    if (bundle.holdout) await writeFile(join(request.out, PROMOTION_DEFAULTS.holdoutFile), bundle.holdout.bytes);
  } catch (error) {
    console.error(`modelgate package: cannot write the bundle to ${request.out}: ${(error as Error).message}; choose another --out, or free the disk space`);
    if (values.json) console.log(JSON.stringify({ error: `cannot write the bundle to ${request.out}: ${(error as Error).message}` }));
    return 1;
  }
  console.log(values.json ? JSON.stringify(summaryJson(request, bundle), null, 2) : summaryText(request, bundle));
  return 0;
};

interface Request {
  /** The ONNX file (--onnx), or the MLflow model directory (--mlflow). */
  readonly model: { readonly onnx: string } | { readonly mlflow: string };
  readonly train: string;
  readonly target: string;
  readonly holdout?: string;
  readonly name: string;
  readonly version: string;
  readonly out: string;
  readonly strategy?: RolloutStrategy;
  readonly exclude: readonly string[];
  readonly passThrough: readonly string[];
  readonly task?: Task;
}

function readRequest(values: CommandInput<typeof packageOptions>['values']): Request {
  const example = 'e.g. `modelgate package --onnx model.onnx --train train.csv --target Churn --name churn --version 1 --out bundle/`';
  const required = (flag: 'train' | 'target' | 'name' | 'version' | 'out'): string => {
    const value = values[flag];
    if (value === undefined || value === '') throw new UsageError(`--${flag} is required`, example);
    return value;
  };
  const given = (value: string | undefined) => value !== undefined && value !== '';
  if (given(values.onnx) === given(values.mlflow)) {
    throw new UsageError(given(values.onnx) ? 'give --onnx or --mlflow, not both' : '--onnx is required (or --mlflow with an MLflow model directory)', example);
  }
  const strategy = values.strategy === undefined ? undefined : requireOneOf('--strategy', values.strategy, ROLLOUT_STRATEGIES);
  const task = values.task === undefined ? undefined : requireOneOf('--task', values.task, TASKS);
  const holdout = values.holdout;
  return {
    model: given(values.onnx) ? { onnx: values.onnx as string } : { mlflow: values.mlflow as string },
    train: required('train'),
    target: required('target'),
    name: required('name'),
    version: required('version'),
    out: required('out'),
    ...(holdout !== undefined ? { holdout } : {}),
    ...(strategy !== undefined ? { strategy } : {}),
    ...(task !== undefined ? { task } : {}),
    exclude: columnList(values.exclude),
    passThrough: columnList(values.passthrough),
  };
}

function columnList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
}

interface Bundle {
  readonly manifest: Manifest;
  readonly modelBytes: Uint8Array;
  readonly zipMapsRemoved: number;
  readonly notes: readonly string[];
  readonly holdout?: { readonly rows: number; readonly metrics: MetricSet; readonly bytes: Uint8Array };
}

async function build(request: Request): Promise<Bundle> {
  const source = 'mlflow' in request.model ? await readMlflowModel(request.model.mlflow) : undefined;
  const modelPath = 'onnx' in request.model ? request.model.onnx : join(request.model.mlflow, (source as MlflowSource).model.onnxFile);
  const modelFile = await readModel(modelPath);
  const trainFile = await readInput(request.train);
  const train = parseCsv(new TextDecoder().decode(trainFile), request.train);
  const holdout = request.holdout === undefined ? undefined : await readHoldout(request.holdout);

  const prepared = prepareModel(modelFile);
  const signature = source?.model.signature;
  if (signature) {
    const mismatches = signatureMismatches(signature, prepared.description);
    if (mismatches.length > 0) throw new PackagingError(mismatches.map((m) => `the MLflow signature does not match the ONNX graph: ${m}`));
  }
  const sha256 = sha256Hex(prepared.bytes);
  const { manifest: draft, notes } = draftManifest(train, prepared.description, {
    name: request.name,
    version: request.version,
    target: request.target,
    exclude: request.exclude,
    passThrough: request.passThrough,
    ...(request.task ? { task: request.task } : {}),
    ...(request.strategy ? { strategy: request.strategy } : {}),
    holdout: holdout !== undefined,
    modelFile: MODEL_FILE,
    sha256,
    training: {
      target: request.target,
      data: { file: basename(request.train), sha256: sha256Hex(trainFile), rows: train.rows.length },
      model: {
        file: basename(modelPath),
        producer: prepared.description.producer,
        zipMapsRemoved: prepared.zipMapsRemoved,
        ...(source ? { mlflow: { directory: basename(source.directory), ...(source.model.onnxVersion ? { onnxVersion: source.model.onnxVersion } : {}) } } : {}),
      },
      packagedBy: 'modelgate package',
    },
    ...(source?.model.lineage ? { lineage: { mlflow: source.model.lineage } } : {}),
    ...(signature?.inputs.kind === 'columns'
      ? { declaredColumns: signature.inputs.columns.map((c) => ({ name: c.name, type: c.type, declaredAs: c.mlflowType, required: c.required })) }
      : {}),
  });

  const model = await loadModel(draft, prepared.bytes);
  try {
    const exampleNotes = source?.example ? await checkInputExample(draft, source, model) : [];
    const trainRows = tableRows(draft, train, request.train);
    const manifest = withBaseline(draft, trainRows, await model.predict(trainRows));
    const bundle = { manifest, modelBytes: prepared.bytes, zipMapsRemoved: prepared.zipMapsRemoved, notes: [...notes, ...exampleNotes] };
    if (!holdout) return { ...bundle, notes: [...bundle.notes, NO_HOLDOUT_NOTE] };
    const actual = tableTargets(manifest, holdout.table, request.target, holdout.path);
    const holdoutPredictions = await model.predict(tableRows(manifest, holdout.table, holdout.path));
    const metrics = evaluatePredictions(manifest, actual, holdoutPredictions);
    const calibrated = withCalibration(manifest, actual, holdoutPredictions);
    const gated = withDefaultGates(calibrated.manifest, tableTargets(manifest, train, request.target, request.train), metrics);
    const rows = holdout.table.rows.length;
    const provenance = { file: basename(holdout.path), sha256: sha256Hex(holdout.bytes), rows, metrics };
    return {
      ...bundle,
      manifest: { ...gated.manifest, training: { ...manifest.training, holdout: provenance } },
      notes: [...bundle.notes, ...calibrated.notes, ...gated.notes],
      holdout: { rows, metrics, bytes: holdout.bytes },
    };
  } finally {
    await model.release();
  }
}

interface MlflowSource {
  readonly directory: string;
  readonly model: MlflowModel;
  /** input_example.json, parsed, when the MLmodel file names one. */
  readonly example?: unknown;
}

/** The MLmodel file of an MLflow model directory (YAML as MLflow's PyYAML writes it) and its input example. */
async function readMlflowModel(directory: string): Promise<MlflowSource> {
  const path = join(directory, MLMODEL_FILE);
  const model = parseMlmodel(new TextDecoder().decode(await readInput(path)), directory);
  if (!model.inputExample) return { directory, model };
  const examplePath = join(directory, model.inputExample.file);
  const exampleText = await readFile(examplePath, 'utf8').catch(() => {
    throw new MlflowModelError([`${path} names the input example ${model.inputExample?.file}, which is not in ${directory}`]);
  });
  try {
    return { directory, model, example: JSON.parse(exampleText) };
  } catch (error) {
    throw new MlflowModelError([`${examplePath} is not valid JSON: ${(error as Error).message}`]);
  }
}

/**
 * The input example MLflow saved, read as requests are: each row must be valid for the manifest and answered by
 * the model, or the bundle is refused naming the row and field. An example of tensors is not checked.
 */
async function checkInputExample(manifest: Manifest, source: MlflowSource, model: LoadedModel): Promise<string[]> {
  const file = source.model.inputExample?.file as string;
  const instances = exampleInstances(source.model, source.example);
  if (!instances) return [`${file}: an example of type ${source.model.inputExample?.type} is not checked (only DataFrame examples map to features)`];
  let rows: Row[];
  try {
    rows = validateRows(manifest, instances);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    throw new PackagingError(error.issues.map((i) => `${file}: row ${(i.row ?? 0) + 1}, field "${i.field}": ${i.reason}`));
  }
  await model.predict(rows);
  return [`${file}: ${rows.length} example row(s) match the features and the model answers them`];
}

/** TensorFlow writes its graph as saved_model.pb (or .pbtxt) at the top of a SavedModel folder. */
const SAVED_MODEL_FILES = ['saved_model.pb', 'saved_model.pbtxt'];

/**
 * The model's bytes, refused before any ONNX reading when the path is something modelgate will not load: a
 * TensorFlow SavedModel (the folder or its saved_model.pb), a pickle or a joblib file (by their bytes).
 */
async function readModel(path: string): Promise<Uint8Array> {
  if (SAVED_MODEL_FILES.includes(basename(path))) throw foreignModelError({ kind: 'saved-model' }, dirname(path));
  const folder = await stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (folder) {
    const files = await readdir(path);
    if (files.some((file) => SAVED_MODEL_FILES.includes(file))) throw foreignModelError({ kind: 'saved-model' }, path);
    const mlflow = files.includes(MLMODEL_FILE) ? `; it is an MLflow model: --mlflow ${path}` : '';
    throw new InputFileError(`${path} is a folder; --onnx takes the model file${mlflow}`);
  }
  const bytes = await readInput(path);
  const foreign = recognizeForeignModel(bytes, decompressStart);
  if (foreign) throw foreignModelError(foreign, path);
  return bytes;
}

/** Inflates the start of a zlib or gzip stream: a few KiB show whether a pickle is inside. */
function decompressStart(bytes: Uint8Array, compression: Compression): Uint8Array | undefined {
  const start = bytes.subarray(0, 64 * 1024);
  // A prefix has no end of stream: flush what it holds instead of failing on the truncation.
  const options = { finishFlush: constants.Z_SYNC_FLUSH };
  try {
    if (compression === 'zlib') return new Uint8Array(inflateSync(start, options));
    if (compression === 'gzip') return new Uint8Array(gunzipSync(start, options));
  } catch {
    // Not a stream after all: the file is named by its first bytes alone.
  }
  return undefined;
}

async function readHoldout(path: string) {
  const bytes = await readInput(path);
  return { path, bytes, table: parseCsv(new TextDecoder().decode(bytes), path) };
}

/** A file that cannot be read is bad input (exit 2), reported without the usage text. */
class InputFileError extends Error {
  override readonly name = 'InputFileError';
}

async function readInput(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new InputFileError(`cannot read ${path}: ${reason}`);
  }
}

/** The problem an error of the input files is (exit 2), with what to do about it; undefined for a bug. */
function inputProblem(error: unknown): { message: string; nextStep: string } | undefined {
  const inference = 'fix the model, the CSV or the flags (docs/cli.md, "package", says how the manifest is inferred)';
  if (error instanceof PackagingError) return { message: error.problems.length === 1 ? error.message : `\n  ${error.problems.join('\n  ')}`, nextStep: inference };
  if (error instanceof ManifestError) return { message: `the manifest built from these inputs is invalid:\n${describeIssues(error.issues)}`, nextStep: inference };
  if (error instanceof ModelLoadError)
    return { message: `the model does not load: ${error.message}`, nextStep: 'check that --onnx is a model onnxruntime can load (docs/cli.md, "package")' };
  if (error instanceof ContractError) return { message: `the model's answer does not match its outputs: ${error.message}`, nextStep: inference };
  if (error instanceof ForeignModelError) return { message: error.message, nextStep: error.conversion };
  if (error instanceof MlflowModelError)
    return {
      message: error.problems.length === 1 ? error.message : `\n  ${error.problems.join('\n  ')}`,
      nextStep: error.nextStep ?? 'fix the MLflow model directory (docs/bundle.md, "From MLflow")',
    };
  if (error instanceof OnnxFormatError) return { message: error.message, nextStep: 'give an ONNX model file with --onnx' };
  if (error instanceof CsvError) return { message: error.message, nextStep: 'fix the CSV file' };
  if (error instanceof InputFileError) return { message: error.message, nextStep: 'check the path' };
  return undefined;
}

function summaryJson(request: Request, bundle: Bundle) {
  const { manifest } = bundle;
  return {
    out: request.out,
    name: manifest.name,
    version: manifest.version,
    task: manifest.task,
    features: manifest.features,
    ...(manifest.passThrough ? { passThrough: manifest.passThrough } : {}),
    inputs: manifest.inputs,
    outputs: manifest.outputs,
    ...(manifest.classLabels ? { classLabels: manifest.classLabels } : {}),
    sha256: manifest.model.sha256,
    zipMapsRemoved: bundle.zipMapsRemoved,
    baselineRows: manifest.baseline?.rows,
    ...(bundle.holdout ? { holdout: { rows: bundle.holdout.rows, metrics: bundle.holdout.metrics } } : {}),
    ...(manifest.validation?.gates ? { gates: manifest.validation.gates } : {}),
    ...(manifest.lineage ? { lineage: manifest.lineage } : {}),
    notes: bundle.notes,
  };
}

function summaryText(request: Request, bundle: Bundle): string {
  const { manifest } = bundle;
  const lines: string[] = [];
  const labels = manifest.classLabels ? `, class labels ${manifest.classLabels.map((l) => JSON.stringify(l)).join(', ')}` : '';
  lines.push(`${manifest.name} version ${manifest.version}: ${manifest.task}${labels}`);
  lines.push(`features (${manifest.features.length}):`);
  const nameWidth = Math.max(...manifest.features.map((f) => f.name.length));
  for (const feature of manifest.features) {
    const details = [
      feature.categories ? `categories ${feature.categories.join(', ')}` : '',
      feature.required === false ? `optional${feature.default !== undefined ? `, default ${JSON.stringify(feature.default)}` : ' (NaN when missing)'}` : '',
    ].filter(Boolean);
    lines.push(`  ${feature.name.padEnd(nameWidth)}  ${feature.type.padEnd(7)}  ${details.join('; ')}`.trimEnd());
  }
  if (manifest.passThrough) {
    lines.push(`pass-through: ${manifest.passThrough.map((f) => (f.joinKey ? `${f.name} (join key)` : f.name)).join(', ')}`);
  }
  lines.push(`inputs (${manifest.inputs.length}):`);
  for (const input of manifest.inputs) {
    const rows = manifest.batchSize ?? 'N';
    const shape = input.rank === 1 ? `[${rows}]` : `[${rows}, ${input.features.length}]`;
    const fed = input.features.length === 1 && input.features[0] === input.name ? '' : ` <- ${input.features.join(', ')}`;
    lines.push(`  ${input.name} ${input.dtype} ${shape}${fed}`);
  }
  const outputs = Object.entries(manifest.outputs)
    .map(([role, name]) => `${role} "${name}"`)
    .join(', ');
  lines.push(`outputs: ${outputs}${bundle.zipMapsRemoved > 0 ? ` (ZipMap removed: ${bundle.zipMapsRemoved})` : ''}`);
  if (manifest.batchSize !== undefined) lines.push(`batch size: ${manifest.batchSize} (fixed by the model)`);
  const prediction = manifest.baseline?.prediction ? `, ${manifest.baseline.prediction.kind} prediction distribution` : '';
  lines.push(`baseline: ${manifest.baseline?.rows} training rows${prediction}`);
  if (bundle.holdout) {
    const metrics = Object.entries(bundle.holdout.metrics).map(([metric, value]) => `${metric} ${Number((value as number).toFixed(4))}`);
    lines.push(`holdout (${bundle.holdout.rows} rows): ${metrics.join(', ')}`);
  }
  const mlflow = manifest.lineage?.mlflow;
  if (mlflow) lines.push(`lineage: MLflow ${mlflow.runId ? `run ${mlflow.runId}, ` : ''}model ${mlflow.modelUuid}`);
  for (const note of bundle.notes) lines.push(`note: ${note}`);
  const files = [MODEL_FILE, 'manifest.json', ...(request.holdout ? [PROMOTION_DEFAULTS.holdoutFile] : [])];
  lines.push(`wrote ${files.map((f) => join(request.out, f)).join(', ')} (model sha256 ${manifest.model.sha256})`);
  return lines.join('\n');
}
