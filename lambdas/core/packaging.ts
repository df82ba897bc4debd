// Builds a bundle manifest from a training CSV and a model's declared graph: the feature schema, the feature ->
// input mapping, the task, class labels and outputs, then the baseline from the training rows and the model's
// predictions on them. Pure: the CLI (`modelgate package`) reads the files and runs the model.
import { featureBaseline, categoricalBaseline, numericBaseline } from './baseline';
import { CsvError, column, type CsvTable } from './csv';
import { csvInstances } from './csv-instances';
import { fitCalibration } from './estimation/calibration';
import { ValidationError } from './errors';
import {
  MANIFEST_SCHEMA_VERSION,
  parseManifest,
  type DistributionBaseline,
  type FeatureSpec,
  type FeatureType,
  type FeatureValue,
  type InputSpec,
  type ManifestLineage,
  type Manifest,
  type MetricGate,
  type OutputSpec,
  type QualityMetric,
  type RolloutStrategy,
  type Task,
  type TensorDtype,
} from './manifest';
import type { ModelDescription, TensorSignature } from './onnx-graph';
import { multiclassLogLoss } from './metrics/classification';
import { PROMOTION_DEFAULTS } from './promotion/defaults';
import { holdoutTargets, type MetricSet, type Target } from './promotion/evaluation';
import { validateRows, type Row } from './request';
import type { RowPrediction } from './tensors';

/** The CSV and the model cannot be made into a bundle; every problem found is listed. */
export class PackagingError extends Error {
  override readonly name = 'PackagingError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

/**
 * A string column is categorical (a closed set of values) when it has at most this many distinct values
 * and each value occurs twice on average: identifiers and free text stay open strings.
 */
export const MAX_CATEGORIES = 100;

export interface PackageOptions {
  readonly name: string;
  readonly version: string;
  /** The column holding the label or value; it is not a feature. */
  readonly target: string;
  /** Columns that are neither features nor the target (identifiers...). */
  readonly exclude?: readonly string[];
  /**
   * Columns that are not features but pass through requests to the log and the answer (an entity id): the
   * manifest's `passThrough`, the first one its join key (ground truth may name it instead of a predictionId).
   */
  readonly passThrough?: readonly string[];
  /** Inferred when absent (see inferTask). */
  readonly task?: Task;
  readonly strategy?: RolloutStrategy;
  /** The bundle ships a holdout (as PROMOTION_DEFAULTS.holdoutFile): recorded in validation.holdout. */
  readonly holdout?: boolean;
  /** The model file name in the bundle and the sha256 of its bytes (after ZipMap removal). */
  readonly modelFile: string;
  readonly sha256: string;
  /** Free-form provenance for `training`. */
  readonly training?: Readonly<Record<string, unknown>>;
  /** The manifest's `lineage`: the ids the tools that made the model give it. */
  readonly lineage?: ManifestLineage;
  /**
   * The input columns the model declares (an MLflow signature): the features are these, in this order, with
   * these types — the CSV's cells must fit them — and a column declared not required is optional.
   */
  readonly declaredColumns?: readonly DeclaredColumn[];
}

export interface DeclaredColumn {
  readonly name: string;
  readonly type: FeatureType;
  /** The model's own name for the type, for messages (e.g. MLflow's `long`). */
  readonly declaredAs: string;
  readonly required: boolean;
}

export interface PackageDraft {
  /** A manifest that passed parseManifest, without a baseline yet. */
  readonly manifest: Manifest;
  /** Choices worth telling the user: which columns became optional, and the defaults chosen for them. */
  readonly notes: readonly string[];
}

type ColumnKind = 'integer' | 'number' | 'boolean' | 'string';

interface ColumnProfile {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly cells: readonly string[];
  /** Empty cells. */
  readonly missing: number;
  /** Non-empty values, sorted (numerically for numeric columns), with their counts. */
  readonly counts: ReadonlyMap<string, number>;
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const BOOLEAN = /^(true|false)$/i;

/**
 * What a column holds: integer when every non-empty cell is an integer, number when every one is a number,
 * boolean when every one is true/false, string otherwise. A column without a value cannot be typed.
 */
function profileColumn(table: CsvTable, name: string, source = 'CSV'): ColumnProfile {
  const cells = column(table, name, source);
  const present = cells.filter((cell) => cell !== '');
  if (present.length === 0) throw new PackagingError([`${source}: column "${name}" has no values`]);
  let kind: ColumnKind = 'string';
  if (present.every((cell) => NUMBER.test(cell))) {
    kind = present.every((cell) => Number.isSafeInteger(Number(cell))) ? 'integer' : 'number';
  } else if (present.every((cell) => BOOLEAN.test(cell))) {
    kind = 'boolean';
  }
  const numeric = kind === 'integer' || kind === 'number';
  const distinct = [...new Set(present)].sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
  const counts = new Map(distinct.map((value) => [value, 0]));
  for (const cell of present) counts.set(cell, (counts.get(cell) as number) + 1);
  return { name, kind, cells, missing: cells.length - present.length, counts };
}

/**
 * Drafts the manifest for a model trained on `table` (which has a header, the target column and the features):
 * 1. features: every column but the target, the excluded and the pass-through ones, in CSV order (the first
 *    pass-through column is the join key);
 * 2. inputs: each model input named like a column takes that column; the one input left, if any, is an
 *    [N, F] tensor taking the remaining columns in CSV order (F must match when the model fixes it);
 * 3. feature types from the cells and the input's dtype: a string input makes a string feature; int64 needs
 *    integers; bool takes true/false or 0/1; float takes numbers, integers and booleans;
 * 4. categories: strings with few distinct values (MAX_CATEGORIES), and integer 0/1 flags;
 *    no bounds (the baseline records the range for drift instead of rejecting new values);
 * 5. a column with empty cells is optional: missing numbers for float inputs become NaN, other inputs get
 *    the column's most frequent value as default;
 * 6. task, class labels and outputs from the model's outputs and the target column (see inferTask).
 */
export function draftManifest(table: CsvTable, model: ModelDescription, options: PackageOptions): PackageDraft {
  const problems: string[] = [];
  const notes: string[] = [];
  const exclude = options.exclude ?? [];
  const passThrough = options.passThrough ?? [];
  for (const name of [options.target, ...exclude, ...passThrough]) {
    if (!table.header.includes(name)) problems.push(`the CSV has no column "${name}" (columns: ${table.header.join(', ')})`);
  }
  if (exclude.includes(options.target)) problems.push(`the target "${options.target}" cannot also be excluded`);
  if (passThrough.includes(options.target)) problems.push(`the target "${options.target}" cannot also pass through`);
  for (const name of passThrough.filter((column) => exclude.includes(column))) problems.push(`column "${name}" is both excluded and passed through: give it to one of them`);
  if (problems.length > 0) throw new PackagingError(problems);

  const csvFeatures = table.header.filter((name) => name !== options.target && !exclude.includes(name) && !passThrough.includes(name));
  const declared = options.declaredColumns;
  if (declared) problems.push(...declaredColumnProblems(declared, csvFeatures, table.header));
  if (problems.length > 0) throw new PackagingError(problems);
  const featureColumns = declared ? declared.map((column) => column.name) : csvFeatures;
  if (featureColumns.length === 0) throw new PackagingError(['the CSV has no feature columns besides the target']);
  const mapping = mapInputs(featureColumns, model.inputs);
  const profiles = new Map(featureColumns.map((name) => [name, profileColumn(table, name)]));
  const features: FeatureSpec[] = [];
  for (const name of featureColumns) {
    const dtype = mapping.dtypeOf.get(name) as TensorDtype;
    const result = inferFeature(
      profiles.get(name) as ColumnProfile,
      dtype,
      mapping.inputOf.get(name) as string,
      declared?.find((column) => column.name === name),
    );
    if (typeof result === 'string') problems.push(result);
    else {
      features.push(result.feature);
      if (result.note) notes.push(result.note);
    }
  }
  if (problems.length > 0) throw new PackagingError(problems);

  const target = profileColumn(table, options.target);
  if (target.missing > 0) throw new PackagingError([`the target column "${options.target}" has ${target.missing} empty cell(s)`]);
  const task = options.task ?? inferTask(model, target);
  const classLabels = task === 'regression' ? undefined : classLabelsOf(model, target, task);
  const outputs = pickOutputs(model, task, classLabels);
  const batchSize = model.inputs.map((i) => i.dims?.[0]).find((d): d is number => typeof d === 'number' && d > 0);

  const validation = options.holdout ? { validation: { holdout: { file: PROMOTION_DEFAULTS.holdoutFile, target: options.target } } } : {};
  const manifest = parseManifest({
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    name: options.name,
    version: options.version,
    task,
    features,
    ...(passThrough.length > 0 ? { passThrough: passThrough.map((name, i) => (i === 0 ? { name, joinKey: true } : { name })) } : {}),
    inputs: mapping.inputs,
    outputs,
    ...(classLabels ? { classLabels } : {}),
    ...(batchSize !== undefined ? { batchSize } : {}),
    model: { file: options.modelFile, sha256: options.sha256 },
    ...validation,
    ...(options.strategy ? { rollout: { strategy: options.strategy } } : {}),
    ...(options.training ? { training: options.training } : {}),
    ...(options.lineage ? { lineage: options.lineage } : {}),
  });
  // Every target must be a class label (or a number for regression): the same reading the holdout gets.
  tableTargets(manifest, table, options.target, 'train CSV');
  return { manifest, notes };
}

/** The declared columns are the CSV's feature columns: each one is in the CSV, and the CSV has no other. */
function declaredColumnProblems(declared: readonly DeclaredColumn[], csvFeatures: readonly string[], header: readonly string[]): string[] {
  const problems: string[] = [];
  const names = declared.map((column) => column.name);
  const absent = names.filter((name) => !header.includes(name));
  if (absent.length > 0) problems.push(`the CSV has no column ${quoted(absent)}, which the model's signature declares (columns: ${header.join(', ')})`);
  const undeclared = csvFeatures.filter((name) => !names.includes(name));
  if (undeclared.length > 0)
    problems.push(`the CSV's column(s) ${quoted(undeclared)} are not in the model's signature; leave them out with --exclude, or name them --target or --passthrough`);
  return problems;
}

/** Which column kinds (from the cells) a declared feature type accepts: integers are numbers, 0/1 are booleans. */
function declaredKindProblem(profile: ColumnProfile, declared: DeclaredColumn): string | undefined {
  const { kind, counts } = profile;
  const flag = kind === 'integer' && [...counts.keys()].every((value) => value === '0' || value === '1');
  const fits =
    declared.type === 'string' ||
    (declared.type === 'number' && (kind === 'number' || kind === 'integer')) ||
    (declared.type === 'integer' && kind === 'integer') ||
    (declared.type === 'boolean' && (kind === 'boolean' || flag));
  if (fits) return undefined;
  const example = [...counts.keys()].find((value) => (kind === 'integer' || kind === 'number' ? true : !NUMBER.test(value))) ?? '';
  const holds = kind === 'string' ? 'text' : kind === 'number' ? 'non-integer numbers' : kind === 'integer' ? 'integers' : 'true/false';
  return `column "${profile.name}" holds ${holds} (e.g. "${example}"), but the model's signature declares it ${declared.declaredAs}`;
}

interface InputMapping {
  readonly inputs: InputSpec[];
  readonly inputOf: Map<string, string>;
  readonly dtypeOf: Map<string, TensorDtype>;
}

const DTYPES: readonly string[] = ['float32', 'float64', 'int64', 'string', 'bool'] satisfies TensorDtype[];

function mapInputs(columns: readonly string[], modelInputs: readonly TensorSignature[]): InputMapping {
  const problems: string[] = [];
  for (const input of modelInputs) {
    if (!DTYPES.includes(input.type)) problems.push(`model input "${input.name}" has element type ${input.type}, which modelgate cannot feed (${DTYPES.join(', ')})`);
  }
  if (problems.length > 0) throw new PackagingError(problems);
  const named = modelInputs.filter((input) => columns.includes(input.name));
  const leftInputs = modelInputs.filter((input) => !columns.includes(input.name));
  const leftColumns = columns.filter((name) => !named.some((input) => input.name === name));
  const inputs: InputSpec[] = [];
  for (const input of named) {
    const rank = input.dims?.length ?? 2;
    const width = input.dims?.[1];
    if (rank > 2 || (typeof width === 'number' && width > 1)) {
      const takes = rank > 2 ? `rank ${rank} tensors` : `${width} values per row`;
      problems.push(`model input "${input.name}" ${shape(input)} takes ${takes}, but column "${input.name}" is one feature`);
    }
    inputs.push({ name: input.name, dtype: input.type as TensorDtype, features: [input.name], ...(rank === 1 ? { rank: 1 as const } : {}) });
  }
  const matrix = leftInputs.length === 1 ? (leftInputs[0] as TensorSignature) : undefined;
  if (leftInputs.length === 0 && leftColumns.length > 0) {
    problems.push(`the model has no input for column(s) ${quoted(leftColumns)} (inputs: ${quoted(modelInputs.map((i) => i.name))}); leave them out with --exclude`);
  } else if (matrix && leftColumns.length > 0 && fitsColumns(matrix, leftColumns.length)) {
    inputs.push({ name: matrix.name, dtype: matrix.type as TensorDtype, features: leftColumns, ...(matrix.dims?.length === 1 ? { rank: 1 as const } : {}) });
  } else if (leftInputs.length > 0) {
    const why =
      matrix && leftColumns.length > 0
        ? `model input "${matrix.name}" ${shape(matrix)} takes ${matrix.dims?.[1] ?? 1} values per row, ` + `but ${leftColumns.length} column(s) are left: ${quoted(leftColumns)}`
        : `model input(s) ${leftInputs.map((i) => `"${i.name}" ${shape(i)}`).join(', ')} match no CSV column` +
          (leftColumns.length > 0 ? ` (columns left: ${quoted(leftColumns)})` : ' and no column is left to fill them') +
          '; name the columns like the inputs, or give one [N, F] input the columns in order';
    problems.push(why);
  }
  if (problems.length > 0) throw new PackagingError(problems);
  const inputOf = new Map<string, string>();
  const dtypeOf = new Map<string, TensorDtype>();
  for (const input of inputs) {
    for (const feature of input.features) {
      inputOf.set(feature, input.name);
      dtypeOf.set(feature, input.dtype);
    }
  }
  return { inputs: modelInputs.map((m) => inputs.find((i) => i.name === m.name) as InputSpec), inputOf, dtypeOf };
}

/** An [N, F] input takes `count` columns when F is free or equals count; a rank-1 [N] input takes exactly one. */
function fitsColumns(input: TensorSignature, count: number): boolean {
  const dims = input.dims;
  if (!dims) return true;
  if (dims.length === 1) return count === 1;
  if (dims.length !== 2) return false;
  const width = dims[1];
  return typeof width !== 'number' || width <= 0 || width === count;
}

function inferFeature(profile: ColumnProfile, dtype: TensorDtype, input: string, declared?: DeclaredColumn): { feature: FeatureSpec; note?: string } | string {
  const { name, counts } = profile;
  const values = [...counts.keys()];
  const flag = values.length === 2 && values[0] === '0' && values[1] === '1';
  const example = values.find((v) => !NUMBER.test(v)) ?? values[0];
  if (declared) {
    const problem = declaredKindProblem(profile, declared);
    if (problem) return problem;
  }
  // A declared type is what the cells are read as: a `double` column of integers holds numbers.
  const kind: ColumnKind = declared ? declared.type : profile.kind;
  let type: FeatureSpec['type'];
  if (declared && dtype === 'string' && declared.type !== 'string') {
    return `the model's signature declares column "${name}" ${declared.declaredAs}, but model input "${input}" is string`;
  } else if (dtype === 'string') type = 'string';
  else if (kind === 'boolean' || (dtype === 'bool' && flag)) type = 'boolean';
  else if (dtype === 'bool') return `column "${name}" holds ${kind} values (e.g. "${example}"), but model input "${input}" is bool: expected true/false or 0/1`;
  else if (dtype === 'int64' && kind === 'integer') type = 'integer';
  else if (dtype === 'int64') {
    return `column "${name}" holds ${kind === 'number' ? 'non-integer numbers' : 'text'} (e.g. "${example}"), but model input "${input}" is int64`;
  } else if (kind === 'string') return `column "${name}" holds text (e.g. "${example}"), but model input "${input}" is ${dtype}`;
  else type = kind;

  const present = profile.cells.length - profile.missing;
  const categories = type === 'string' && values.length <= MAX_CATEGORIES && values.length * 2 <= present ? [...values].sort() : type === 'integer' && flag ? [0, 1] : undefined;
  const feature: FeatureSpec = { name, type, ...(categories ? { categories } : {}) };
  if (profile.missing === 0 && declared?.required !== false) return { feature };
  const why = profile.missing > 0 ? `${profile.missing} empty cells` : "the model's signature says not required";
  if (dtype === 'float32' || dtype === 'float64') {
    return { feature: { ...feature, required: false }, note: `${name}: optional (${why}); missing values reach the model as NaN` };
  }
  const mode = mostFrequent(counts);
  const fallback: FeatureValue = type === 'string' ? mode : type === 'boolean' ? /^(true|1)$/i.test(mode) : Number(mode);
  return {
    feature: { ...feature, required: false, default: fallback },
    note: `${name}: optional (${why}); default ${JSON.stringify(fallback)}, its most frequent value`,
  };
}

function mostFrequent(counts: ReadonlyMap<string, number>): string {
  let best = '';
  let bestCount = -1;
  for (const [value, count] of counts) {
    if (count > bestCount) [best, bestCount] = [value, count];
  }
  return best;
}

/**
 * Classification when the model declares class labels or has a label output (an int64 or string tensor), or
 * when the target holds text; binary when there are two labels. A model with one float output of width 1 and
 * a target with two values is a binary classifier with a sigmoid output. Anything else is regression.
 */
function inferTask(model: ModelDescription, target: ColumnProfile): Task {
  const classes = model.classLabels?.length ?? target.counts.size;
  const byClasses: Task = classes === 2 ? 'binary-classification' : 'multiclass-classification';
  if (model.classLabels) return byClasses;
  if (target.kind === 'string' || target.kind === 'boolean') return byClasses;
  if (model.outputs.some((o) => o.type === 'int64' || o.type === 'string')) return byClasses;
  const floats = model.outputs.filter(isFloat);
  if (target.counts.size === 2 && floats.length === 1 && width(floats[0] as TensorSignature) === 1) return 'binary-classification';
  return 'regression';
}

function classLabelsOf(model: ModelDescription, target: ColumnProfile, task: Task): readonly (string | number)[] {
  const labels = model.classLabels ?? [...target.counts.keys()].map((value) => (target.kind === 'integer' ? Number(value) : value));
  if (target.kind === 'number' && !model.classLabels) {
    throw new PackagingError([`the target column "${target.name}" holds non-integer numbers; class labels must be integers or strings (use --task regression?)`]);
  }
  const wanted = task === 'binary-classification' ? 'exactly 2' : '3 or more';
  if ((task === 'binary-classification') !== (labels.length === 2) || labels.length < 2) {
    throw new PackagingError([`${task} needs ${wanted} class labels, got ${labels.length}: ${labels.map((l) => JSON.stringify(l)).join(', ')}`]);
  }
  return labels;
}

/**
 * Regression: the first float output is the value. Classification: the first int64/string output is the
 * label; probabilities are the float output with one column per class (or a free width: a removed ZipMap
 * leaves no shape), or a [N, 1] sigmoid for a binary model; outputs named like "prob" win ties.
 */
function pickOutputs(model: ModelDescription, task: Task, classLabels: readonly (string | number)[] | undefined): OutputSpec {
  const floats = model.outputs.filter(isFloat);
  if (task === 'regression') {
    const value = floats[0];
    if (!value) throw new PackagingError([`a regression model needs a float output (outputs: ${describeOutputs(model)})`]);
    return { value: value.name };
  }
  const label = model.outputs.find((o) => o.type === 'int64' || o.type === 'string');
  const classes = (classLabels as readonly (string | number)[]).length;
  const fits = floats.filter((o) => {
    const w = width(o);
    return w === undefined || w === classes || (task === 'binary-classification' && w === 1);
  });
  const probabilities = fits.find((o) => /prob/i.test(o.name)) ?? fits[0];
  if (!label && !probabilities) {
    throw new PackagingError([`found no label output (int64/string) and no probabilities output (float, ${classes} columns) among ${describeOutputs(model)}`]);
  }
  return { ...(label ? { label: label.name } : {}), ...(probabilities ? { probabilities: probabilities.name } : {}) };
}

/** The values of a feature in validated rows for the baseline (null where a number was missing). */
function columnValues(rows: readonly Row[], name: string): (FeatureValue | null)[] {
  return rows.map((row) => row[name] ?? null);
}

/**
 * Reads CSV rows as the serving path reads requests: cells parsed for the manifest's features (csvInstances),
 * then validated with defaults filled in (validateRows). Cells the manifest rejects throw a PackagingError.
 */
export function tableRows(manifest: Manifest, table: CsvTable, source: string): Row[] {
  try {
    return validateRows(manifest, csvInstances(manifest, table, source));
  } catch (error) {
    if (error instanceof ValidationError) {
      throw new PackagingError(error.issues.map((i) => `${source}: line ${(i.row ?? 0) + 2}, column "${i.field}": ${i.reason}`));
    }
    if (error instanceof CsvError) throw new PackagingError([error.message]);
    throw error;
  }
}

/** The target column of a CSV as actual values for the manifest (class labels or numbers). */
export function tableTargets(manifest: Manifest, table: CsvTable, target: string, source: string): Target[] {
  try {
    return holdoutTargets(manifest, column(table, target, source), source);
  } catch (error) {
    if (error instanceof CsvError) throw new PackagingError([error.message]);
    throw error;
  }
}

/**
 * The training baseline: each feature's distribution over the validated training rows (as the prediction
 * log will record requests, defaults filled in), and the distribution of the model's predictions on them.
 */
export function withBaseline(manifest: Manifest, rows: readonly Row[], predictions: readonly RowPrediction[]): Manifest {
  const features = Object.fromEntries(manifest.features.map((feature) => [feature.name, featureBaseline(feature, columnValues(rows, feature.name))]));
  const prediction = predictionBaseline(manifest, predictions);
  return parseManifest({ ...manifest, baseline: { rows: rows.length, features, ...(prediction ? { prediction } : {}) } });
}

/**
 * The calibration of a classifier's probabilities, fitted on the labelled holdout (the model's predictions
 * on it and its targets; never the training rows, whose fit would flatter the model), recorded in the
 * manifest where it lowers the calibration error. Notes say what was decided per class.
 */
export function withCalibration(
  manifest: Manifest,
  actual: readonly Target[],
  predictions: readonly RowPrediction[],
): { readonly manifest: Manifest; readonly notes: readonly string[] } {
  const { calibration, notes } = fitCalibration(manifest, actual, predictions);
  return { manifest: calibration ? parseManifest({ ...manifest, calibration }) : manifest, notes };
}

/**
 * The holdout gates a bundle gets by default, so that a first version — with no champion to be compared
 * with — still has to beat a constant predictor by a margin (PROMOTION_DEFAULTS.defaultGates):
 * - a classifier with probabilities or scores: ROC AUC >= 0.55 (one-vs-rest macro average for multiclass);
 * - a classifier with probabilities: log loss at most the prior's — the log loss of predicting the training
 *   class frequencies for every row — rounded down to 4 decimals;
 * - regression with one value per row: R2 >= 0.01.
 * Only metrics this holdout gives are gated (a gate on a metric it cannot give would reject every upload).
 * Notes say which gates were written, and which of them the holdout fails already.
 */
export function withDefaultGates(
  manifest: Manifest,
  trainingTargets: readonly Target[],
  holdoutMetrics: MetricSet,
): { readonly manifest: Manifest; readonly notes: readonly string[] } {
  const { rocAucMin, r2Min } = PROMOTION_DEFAULTS.defaultGates;
  const wanted: [QualityMetric, MetricGate, string][] =
    manifest.task === 'regression'
      ? [['r2', { min: r2Min }, 'R2 of a constant: at most 0']]
      : [
          ['rocAuc', { min: rocAucMin }, 'a constant scores 0.5'],
          ['logLoss', { max: floorTo4(priorLogLoss(manifest, trainingTargets)) }, "the training prior's log loss"],
        ];
  const gates: Partial<Record<QualityMetric, MetricGate>> = {};
  const notes: string[] = [];
  const written: string[] = [];
  const skipped: string[] = [];
  for (const [metric, gate, why] of wanted) {
    const observed = holdoutMetrics[metric];
    if (observed === undefined) {
      skipped.push(metric);
      continue;
    }
    gates[metric] = gate;
    written.push(`${metric} ${gate.min !== undefined ? `>= ${gate.min}` : `<= ${gate.max}`} (${why})`);
    const fails = gate.min !== undefined ? observed < gate.min : observed > (gate.max as number);
    if (fails) {
      notes.push(
        `the holdout's ${metric} ${Number(observed.toFixed(4))} fails its default gate: validation will reject this bundle (${gate.min !== undefined ? 'METRIC_BELOW_GATE' : 'METRIC_ABOVE_GATE'})`,
      );
    }
  }
  if (written.length > 0) notes.unshift(`default holdout gates: ${written.join(', ')}; edit validation.gates to change them (docs/bundle.md)`);
  if (skipped.length > 0) notes.push(`no default gate on ${skipped.join(', ')}: the model's outputs or this holdout do not give ${skipped.length === 1 ? 'it' : 'them'}`);
  if (written.length === 0) return { manifest, notes };
  return { manifest: parseManifest({ ...manifest, validation: { ...manifest.validation, gates } }), notes };
}

/** The log loss of predicting the training class frequencies for every row: the prior's, the bound to beat. */
function priorLogLoss(manifest: Manifest, targets: readonly Target[]): number {
  const labels = manifest.classLabels as readonly (string | number)[];
  const frequencies = labels.map((label) => targets.filter((target) => target === label).length / targets.length);
  return multiclassLogLoss(
    targets,
    targets.map(() => frequencies),
    labels,
  );
}

function floorTo4(value: number): number {
  return Math.floor(value * 1e4) / 1e4;
}

/**
 * The distribution monitored for prediction drift: regression values and a binary classifier's P(positive)
 * are numeric; labels (multiclass, or binary without probabilities) are categorical over the class labels.
 * Multi-output regression has none.
 */
export function predictionBaseline(manifest: Manifest, predictions: readonly RowPrediction[]): DistributionBaseline | undefined {
  if (manifest.task === 'regression') {
    return predictions.every((p) => typeof p.value === 'number') ? numericBaseline(predictions.map((p) => p.value as number)) : undefined;
  }
  const labels = manifest.classLabels as readonly (string | number)[];
  if (manifest.task === 'binary-classification' && manifest.outputs.probabilities !== undefined) {
    const positive = String(manifest.positiveClass ?? labels[1]);
    return numericBaseline(predictions.map((p) => p.probabilities?.[positive] ?? null));
  }
  return categoricalBaseline(
    predictions.map((p) => p.label ?? null),
    labels,
  );
}

function isFloat(output: TensorSignature): boolean {
  return output.type === 'float32' || output.type === 'float64';
}

/** Values per row of a [N, K] output (1 for [N]); undefined when the graph does not say. */
function width(output: TensorSignature): number | undefined {
  if (!output.dims) return undefined;
  if (output.dims.length === 1) return 1;
  const w = output.dims[1];
  return typeof w === 'number' && w > 0 ? w : undefined;
}

function shape(input: TensorSignature): string {
  return input.dims ? `[${input.dims.join(', ')}]` : '';
}

function quoted(names: readonly string[]): string {
  return names.map((n) => `"${n}"`).join(', ');
}

function describeOutputs(model: ModelDescription): string {
  return model.outputs.map((o) => `"${o.name}" ${o.type}${o.dims ? ` [${o.dims.join(', ')}]` : ''}`).join(', ');
}
