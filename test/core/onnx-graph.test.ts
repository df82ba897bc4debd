import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { describeModel, OnnxFormatError, prepareModel, removeZipMap } from '../../lambdas/core/onnx-graph';

const { onnx } = onnxProto;

const fixture = (file: string) => new Uint8Array(readFileSync(new URL(`../fixtures/models/${file}`, import.meta.url)));
const opTypes = (bytes: Uint8Array) => (onnx.ModelProto.decode(bytes).graph?.node ?? []).map((n) => n.opType);

const FLOAT = 1;
const _INT64 = 7;
const STRING = 8;
const tensorInfo = (name: string, elemType: number, dims: (number | string)[]) => ({
  name,
  type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
});

/**
 * A classifier as skl2onnx writes it: LinearClassifier -> ZipMap, with the probability tensor described
 * in value_info, string class labels, and a coefficient initializer that older exporters also list as an input.
 */
function syntheticClassifier(): Uint8Array {
  const model = onnx.ModelProto.fromObject({
    irVersion: 7,
    producerName: 'synthetic',
    producerVersion: '0.1',
    opsetImport: [
      { domain: '', version: 13 },
      { domain: 'ai.onnx.ml', version: 1 },
    ],
    graph: {
      name: 'g',
      node: [
        {
          opType: 'LinearClassifier',
          domain: 'ai.onnx.ml',
          input: ['X'],
          output: ['label', 'probability_tensor'],
          attribute: [
            { name: 'classlabels_strings', type: 8, strings: ['cat', 'dog', 'eel'].map((s) => new TextEncoder().encode(s)) },
            { name: 'coefficients', type: 6, floats: [1, 2, 3, 4, 5, 6] },
          ],
        },
        {
          opType: 'ZipMap',
          domain: 'ai.onnx.ml',
          input: ['probability_tensor'],
          output: ['output_probability'],
          attribute: [{ name: 'classlabels_strings', type: 8, strings: ['cat', 'dog', 'eel'].map((s) => new TextEncoder().encode(s)) }],
        },
      ],
      input: [tensorInfo('X', FLOAT, ['N', 2]), tensorInfo('W', FLOAT, [3])],
      initializer: [{ name: 'W', dataType: FLOAT, dims: [3], floatData: [0, 0, 0] }],
      valueInfo: [tensorInfo('probability_tensor', FLOAT, ['N', 3])],
      output: [
        tensorInfo('label', STRING, ['N']),
        { name: 'output_probability', type: { sequenceType: { elemType: { mapType: { keyType: STRING, valueType: { tensorType: { elemType: FLOAT } } } } } } },
      ],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

describe('describeModel', () => {
  it.each([
    {
      file: 'logreg_iris.onnx',
      inputs: [{ name: 'float_input', type: 'float32', dims: [1, 4] }],
      outputs: [
        { name: 'output_label', type: 'int64', dims: [1] },
        { name: 'output_probability', type: 'sequence' },
      ],
      classLabels: [0, 1, 2],
    },
    {
      file: 'SklearnBinGradientBoostingClassifier.model.onnx',
      inputs: [{ name: 'input', type: 'float32', dims: [1, 2] }],
      outputs: [
        { name: 'label', type: 'string', dims: [1] },
        { name: 'probabilities', type: 'sequence' },
      ],
      classLabels: ['A', 'B'],
    },
    {
      file: 'pipeline_titanic_nozipmap.onnx',
      inputs: [
        { name: 'pclass', type: 'int64', dims: ['?', 1] },
        { name: 'sex', type: 'string', dims: ['?', 1] },
        { name: 'age', type: 'float32', dims: ['?', 1] },
        { name: 'fare', type: 'float32', dims: ['?', 1] },
        { name: 'embarked', type: 'string', dims: ['?', 1] },
      ],
      outputs: [
        { name: 'label', type: 'int64', dims: ['?'] },
        { name: 'probabilities', type: 'float32', dims: ['?', 2] },
      ],
      classLabels: [0, 1],
    },
    {
      file: 'churn_model.onnx',
      inputs: [{ name: 'input_layer', type: 'float32', dims: ['unk__6', 11] }],
      outputs: [{ name: 'output_0', type: 'float32', dims: ['unk__7', 1] }],
      classLabels: undefined,
    },
    {
      file: 'SklearnStandardScalerFloat32.model.onnx',
      inputs: [{ name: 'input', type: 'float32', dims: [4, 3] }],
      outputs: [{ name: 'variable', type: 'float32', dims: [4, 3] }],
      classLabels: undefined,
    },
    {
      file: 'SklearnPipelineScalerMixed-OneOff.model.onnx',
      inputs: [
        { name: 'input1', type: 'int64', dims: [1, 1] },
        { name: 'input2', type: 'float32', dims: [1, 1] },
      ],
      outputs: [{ name: 'variable1', type: 'float32', dims: [1, 2] }],
      classLabels: undefined,
    },
  ])('$file: inputs, outputs and class labels', ({ file, inputs, outputs, classLabels }) => {
    const model = describeModel(fixture(file));
    expect(model.inputs).toEqual(inputs);
    expect(model.outputs).toEqual(outputs);
    expect(model.classLabels).toEqual(classLabels);
    if (classLabels === undefined) expect(model).not.toHaveProperty('classLabels');
  });

  it('reads the producer and the opsets, ai.onnx for the default domain', () => {
    const model = describeModel(fixture('logreg_iris.onnx'));
    expect(model.producer).toBe('skl2onnx 1.4.0');
    expect(model.opsets).toEqual({ 'ai.onnx': 7, 'ai.onnx.ml': 1 });
  });

  it('leaves initializers listed as graph inputs out of the inputs, and reads string class labels', () => {
    const model = describeModel(syntheticClassifier());
    expect(model.inputs).toEqual([{ name: 'X', type: 'float32', dims: ['N', 2] }]);
    expect(model.classLabels).toEqual(['cat', 'dog', 'eel']);
    expect(model.producer).toBe('synthetic 0.1');
    expect(model.opsets).toEqual({ 'ai.onnx': 13, 'ai.onnx.ml': 1 });
  });

  it.each([
    { what: 'an empty file', bytes: new Uint8Array(0) },
    { what: 'random bytes', bytes: randomBytes(1024, 7) },
    { what: 'other random bytes', bytes: randomBytes(4096, 99) },
    { what: 'text', bytes: new TextEncoder().encode('this is not a model\n') },
    { what: 'a truncated model', bytes: fixture('logreg_iris.onnx').slice(0, 300) },
  ])('throws OnnxFormatError on $what', ({ bytes }) => {
    expect(() => describeModel(bytes)).toThrow(OnnxFormatError);
    expect(() => describeModel(bytes)).toThrow(/^not an ONNX model: /);
    expect(() => removeZipMap(bytes)).toThrow(OnnxFormatError);
  });
});

describe('removeZipMap', () => {
  it.each([
    { file: 'logreg_iris.onnx', output: 'output_probability' },
    { file: 'rf_iris.onnx', output: 'output_probability' },
    { file: 'pipeline_titanic.onnx', output: 'output_probability' },
    { file: 'pipeline_lightgbm.onnx', output: 'output_probability' },
    // Its only class labels are the ZipMap's own attribute (the classifier is MatMul/ArgMax), checked below.
    { file: 'sk_SGD_binary_classifier.onnx', output: 'output_probability' },
    { file: 'SklearnLogitisticRegressionBinary.model.onnx', output: 'probabilities' },
    { file: 'SklearnBinGradientBoostingClassifier.model.onnx', output: 'probabilities' },
  ])('$file: $output becomes a float32 tensor, under the same name', ({ file, output }) => {
    const original = fixture(file);
    expect(opTypes(original)).toContain('ZipMap');
    const { bytes, removed } = removeZipMap(original);
    expect(removed).toBe(1);
    expect(opTypes(bytes)).not.toContain('ZipMap');
    const before = describeModel(original);
    const after = describeModel(bytes);
    expect(after.outputs.find((o) => o.name === output)?.type).toBe('float32');
    // Only the ZipMap output changes.
    expect(after.inputs).toEqual(before.inputs);
    expect(after.outputs.filter((o) => o.name !== output)).toEqual(before.outputs.filter((o) => o.name !== output));
    if (file !== 'sk_SGD_binary_classifier.onnx') expect(after.classLabels).toEqual(before.classLabels);
    // Running it again finds nothing left to remove.
    expect(removeZipMap(bytes)).toEqual({ bytes, removed: 0 });
  });

  it.each([
    'pipeline_titanic_nozipmap.onnx',
    'churn_model.onnx',
    'treecl.onnx',
    'test_xgb.onnx',
    'SklearnRegRandomForestRegressor.model.onnx',
    'coreml_OneHotEncoder_BikeSharing.onnx',
  ])('%s has no ZipMap and comes back byte-identical', (file) => {
    const original = fixture(file);
    const copy = original.slice();
    const { bytes, removed } = removeZipMap(original);
    expect(removed).toBe(0);
    expect(bytes).toBe(original);
    expect(Buffer.from(bytes).equals(Buffer.from(copy))).toBe(true);
  });

  // Identity takes no attributes, so labels only the ZipMap declared are gone from the rewritten graph;
  // read declared labels from the original bytes.
  it('drops class labels that only the ZipMap declared (sk_SGD: MatMul/ArgMax, no classifier node)', () => {
    const original = fixture('sk_SGD_binary_classifier.onnx');
    expect(describeModel(original).classLabels).toEqual([0, 1]);
    expect(describeModel(removeZipMap(original).bytes).classLabels).toBeUndefined();
  });

  it('turns the ZipMap into an Identity of the probability tensor and takes its type and shape from value_info', () => {
    const { bytes, removed } = removeZipMap(syntheticClassifier());
    expect(removed).toBe(1);
    const nodes = onnx.ModelProto.decode(bytes).graph?.node ?? [];
    expect(nodes.map((n) => [n.opType, n.domain, n.input, n.output, n.attribute?.length])).toEqual([
      ['LinearClassifier', 'ai.onnx.ml', ['X'], ['label', 'probability_tensor'], 2],
      ['Identity', '', ['probability_tensor'], ['output_probability'], 0],
    ]);
    expect(describeModel(bytes).outputs).toEqual([
      { name: 'label', type: 'string', dims: ['N'] },
      { name: 'output_probability', type: 'float32', dims: ['N', 3] },
    ]);
  });
});

/** Deterministic pseudo-random bytes (an LCG), so a failure can be replayed. */
function randomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

describe('prepareModel', () => {
  it('refuses a model whose tensors live in an external file (onnx save_as_external_data), naming the file and the fix', () => {
    const model = onnx.ModelProto.decode(fixture('churn_model.onnx'));
    const tensor = model.graph?.initializer?.[0] as onnxProto.onnx.TensorProto;
    tensor.rawData = new Uint8Array();
    tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    tensor.externalData = [onnx.StringStringEntryProto.create({ key: 'location', value: '6f1c2d3e-weights' })];
    const bytes = onnx.ModelProto.encode(model).finish();
    expect(() => prepareModel(bytes)).toThrow(OnnxFormatError);
    expect(() => prepareModel(bytes)).toThrow(`the model keeps tensor "${tensor.name}" in the external file "6f1c2d3e-weights"`);
    expect(prepareModel(fixture('churn_model.onnx')).description.inputs).toHaveLength(1);
  });
});
