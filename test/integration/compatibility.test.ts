// The compatibility set: every real exported model in test/fixtures/models is served through the
// inference handler (S3 bundle in s3rver, prediction log in dynalite) via a manifest written for it.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FeatureSpec, InputSpec, Manifest } from '../../lambdas/core/manifest';
import { proxyEvent } from '../../local/api-gateway-event';
import { lambdaContext, serve, startLocalAws, withChecksum, type LocalAws } from '../support/local-aws';

const modelBytes = (file: string) => new Uint8Array(readFileSync(new URL(`../fixtures/models/${file}`, import.meta.url)));

const numbers = (prefix: string, count: number): FeatureSpec[] => Array.from({ length: count }, (_, i) => ({ name: `${prefix}${i}`, type: 'number' as const }));
const matrix = (name: string, features: FeatureSpec[]): InputSpec[] => [{ name, dtype: 'float32', features: features.map((f) => f.name) }];

interface Case {
  readonly file: string;
  readonly manifest: Omit<Manifest, 'model' | 'schemaVersion' | 'name' | 'version'>;
  readonly instances: Record<string, unknown>[];
  readonly check: (predictions: Record<string, unknown>[]) => void;
}

const iris = numbers('x', 4);
const twoFeatures = numbers('x', 2);
const twentyFeatures = numbers('x', 20);
const irisRow = { x0: 5.1, x1: 3.5, x2: 1.4, x3: 0.2 };
const sumsToOne = (predictions: Record<string, unknown>[]) => {
  for (const p of predictions) {
    const total = Object.values(p.probabilities as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(1, 4);
  }
};

const titanicFeatures = (pclass: FeatureSpec): FeatureSpec[] => [
  pclass,
  { name: 'sex', type: 'string', categories: ['female', 'male'] },
  { name: 'age', type: 'number', required: false },
  { name: 'fare', type: 'number', min: 0 },
  { name: 'embarked', type: 'string', categories: ['C', 'Q', 'S'] },
];
const perFeature = (features: FeatureSpec[], dtypes: Record<string, InputSpec['dtype']>): InputSpec[] =>
  features.map((f) => ({ name: f.name, dtype: dtypes[f.name] ?? 'float32', features: [f.name] }));

const cases: Case[] = [
  {
    file: 'pipeline_titanic_nozipmap.onnx',
    manifest: {
      task: 'binary-classification',
      features: titanicFeatures({ name: 'pclass', type: 'integer', categories: [1, 2, 3] }),
      inputs: perFeature(titanicFeatures({ name: 'pclass', type: 'integer' }), { pclass: 'int64', sex: 'string', embarked: 'string' }),
      outputs: { label: 'label', probabilities: 'probabilities' },
      classLabels: [0, 1],
    },
    instances: [
      { pclass: 1, sex: 'female', age: 29, fare: 211.3375, embarked: 'S' },
      { pclass: 3, sex: 'male', age: 22, fare: 7.25, embarked: 'S' },
      { pclass: 3, sex: 'male', fare: 7.25, embarked: 'Q' },
    ],
    check: ([first, second, noAge]) => {
      expect(first).toMatchObject({ label: 1 });
      expect((first?.probabilities as Record<string, number>)['1']).toBeCloseTo(0.8806, 4);
      expect(second).toMatchObject({ label: 0 });
      expect((second?.probabilities as Record<string, number>)['0']).toBeCloseTo(0.9006, 4);
      // A missing optional age goes in as NaN and the graph's Imputer fills it.
      expect(Number.isFinite((noAge?.probabilities as Record<string, number>)['1'])).toBe(true);
    },
  },
  {
    file: 'pipeline_titanic.onnx',
    manifest: {
      task: 'binary-classification',
      features: titanicFeatures({ name: 'pclass', type: 'string', categories: ['1', '2', '3'] }),
      inputs: perFeature(titanicFeatures({ name: 'pclass', type: 'string' }), { pclass: 'string', sex: 'string', embarked: 'string' }),
      outputs: { label: 'output_label', probabilities: 'output_probability' },
      classLabels: [0, 1],
    },
    instances: [
      { pclass: '1', sex: 'female', age: 29, fare: 211.3375, embarked: 'S' },
      { pclass: '3', sex: 'male', age: 22, fare: 7.25, embarked: 'S' },
    ],
    check: (predictions) => {
      expect(predictions.map((p) => p.label)).toEqual([1, 0]);
      sumsToOne(predictions);
    },
  },
  ...['logreg_iris.onnx', 'rf_iris.onnx'].map(
    (file): Case => ({
      file,
      manifest: {
        task: 'multiclass-classification',
        features: iris,
        inputs: matrix('float_input', iris),
        outputs: { label: 'output_label', probabilities: 'output_probability' },
        classLabels: [0, 1, 2],
        batchSize: 1,
      },
      instances: [irisRow, { x0: 6.7, x1: 3.0, x2: 5.2, x3: 2.3 }, irisRow],
      check: (predictions) => {
        expect(predictions[0]?.label).toBe(0);
        expect(predictions[2]).toEqual({ ...predictions[0], predictionId: predictions[2]?.predictionId });
        expect(predictions[1]?.label).not.toBe(0);
        sumsToOne(predictions);
      },
    }),
  ),
  ...['pipeline_lightgbm.onnx', 'pipeline_xgboost.onnx'].map(
    (file): Case => ({
      file,
      manifest: {
        task: 'multiclass-classification',
        features: twoFeatures,
        inputs: matrix('input', twoFeatures),
        outputs: { label: 'output_label', probabilities: 'output_probability' },
        classLabels: [0, 1, 2],
      },
      instances: [
        { x0: 1, x1: 2 },
        { x0: -3, x1: 0.5 },
      ],
      check: (predictions) => {
        sumsToOne(predictions);
        for (const p of predictions) expect([0, 1, 2]).toContain(p.label);
      },
    }),
  ),
  {
    file: 'treecl.onnx',
    manifest: {
      task: 'multiclass-classification',
      features: twentyFeatures,
      inputs: matrix('input', twentyFeatures),
      outputs: { label: 'label_0', probabilities: 'proba_0' },
      classLabels: [0, 1, 2],
    },
    instances: [Object.fromEntries(twentyFeatures.map((f, i) => [f.name, i / 10]))],
    check: sumsToOne,
  },
  {
    file: 'sk_SGD_binary_classifier.onnx',
    manifest: {
      task: 'binary-classification',
      features: twentyFeatures,
      inputs: matrix('input', twentyFeatures),
      // A hinge-loss SGD model has no probabilities: what skl2onnx feeds its ZipMap are margins [-s, s].
      outputs: { label: 'output_label', scores: 'output_probability' },
      classLabels: [0, 1],
    },
    instances: [Object.fromEntries(twentyFeatures.map((f) => [f.name, 1])), Object.fromEntries(twentyFeatures.map((f) => [f.name, -1]))],
    check: (predictions) => {
      expect(predictions.map((p) => p.label)).toEqual([0, 1]);
      for (const p of predictions) {
        const scores = p.scores as Record<string, number>;
        expect(scores['0']).toBeCloseTo(-(scores['1'] as number), 3);
        expect(p.probabilities).toBeUndefined();
      }
    },
  },
  {
    file: 'SklearnLogitisticRegressionBinary.model.onnx',
    manifest: {
      task: 'binary-classification',
      features: numbers('x', 3),
      inputs: matrix('input', numbers('x', 3)),
      outputs: { label: 'label', probabilities: 'probabilities' },
      classLabels: [0, 1],
      batchSize: 1,
    },
    instances: [
      { x0: 1, x1: 2, x2: 3 },
      { x0: -1, x1: 0, x2: 4 },
    ],
    check: sumsToOne,
  },
  {
    file: 'SklearnBinGradientBoostingClassifier.model.onnx',
    manifest: {
      task: 'binary-classification',
      features: twoFeatures,
      inputs: matrix('input', twoFeatures),
      outputs: { label: 'label', probabilities: 'probabilities' },
      classLabels: ['A', 'B'],
      batchSize: 1,
    },
    instances: [
      { x0: 0, x1: 1 },
      { x0: 5, x1: -2 },
    ],
    check: (predictions) => {
      sumsToOne(predictions);
      for (const p of predictions) expect(['A', 'B']).toContain(p.label);
    },
  },
  ...['SklearnRegGradientBoostingRegressor.model.onnx', 'SklearnRegRandomForestRegressor.model.onnx'].map(
    (file): Case => ({
      file,
      manifest: { task: 'regression', features: twoFeatures, inputs: matrix('input', twoFeatures), outputs: { value: 'variable' }, batchSize: 1 },
      instances: [
        { x0: 1, x1: 2 },
        { x0: 3, x1: 4 },
      ],
      check: (predictions) => {
        for (const p of predictions) expect(typeof p.value).toBe('number');
      },
    }),
  ),
  {
    file: 'SklearnOneHotEncoderInt64-SkipDim1.model.onnx',
    manifest: {
      task: 'regression',
      features: [0, 1, 2].map((i) => ({ name: `c${i}`, type: 'integer' as const })),
      inputs: [{ name: 'input', dtype: 'int64', features: ['c0', 'c1', 'c2'] }],
      outputs: { value: 'variable' },
      batchSize: 1,
    },
    instances: [{ c0: 1, c1: 2, c2: 3 }],
    check: ([p]) => expect((p?.value as number[]).slice(0, 8)).toEqual([0, 1, 0, 0, 1, 0, 0, 0]),
  },
  {
    file: 'SklearnStandardScalerFloat32.model.onnx',
    manifest: { task: 'regression', features: numbers('x', 3), inputs: matrix('input', numbers('x', 3)), outputs: { value: 'variable' }, batchSize: 4 },
    // Five rows against a batch fixed at 4: two runs, the second padded, padding dropped from the answer.
    instances: Array.from({ length: 5 }, (_, i) => ({ x0: i, x1: 2 * i, x2: 3 * i })),
    check: (predictions) => {
      expect(predictions).toHaveLength(5);
      for (const p of predictions) expect(p.value).toHaveLength(3);
    },
  },
  {
    file: 'SklearnPipelineScalerMixed-OneOff.model.onnx',
    manifest: {
      task: 'regression',
      features: [
        { name: 'count', type: 'integer' },
        { name: 'ratio', type: 'number' },
      ],
      inputs: [
        { name: 'input1', dtype: 'int64', features: ['count'] },
        { name: 'input2', dtype: 'float32', features: ['ratio'] },
      ],
      outputs: { value: 'variable1' },
      batchSize: 1,
    },
    instances: [{ count: 3, ratio: 0.5 }],
    check: ([p]) => expect(p?.value).toEqual([9, -1]),
  },
  {
    file: 'test_xgb.onnx',
    manifest: { task: 'regression', features: numbers('x', 4), inputs: matrix('X', numbers('x', 4)), outputs: { value: 'variable' } },
    instances: [
      { x0: 1, x1: 2, x2: 3, x3: 4 },
      { x0: 0, x1: 0, x2: 0, x3: 0 },
    ],
    check: (predictions) => {
      for (const p of predictions) expect(Number.isFinite(p.value)).toBe(true);
    },
  },
  {
    file: 'coreml_OneHotEncoder_BikeSharing.onnx',
    manifest: {
      task: 'regression',
      features: Array.from({ length: 8 }, (_, i) => ({ name: `f${i + 1}`, type: 'integer' as const })),
      inputs: Array.from({ length: 8 }, (_, i) => ({ name: String(i + 1), dtype: 'int64' as const, features: [`f${i + 1}`], rank: 1 as const })),
      outputs: { value: 'transformed_features' },
      batchSize: 1,
    },
    instances: [Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`f${i + 1}`, 1]))],
    check: ([p]) => expect(p?.value).toHaveLength(57),
  },
  {
    file: 'churn_model.onnx',
    manifest: {
      task: 'binary-classification',
      features: numbers('scaled', 11),
      inputs: matrix('input_layer', numbers('scaled', 11)),
      outputs: { probabilities: 'output_0' },
      classLabels: [0, 1],
    },
    instances: [Object.fromEntries(numbers('scaled', 11).map((f) => [f.name, 0]))],
    check: ([p]) => {
      // A sigmoid output [N, 1] is the positive class's probability.
      expect((p?.probabilities as Record<string, number>)['1']).toBeCloseTo(0.1028, 4);
      expect(p?.label).toBe(0);
    },
  },
];

describe('compatibility set', () => {
  let aws: LocalAws;
  beforeAll(async () => {
    aws = await startLocalAws();
  });
  afterAll(async () => aws?.close());

  it('covers every model fixture', () => {
    const files = readFileSync(new URL('../fixtures/models/README.md', import.meta.url), 'utf8');
    expect(files).toContain('text_pipeline_tfidf.onnx');
    expect(new Set(cases.map((c) => c.file)).size + 1).toBe(19);
  });

  it.each(cases)('serves $file', async ({ file, manifest, instances, check }) => {
    const bytes = modelBytes(file);
    const name = file
      .replace(/\..*$/, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/-+$/, '');
    const serving = await serve(aws, withChecksum({ schemaVersion: '1', name, version: '1', ...manifest }, bytes), bytes);
    try {
      const response = await serving.handle(proxyEvent({ method: 'POST', path: `/v1/models/${name}/predict`, body: JSON.stringify({ instances }) }), lambdaContext);
      expect(response.statusCode, response.body).toBe(200);
      const body = JSON.parse(response.body) as { model: unknown; predictions: Record<string, unknown>[] };
      expect(body.model).toEqual({ name, version: '1' });
      expect(body.predictions).toHaveLength(instances.length);
      for (const p of body.predictions) expect(p.predictionId).toMatch(/^[0-9a-f-]{36}$/);
      check(body.predictions);
    } finally {
      await serving.model.release();
    }
  });

  it('rejects text_pipeline_tfidf.onnx with the load error as the reason', async () => {
    const bytes = modelBytes('text_pipeline_tfidf.onnx');
    const manifest = withChecksum(
      {
        schemaVersion: '1',
        name: 'tfidf',
        version: '1',
        task: 'multiclass-classification',
        features: [
          { name: 'x0', type: 'number' },
          { name: 'x1', type: 'number' },
          { name: 'text', type: 'string' },
        ],
        inputs: [
          { name: 'input', dtype: 'float32', features: ['x0', 'x1'] },
          { name: 'text', dtype: 'string', features: ['text'] },
        ],
        outputs: { label: 'label', probabilities: 'probabilities' },
        classLabels: [0, 1, 2],
      },
      bytes,
    );
    await expect(serve(aws, manifest, bytes)).rejects.toThrow(/onnxruntime could not load the model: .*locale/);
  });
});
