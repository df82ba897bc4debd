// MLflow model directories as MLflow writes them, for the tests: the MLmodel text is what PyYAML 6's
// `yaml.safe_dump(Model.to_dict(), default_flow_style=False)` prints for mlflow.onnx.save_model (keys sorted,
// `signature.inputs` a JSON string folded at 80 columns) — checked against PyYAML for the layouts below.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The onnx and python_function flavors mlflow.onnx.save_model writes for a model saved as model.onnx. */
const ONNX_FLAVORS = `flavors:
  onnx:
    code: null
    data: model.onnx
    onnx_session_options: null
    onnx_version: 1.17.0
    providers:
    - CUDAExecutionProvider
    - CPUExecutionProvider
  python_function:
    code: null
    data: model.onnx
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.onnx
    python_version: 3.11.9
`;

/**
 * The titanic pipeline (test/fixtures/models/pipeline_titanic.onnx) logged in a run with a column-based signature
 * inferred from a DataFrame (pclass read as text, age and embarked with missing values) and an input example.
 */
export const TITANIC_MLMODEL = `artifact_path: model
${ONNX_FLAVORS}is_signature_from_type_hint: false
mlflow_version: 2.19.0
model_size_bytes: 18342
model_uuid: 3f1c0b6a2d5e4f7a9b8c1d2e3f4a5b6c
run_id: 8ede7df408dd42ed9fc39019ef7df309
saved_input_example_info:
  artifact_path: input_example.json
  pandas_orient: split
  serving_input_path: serving_input_example.json
  type: dataframe
signature:
  inputs: '[{"type": "string", "name": "pclass", "required": true}, {"type": "string",
    "name": "sex", "required": true}, {"type": "double", "name": "age", "required":
    false}, {"type": "double", "name": "fare", "required": true}, {"type": "string",
    "name": "embarked", "required": false}]'
  outputs: '[{"type": "long", "name": "output_label", "required": true}]'
  params: null
type_hint_from_example: false
utc_time_created: '2026-11-30 09:12:44.123456'
`;

/** input_example.json of the titanic model: pandas' split orient, as mlflow writes a DataFrame example. */
export const TITANIC_EXAMPLE = '{"columns": ["pclass", "sex", "age", "fare", "embarked"], "data": [["1", "female", 29.0, 211.3375, "S"], ["3", "male", null, 7.25, null]]}';

/**
 * The iris logistic regression (logreg_iris.onnx) saved outside a run (mlflow.onnx.save_model: no run_id) with a
 * tensor signature from numpy arrays; a model_uuid of digits, which PyYAML leaves unquoted.
 */
export const IRIS_MLMODEL = `${ONNX_FLAVORS}mlflow_version: 2.19.0
model_uuid: 0123456789
signature:
  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]},
    "name": "float_input"}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]},
    "name": "output_label"}]'
  params: null
utc_time_created: '2026-11-30 09:12:44.123456'
`;

/** What mlflow.sklearn.save_model writes: a pickle and no onnx flavor. */
export const SKLEARN_MLMODEL = `flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    predict_fn: predict
    python_version: 3.11.9
  sklearn:
    code: null
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.5.2
mlflow_version: 2.19.0
model_uuid: 5d2f8e1a9c3b4e6f8a0b1c2d3e4f5a6b
utc_time_created: '2026-11-30 09:12:44.123456'
`;

/** Writes an MLflow model directory: MLmodel, the ONNX file copied in as model.onnx, and other files given. */
export function writeMlflowModel(directory: string, mlmodel: string, onnxFile: string | undefined, files: Readonly<Record<string, string>> = {}): string {
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, 'MLmodel'), mlmodel);
  if (onnxFile) copyFileSync(onnxFile, join(directory, 'model.onnx'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(directory, name), text);
  return directory;
}
