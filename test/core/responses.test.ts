import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../lambdas/core/manifest';
import { inferResponse, modelMetadata, predictResponse } from '../../lambdas/core/responses';
import type { RowPrediction } from '../../lambdas/core/tensors';

const common = {
  schemaVersion: '1',
  version: '3',
  features: [
    { name: 'age', type: 'number' },
    { name: 'rooms', type: 'integer' },
    { name: 'city', type: 'string' },
    { name: 'member', type: 'boolean' },
  ],
  inputs: [
    { name: 'dense', dtype: 'float32', features: ['age', 'rooms', 'member'] },
    { name: 'city', dtype: 'string', features: ['city'] },
  ],
  model: { file: 'model.onnx', sha256: '0'.repeat(64) },
} as const satisfies Partial<Manifest>;

const multiclass: Manifest = {
  ...common,
  name: 'iris',
  task: 'multiclass-classification',
  outputs: { label: 'l', probabilities: 'p' },
  classLabels: ['setosa', 'versicolor', 'virginica'],
};
const binary: Manifest = { ...common, name: 'churn', task: 'binary-classification', outputs: { label: 'l', scores: 's' }, classLabels: [0, 1] };
const regression: Manifest = { ...common, name: 'prices', task: 'regression', outputs: { value: 'v' } };

const ids = ['id-1', 'id-2'];

describe('predictResponse', () => {
  it('names the model and puts each prediction id before its prediction', () => {
    const predictions: RowPrediction[] = [
      { label: 'virginica', probabilities: { setosa: 0.1, versicolor: 0.2, virginica: 0.7 } },
      { label: 'setosa', probabilities: { setosa: 0.8, versicolor: 0.1, virginica: 0.1 } },
    ];
    const body = predictResponse(multiclass, ids, predictions);
    expect(body).toEqual({
      model: { name: 'iris', version: '3' },
      predictions: [
        { predictionId: 'id-1', label: 'virginica', probabilities: { setosa: 0.1, versicolor: 0.2, virginica: 0.7 } },
        { predictionId: 'id-2', label: 'setosa', probabilities: { setosa: 0.8, versicolor: 0.1, virginica: 0.1 } },
      ],
    });
    expect(Object.keys(body.predictions[0] ?? {})[0]).toBe('predictionId');
  });

  it('carries regression values, scalar or vector, as they are', () => {
    expect(predictResponse(regression, ids, [{ value: 1.5 }, { value: [1, 2] }]).predictions).toEqual([
      { predictionId: 'id-1', value: 1.5 },
      { predictionId: 'id-2', value: [1, 2] },
    ]);
  });
});

describe('inferResponse', () => {
  it('answers a multiclass model with prediction ids, BYTES labels and FP32 probabilities [N, C] in classLabels order', () => {
    const predictions: RowPrediction[] = [
      // Key order differs from classLabels: the tensor follows classLabels.
      { label: 'virginica', probabilities: { virginica: 0.7, versicolor: 0.2, setosa: 0.1 } },
      { label: 'setosa', probabilities: { setosa: 0.8, virginica: 0.15, versicolor: 0.05 } },
    ];
    expect(inferResponse(multiclass, 'req-9', ids, predictions)).toEqual({
      model_name: 'iris',
      model_version: '3',
      id: 'req-9',
      outputs: [
        { name: 'prediction_id', shape: [2], datatype: 'BYTES', data: ['id-1', 'id-2'] },
        { name: 'label', shape: [2], datatype: 'BYTES', data: ['virginica', 'setosa'] },
        { name: 'probabilities', shape: [2, 3], datatype: 'FP32', data: [0.1, 0.2, 0.7, 0.8, 0.05, 0.15] },
      ],
    });
  });

  it('answers numeric labels as INT64 and scores as FP32 [N, C]', () => {
    const predictions: RowPrediction[] = [
      { label: 1, scores: { 0: -2, 1: 2 } },
      { label: 0, scores: { 0: 0.5, 1: -0.5 } },
    ];
    expect(inferResponse(binary, 'r', ids, predictions).outputs).toEqual([
      { name: 'prediction_id', shape: [2], datatype: 'BYTES', data: ['id-1', 'id-2'] },
      { name: 'label', shape: [2], datatype: 'INT64', data: [1, 0] },
      { name: 'scores', shape: [2, 2], datatype: 'FP32', data: [-2, 2, 0.5, -0.5] },
    ]);
  });

  it('gives both probabilities and scores when the model has both', () => {
    const both: Manifest = { ...binary, outputs: { probabilities: 'p', scores: 's' } };
    const names = inferResponse(both, 'r', ['a'], [{ label: 1, probabilities: { 0: 0.3, 1: 0.7 }, scores: { 0: -1, 1: 1 } }]).outputs.map((o) => o.name);
    expect(names).toEqual(['prediction_id', 'label', 'probabilities', 'scores']);
  });

  it.each([
    { what: 'one value per row', predictions: [{ value: 1.5 }, { value: -2 }], value: { name: 'value', shape: [2], datatype: 'FP64', data: [1.5, -2] } },
    {
      what: 'K values per row, row-major',
      predictions: [{ value: [1, 2, 3] }, { value: [4, 5, 6] }],
      value: { name: 'value', shape: [2, 3], datatype: 'FP64', data: [1, 2, 3, 4, 5, 6] },
    },
  ])('answers a regression model with $what as FP64', ({ predictions, value }) => {
    expect(inferResponse(regression, 'r', ids, predictions)).toEqual({
      model_name: 'prices',
      model_version: '3',
      id: 'r',
      outputs: [{ name: 'prediction_id', shape: [2], datatype: 'BYTES', data: ids }, value],
    });
  });
});

describe('pass-through values in the answer', () => {
  const withIds: Manifest = { ...regression, passThrough: [{ name: 'customerID', joinKey: true }, { name: 'campaign' }] };
  const predictions: RowPrediction[] = [{ value: 1.5 }, { value: -2 }];

  it('/v1: each prediction carries the values its instance sent, under passThrough', () => {
    expect(predictResponse(withIds, ids, predictions, [{ customerID: 'c-1', campaign: 'spring' }, undefined]).predictions).toEqual([
      { predictionId: 'id-1', value: 1.5, passThrough: { customerID: 'c-1', campaign: 'spring' } },
      { predictionId: 'id-2', value: -2 },
    ]);
  });

  it('/v2: one [N] tensor per field sent, BYTES when any value is a string, null where a row had none', () => {
    const outputs = inferResponse(withIds, 'r', ids, predictions, [{ customerID: 'c-1', campaign: 7 }, { customerID: 42 }]).outputs;
    expect(outputs.slice(2)).toEqual([
      { name: 'customerID', shape: [2], datatype: 'BYTES', data: ['c-1', '42'] },
      { name: 'campaign', shape: [2], datatype: 'INT64', data: [7, null] },
    ]);
    expect(inferResponse(withIds, 'r', ids, predictions, [undefined, undefined]).outputs.map((o) => o.name)).toEqual(['prediction_id', 'value']);
  });
});

describe('modelMetadata', () => {
  it('lists one input per feature with its OIP datatype, and the classifier outputs', () => {
    expect(modelMetadata(multiclass)).toEqual({
      name: 'iris',
      versions: ['3'],
      platform: 'onnxruntime',
      inputs: [
        { name: 'age', datatype: 'FP32', shape: [-1] },
        { name: 'rooms', datatype: 'INT64', shape: [-1] },
        { name: 'city', datatype: 'BYTES', shape: [-1] },
        { name: 'member', datatype: 'BOOL', shape: [-1] },
      ],
      outputs: [
        { name: 'label', datatype: 'BYTES', shape: [-1] },
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
      ],
      parameters: { task: 'multiclass-classification', classLabels: ['setosa', 'versicolor', 'virginica'] },
    });
  });

  it('has a value output and no class labels for regression', () => {
    const metadata = modelMetadata(regression);
    expect(metadata.outputs).toEqual([{ name: 'value', datatype: 'FP64', shape: [-1] }]);
    expect(metadata.parameters).toEqual({ task: 'regression', classLabels: null });
  });
});
