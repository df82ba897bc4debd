// An MLflow model directory read as `modelgate package --mlflow` reads it: the MLmodel document (YAML), its onnx
// flavor, its signature and input example. Pure: the CLI reads the files. The layout is
// MLflow's own (mlflow/models/model.py `Model.to_dict`, mlflow/models/signature.py, mlflow/types/schema.py,
// mlflow/onnx/__init__.py): `signature.inputs` and `signature.outputs` are JSON strings inside the YAML.
import { parse as parseYaml } from 'yaml';
import { CONVERTERS } from './foreign-models';
import type { FeatureType, MlflowLineage } from './manifest-types';
import type { ModelDescription, TensorSignature } from './onnx-graph';

export const MLMODEL_FILE = 'MLmodel';

/** The MLmodel file cannot be used; every problem found is listed, with what to do when there is something. */
export class MlflowModelError extends Error {
  override readonly name = 'MlflowModelError';
  constructor(
    readonly problems: readonly string[],
    readonly nextStep?: string,
  ) {
    super(problems.join('\n'));
  }
}

/** One column of a column-based signature (MLflow ColSpec), with the feature type it becomes. */
export interface SignatureColumn {
  readonly name: string;
  /** MLflow's type name: boolean, integer, long, float, double, string. */
  readonly mlflowType: string;
  readonly type: FeatureType;
  /** MLflow 2.8+ writes `required`; absent means required. */
  readonly required: boolean;
}

/** One tensor of a tensor-based signature (MLflow TensorSpec): numpy dtype and shape, -1 for a free dimension. */
export interface SignatureTensor {
  readonly name?: string;
  readonly dtype: string;
  readonly shape: readonly number[];
}

export type SignatureSchema =
  | { readonly kind: 'columns'; readonly columns: readonly SignatureColumn[] }
  | { readonly kind: 'tensors'; readonly tensors: readonly SignatureTensor[] };

export interface MlflowSignature {
  readonly inputs: SignatureSchema;
  readonly outputs?: SignatureSchema;
}

export interface MlflowModel {
  /** The ONNX file in the directory (flavors.onnx.data). */
  readonly onnxFile: string;
  /** The onnx package that saved it (flavors.onnx.onnx_version). */
  readonly onnxVersion?: string;
  readonly signature?: MlflowSignature;
  /** The input example file and how it is laid out (saved_input_example_info). */
  readonly inputExample?: { readonly file: string; readonly type: string; readonly pandasOrient?: string };
  readonly lineage?: MlflowLineage;
}

/** MLflow column types and the feature type each becomes; binary, datetime and nested types have none. */
const COLUMN_TYPES: Readonly<Record<string, FeatureType>> = {
  boolean: 'boolean',
  integer: 'integer',
  long: 'integer',
  float: 'number',
  double: 'number',
  string: 'string',
};

/** numpy dtype names (TensorSpec `dtype`) and the ONNX element type each is. */
const NUMPY_DTYPES: Readonly<Record<string, string>> = {
  float32: 'float32',
  float64: 'float64',
  int64: 'int64',
  int32: 'int32',
  bool: 'bool',
  str: 'string',
  object: 'string',
};

/** How to turn the flavors MLflow logs most often into an onnx flavor; anything else gets the general advice. */
function conversionOf(directory: string, flavors: readonly string[]): string {
  const save = `mlflow.onnx.save_model(onx, 'onnx-model', signature=Model.load('${directory}').signature, save_as_external_data=False)`;
  if (flavors.includes('sklearn')) {
    return (
      `convert it where it was trained (pip install skl2onnx==${CONVERTERS.skl2onnx}), keeping its signature:\n` +
      `  python -c "import mlflow, pandas as pd; from mlflow.models import Model; from skl2onnx import to_onnx; ` +
      `m = mlflow.sklearn.load_model('${directory}'); X = pd.read_csv('train.csv').drop(columns=['<target>']); ` +
      `onx = to_onnx(m, X[:1], target_opset=${CONVERTERS.opset}); ${save}"\n` +
      '  then: modelgate package --mlflow onnx-model ... (docs/bundle.md, "From MLflow")'
    );
  }
  if (flavors.includes('tensorflow') || flavors.includes('keras')) {
    return (
      `convert its SavedModel with tf2onnx (pip install tf2onnx==${CONVERTERS.tf2onnx}), then save the result with mlflow.onnx.save_model:\n` +
      `  python -m tf2onnx.convert --saved-model <the SavedModel folder in ${directory}> --output model.onnx --opset ${CONVERTERS.opset}\n` +
      '  (docs/bundle.md, "From MLflow")'
    );
  }
  return 'export the model to ONNX with its framework\'s exporter and save it with mlflow.onnx.save_model (docs/bundle.md, "From MLflow")';
}

/** Reads an MLmodel file as MLflow writes it (PyYAML safe_dump of `Model.to_dict()`). */
export function parseMlmodel(text: string, directory: string): MlflowModel {
  let document: unknown;
  try {
    // Every value modelgate reads from MLmodel is text by meaning (file names, ids, versions, JSON), and the
    // failsafe schema keeps each as written: PyYAML leaves a model_uuid such as 0123… or 12e45… unquoted (strings
    // to PyYAML), which YAML 1.2 and 1.1 resolvers read as the numbers 123… and Infinity, and 1.10 as 1.1.
    document = parseYaml(text, { schema: 'failsafe' });
  } catch (error) {
    throw new MlflowModelError([`${directory}/${MLMODEL_FILE} is not valid YAML: ${(error as Error).message.split('\n')[0]}`]);
  }
  return readMlmodel(document, directory);
}

/** YAML's null as the failsafe schema leaves it: the caller reads MLmodel with every scalar a string. */
const NULLS = new Set(['null', 'Null', 'NULL', '~', '']);
const present = (value: unknown) => value !== undefined && value !== null && !(typeof value === 'string' && NULLS.has(value));

/**
 * Reads an MLmodel document (the YAML already parsed, scalars as strings) of the directory `directory`: the onnx flavor's data file,
 * the signature, the input example's description and the ids for lineage. A model without the onnx flavor is
 * refused with the conversion for the flavors it has.
 */
function readMlmodel(document: unknown, directory: string): MlflowModel {
  if (!isRecord(document)) throw new MlflowModelError([`${directory}/${MLMODEL_FILE} is not an MLmodel file: expected a YAML mapping with "flavors"`]);
  const flavors = document.flavors;
  if (!isRecord(flavors)) throw new MlflowModelError([`${directory}/${MLMODEL_FILE} has no "flavors" mapping`]);
  const onnx = flavors.onnx;
  if (!isRecord(onnx)) {
    const names = Object.keys(flavors);
    throw new MlflowModelError(
      [`${directory} is an MLflow model without the onnx flavor (flavors: ${names.join(', ') || 'none'}); modelgate serves ONNX models only, and never loads a pickle`],
      conversionOf(directory, names),
    );
  }
  const problems: string[] = [];
  const onnxFile = onnx.data;
  if (typeof onnxFile !== 'string' || onnxFile === '' || onnxFile.split('/').includes('..'))
    problems.push(`flavors.onnx.data must name the ONNX file in the directory, got ${JSON.stringify(onnxFile)}`);
  let signature: MlflowSignature | undefined;
  if (present(document.signature)) {
    try {
      signature = readSignature(document.signature);
    } catch (error) {
      if (!(error instanceof MlflowModelError)) throw error;
      problems.push(...error.problems);
    }
  }
  const example = document.saved_input_example_info;
  let inputExample: MlflowModel['inputExample'];
  if (isRecord(example)) {
    if (typeof example.artifact_path !== 'string') problems.push('saved_input_example_info.artifact_path must name the example file');
    else {
      inputExample = {
        file: example.artifact_path,
        type: typeof example.type === 'string' ? example.type : 'unknown',
        ...(typeof example.pandas_orient === 'string' ? { pandasOrient: example.pandas_orient } : {}),
      };
    }
  }
  if (problems.length > 0) throw new MlflowModelError(problems.map((p) => `${directory}/${MLMODEL_FILE}: ${p}`));
  const lineage = lineageOf(document);
  return {
    onnxFile: onnxFile as string,
    ...(typeof onnx.onnx_version === 'string' ? { onnxVersion: onnx.onnx_version } : {}),
    ...(signature ? { signature } : {}),
    ...(inputExample ? { inputExample } : {}),
    ...(lineage ? { lineage } : {}),
  };
}

/** The ids MLflow gives the model; a model saved outside a run (mlflow.onnx.save_model) has a uuid but no run. */
function lineageOf(document: Record<string, unknown>): MlflowLineage | undefined {
  const text = (key: string) => {
    const value = document[key];
    return typeof value === 'string' && present(value) ? value : undefined;
  };
  const modelUuid = text('model_uuid');
  if (modelUuid === undefined) return undefined;
  const fields: [keyof MlflowLineage, string | undefined][] = [
    ['runId', text('run_id')],
    ['modelUuid', modelUuid],
    ['modelId', text('model_id')],
    ['artifactPath', text('artifact_path')],
    ['createdAt', text('utc_time_created')],
    ['mlflowVersion', text('mlflow_version')],
  ];
  return Object.fromEntries(fields.filter(([, value]) => value !== undefined)) as unknown as MlflowLineage;
}

/** A signature without inputs (MLflow allows outputs only) declares nothing modelgate checks: undefined. */
function readSignature(raw: unknown): MlflowSignature | undefined {
  if (!isRecord(raw)) throw new MlflowModelError(['signature must be a mapping with "inputs" and "outputs"']);
  const schema = (field: 'inputs' | 'outputs') => {
    const value = raw[field];
    if (!present(value) || value === 'null') return undefined;
    if (typeof value !== 'string') throw new MlflowModelError([`signature.${field} must be the JSON string MLflow writes`]);
    return readSchema(value, `signature.${field}`);
  };
  const inputs = schema('inputs');
  const outputs = schema('outputs');
  return inputs ? { inputs, ...(outputs ? { outputs } : {}) } : undefined;
}

function readSchema(json: string, field: string): SignatureSchema {
  let specs: unknown;
  try {
    specs = JSON.parse(json);
  } catch (error) {
    throw new MlflowModelError([`${field} is not valid JSON: ${(error as Error).message}`]);
  }
  if (!Array.isArray(specs) || specs.length === 0 || !specs.every(isRecord)) throw new MlflowModelError([`${field} must be a JSON list of column or tensor specs`]);
  const tensors = specs.filter((spec) => spec.type === 'tensor');
  if (tensors.length > 0 && tensors.length < specs.length) throw new MlflowModelError([`${field} mixes column and tensor specs, which MLflow does not allow`]);
  const problems: string[] = [];
  if (tensors.length > 0) {
    const read = specs.map((spec, i) => {
      const tensor = spec['tensor-spec'];
      if (!isRecord(tensor) || typeof tensor.dtype !== 'string' || !Array.isArray(tensor.shape) || !tensor.shape.every(Number.isInteger)) {
        problems.push(`${field}[${i}]: a tensor spec needs "tensor-spec": {"dtype", "shape"}`);
        return undefined;
      }
      return { ...(typeof spec.name === 'string' ? { name: spec.name } : {}), dtype: tensor.dtype, shape: tensor.shape as number[] };
    });
    if (problems.length > 0) throw new MlflowModelError(problems);
    return { kind: 'tensors', tensors: read as SignatureTensor[] };
  }
  const columns: SignatureColumn[] = [];
  specs.forEach((spec, i) => {
    const name = spec.name;
    const mlflowType = spec.type;
    if (typeof name !== 'string' || name === '') {
      problems.push(`${field}[${i}]: the column has no name; modelgate maps columns to features by name (infer the signature from a DataFrame)`);
      return;
    }
    const type = typeof mlflowType === 'string' ? COLUMN_TYPES[mlflowType] : undefined;
    if (type === undefined) {
      problems.push(`${field}: column "${name}" has type ${JSON.stringify(mlflowType)}, which no feature takes (${Object.keys(COLUMN_TYPES).join(', ')})`);
      return;
    }
    columns.push({ name, mlflowType: mlflowType as string, type, required: spec.required !== false });
  });
  if (problems.length > 0) throw new MlflowModelError(problems);
  return { kind: 'columns', columns };
}

/** Which feature types an ONNX input of each element type can take from a column of that type. */
const INPUT_TAKES: Readonly<Record<string, readonly FeatureType[]>> = {
  float32: ['number', 'integer', 'boolean'],
  float64: ['number', 'integer', 'boolean'],
  int64: ['integer', 'boolean'],
  string: ['string'],
  bool: ['boolean'],
};

/**
 * Where the signature and the ONNX graph disagree, each named: MLflow's onnx flavor feeds a DataFrame column by
 * column to inputs of the same names when the graph has several inputs, and all columns in signature order to
 * the one input otherwise (mlflow/onnx `_OnnxModelWrapper.predict`); tensor specs name graph inputs with their
 * dtype and shape; named outputs are graph outputs.
 */
export function signatureMismatches(signature: MlflowSignature, model: ModelDescription): string[] {
  const problems: string[] = [];
  const graphInputs = model.inputs.map((i) => `"${i.name}" ${i.type}${i.dims ? ` [${i.dims.join(', ')}]` : ''}`).join(', ');
  if (signature.inputs.kind === 'columns') {
    const columns = signature.inputs.columns;
    if (model.inputs.length === 1) {
      const input = model.inputs[0] as TensorSignature;
      const width = input.dims?.length === 2 ? input.dims[1] : input.dims?.length === 1 ? 1 : undefined;
      if (typeof width === 'number' && width > 0 && width !== columns.length) {
        problems.push(`the signature has ${columns.length} input column(s), but the ONNX input "${input.name}" takes ${width} value(s) per row`);
      }
      for (const column of columns) problems.push(...typeMismatch(column, input));
    } else {
      for (const column of columns) {
        const input = model.inputs.find((i) => i.name === column.name);
        if (!input) problems.push(`signature column "${column.name}" names no ONNX input (inputs: ${graphInputs})`);
        else problems.push(...typeMismatch(column, input));
      }
      for (const input of model.inputs) {
        if (!columns.some((c) => c.name === input.name)) problems.push(`ONNX input "${input.name}" has no column in the signature`);
      }
    }
  } else {
    const tensors = signature.inputs.tensors;
    tensors.forEach((tensor, i) => {
      const input =
        tensor.name === undefined ? (tensors.length === 1 && model.inputs.length === 1 ? model.inputs[0] : undefined) : model.inputs.find((x) => x.name === tensor.name);
      const label = tensor.name === undefined ? `signature tensor ${i}` : `signature tensor "${tensor.name}"`;
      if (!input) {
        problems.push(`${label} names no ONNX input (inputs: ${graphInputs})`);
        return;
      }
      problems.push(...tensorMismatch(label, tensor, input, 'input'));
    });
    for (const input of model.inputs) {
      const covered = tensors.some((t) => t.name === input.name) || (tensors.length === 1 && model.inputs.length === 1 && tensors[0]?.name === undefined);
      if (!covered) problems.push(`ONNX input "${input.name}" has no tensor in the signature`);
    }
  }
  const outputs = signature.outputs;
  if (outputs?.kind === 'tensors') {
    for (const tensor of outputs.tensors) {
      if (tensor.name === undefined) continue;
      const output = model.outputs.find((o) => o.name === tensor.name);
      if (!output) problems.push(`signature output "${tensor.name}" names no ONNX output (outputs: ${model.outputs.map((o) => `"${o.name}"`).join(', ')})`);
      else problems.push(...tensorMismatch(`signature output "${tensor.name}"`, tensor, output, 'output'));
    }
  } else if (outputs?.kind === 'columns') {
    for (const column of outputs.columns) {
      if (!model.outputs.some((o) => o.name === column.name)) {
        problems.push(`signature output column "${column.name}" names no ONNX output (outputs: ${model.outputs.map((o) => `"${o.name}"`).join(', ')})`);
      }
    }
  }
  return problems;
}

function typeMismatch(column: SignatureColumn, input: TensorSignature): string[] {
  const takes = INPUT_TAKES[input.type];
  if (takes === undefined || takes.includes(column.type)) return [];
  return [`signature column "${column.name}" is ${column.mlflowType}, but the ONNX input "${input.name}" it feeds is ${input.type}`];
}

function tensorMismatch(label: string, tensor: SignatureTensor, graph: TensorSignature, role: 'input' | 'output'): string[] {
  const problems: string[] = [];
  const type = NUMPY_DTYPES[tensor.dtype];
  // A removed ZipMap leaves a float tensor where the signature may describe what MLflow returned: skip non-tensors.
  if (type === undefined) problems.push(`${label} has dtype ${tensor.dtype}, which modelgate cannot map to an ONNX type`);
  else if (graph.type !== 'sequence' && graph.type !== 'map' && type !== graph.type)
    problems.push(`${label} is ${tensor.dtype}, but the ONNX ${role} "${graph.name}" is ${graph.type}`);
  const dims = graph.dims;
  if (dims) {
    if (dims.length !== tensor.shape.length) {
      problems.push(`${label} has shape (${tensor.shape.join(', ')}), but the ONNX ${role} "${graph.name}" has rank ${dims.length} [${dims.join(', ')}]`);
    } else {
      tensor.shape.forEach((size, d) => {
        const graphSize = dims[d];
        if (size !== -1 && typeof graphSize === 'number' && graphSize > 0 && graphSize !== size) {
          problems.push(`${label} has ${size} at dimension ${d}, but the ONNX ${role} "${graph.name}" has ${graphSize} [${dims.join(', ')}]`);
        }
      });
    }
  }
  return problems;
}

/**
 * The rows of an input example MLflow saved as a DataFrame in pandas' split orient (`{"columns": [...], "data":
 * [[...]]}`), as request instances (null cells left out). Undefined for other kinds of example (tensors).
 */
export function exampleInstances(model: MlflowModel, example: unknown): Record<string, unknown>[] | undefined {
  if (model.inputExample?.type !== 'dataframe' || (model.inputExample.pandasOrient ?? 'split') !== 'split') return undefined;
  // MLflow 2.x writes the split frame as it is; serving_input_example.json wraps it in "dataframe_split".
  const frame = isRecord(example) && isRecord(example.dataframe_split) ? example.dataframe_split : example;
  if (!isRecord(frame) || !Array.isArray(frame.columns) || !Array.isArray(frame.data)) {
    throw new MlflowModelError([`${model.inputExample.file} is not a DataFrame in split orient ({"columns": [...], "data": [[...]]})`]);
  }
  const columns = frame.columns as unknown[];
  return (frame.data as unknown[]).map((row, r) => {
    if (!Array.isArray(row) || row.length !== columns.length) throw new MlflowModelError([`${model.inputExample?.file}: row ${r + 1} has no cell per column`]);
    return Object.fromEntries(columns.map((name, c) => [String(name), row[c]]).filter(([, value]) => value !== null));
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
