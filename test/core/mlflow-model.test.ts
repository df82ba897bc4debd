import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONVERTERS } from '../../lambdas/core/foreign-models';
import { MlflowModelError, exampleInstances, parseMlmodel, signatureMismatches, type MlflowSignature } from '../../lambdas/core/mlflow-model';
import { prepareModel } from '../../lambdas/core/onnx-graph';
import { IRIS_MLMODEL, SKLEARN_MLMODEL, TITANIC_EXAMPLE, TITANIC_MLMODEL } from '../support/mlflow';

const graphOf = (name: string) => prepareModel(new Uint8Array(readFileSync(new URL(`../fixtures/models/${name}`, import.meta.url)))).description;
const titanicGraph = graphOf('pipeline_titanic.onnx');
const irisGraph = graphOf('logreg_iris.onnx');

function problemsOf(action: () => unknown): readonly string[] {
  try {
    action();
  } catch (error) {
    if (error instanceof MlflowModelError) return error.problems;
    throw error;
  }
  throw new Error('expected an MlflowModelError');
}

/** An MLmodel with the given signature inputs JSON (quoted for YAML). */
const withInputs = (json: string) => `flavors:\n  onnx:\n    data: model.onnx\nmodel_uuid: abc\nsignature:\n  inputs: '${json}'\n`;

describe('parseMlmodel', () => {
  it('reads a column-based signature, the input example and the ids MLflow gives the model', () => {
    expect(parseMlmodel(TITANIC_MLMODEL, 'mlruns/model')).toEqual({
      onnxFile: 'model.onnx',
      onnxVersion: '1.17.0',
      signature: {
        inputs: {
          kind: 'columns',
          columns: [
            { name: 'pclass', mlflowType: 'string', type: 'string', required: true },
            { name: 'sex', mlflowType: 'string', type: 'string', required: true },
            { name: 'age', mlflowType: 'double', type: 'number', required: false },
            { name: 'fare', mlflowType: 'double', type: 'number', required: true },
            { name: 'embarked', mlflowType: 'string', type: 'string', required: false },
          ],
        },
        outputs: { kind: 'columns', columns: [{ name: 'output_label', mlflowType: 'long', type: 'integer', required: true }] },
      },
      inputExample: { file: 'input_example.json', type: 'dataframe', pandasOrient: 'split' },
      lineage: {
        runId: '8ede7df408dd42ed9fc39019ef7df309',
        modelUuid: '3f1c0b6a2d5e4f7a9b8c1d2e3f4a5b6c',
        artifactPath: 'model',
        createdAt: '2026-11-30 09:12:44.123456',
        mlflowVersion: '2.19.0',
      },
    });
  });

  it('reads a tensor signature, and keeps ids PyYAML leaves unquoted as the text they are', () => {
    const model = parseMlmodel(IRIS_MLMODEL, 'iris');
    expect(model.signature).toEqual({
      inputs: { kind: 'tensors', tensors: [{ name: 'float_input', dtype: 'float32', shape: [-1, 4] }] },
      outputs: { kind: 'tensors', tensors: [{ name: 'output_label', dtype: 'int64', shape: [-1] }] },
    });
    // Saved outside a run: no run id. A YAML 1.2 reader would make this uuid the number 123456789.
    expect(model.lineage).toEqual({ modelUuid: '0123456789', createdAt: '2026-11-30 09:12:44.123456', mlflowVersion: '2.19.0' });
    expect(parseMlmodel(IRIS_MLMODEL.replace('0123456789', '12e45678901234567890123456789012'), 'iris').lineage?.modelUuid).toBe('12e45678901234567890123456789012');
  });

  it('refuses a model without the onnx flavor, with the conversion that keeps its signature', () => {
    let error: MlflowModelError | undefined;
    try {
      parseMlmodel(SKLEARN_MLMODEL, 'mlruns/sk');
    } catch (caught) {
      error = caught as MlflowModelError;
    }
    expect(error?.message).toBe(
      'mlruns/sk is an MLflow model without the onnx flavor (flavors: python_function, sklearn); modelgate serves ONNX models only, and never loads a pickle',
    );
    expect(error?.nextStep).toContain(`pip install skl2onnx==${CONVERTERS.skl2onnx}`);
    expect(error?.nextStep).toContain("mlflow.onnx.save_model(onx, 'onnx-model', signature=Model.load('mlruns/sk').signature, save_as_external_data=False)");
  });

  it.each([
    { what: 'not YAML', text: 'flavors: [unclosed', problem: /^m\/MLmodel is not valid YAML: / },
    { what: 'no flavors', text: 'model_uuid: abc\n', problem: /^m\/MLmodel has no "flavors" mapping$/ },
    {
      what: 'a data path out of the directory',
      text: 'flavors:\n  onnx:\n    data: ../model.onnx\n',
      problem: /flavors\.onnx\.data must name the ONNX file in the directory, got "\.\.\/model\.onnx"/,
    },
    { what: 'an unnamed column', text: withInputs('[{"type": "double"}]'), problem: /signature\.inputs\[0\]: the column has no name/ },
    { what: 'a datetime column', text: withInputs('[{"type": "datetime", "name": "signup"}]'), problem: /column "signup" has type "datetime", which no feature takes/ },
    {
      what: 'columns and tensors mixed',
      text: withInputs('[{"type": "double", "name": "a"}, {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1]}}]'),
      problem: /mixes column and tensor specs/,
    },
    { what: 'inputs that are not JSON', text: withInputs('[{'), problem: /signature\.inputs is not valid JSON/ },
  ])('names the problem of $what', ({ text, problem }) => {
    expect(problemsOf(() => parseMlmodel(text, 'm')).join('\n')).toMatch(problem);
  });
});

describe('signatureMismatches', () => {
  const titanic = parseMlmodel(TITANIC_MLMODEL, 'm').signature as MlflowSignature;
  const iris = parseMlmodel(IRIS_MLMODEL, 'm').signature as MlflowSignature;
  const columns = (edit: (c: { name: string; mlflowType: string; type: string; required: boolean }[]) => void): MlflowSignature => {
    const copy = structuredClone(titanic) as unknown as { inputs: { columns: { name: string; mlflowType: string; type: string; required: boolean }[] } };
    edit(copy.inputs.columns);
    return copy as unknown as MlflowSignature;
  };
  const tensors = (inputs: object[], outputs: object[] = []) =>
    ({ inputs: { kind: 'tensors', tensors: inputs }, outputs: { kind: 'tensors', tensors: outputs } }) as MlflowSignature;

  it('finds none where the signature describes the graph', () => {
    expect(signatureMismatches(titanic, titanicGraph)).toEqual([]);
    expect(signatureMismatches(iris, irisGraph)).toEqual([]);
  });

  it.each([
    {
      what: 'a column whose type the input cannot take',
      signature: columns((c) => Object.assign(c[0] as object, { mlflowType: 'long', type: 'integer' })),
      graph: titanicGraph,
      mismatch: 'signature column "pclass" is long, but the ONNX input "pclass" it feeds is string',
    },
    {
      what: 'a column that names no input of a multi-input graph',
      signature: columns((c) => Object.assign(c[4] as object, { name: 'port' })),
      graph: titanicGraph,
      mismatch:
        'signature column "port" names no ONNX input (inputs: "pclass" string [?, 1], "sex" string [?, 1], "age" float32 [?, 1], "fare" float32 [?, 1], "embarked" string [?, 1])',
    },
    {
      what: 'an input without a column',
      signature: columns((c) => c.pop()),
      graph: titanicGraph,
      mismatch: 'ONNX input "embarked" has no column in the signature',
    },
    {
      what: 'more columns than a matrix input takes',
      signature: columns(() => undefined),
      graph: irisGraph,
      mismatch: 'the signature has 5 input column(s), but the ONNX input "float_input" takes 4 value(s) per row',
    },
    {
      what: 'a text column for a float matrix',
      signature: columns(() => undefined),
      graph: irisGraph,
      mismatch: 'signature column "sex" is string, but the ONNX input "float_input" it feeds is float32',
    },
    {
      what: 'a tensor of another dtype',
      signature: tensors([{ name: 'float_input', dtype: 'float64', shape: [-1, 4] }]),
      graph: irisGraph,
      mismatch: 'signature tensor "float_input" is float64, but the ONNX input "float_input" is float32',
    },
    {
      what: 'a tensor of another width',
      signature: tensors([{ name: 'float_input', dtype: 'float32', shape: [-1, 3] }]),
      graph: irisGraph,
      mismatch: 'signature tensor "float_input" has 3 at dimension 1, but the ONNX input "float_input" has 4 [1, 4]',
    },
    {
      what: 'a tensor of another rank',
      signature: tensors([{ name: 'float_input', dtype: 'float32', shape: [-1] }]),
      graph: irisGraph,
      mismatch: 'signature tensor "float_input" has shape (-1), but the ONNX input "float_input" has rank 2 [1, 4]',
    },
    {
      what: 'a tensor named after no input',
      signature: tensors([{ name: 'features', dtype: 'float32', shape: [-1, 4] }]),
      graph: irisGraph,
      mismatch: 'signature tensor "features" names no ONNX input (inputs: "float_input" float32 [1, 4])',
    },
    {
      what: 'an output named after no graph output',
      signature: tensors([{ dtype: 'float32', shape: [-1, 4] }], [{ name: 'label', dtype: 'int64', shape: [-1] }]),
      graph: irisGraph,
      mismatch: 'signature output "label" names no ONNX output (outputs: "output_label", "output_probability")',
    },
  ])('names $what', ({ signature, graph, mismatch }) => {
    expect(signatureMismatches(signature, graph)).toContain(mismatch);
  });
});

describe('exampleInstances', () => {
  const model = parseMlmodel(TITANIC_MLMODEL, 'm');

  it("reads pandas' split orient into request instances, nulls left out", () => {
    expect(exampleInstances(model, JSON.parse(TITANIC_EXAMPLE))).toEqual([
      { pclass: '1', sex: 'female', age: 29, fare: 211.3375, embarked: 'S' },
      { pclass: '3', sex: 'male', fare: 7.25 },
    ]);
    expect(exampleInstances(model, { dataframe_split: JSON.parse(TITANIC_EXAMPLE) })).toHaveLength(2);
  });

  it('leaves tensor examples unread and refuses a frame that is not in split orient', () => {
    expect(exampleInstances({ ...model, inputExample: { file: 'input_example.json', type: 'ndarray' } }, { inputs: [[1, 2, 3, 4]] })).toBeUndefined();
    expect(problemsOf(() => exampleInstances(model, [{ pclass: '1' }]))).toEqual(['input_example.json is not a DataFrame in split orient ({"columns": [...], "data": [[...]]})']);
  });
});
