import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { contractIssues, exampleRow } from '../../lambdas/core/contract';
import type { FeatureSpec, InputSpec, Manifest } from '../../lambdas/core/manifest';
import { describeModel, removeZipMap, type ModelDescription } from '../../lambdas/core/onnx-graph';
import { validateRows } from '../../lambdas/core/request';
import { encodeFeeds } from '../../lambdas/core/tensors';

const fixture = (file: string) => new Uint8Array(readFileSync(new URL(`../fixtures/models/${file}`, import.meta.url)));
/** The model as the runtime sees it: ZipMap removed. */
const served = (file: string): ModelDescription => describeModel(removeZipMap(fixture(file)).bytes);

const numbers = (count: number): FeatureSpec[] => Array.from({ length: count }, (_, i) => ({ name: `x${i}`, type: 'number' as const }));
const common = { schemaVersion: '1', name: 'm', version: '1', model: { file: 'model.onnx', sha256: '0'.repeat(64) } } as const;

const iris: Manifest = {
  ...common,
  task: 'multiclass-classification',
  features: numbers(4),
  inputs: [{ name: 'float_input', dtype: 'float32', features: ['x0', 'x1', 'x2', 'x3'] }],
  outputs: { label: 'output_label', probabilities: 'output_probability' },
  classLabels: [0, 1, 2],
  batchSize: 1,
};

const titanicFeatures: FeatureSpec[] = [
  { name: 'pclass', type: 'integer', categories: [1, 2, 3] },
  { name: 'sex', type: 'string', categories: ['female', 'male'] },
  { name: 'age', type: 'number', required: false },
  { name: 'fare', type: 'number', min: 0 },
  { name: 'embarked', type: 'string', categories: ['C', 'Q', 'S'] },
];
const titanicInputs = (dtypes: Record<string, InputSpec['dtype']>): InputSpec[] =>
  titanicFeatures.map((f) => ({ name: f.name, dtype: dtypes[f.name] ?? 'float32', features: [f.name] }));
const titanic: Manifest = {
  ...common,
  task: 'binary-classification',
  features: titanicFeatures,
  inputs: titanicInputs({ pclass: 'int64', sex: 'string', embarked: 'string' }),
  outputs: { label: 'label', probabilities: 'probabilities' },
  classLabels: [0, 1],
};

const bikeSharing: Manifest = {
  ...common,
  task: 'regression',
  features: Array.from({ length: 8 }, (_, i) => ({ name: `f${i + 1}`, type: 'integer' as const })),
  inputs: Array.from({ length: 8 }, (_, i) => ({ name: String(i + 1), dtype: 'int64' as const, features: [`f${i + 1}`], rank: 1 as const })),
  outputs: { value: 'transformed_features' },
  batchSize: 1,
};

describe('contractIssues', () => {
  it.each([
    { file: 'logreg_iris.onnx', manifest: iris },
    { file: 'rf_iris.onnx', manifest: iris },
    { file: 'pipeline_titanic_nozipmap.onnx', manifest: titanic },
    { file: 'coreml_OneHotEncoder_BikeSharing.onnx', manifest: bikeSharing },
    // A free batch dimension takes any batchSize; a free width takes any number of features.
    {
      file: 'pipeline_lightgbm.onnx',
      manifest: { ...iris, features: numbers(2), inputs: [{ name: 'input', dtype: 'float32', features: ['x0', 'x1'] }], batchSize: 8 } as Manifest,
    },
    {
      file: 'treecl.onnx',
      manifest: {
        ...iris,
        features: numbers(20),
        inputs: [{ name: 'input', dtype: 'float32', features: numbers(20).map((f) => f.name) }],
        outputs: { label: 'label_0', probabilities: 'proba_0' },
      } as Manifest,
    },
    {
      file: 'churn_model.onnx',
      manifest: {
        ...common,
        task: 'binary-classification',
        features: numbers(11),
        inputs: [{ name: 'input_layer', dtype: 'float32', features: numbers(11).map((f) => f.name) }],
        outputs: { probabilities: 'output_0' },
        classLabels: [0, 1],
      } as Manifest,
    },
  ])('finds none for $file and a manifest that fits it', ({ file, manifest }) => {
    expect(contractIssues(manifest, served(file))).toEqual([]);
  });

  it.each([
    {
      problem: 'a wrong input name',
      file: 'logreg_iris.onnx',
      manifest: { ...iris, inputs: [{ ...iris.inputs[0], name: 'input' }] },
      issues: [
        { field: 'inputs[0].name', reason: 'the model has no input "input" (inputs: float_input)' },
        { field: 'inputs', reason: 'the model\'s input "float_input" is not fed by any manifest input' },
      ],
    },
    {
      problem: 'a wrong dtype',
      file: 'pipeline_titanic.onnx',
      manifest: { ...titanic, outputs: { label: 'output_label', probabilities: 'output_probability' } },
      issues: [{ field: 'inputs[0].dtype', reason: 'the model\'s input "pclass" is string, the manifest says int64' }],
    },
    {
      problem: 'a missing batchSize for a [1, 4] input',
      file: 'logreg_iris.onnx',
      manifest: { ...iris, batchSize: undefined },
      issues: [{ field: 'batchSize', reason: 'the model\'s input "float_input" has a fixed batch size of 1; set "batchSize": 1' }],
    },
    {
      problem: 'a batchSize other than the fixed one',
      file: 'SklearnStandardScalerFloat32.model.onnx',
      manifest: {
        ...common,
        task: 'regression',
        features: numbers(3),
        inputs: [{ name: 'input', dtype: 'float32', features: ['x0', 'x1', 'x2'] }],
        outputs: { value: 'variable' },
        batchSize: 1,
      },
      issues: [{ field: 'batchSize', reason: 'the model\'s input "input" has a fixed batch size of 4; set "batchSize": 4' }],
    },
    {
      problem: 'a missing output',
      file: 'logreg_iris.onnx',
      manifest: { ...iris, outputs: { label: 'label', probabilities: 'output_probability' } },
      issues: [{ field: 'outputs.label', reason: 'the model has no output "label" (outputs: output_label, output_probability)' }],
    },
    {
      problem: 'three features for a [1, 4] input',
      file: 'logreg_iris.onnx',
      manifest: { ...iris, features: numbers(3), inputs: [{ name: 'float_input', dtype: 'float32', features: ['x0', 'x1', 'x2'] }] },
      issues: [{ field: 'inputs[0].features', reason: 'the model\'s input "float_input" takes 4 values per row, the manifest maps 3 features' }],
    },
    {
      problem: 'rank 2 for a rank-1 input',
      file: 'coreml_OneHotEncoder_BikeSharing.onnx',
      manifest: { ...bikeSharing, inputs: bikeSharing.inputs.map(({ rank: _, ...input }) => input) },
      issues: bikeSharing.inputs.map((input, i) => ({ field: `inputs[${i}].rank`, reason: `the model's input "${input.name}" has rank 1, the manifest says 2` })),
    },
    {
      problem: 'rank 1 for a rank-2 input',
      file: 'pipeline_titanic_nozipmap.onnx',
      manifest: { ...titanic, inputs: titanic.inputs.map((input) => (input.name === 'age' ? { ...input, rank: 1 as const } : input)) },
      issues: [{ field: 'inputs[2].rank', reason: 'the model\'s input "age" has rank 2, the manifest says 1' }],
    },
    {
      problem: 'a model input no manifest input feeds',
      file: 'pipeline_titanic_nozipmap.onnx',
      manifest: { ...titanic, inputs: titanic.inputs.filter((input) => input.name !== 'fare') },
      issues: [{ field: 'inputs', reason: 'the model\'s input "fare" is not fed by any manifest input' }],
    },
  ] as { problem: string; file: string; manifest: Manifest; issues: { field: string; reason: string }[] }[])('reports $problem', ({ file, manifest, issues }) => {
    expect(contractIssues(manifest, served(file))).toEqual(issues);
  });

  it.each([
    { file: 'logreg_iris.onnx', manifest: iris, field: 'outputs.probabilities', name: 'output_probability' },
    {
      file: 'pipeline_titanic.onnx',
      manifest: {
        ...titanic,
        inputs: titanicInputs({ pclass: 'string', sex: 'string', embarked: 'string' }),
        outputs: { label: 'output_label', probabilities: 'output_probability' },
      },
      field: 'outputs.probabilities',
      name: 'output_probability',
    },
  ] as { file: string; manifest: Manifest; field: string; name: string }[])('reports an output of $file that is still a ZipMap sequence', ({ file, manifest, field, name }) => {
    const raw = describeModel(fixture(file));
    expect(contractIssues(manifest, raw)).toContainEqual({ field, reason: `output "${name}" is a sequence, not a tensor (a ZipMap left in the graph)` });
    expect(contractIssues(manifest, served(file)).filter((i) => i.field === field)).toEqual([]);
  });

  it('reports a map output like a sequence', () => {
    const model: ModelDescription = {
      inputs: [{ name: 'float_input', type: 'float32', dims: ['N', 4] }],
      outputs: [
        { name: 'output_label', type: 'int64' },
        { name: 'output_probability', type: 'map' },
      ],
      producer: '',
      opsets: {},
    };
    expect(contractIssues(iris, model)).toEqual([{ field: 'outputs.probabilities', reason: 'output "output_probability" is a map, not a tensor (a ZipMap left in the graph)' }]);
  });

  it('accepts any rank when the model declares no shape', () => {
    const model: ModelDescription = {
      inputs: [{ name: 'float_input', type: 'float32' }],
      outputs: [
        { name: 'output_label', type: 'int64' },
        { name: 'output_probability', type: 'float32' },
      ],
      producer: '',
      opsets: {},
    };
    expect(contractIssues({ ...iris, batchSize: undefined }, model)).toEqual([]);
  });
});

describe('exampleRow', () => {
  const manifestOf = (features: FeatureSpec[], dtype: InputSpec['dtype'] = 'float64'): Manifest => ({
    ...common,
    task: 'regression',
    features,
    inputs: features.map((f) => ({ name: f.name, dtype: f.type === 'string' ? 'string' : dtype, features: [f.name] })),
    outputs: { value: 'v' },
  });

  it.each([
    { feature: { name: 'f', type: 'number' }, value: 0 },
    { feature: { name: 'f', type: 'number', required: false }, value: 0 },
    { feature: { name: 'f', type: 'number', required: false, default: 3.5 }, value: 3.5 },
    { feature: { name: 'f', type: 'number', min: 5 }, value: 5 },
    { feature: { name: 'f', type: 'number', max: -3 }, value: -3 },
    { feature: { name: 'f', type: 'number', min: -10, max: 10 }, value: 0 },
    { feature: { name: 'f', type: 'number', min: 2, max: 4, required: false, default: 3 }, value: 3 },
    { feature: { name: 'f', type: 'integer', categories: [7, 8] }, value: 7 },
    { feature: { name: 'f', type: 'integer', categories: [7, 8], required: false, default: 8 }, value: 8 },
    { feature: { name: 'f', type: 'string' }, value: '' },
    { feature: { name: 'f', type: 'string', categories: ['b', 'a'] }, value: 'b' },
    { feature: { name: 'f', type: 'string', categories: ['b', 'a'], required: false, default: 'a' }, value: 'a' },
    { feature: { name: 'f', type: 'boolean' }, value: false },
    { feature: { name: 'f', type: 'boolean', required: false, default: true }, value: true },
  ] as { feature: FeatureSpec; value: unknown }[])('$feature -> $value', ({ feature, value }) => {
    expect(exampleRow(manifestOf([feature]))).toEqual({ f: value });
  });

  it('fills every feature of the manifest', () => {
    expect(Object.keys(exampleRow(titanic))).toEqual(['pclass', 'sex', 'age', 'fare', 'embarked']);
  });

  // The warm-up row runs at init: a row the request validator would reject (or that cannot be
  // encoded) turns a sound bundle into a failed deployment.
  it.each([
    { what: 'titanic', manifest: titanic },
    { what: 'bike sharing', manifest: bikeSharing },
    { what: 'an integer in [1, 5]', manifest: manifestOf([{ name: 'n', type: 'integer', min: 1, max: 5 }], 'int64') },
    { what: 'an integer with a fractional min', manifest: manifestOf([{ name: 'n', type: 'integer', min: 0.5 }], 'int64') },
    { what: 'an integer with a fractional max below 0', manifest: manifestOf([{ name: 'n', type: 'integer', max: -1.5 }], 'int64') },
  ])('builds a row that passes validation and encodes: $what', ({ manifest }) => {
    const row = exampleRow(manifest);
    expect(validateRows(manifest, [row])).toEqual([row]);
    expect(() => encodeFeeds(manifest, [row])).not.toThrow();
  });
});
