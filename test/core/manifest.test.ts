import { describe, expect, it } from 'vitest';
import { ManifestError, type Issue } from '../../lambdas/core/errors';
import { MODEL_SIZE, modelSizeLimit, parseManifest, parseManifestJson, valueProblem, type FeatureSpec } from '../../lambdas/core/manifest';
import { manifestSchema } from '../../lambdas/core/manifest-schema';

// Manifests are built as loose JSON drafts: the point of these tests is what a hand-written file may contain.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Draft = Record<string, any>;

const sha256 = 'ab'.repeat(32);

const regression = (): Draft => ({
  schemaVersion: '1',
  name: 'house-prices',
  version: '1.0.0',
  task: 'regression',
  features: [
    { name: 'x', type: 'number' },
    { name: 'rooms', type: 'integer', min: 1, max: 20 },
  ],
  inputs: [{ name: 'input', dtype: 'float32', features: ['x', 'rooms'] }],
  outputs: { value: 'variable' },
  model: { file: 'model.onnx', sha256 },
});

const binary = (): Draft => ({
  schemaVersion: '1',
  name: 'churn',
  version: '3',
  task: 'binary-classification',
  features: [
    { name: 'x', type: 'number' },
    { name: 'plan', type: 'string', categories: ['basic', 'pro'] },
  ],
  inputs: [
    { name: 'x', dtype: 'float32', features: ['x'] },
    { name: 'plan', dtype: 'string', features: ['plan'] },
  ],
  outputs: { label: 'label', probabilities: 'probabilities' },
  classLabels: [0, 1],
});

const multiclass = (): Draft => ({
  schemaVersion: '1',
  name: 'iris',
  version: '2024.01.15',
  task: 'multiclass-classification',
  features: ['x0', 'x1', 'x2', 'x3'].map((name) => ({ name, type: 'number' })),
  inputs: [{ name: 'float_input', dtype: 'float32', features: ['x0', 'x1', 'x2', 'x3'] }],
  outputs: { label: 'output_label', probabilities: 'output_probability' },
  classLabels: ['setosa', 'versicolor', 'virginica'],
  batchSize: 1,
  model: { file: 'model.onnx', sha256 },
});

/** The issues a manifest is rejected with; fails the test when it is accepted or fails otherwise. */
function rejection(raw: unknown): readonly Issue[] {
  try {
    parseManifest(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestError);
    return (error as ManifestError).issues;
  }
  throw new Error('the manifest was accepted');
}

function edit(base: () => Draft, change: (m: Draft) => void): Draft {
  const draft = structuredClone(base());
  change(draft);
  return draft;
}

describe('parseManifest accepts', () => {
  it('a calibration per class, with or without a map (a class whose raw probabilities were kept)', () => {
    const manifest = edit(multiclass, (m) => {
      m.calibration = calibration({ setosa: calibrated([0.05, 0.4, 0.9], [0.01, 0.5, 0.97]), virginica: { rawError: 0.01, calibratedError: 0.02 } });
    });
    expect(parseManifest(manifest).calibration?.classes.setosa?.map?.scores).toEqual([0.05, 0.4, 0.9]);
  });

  const full = edit(binary, (m) => {
    m.model = { file: 'churn.onnx', sha256 };
    m.description = 'Churn within 30 days';
    m.features.push(
      { name: 'age', type: 'number', required: false, min: 0, max: 120, drift: { method: 'ks', threshold: 0.1 } },
      { name: 'vip', type: 'boolean', required: false, default: false },
      { name: 'region', type: 'integer', categories: [1, 2, 3], required: false, default: 2 },
    );
    m.inputs.push({ name: 'dense', dtype: 'float64', features: ['age', 'vip'] }, { name: 'region', dtype: 'int64', features: ['region'], rank: 1 });
    m.positiveClass = 1;
    m.threshold = 0.3;
    m.baseline = {
      rows: 100,
      features: {
        x: { kind: 'numeric', edges: [0, 1, 2], counts: [60, 40], underflow: 0, overflow: 0, missing: 0, count: 100, mean: 0.9, std: 0.5, min: 0, max: 2 },
        plan: { kind: 'categorical', counts: { basic: 70, pro: 30 }, missing: 0, count: 100 },
        vip: { kind: 'categorical', counts: { true: 10, false: 90 }, missing: 0, count: 100 },
        region: { kind: 'categorical', counts: { '1': 50, '2': 25, '3': 25 }, missing: 0, count: 100 },
      },
      prediction: { kind: 'numeric', edges: [0, 0.5, 1], counts: [80, 20], underflow: 0, overflow: 0, missing: 0, count: 100, mean: 0.3, std: 0.2, min: 0, max: 1 },
    };
    m.logging = { inputSampleRate: 0.25, redact: ['age'] };
    m.training = { data: 's3://bucket/train.csv', auc: 0.81, holdout: { metrics: { accuracy: 0.8, rocAuc: 0.85 } } };
    m.lineage = {
      mlflow: {
        runId: '8ede7df408dd42ed9fc39019ef7df309',
        modelUuid: '39ca11813cfc46b09ab83972740b80ca',
        modelId: 'm-5e1b2c3d4e5f',
        artifactPath: 'model',
        createdAt: '2026-11-30 09:12:44.123456',
        mlflowVersion: '3.1.4',
      },
    };
    m.monitoring = { windowMinutes: 15, estimatedQualityDrop: { rocAuc: { warning: 0.03, critical: 0.08 }, accuracy: { critical: 0.1 } } };
    m.passThrough = [{ name: 'customerID', joinKey: true, description: 'the CRM id' }, { name: 'campaign' }];
  });

  it.each([
    { task: 'regression', manifest: regression() },
    { task: 'binary-classification', manifest: { ...binary(), model: { file: 'model.onnx', sha256 } } },
    { task: 'multiclass-classification', manifest: multiclass() },
    { task: 'binary-classification with every optional field', manifest: full },
    { task: 'binary-classification with a sigmoid output only', manifest: { ...binary(), outputs: { probabilities: 'output_0' }, model: { file: 'm.onnx', sha256 } } },
  ])('a minimal $task manifest and returns it unchanged', ({ manifest }) => {
    const before = structuredClone(manifest);
    expect(parseManifest(manifest)).toEqual(before);
  });
});

function calibration(classes: Draft): Draft {
  return { method: 'isotonic', holdoutRows: 1000, classes };
}

function calibrated(scores: number[], probabilities: number[]): Draft {
  return { rawError: 0.08, calibratedError: 0.02, map: { scores, probabilities } };
}

describe('parseManifest rejects each broken field, naming it', () => {
  const withModel = () => ({ ...binary(), model: { file: 'model.onnx', sha256 } });
  const cases: { problem: string; manifest: Draft; field: string; reason: RegExp }[] = [
    // Schema: presence, unknown fields, patterns, enums.
    { problem: 'missing name', manifest: edit(regression, (m) => delete m.name), field: 'name', reason: /^is required$/ },
    { problem: 'missing model', manifest: binary(), field: 'model', reason: /^is required$/ },
    { problem: 'missing model.sha256', manifest: edit(regression, (m) => delete m.model.sha256), field: 'model.sha256', reason: /^is required$/ },
    { problem: 'missing feature type', manifest: edit(regression, (m) => delete m.features[1].type), field: 'features[1].type', reason: /^is required$/ },
    { problem: 'missing input features', manifest: edit(regression, (m) => delete m.inputs[0].features), field: 'inputs[0].features', reason: /^is required$/ },
    { problem: 'no features at all', manifest: edit(regression, (m) => (m.features = [])), field: 'features', reason: /must NOT have fewer than 1 items/ },
    { problem: 'unknown top-level field', manifest: edit(regression, (m) => (m.owner = 'me')), field: 'owner', reason: /^is not a known field$/ },
    { problem: 'unknown feature field', manifest: edit(regression, (m) => (m.features[0].unit = 'cm')), field: 'features[0].unit', reason: /^is not a known field$/ },
    { problem: 'unknown outputs field', manifest: edit(regression, (m) => (m.outputs.values = 'v')), field: 'outputs.values', reason: /^is not a known field$/ },
    {
      problem: 'MLflow lineage without its model uuid',
      manifest: edit(regression, (m) => (m.lineage = { mlflow: { runId: 'abc' } })),
      field: 'lineage.mlflow.modelUuid',
      reason: /^is required$/,
    },
    {
      problem: 'an MLflow run id that is not an id',
      manifest: edit(regression, (m) => (m.lineage = { mlflow: { modelUuid: 'abc', runId: 'runs:/abc/model' } })),
      field: 'lineage.mlflow.runId',
      reason: /must match pattern/,
    },
    { problem: 'upper-case name', manifest: edit(regression, (m) => (m.name = 'House_Prices')), field: 'name', reason: /must match pattern/ },
    { problem: 'name starting with a dash', manifest: edit(regression, (m) => (m.name = '-prices')), field: 'name', reason: /must match pattern/ },
    { problem: 'name of 49 characters', manifest: edit(regression, (m) => (m.name = 'a'.repeat(49))), field: 'name', reason: /must match pattern/ },
    { problem: 'version with a space', manifest: edit(regression, (m) => (m.version = '1 0')), field: 'version', reason: /must match pattern/ },
    { problem: 'schemaVersion 2', manifest: edit(regression, (m) => (m.schemaVersion = '2')), field: 'schemaVersion', reason: /^must be "1"$/ },
    {
      problem: 'unknown task',
      manifest: edit(regression, (m) => (m.task = 'clustering')),
      field: 'task',
      reason: /^must be one of "binary-classification", "multiclass-classification", "regression"$/,
    },
    {
      problem: 'unknown feature type',
      manifest: edit(regression, (m) => (m.features[0].type = 'float')),
      field: 'features[0].type',
      reason: /^must be one of "number", "integer", "string", "boolean"$/,
    },
    { problem: 'unknown dtype', manifest: edit(regression, (m) => (m.inputs[0].dtype = 'int32')), field: 'inputs[0].dtype', reason: /must be one of "float32"/ },
    { problem: 'rank 3', manifest: edit(regression, (m) => (m.inputs[0].rank = 3)), field: 'inputs[0].rank', reason: /^must be one of 1, 2$/ },
    {
      problem: 'unknown drift method',
      manifest: edit(regression, (m) => (m.features[0].drift = { method: 'kl' })),
      field: 'features[0].drift.method',
      reason: /must be one of "psi"/,
    },
    { problem: 'upper-case sha256', manifest: edit(regression, (m) => (m.model.sha256 = 'AB'.repeat(32))), field: 'model.sha256', reason: /must match pattern/ },
    { problem: 'model file in a folder', manifest: edit(regression, (m) => (m.model.file = 'models/model.onnx')), field: 'model.file', reason: /must match pattern/ },
    { problem: 'a model size limit of 0', manifest: edit(regression, (m) => (m.model.maxBytes = 0)), field: 'model.maxBytes', reason: /must be >= 1/ },
    {
      problem: 'a model size limit above the ceiling',
      manifest: edit(regression, (m) => (m.model.maxBytes = 512 * 1024 * 1024 + 1)),
      field: 'model.maxBytes',
      reason: /must be <= 536870912/,
    },
    { problem: 'a fractional model size limit', manifest: edit(regression, (m) => (m.model.maxBytes = 1.5)), field: 'model.maxBytes', reason: /must be integer/ },
    { problem: 'threshold above 1', manifest: edit(withModel, (m) => (m.threshold = 1.5)), field: 'threshold', reason: /must be <= 1/ },
    { problem: 'batchSize 0', manifest: edit(regression, (m) => (m.batchSize = 0)), field: 'batchSize', reason: /must be >= 1/ },
    { problem: 'sample rate above 1', manifest: edit(regression, (m) => (m.logging = { inputSampleRate: 1.5 })), field: 'logging.inputSampleRate', reason: /must be <= 1/ },
    { problem: 'duplicate class labels', manifest: edit(multiclass, (m) => (m.classLabels = ['a', 'b', 'a'])), field: 'classLabels', reason: /duplicate items/ },
    { problem: 'a float class label', manifest: edit(multiclass, (m) => (m.classLabels = [0, 1, 2.5])), field: 'classLabels[2]', reason: /must be string,integer/ },
    {
      problem: 'numeric baseline without std',
      manifest: edit(
        regression,
        (m) =>
          (m.baseline = { rows: 1, features: { x: { kind: 'numeric', edges: [0, 1], counts: [1], underflow: 0, overflow: 0, missing: 0, count: 1, mean: 0, min: 0, max: 1 } } }),
      ),
      field: 'baseline.features.x.std',
      reason: /^is required$/,
    },

    // Features against themselves.
    {
      problem: 'duplicate feature',
      manifest: edit(regression, (m) => m.features.push({ name: 'x', type: 'number' })),
      field: 'features[2].name',
      reason: /duplicate feature name "x"/,
    },
    {
      problem: 'categories on a number feature',
      manifest: edit(regression, (m) => (m.features[0].categories = [1, 2])),
      field: 'features[0].categories',
      reason: /a number feature cannot have categories/,
    },
    {
      problem: 'categories on a boolean feature',
      manifest: edit(withModel, (m) => {
        m.features.push({ name: 'b', type: 'boolean', categories: ['yes'] });
        m.inputs.push({ name: 'b', dtype: 'bool', features: ['b'] });
      }),
      field: 'features[2].categories',
      reason: /a boolean feature cannot have categories/,
    },
    {
      problem: 'integer categories on a string feature',
      manifest: edit(withModel, (m) => (m.features[1].categories = ['basic', 2])),
      field: 'features[1].categories',
      reason: /categories of a string feature must be strings/,
    },
    {
      problem: 'string categories on an integer feature',
      manifest: edit(regression, (m) => (m.features[1].categories = [1, 'two'])),
      field: 'features[1].categories',
      reason: /categories of an integer feature must be integers/,
    },
    { problem: 'bounds on a string feature', manifest: edit(withModel, (m) => (m.features[1].max = 3)), field: 'features[1].max', reason: /a string feature cannot have bounds/ },
    { problem: 'min > max', manifest: edit(regression, (m) => Object.assign(m.features[1], { min: 5, max: 1 })), field: 'features[1].min', reason: /min 5 is greater than max 1/ },
    {
      problem: 'default with required true',
      manifest: edit(regression, (m) => Object.assign(m.features[0], { required: true, default: 0 })),
      field: 'features[0].default',
      reason: /only used when the feature has "required": false/,
    },
    {
      problem: 'default with required left out',
      manifest: edit(regression, (m) => (m.features[0].default = 0)),
      field: 'features[0].default',
      reason: /only used when the feature has "required": false/,
    },
    {
      problem: 'default not in categories',
      manifest: edit(withModel, (m) => Object.assign(m.features[1], { required: false, default: 'gold' })),
      field: 'features[1].default',
      reason: /unknown category "gold"; allowed: "basic", "pro"/,
    },
    {
      problem: 'default of the wrong type',
      manifest: edit(regression, (m) => Object.assign(m.features[0], { required: false, default: 'zero' })),
      field: 'features[0].default',
      reason: /expected a number, got the string "zero"/,
    },
    {
      problem: 'default out of bounds',
      manifest: edit(regression, (m) => Object.assign(m.features[1], { required: false, default: 21 })),
      field: 'features[1].default',
      reason: /21 is above the maximum 20/,
    },
    {
      problem: 'fractional default of an integer feature',
      manifest: edit(regression, (m) => Object.assign(m.features[1], { required: false, default: 2.5 })),
      field: 'features[1].default',
      reason: /expected an integer, got 2.5/,
    },

    // Pass-through fields against features, inputs and each other.
    {
      problem: 'a pass-through field without a name',
      manifest: edit(regression, (m) => (m.passThrough = [{ joinKey: true }])),
      field: 'passThrough[0].name',
      reason: /^is required$/,
    },
    {
      problem: 'an unknown pass-through field key',
      manifest: edit(regression, (m) => (m.passThrough = [{ name: 'id', key: true }])),
      field: 'passThrough[0].key',
      reason: /^is not a known field$/,
    },
    {
      problem: 'a pass-through field named like a feature',
      manifest: edit(regression, (m) => (m.passThrough = [{ name: 'rooms' }])),
      field: 'passThrough[0].name',
      reason: /"rooms" is a feature/,
    },
    {
      problem: 'a pass-through field named like an input',
      manifest: edit(regression, (m) => (m.passThrough = [{ name: 'input' }])),
      field: 'passThrough[0].name',
      reason: /"input" names a model input/,
    },
    {
      problem: 'a duplicate pass-through field',
      manifest: edit(regression, (m) => (m.passThrough = [{ name: 'id' }, { name: 'id' }])),
      field: 'passThrough[1].name',
      reason: /duplicate pass-through field "id"/,
    },
    {
      problem: 'a reserved pass-through name',
      manifest: edit(regression, (m) => (m.passThrough = [{ name: 'actual' }])),
      field: 'passThrough[0].name',
      reason: /"actual" is reserved \(predictionId, model, actual, eventId, timestamp, feedback, prediction_id, label, probabilities, scores, value\)/,
    },
    {
      problem: 'a pass-through name with #',
      manifest: edit(regression, (m) => (m.passThrough = [{ name: 'crm#id' }])),
      field: 'passThrough[0].name',
      reason: /cannot contain "#"/,
    },
    {
      problem: 'two join keys',
      manifest: edit(
        regression,
        (m) =>
          (m.passThrough = [
            { name: 'a', joinKey: true },
            { name: 'b', joinKey: true },
          ]),
      ),
      field: 'passThrough[1].joinKey',
      reason: /only one field can be the join key, and "a" is already/,
    },

    // Inputs against features.
    {
      problem: 'input naming an unknown feature',
      manifest: edit(regression, (m) => m.inputs[0].features.push('y')),
      field: 'inputs[0].features[2]',
      reason: /no feature named "y"/,
    },
    {
      problem: 'feature fed twice',
      manifest: edit(regression, (m) => m.inputs.push({ name: 'again', dtype: 'float32', features: ['x'] })),
      field: 'inputs[1].features[0]',
      reason: /feature "x" already feeds input "input"/,
    },
    {
      problem: 'duplicate input name',
      manifest: edit(
        regression,
        (m) =>
          (m.inputs = [
            { name: 'in', dtype: 'float32', features: ['x'] },
            { name: 'in', dtype: 'float32', features: ['rooms'] },
          ]),
      ),
      field: 'inputs[1].name',
      reason: /duplicate input name "in"/,
    },
    { problem: 'feature feeding no input', manifest: edit(regression, (m) => (m.inputs[0].features = ['x'])), field: 'features[1]', reason: /feature "rooms" feeds no input/ },
    {
      problem: 'string feature into a float32 input',
      manifest: edit(withModel, (m) => (m.inputs[1].dtype = 'float32')),
      field: 'inputs[1].features[0]',
      reason: /a string feature cannot feed a float32 input/,
    },
    {
      problem: 'number feature into an int64 input',
      manifest: edit(regression, (m) => (m.inputs[0].dtype = 'int64')),
      field: 'inputs[0].features[0]',
      reason: /a number feature cannot feed a int64 input/,
    },
    {
      problem: 'number feature into a bool input',
      manifest: edit(
        regression,
        (m) =>
          (m.inputs = [
            { name: 'a', dtype: 'bool', features: ['x'] },
            { name: 'b', dtype: 'float32', features: ['rooms'] },
          ]),
      ),
      field: 'inputs[0].features[0]',
      reason: /a number feature cannot feed a bool input/,
    },
    { problem: 'rank 1 with two features', manifest: edit(regression, (m) => (m.inputs[0].rank = 1)), field: 'inputs[0].rank', reason: /rank 1 takes exactly one feature, got 2/ },
    {
      problem: 'optional int64 feature without default',
      manifest: edit(regression, (m) => {
        m.features[1].required = false;
        m.inputs = [
          { name: 'x', dtype: 'float32', features: ['x'] },
          { name: 'rooms', dtype: 'int64', features: ['rooms'] },
        ];
      }),
      field: 'features[1].default',
      reason: /optional feature "rooms" feeds a int64 input, so it needs a default/,
    },
    {
      problem: 'optional string feature without default',
      manifest: edit(withModel, (m) => (m.features[1].required = false)),
      field: 'features[1].default',
      reason: /optional feature "plan" feeds a string input, so it needs a default/,
    },

    // Task against outputs and labels.
    {
      problem: 'regression without outputs.value',
      manifest: edit(regression, (m) => (m.outputs = { label: 'label' })),
      field: 'outputs.value',
      reason: /^is required for regression$/,
    },
    {
      problem: 'regression with probabilities',
      manifest: edit(regression, (m) => (m.outputs.probabilities = 'p')),
      field: 'outputs.probabilities',
      reason: /^is only for classification$/,
    },
    { problem: 'regression with classLabels', manifest: edit(regression, (m) => (m.classLabels = [0, 1])), field: 'classLabels', reason: /^is only for classification$/ },
    { problem: 'regression with a threshold', manifest: edit(regression, (m) => (m.threshold = 0.5)), field: 'threshold', reason: /^is only for classification$/ },
    { problem: 'classifier without classLabels', manifest: edit(withModel, (m) => delete m.classLabels), field: 'classLabels', reason: /^is required for binary-classification$/ },
    {
      problem: 'classifier with scores only',
      manifest: edit(withModel, (m) => (m.outputs = { scores: 'scores' })),
      field: 'outputs',
      reason: /needs a label or probabilities output/,
    },
    { problem: 'classifier with a value output', manifest: edit(withModel, (m) => (m.outputs.value = 'v')), field: 'outputs.value', reason: /^is only for regression$/ },
    { problem: 'binary with 3 labels', manifest: edit(withModel, (m) => (m.classLabels = [0, 1, 2])), field: 'classLabels', reason: /binary classification needs 2 labels, got 3/ },
    {
      problem: 'multiclass with 2 labels',
      manifest: edit(multiclass, (m) => (m.classLabels = ['a', 'b'])),
      field: 'classLabels',
      reason: /multiclass classification needs 3 or more labels, got 2/,
    },
    { problem: 'positiveClass not in labels', manifest: edit(withModel, (m) => (m.positiveClass = 'yes')), field: 'positiveClass', reason: /"yes" is not one of classLabels/ },
    { problem: 'positiveClass "1" for labels [0, 1]', manifest: edit(withModel, (m) => (m.positiveClass = '1')), field: 'positiveClass', reason: /"1" is not one of classLabels/ },
    { problem: 'threshold on multiclass', manifest: edit(multiclass, (m) => (m.threshold = 0.4)), field: 'threshold', reason: /^is only for binary classification$/ },
    {
      problem: 'positiveClass on multiclass',
      manifest: edit(multiclass, (m) => (m.positiveClass = 'setosa')),
      field: 'positiveClass',
      reason: /^is only for binary classification$/,
    },

    // Baseline against features.
    {
      problem: 'baseline counts / edges mismatch',
      manifest: edit(regression, (m) => (m.baseline = { rows: 10, features: { x: numeric([0, 1, 2], [3, 3, 4]) } })),
      field: 'baseline.features.x.counts',
      reason: /needs 2 counts for 3 edges, got 3/,
    },
    {
      problem: 'descending baseline edges',
      manifest: edit(regression, (m) => (m.baseline = { rows: 10, features: { x: numeric([0, 2, 1], [5, 5]) } })),
      field: 'baseline.features.x.edges',
      reason: /^must be strictly ascending$/,
    },
    {
      problem: 'repeated baseline edge',
      manifest: edit(regression, (m) => (m.baseline = { rows: 10, features: { x: numeric([0, 1, 1], [5, 5]) } })),
      field: 'baseline.features.x.edges',
      reason: /^must be strictly ascending$/,
    },
    {
      problem: 'bad prediction baseline',
      manifest: edit(regression, (m) => (m.baseline = { rows: 10, features: {}, prediction: numeric([0, 1], [5, 5]) })),
      field: 'baseline.prediction.counts',
      reason: /needs 1 counts for 2 edges, got 2/,
    },
    {
      problem: 'baseline for an unknown feature',
      manifest: edit(regression, (m) => (m.baseline = { rows: 10, features: { ghost: numeric([0, 1], [10]) } })),
      field: 'baseline.features.ghost',
      reason: /no feature named "ghost"/,
    },
    {
      problem: 'categorical feature with a numeric baseline',
      manifest: edit(withModel, (m) => (m.baseline = { rows: 10, features: { plan: numeric([0, 1], [10]) } })),
      field: 'baseline.features.plan',
      reason: /feature "plan" is categorical; its baseline must be categorical/,
    },
    {
      problem: 'integer feature with categories and a numeric baseline',
      manifest: edit(regression, (m) => {
        m.features[1] = { name: 'rooms', type: 'integer', categories: [1, 2, 3] };
        m.baseline = { rows: 10, features: { rooms: numeric([0, 1], [10]) } };
      }),
      field: 'baseline.features.rooms',
      reason: /is categorical; its baseline must be categorical/,
    },
    {
      problem: 'numeric feature with a categorical baseline',
      manifest: edit(regression, (m) => (m.baseline = { rows: 10, features: { x: { kind: 'categorical', counts: { a: 10 }, missing: 0, count: 10 } } })),
      field: 'baseline.features.x',
      reason: /feature "x" is numeric; its baseline must be numeric/,
    },

    // Logging against features.
    {
      problem: 'logging.redact unknown feature',
      manifest: edit(regression, (m) => (m.logging = { redact: ['x', 'ssn'] })),
      field: 'logging.redact[1]',
      reason: /no feature named "ssn"/,
    },

    // Calibration: of a classifier's probabilities, per class, with maps that are non-decreasing functions.
    {
      problem: 'calibration without a method',
      manifest: edit(withModel, (m) => (m.calibration = { holdoutRows: 10, classes: {} })),
      field: 'calibration.method',
      reason: /^is required$/,
    },
    {
      problem: 'calibration of a regression',
      manifest: edit(regression, (m) => (m.calibration = calibration({ '1': calibrated([0.1, 0.9], [0.2, 0.8]) }))),
      field: 'calibration',
      reason: /only for classification/,
    },
    {
      problem: 'calibration without probabilities',
      manifest: edit(withModel, (m) => {
        m.outputs = { label: 'label' };
        m.calibration = calibration({ '1': calibrated([0.1], [0.2]) });
      }),
      field: 'calibration',
      reason: /no outputs.probabilities/,
    },
    {
      problem: 'binary calibration of the negative class',
      manifest: edit(withModel, (m) => (m.calibration = calibration({ '0': calibrated([0.1], [0.2]) }))),
      field: 'calibration.classes[0]',
      reason: /the key must be the positive class "1"/,
    },
    {
      problem: 'multiclass calibration of an unknown class',
      manifest: edit(multiclass, (m) => (m.calibration = calibration({ rose: calibrated([0.1], [0.2]) }))),
      field: 'calibration.classes.rose',
      reason: /is not one of classLabels/,
    },
    {
      problem: 'map scores not ascending',
      manifest: edit(withModel, (m) => (m.calibration = calibration({ '1': calibrated([0.5, 0.5], [0.2, 0.3]) }))),
      field: 'calibration.classes[1].map.scores',
      reason: /strictly ascending/,
    },
    {
      problem: 'map probabilities decreasing',
      manifest: edit(withModel, (m) => (m.calibration = calibration({ '1': calibrated([0.2, 0.5], [0.3, 0.2]) }))),
      field: 'calibration.classes[1].map.probabilities',
      reason: /non-decreasing/,
    },
    {
      problem: 'map lengths differ',
      manifest: edit(withModel, (m) => (m.calibration = calibration({ '1': calibrated([0.2, 0.5], [0.3]) }))),
      field: 'calibration.classes[1].map.probabilities',
      reason: /one probability per score \(2\), got 1/,
    },
    {
      problem: 'map probability above 1',
      manifest: edit(withModel, (m) => (m.calibration = calibration({ '1': calibrated([0.2, 0.5], [0.3, 1.2]) }))),
      field: 'calibration.classes[1].map.probabilities[1]',
      reason: /must be <= 1/,
    },
    // Monitoring: the sliding window, and estimated-quality alarms relative to recorded holdout values.
    {
      problem: 'monitoring window under 5 minutes',
      manifest: edit(withModel, (m) => (m.monitoring = { windowMinutes: 1 })),
      field: 'monitoring.windowMinutes',
      reason: /must be >= 5/,
    },
    {
      problem: 'monitoring window over a day',
      manifest: edit(withModel, (m) => (m.monitoring = { windowMinutes: 2000 })),
      field: 'monitoring.windowMinutes',
      reason: /must be <= 1440/,
    },
    {
      problem: 'estimated drop of a metric CBPE has not',
      manifest: edit(withModel, (m) => (m.monitoring = { estimatedQualityDrop: { logLoss: { warning: 0.1 } } })),
      field: 'monitoring.estimatedQualityDrop.logLoss',
      reason: /^is not a known field$/,
    },
    {
      problem: 'estimated drop of 0',
      manifest: edit(withModel, (m) => (m.monitoring = { estimatedQualityDrop: { rocAuc: { warning: 0 } } })),
      field: 'monitoring.estimatedQualityDrop.rocAuc.warning',
      reason: /must be > 0/,
    },
    {
      problem: 'estimated drop with no severity',
      manifest: edit(withModel, (m) => (m.monitoring = { estimatedQualityDrop: { rocAuc: {} } })),
      field: 'monitoring.estimatedQualityDrop.rocAuc',
      reason: /must NOT have fewer than 1 properties/,
    },
    {
      problem: 'estimated drop without a holdout value',
      manifest: edit(withModel, (m) => (m.monitoring = { estimatedQualityDrop: { rocAuc: { warning: 0.05 } } })),
      field: 'monitoring.estimatedQualityDrop.rocAuc',
      reason: /relative to the holdout value, and the manifest records none \(training.holdout.metrics.rocAuc\)/,
    },
    {
      problem: 'estimated critical drop below the warning',
      manifest: edit(withModel, (m) => {
        m.training = { holdoutMetrics: { f1: 0.6 } };
        m.monitoring = { estimatedQualityDrop: { f1: { warning: 0.1, critical: 0.05 } } };
      }),
      field: 'monitoring.estimatedQualityDrop.f1.critical',
      reason: /must be at least the warning drop \(0.1\), got: 0.05/,
    },
    {
      problem: 'estimated drop of a regression',
      manifest: edit(regression, (m) => (m.monitoring = { estimatedQualityDrop: { accuracy: { warning: 0.05 } } })),
      field: 'monitoring.estimatedQualityDrop',
      reason: /classifiers only; this model is a regression/,
    },
    {
      problem: 'estimated drop without probabilities',
      manifest: edit(withModel, (m) => {
        m.outputs = { label: 'label' };
        m.monitoring = { estimatedQualityDrop: { accuracy: { warning: 0.05 } } };
      }),
      field: 'monitoring.estimatedQualityDrop',
      reason: /no outputs.probabilities/,
    },
    {
      problem: 'calibration without its errors',
      manifest: edit(withModel, (m) => (m.calibration = calibration({ '1': { map: { scores: [0.1], probabilities: [0.2] } } }))),
      field: 'calibration.classes[1].rawError',
      reason: /^is required$/,
    },
  ];

  it.each(cases)('$problem -> $field', ({ manifest, field, reason }) => {
    const issues = rejection(manifest);
    const named = issues.filter((issue) => issue.field === field);
    expect(named, JSON.stringify(issues)).not.toHaveLength(0);
    expect(named.map((issue) => issue.reason)).toContainEqual(expect.stringMatching(reason));
  });

  it('reports several schema problems together, each once', () => {
    const issues = rejection(
      edit(regression, (m) => {
        delete m.name;
        m.task = 'clustering';
        m.owner = 'me';
        m.features[0].type = 'float';
      }),
    );
    expect(issues.map((i) => i.field).sort()).toEqual(['features[0].type', 'name', 'owner', 'task']);
    expect(new Set(issues.map((i) => `${i.field}|${i.reason}`)).size).toBe(issues.length);
  });

  it('reports several consistency problems together', () => {
    const issues = rejection(
      edit(withModel, (m) => {
        m.features.push({ name: 'x', type: 'number' });
        m.classLabels = [0, 1, 2];
        m.logging = { redact: ['ssn'] };
        m.inputs[0].features.push('ghost');
      }),
    );
    expect(issues.map((i) => i.field)).toEqual(expect.arrayContaining(['features[2].name', 'classLabels', 'logging.redact[0]', 'inputs[0].features[1]']));
  });

  it('puts every issue in the error message', () => {
    const manifest = edit(withModel, (m) => {
      m.classLabels = [0, 1, 2];
      m.positiveClass = 7;
    });
    expect(() => parseManifest(manifest)).toThrow('invalid manifest: classLabels: binary classification needs 2 labels, got 3; positiveClass: 7 is not one of classLabels');
  });

  it.each([
    { what: 'null', raw: null },
    { what: 'an array', raw: [] },
    { what: 'a string', raw: 'manifest' },
  ])('rejects $what as a whole', ({ raw }) => {
    expect(rejection(raw)).toEqual([{ field: '(manifest)', reason: 'must be object' }]);
  });
});

function numeric(edges: number[], counts: number[]): Draft {
  const count = counts.reduce((a, b) => a + b, 0);
  return { kind: 'numeric', edges, counts, underflow: 0, overflow: 0, missing: 0, count, mean: 0, std: 1, min: edges[0], max: edges[edges.length - 1] };
}

describe('parseManifestJson', () => {
  it('parses valid JSON text like parseManifest', () => {
    expect(parseManifestJson(JSON.stringify(regression(), null, 2))).toEqual(regression());
  });

  it.each([
    { what: 'truncated JSON', text: '{"schemaVersion": "1", "name": ' },
    { what: 'a trailing comma', text: '{"name": "a",}' },
    { what: 'an empty file', text: '' },
  ])('reports $what as a (file) issue', ({ text }) => {
    expect(() => parseManifestJson(text)).toThrow(ManifestError);
    try {
      parseManifestJson(text);
    } catch (error) {
      const issues = (error as ManifestError).issues;
      expect(issues).toHaveLength(1);
      expect(issues[0]?.field).toBe('(file)');
      expect(issues[0]?.reason).toMatch(/^not valid JSON: /);
    }
  });

  it('reports schema problems of well-formed JSON', () => {
    expect(() => parseManifestJson(JSON.stringify(edit(regression, (m) => delete m.version)))).toThrow(/version: is required/);
  });
});

describe('valueProblem', () => {
  const number: FeatureSpec = { name: 'n', type: 'number', min: -1, max: 1 };
  const integer: FeatureSpec = { name: 'i', type: 'integer', categories: [1, 2, 3] };
  const string: FeatureSpec = { name: 's', type: 'string', categories: ['a', 'b'] };
  const boolean: FeatureSpec = { name: 'b', type: 'boolean' };

  it.each([
    { feature: number, value: 0.5, problem: undefined },
    { feature: number, value: -1, problem: undefined },
    { feature: number, value: 1, problem: undefined },
    { feature: number, value: 1.0001, problem: '1.0001 is above the maximum 1' },
    { feature: number, value: -2, problem: '-2 is below the minimum -1' },
    { feature: number, value: '0.5', problem: 'expected a number, got the string "0.5"' },
    { feature: number, value: true, problem: 'expected a number, got boolean true' },
    { feature: number, value: null, problem: 'expected a number, got null' },
    { feature: number, value: [1], problem: 'expected a number, got an array' },
    { feature: number, value: { v: 1 }, problem: 'expected a number, got an object' },
    { feature: number, value: Infinity, problem: 'expected a finite number, got Infinity' },
    { feature: number, value: NaN, problem: 'expected a finite number, got NaN' },
    { feature: integer, value: 2, problem: undefined },
    { feature: integer, value: 2.5, problem: 'expected an integer, got 2.5' },
    { feature: integer, value: 2 ** 53, problem: `expected an integer, got ${2 ** 53}` },
    { feature: integer, value: 4, problem: 'unknown category 4; allowed: 1, 2, 3' },
    { feature: string, value: 'b', problem: undefined },
    { feature: string, value: 'c', problem: 'unknown category "c"; allowed: "a", "b"' },
    { feature: string, value: 1, problem: 'expected a string, got number 1' },
    { feature: string, value: 'x'.repeat(50), problem: `unknown category "${'x'.repeat(50)}"; allowed: "a", "b"` },
    { feature: boolean, value: false, problem: undefined },
    { feature: boolean, value: 'true', problem: 'expected true or false, got the string "true"' },
    { feature: boolean, value: 1, problem: 'expected true or false, got number 1' },
  ])('$feature.name = $value -> $problem', ({ feature, value, problem }) => {
    expect(valueProblem(feature, value)).toBe(problem);
  });

  it('shortens long strings in the reason', () => {
    expect(valueProblem({ name: 'n', type: 'number' }, 'y'.repeat(100))).toBe(`expected a number, got the string "${'y'.repeat(40)}..."`);
  });
});

describe('model size limit', () => {
  it("defaults to 256 MiB, takes the manifest's model.maxBytes up to the 512 MiB the schema admits", () => {
    expect(modelSizeLimit(parseManifest(regression()))).toBe(256 * 1024 * 1024);
    expect(modelSizeLimit(parseManifest(edit(regression, (m) => (m.model.maxBytes = 1_000_000))))).toBe(1_000_000);
    expect(modelSizeLimit(parseManifest(edit(regression, (m) => (m.model.maxBytes = MODEL_SIZE.ceilingBytes))))).toBe(MODEL_SIZE.ceilingBytes);
    const schema = manifestSchema as { properties: { model: { properties: { maxBytes: { maximum: number } } } } };
    expect(schema.properties.model.properties.maxBytes.maximum).toBe(MODEL_SIZE.ceilingBytes);
  });
});
