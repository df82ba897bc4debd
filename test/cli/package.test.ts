// `modelgate package` as users run it: a subprocess per case, bundles written to a temp directory.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../lambdas/adapters/model-store';
import { parseCsv } from '../../lambdas/core/csv';
import { parseManifestJson, type DistributionBaseline, type FeatureSpec, type Manifest } from '../../lambdas/core/manifest';
import { prepareModel } from '../../lambdas/core/onnx-graph';
import { validateCandidate } from '../../lambdas/use-cases/validate-candidate';
import { bundleFolderSource } from '../../cli/bundle-folder';
import { runCli, type CliResult } from '../support/cli';
import { IRIS_MLMODEL, SKLEARN_MLMODEL, TITANIC_EXAMPLE, TITANIC_MLMODEL, writeMlflowModel } from '../support/mlflow';

const root = fileURLToPath(new URL('../..', import.meta.url));
const models = join(root, 'test/fixtures/models');
const directory = mkdtempSync(join(tmpdir(), 'modelgate-package-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function modelgatePackage(...args: string[]): Promise<CliResult> {
  return runCli(['package', ...args], { cwd: root });
}

function file(name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

const readManifest = (out: string): Manifest => parseManifestJson(readFileSync(join(out, 'manifest.json'), 'utf8'));

/** counts + underflow + overflow + missing = count (numeric); counts + missing = count (categorical). */
function accountedRows(distribution: DistributionBaseline): number {
  const counted = distribution.kind === 'numeric' ? [...distribution.counts, distribution.underflow, distribution.overflow] : Object.values(distribution.counts);
  return counted.reduce((a, b) => a + b, 0) + distribution.missing;
}

/** The CSV text without one column (the churn data's customerID). */
function withoutColumn(text: string, name: string): string {
  const table = parseCsv(text);
  const drop = table.header.indexOf(name);
  const keep = (cells: readonly string[]) => cells.filter((_, i) => i !== drop).map((c) => (/[",]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c));
  return `${[keep(table.header), ...table.rows.map(keep)].map((cells) => cells.join(',')).join('\n')}\n`;
}

describe('modelgate package: the churn example', () => {
  const example = parseManifestJson(readFileSync(join(root, 'examples/churn/v1/manifest.json'), 'utf8'));
  const holdout = join(root, 'examples/churn/v1/holdout.csv');
  const out = join(directory, 'churn');
  let run: CliResult;
  let manifest: Manifest;

  beforeAll(async () => {
    const train = file('telco-train.csv', withoutColumn(readFileSync(join(root, 'examples/churn/data/telco-customer-churn.csv'), 'utf8'), 'customerID'));
    run = await modelgatePackage(
      ...['--onnx', join(root, 'examples/churn/v1/model.onnx'), '--train', train, '--target', 'Churn', '--holdout', holdout],
      ...['--name', 'churn', '--version', '1', '--strategy', 'canary', '--out', out],
    );
    manifest = readManifest(out);
  });

  it('exits 0 and prints the features, inputs, outputs and holdout metrics', () => {
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('churn version 1: binary-classification, class labels "No", "Yes"');
    expect(run.stdout).toContain('features (19):');
    expect(run.stdout).toContain('inputs (19):');
    expect(run.stdout).toContain('outputs: label "label", probabilities "probabilities"');
    expect(run.stdout).toMatch(/holdout \(1409 rows\): accuracy 0\.7977, precision 0\.6469, recall 0\.5241, f1 0\.579, rocAuc 0\.8276, logLoss 0\.4411/);
  });

  it('infers the features and inputs of the hand-written example manifest', () => {
    const shape = (features: readonly FeatureSpec[]) => features.map(({ name, type, categories, required }) => ({ name, type, categories, required }));
    expect(shape(manifest.features)).toEqual(shape(example.features));
    expect(manifest.inputs).toEqual(example.inputs);
    expect(manifest).toMatchObject({ task: example.task, classLabels: example.classLabels, outputs: example.outputs });
  });

  it('writes the model with its sha256, the holdout as given, and the rollout and holdout target', () => {
    const bytes = readFileSync(join(out, 'model.onnx'));
    expect(manifest.model).toEqual({ file: 'model.onnx', sha256: sha256Hex(bytes) });
    expect(manifest.model.sha256).toBe(example.model.sha256);
    expect(readFileSync(join(out, 'holdout.csv'))).toEqual(readFileSync(holdout));
    expect(manifest.validation).toEqual({ holdout: { file: 'holdout.csv', target: 'Churn' }, gates: { rocAuc: { min: 0.55 }, logLoss: { max: expect.any(Number) } } });
    expect(manifest.rollout).toEqual({ strategy: 'canary' });
  });

  it('computes a baseline whose counts add up to the training rows', () => {
    const baseline = manifest.baseline;
    expect(baseline?.rows).toBe(7043);
    for (const feature of manifest.features) {
      const distribution = baseline?.features[feature.name] as DistributionBaseline;
      expect(distribution.count, feature.name).toBe(7043);
      expect(accountedRows(distribution), feature.name).toBe(7043);
    }
    expect(baseline?.features.TotalCharges).toMatchObject({ kind: 'numeric', missing: 11 });
    expect(baseline?.features.Contract?.kind).toBe('categorical');
    expect(baseline?.prediction).toMatchObject({ kind: 'numeric', count: 7043, missing: 0 });
    expect(accountedRows(baseline?.prediction as DistributionBaseline)).toBe(7043);
  });

  it('records the holdout metrics the training script computed', () => {
    const metrics = (manifest.training?.holdout as { metrics: Record<string, number> }).metrics;
    const expected = example.training?.holdoutMetrics as Record<string, number>;
    for (const name of ['accuracy', 'precision', 'recall', 'f1', 'rocAuc', 'logLoss']) {
      expect(metrics[name], name).toBeCloseTo(expected[name] as number, 5);
    }
  });

  it('records the calibration of P(Yes) fitted on the holdout, kept because it lowers the calibration error', () => {
    const yes = manifest.calibration?.classes.Yes;
    const holdoutMetrics = (manifest.training?.holdout as { metrics: Record<string, number> }).metrics;
    expect(manifest.calibration).toMatchObject({ method: 'isotonic', holdoutRows: 1409 });
    // The raw error is the holdout's calibrationError metric: one definition of the error.
    expect(yes!.rawError).toBeCloseTo(holdoutMetrics.calibrationError as number, 12);
    expect(yes!.calibratedError).toBeLessThan(yes!.rawError);
    expect(yes!.map!.scores.length).toBeGreaterThan(1);
    expect(run.stdout).toMatch(/note: calibration of "Yes": .* isotonic map kept/);
  });
});

describe('modelgate package --passthrough', () => {
  it('keeps customerID as the pass-through join key instead of a feature', async () => {
    const out = join(directory, 'churn-passthrough');
    const run = await modelgatePackage(
      ...['--onnx', join(root, 'examples/churn/v1/model.onnx'), '--train', join(root, 'examples/churn/data/telco-customer-churn.csv'), '--target', 'Churn'],
      ...['--passthrough', 'customerID', '--name', 'churn', '--version', '1', '--out', out],
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('pass-through: customerID (join key)');
    const manifest = readManifest(out);
    expect(manifest.passThrough).toEqual([{ name: 'customerID', joinKey: true }]);
    expect(manifest.features.map((f) => f.name)).not.toContain('customerID');
    expect(manifest.features).toHaveLength(19);
  });

  it('exits 2 for a column given to --exclude and --passthrough both', async () => {
    const run = await modelgatePackage(
      ...['--onnx', join(root, 'examples/churn/v1/model.onnx'), '--train', join(root, 'examples/churn/v1/holdout.csv'), '--target', 'Churn'],
      ...['--exclude', 'customerID', '--passthrough', 'customerID', '--name', 'churn', '--version', '1', '--out', join(directory, 'both')],
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('column "customerID" is both excluded and passed through: give it to one of them');
  });
});

describe('modelgate package: exported models', () => {
  const titanic = file(
    'titanic.csv',
    [
      'pclass,sex,age,fare,embarked,survived',
      '1,female,29,211.3375,S,1',
      '3,male,22,7.25,S,0',
      '2,female,,13,C,1',
      '3,male,35,8.05,S,0',
      '1,male,54,51.8625,S,0',
      '3,female,4,16.7,S,1',
      '2,male,,13,Q,0',
      '3,female,27,11.1333,C,1',
      '1,female,58,26.55,S,1',
      '3,male,20,8.05,,0',
    ].join('\n'),
  );
  const iris = file(
    'iris.csv',
    [
      'sepal_length,sepal_width,petal_length,petal_width,species',
      '5.1,3.5,1.4,0.2,0',
      '4.9,3.0,1.4,0.2,0',
      '7.0,3.2,4.7,1.4,1',
      '6.4,3.2,4.5,1.5,1',
      '6.3,3.3,6.0,2.5,2',
      '5.8,2.7,5.1,1.9,2',
    ].join('\n'),
  );

  it('removes the ZipMap of a scikit-learn pipeline and declares its probabilities', async () => {
    const out = join(directory, 'titanic');
    const run = await modelgatePackage(
      '--onnx',
      join(models, 'pipeline_titanic.onnx'),
      '--train',
      titanic,
      '--target',
      'survived',
      '--name',
      'titanic',
      '--version',
      '1',
      '--out',
      out,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('(ZipMap removed: 1)');
    const manifest = readManifest(out);
    expect(manifest).toMatchObject({ task: 'binary-classification', classLabels: [0, 1], outputs: { label: 'output_label', probabilities: 'output_probability' } });
    const written = new Uint8Array(readFileSync(join(out, 'model.onnx')));
    expect(prepareModel(written).zipMapsRemoved).toBe(0);
    expect(prepareModel(written).description.outputs.map((o) => o.type)).toEqual(['int64', 'float32']);
    expect(manifest.model.sha256).toBe(sha256Hex(written));
    expect(manifest.features).toEqual([
      // The pipeline takes pclass as a string.
      { name: 'pclass', type: 'string', categories: ['1', '2', '3'] },
      { name: 'sex', type: 'string', categories: ['female', 'male'] },
      { name: 'age', type: 'integer', required: false },
      { name: 'fare', type: 'number' },
      { name: 'embarked', type: 'string', categories: ['C', 'Q', 'S'], required: false, default: 'S' },
    ]);
    expect(manifest.baseline?.features.age).toMatchObject({ missing: 2, count: 10 });
  });

  it('maps the columns of a 4-column CSV onto one [1, 4] tensor with a batch size of 1', async () => {
    const out = join(directory, 'iris');
    const run = await modelgatePackage(
      '--onnx',
      join(models, 'logreg_iris.onnx'),
      '--train',
      iris,
      '--target',
      'species',
      '--holdout',
      iris,
      '--name',
      'iris',
      '--version',
      '2',
      '--out',
      out,
      '--json',
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout) as { holdout: { rows: number; metrics: Record<string, number> } };
    expect(summary.holdout.rows).toBe(6);
    expect(summary.holdout.metrics.accuracy).toBeGreaterThan(0.5);
    const manifest = readManifest(out);
    expect(manifest).toMatchObject({
      task: 'multiclass-classification',
      classLabels: [0, 1, 2],
      batchSize: 1,
      inputs: [{ name: 'float_input', dtype: 'float32', features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'] }],
      outputs: { label: 'output_label', probabilities: 'output_probability' },
    });
    expect(manifest.baseline?.prediction).toMatchObject({ kind: 'categorical', count: 6 });
  });
});

describe('modelgate package --mlflow: an MLflow model directory with the onnx flavor', () => {
  const titanicCsv = () => join(directory, 'titanic.csv');
  const common = (name: string) => ['--name', name, '--version', '1', '--out', join(directory, `${name}-bundle`)];

  it('takes the features from a column signature, categories from the training data, and the run into the lineage', async () => {
    const model = writeMlflowModel(join(directory, 'mlflow-titanic'), TITANIC_MLMODEL, join(models, 'pipeline_titanic.onnx'), { 'input_example.json': TITANIC_EXAMPLE });
    const run = await modelgatePackage('--mlflow', model, '--train', titanicCsv(), '--target', 'survived', ...common('titanic-mlflow'));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('note: input_example.json: 2 example row(s) match the features and the model answers them');
    expect(run.stdout).toContain('lineage: MLflow run 8ede7df408dd42ed9fc39019ef7df309, model 3f1c0b6a2d5e4f7a9b8c1d2e3f4a5b6c');
    const manifest = readManifest(join(directory, 'titanic-mlflow-bundle'));
    expect(manifest.features).toEqual([
      { name: 'pclass', type: 'string', categories: ['1', '2', '3'] },
      { name: 'sex', type: 'string', categories: ['female', 'male'] },
      // Declared double: a number, though the CSV holds integers only.
      { name: 'age', type: 'number', required: false },
      { name: 'fare', type: 'number' },
      { name: 'embarked', type: 'string', categories: ['C', 'Q', 'S'], required: false, default: 'S' },
    ]);
    expect(manifest.lineage).toEqual({
      mlflow: {
        runId: '8ede7df408dd42ed9fc39019ef7df309',
        modelUuid: '3f1c0b6a2d5e4f7a9b8c1d2e3f4a5b6c',
        artifactPath: 'model',
        createdAt: '2026-11-30 09:12:44.123456',
        mlflowVersion: '2.19.0',
      },
    });
    expect(manifest.training?.model).toMatchObject({ file: 'model.onnx', zipMapsRemoved: 1, mlflow: { directory: 'mlflow-titanic', onnxVersion: '1.17.0' } });
  });

  it("hands the lineage to the pipeline: validation of the bundle returns it for the registry's record", async () => {
    const result = await validateCandidate({ model: 'titanic-mlflow', version: '1', candidate: bundleFolderSource(join(directory, 'titanic-mlflow-bundle')), latencySamples: 5 });
    expect(result.verdict, result.summary).toBe('accepted');
    expect(result.mlflow).toEqual(readManifest(join(directory, 'titanic-mlflow-bundle')).lineage?.mlflow);
    expect(result.mlflow?.runId).toBe('8ede7df408dd42ed9fc39019ef7df309');
  });

  it('checks a tensor signature against the graph and keeps a uuid of digits as written', async () => {
    const model = writeMlflowModel(join(directory, 'mlflow-iris'), IRIS_MLMODEL, join(models, 'logreg_iris.onnx'));
    const run = await modelgatePackage('--mlflow', model, '--train', join(directory, 'iris.csv'), '--target', 'species', ...common('iris-mlflow'));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const manifest = readManifest(join(directory, 'iris-mlflow-bundle'));
    expect(manifest.lineage?.mlflow).toEqual({ modelUuid: '0123456789', createdAt: '2026-11-30 09:12:44.123456', mlflowVersion: '2.19.0' });
    expect(manifest.inputs).toEqual([{ name: 'float_input', dtype: 'float32', features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'] }]);
  });

  it.each([
    {
      name: 'a signature that does not match the graph',
      model: () => writeMlflowModel(join(directory, 'mlflow-iris-3'), IRIS_MLMODEL.replace('[-1, 4]', '[-1, 3]'), join(models, 'logreg_iris.onnx')),
      message: 'the MLflow signature does not match the ONNX graph: signature tensor "float_input" has 3 at dimension 1, but the ONNX input "float_input" has 4 [1, 4]',
    },
    {
      name: 'an MLflow scikit-learn model (a pickle)',
      model: () => writeMlflowModel(join(directory, 'mlflow-sklearn'), SKLEARN_MLMODEL, undefined, { 'model.pkl': 'not read' }),
      message: `${join(directory, 'mlflow-sklearn')} is an MLflow model without the onnx flavor (flavors: python_function, sklearn); modelgate serves ONNX models only, and never loads a pickle; convert it where it was trained (pip install skl2onnx==1.19.1)`,
    },
    {
      name: 'a graph input the signature does not declare',
      model: () =>
        writeMlflowModel(
          join(directory, 'mlflow-titanic-cols'),
          TITANIC_MLMODEL.replace(', {"type": "string",\n    "name": "embarked", "required": false}', ''),
          join(models, 'pipeline_titanic.onnx'),
          {
            'input_example.json': TITANIC_EXAMPLE,
          },
        ),
      message: `the MLflow signature does not match the ONNX graph: ONNX input "embarked" has no column in the signature`,
    },
    {
      name: 'an input example the features refuse',
      model: () =>
        writeMlflowModel(join(directory, 'mlflow-titanic-example'), TITANIC_MLMODEL, join(models, 'pipeline_titanic.onnx'), {
          'input_example.json': TITANIC_EXAMPLE.replace('"S"]', '"X"]'),
        }),
      message: 'input_example.json: row 1, field "embarked": unknown category "X"; allowed: "C", "Q", "S"',
    },
    {
      name: 'an input example the MLmodel names but the directory lacks',
      model: () => writeMlflowModel(join(directory, 'mlflow-titanic-no-example'), TITANIC_MLMODEL, join(models, 'pipeline_titanic.onnx')),
      message: `names the input example input_example.json, which is not in ${join(directory, 'mlflow-titanic-no-example')}`,
    },
  ])('exits 2 for $name', async ({ model, message }) => {
    const run = await modelgatePackage('--mlflow', model(), '--train', titanicCsv(), '--target', 'survived', ...common('refused'));
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(message);
    expect(run.code).toBe(2);
  });
});

describe('modelgate package: bad input exits 2 and says why', () => {
  const titanic = () => join(directory, 'titanic.csv');
  // pickle.dumps(model, protocol=4) of an object of class sklearn.linear_model._logistic.LogisticRegression (CPython 3.11).
  const pickle4 =
    'gASViQAAAAAAAACMHnNrbGVhcm4ubGluZWFyX21vZGVsLl9sb2dpc3RpY5SMEkxvZ2lzdGljUmVncmVzc2lvbpSTlCmBlH2UKIwBQ5RHP/AAAAAAAACMBWNvZWZflF2UXZQoRz/gAAAAAAAAR7/QAAAAAAAAZWGMCGNsYXNzZXNflF2UKIwCTm+UjANZZXOUZXViLg==';
  const joblibFile = () => {
    const path = join(directory, 'model.joblib');
    writeFileSync(path, deflateSync(Buffer.from(pickle4, 'base64'), { level: 3 }));
    return path;
  };
  const savedModelFolder = () => {
    const folder = join(directory, 'saved');
    mkdirSync(join(folder, 'variables'), { recursive: true });
    writeFileSync(join(folder, 'saved_model.pb'), Uint8Array.of(0x08, 0x01));
    return folder;
  };
  const common = ['--name', 'm', '--version', '1', '--out', join(directory, 'bad')];

  it.each([
    {
      name: 'a model whose input matches no column',
      args: () => ['--onnx', join(models, 'logreg_iris.onnx'), '--train', titanic(), '--target', 'survived'],
      message: 'model input "float_input" [1, 4] takes 4 values per row, but 5 column(s) are left: "pclass", "sex", "age", "fare", "embarked"',
    },
    {
      name: 'named inputs missing from the CSV',
      args: () => ['--onnx', join(models, 'pipeline_titanic.onnx'), '--train', join(directory, 'iris.csv'), '--target', 'species'],
      message: 'model input(s) "pclass" [?, 1], "sex" [?, 1], "age" [?, 1], "fare" [?, 1], "embarked" [?, 1] match no CSV column',
    },
    {
      name: 'a column the model has no input for',
      args: () => ['--onnx', join(root, 'examples/churn/v1/model.onnx'), '--train', join(root, 'examples/churn/v1/holdout.csv'), '--target', 'Churn'],
      message: 'the model has no input for column(s) "customerID"',
    },
    {
      name: 'a missing target column',
      args: () => ['--onnx', join(models, 'logreg_iris.onnx'), '--train', join(directory, 'iris.csv'), '--target', 'variety'],
      message: 'the CSV has no column "variety"',
    },
    {
      name: 'an empty CSV',
      args: () => ['--onnx', join(models, 'logreg_iris.onnx'), '--train', file('empty.csv', ''), '--target', 'y'],
      message: 'empty file (no header row)',
    },
    {
      name: 'a CSV with a header only',
      args: () => ['--onnx', join(models, 'logreg_iris.onnx'), '--train', file('header.csv', 'a,b,c,d,y\n'), '--target', 'y'],
      message: 'no data rows after the header',
    },
    {
      name: 'a model that fails to load',
      args: () => ['--onnx', join(models, 'text_pipeline_tfidf.onnx'), '--train', file('text.csv', 'x0,x1,text,y\n1,2,good day,0\n3,4,bad day,1\n5,6,so so,2\n'), '--target', 'y'],
      message: 'the model does not load: onnxruntime could not load the model',
    },
    {
      name: 'a file that is not a model',
      args: () => ['--onnx', titanic(), '--train', titanic(), '--target', 'survived'],
      message: 'not an ONNX model',
    },
    {
      // joblib.dump(model, 'model.joblib', compress=3) of a scikit-learn model: a zlib stream around a pickle.
      name: 'a compressed joblib pickle, named by the class inside, never loaded',
      args: () => ['--onnx', joblibFile(), '--train', titanic(), '--target', 'survived'],
      message: `${join(directory, 'model.joblib')} is a zlib-compressed Python pickle (protocol 4) of sklearn.linear_model._logistic.LogisticRegression, as joblib.dump(..., compress=...) writes: modelgate serves ONNX models only, and never loads a pickle (loading one runs the code it holds); convert it where it was trained, with the Python that can load it (pip install skl2onnx==1.19.1)`,
    },
    {
      name: 'a TensorFlow SavedModel folder',
      args: () => ['--onnx', savedModelFolder(), '--train', titanic(), '--target', 'survived'],
      message: `${join(directory, 'saved')} is a TensorFlow SavedModel: modelgate serves ONNX models only; convert it with tf2onnx (pip install tf2onnx==1.16.1):\n  python -m tf2onnx.convert --saved-model ${join(directory, 'saved')} --output model.onnx --opset 17`,
    },
    {
      name: 'an MLflow model folder given to --onnx',
      args: () => ['--onnx', writeMlflowModel(join(directory, 'mlflow-as-onnx'), IRIS_MLMODEL, join(models, 'logreg_iris.onnx')), '--train', titanic(), '--target', 'survived'],
      message: `${join(directory, 'mlflow-as-onnx')} is a folder; --onnx takes the model file; it is an MLflow model: --mlflow ${join(directory, 'mlflow-as-onnx')}`,
    },
    {
      name: 'a missing file',
      args: () => ['--onnx', join(directory, 'nope.onnx'), '--train', titanic(), '--target', 'survived'],
      message: `cannot read ${join(directory, 'nope.onnx')}: no such file`,
    },
  ])('$name', async ({ args, message }) => {
    const run = await modelgatePackage(...args(), ...common);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(message);
  });

  it.each([
    { args: ['--train', 'x.csv', '--target', 'y', ...common], message: '--onnx is required' },
    {
      args: ['--onnx', 'm.onnx', '--train', 'x.csv', '--target', 'y', '--strategy', 'blue-green', ...common],
      message: '--strategy must be one of canary, linear, ab-test, shadow, all-at-once, got "blue-green"',
    },
    { args: ['--onnx', 'm.onnx', '--train', 'x.csv', '--target', 'y', '--strategy', 'canery', ...common], message: 'did you mean "canary"?' },
    { args: ['--onnx', 'm.onnx', '--train', 'x.csv', '--target', 'y', '--task', 'ranking', ...common], message: '--task must be one of' },
    { args: ['--onnx', 'm.onnx', '--bogus'], message: 'unknown option --bogus' },
  ])('bad usage: $message', async ({ args, message }) => {
    const run = await modelgatePackage(...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr).toMatch(/^modelgate package: [^\n]+; [^\n]+\n$/);
  });

  it('accepts --model, the old name of --onnx, with a note', async () => {
    const run = await modelgatePackage('--model', 'm.onnx', '--train', 'x.csv', '--target', 'y', ...common);
    expect(run.stderr).toContain('modelgate package: --model is now --onnx (same meaning)');
    expect(run.stderr).toContain(`cannot read m.onnx: no such file`);
    expect(run.code).toBe(2);
  });
});
