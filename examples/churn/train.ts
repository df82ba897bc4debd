/**
 * Trains the two example churn models on the IBM Telco data and writes their bundles:
 *   v1/ logistic regression, v2/ gradient-boosted trees, each with model.onnx, manifest.json, holdout.csv.
 * Deterministic: the same data gives byte-identical bundles. Run with `npm run train:churn`.
 *
 * Every model is checked before it is written: onnxruntime must return the probabilities the TypeScript
 * model computes (to 1e-5) on the train and holdout rows, and the manifest must pass parseManifest.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { featureBaseline, numericBaseline } from '../../lambdas/core/baseline';
import { MANIFEST_SCHEMA_VERSION, parseManifest, type FeatureSpec, type FeatureValue, type Manifest } from '../../lambdas/core/manifest';
import { binaryClassificationMetrics, type BinaryClassificationMetrics } from '../../lambdas/core/metrics/classification';
import { CLASS_LABELS, POSITIVE_CLASS, TARGET, loadChurnData, stratifiedSplit, toCsv, type ChurnData } from './dataset';
import { encodeRow, encodedWidth, fitEncoding, type Encoding } from './encoding';
import { boostedProbability, trainGradientBoosting, type GradientBoostingOptions } from './gradient-boosting';
import { logisticProbability, trainLogisticRegression, type LogisticRegressionOptions } from './logistic-regression';
import { OPSETS, gradientBoostingOnnx, inputDtype, logisticRegressionOnnx } from './onnx-graph';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = join(HERE, '..', '..');
const DATA_FILE = join(HERE, 'data', 'telco-customer-churn.csv');
const SPLIT = { holdoutFraction: 0.2, seed: 42 } as const;
const THRESHOLD = 0.5;
const NEGATIVE_CLASS = CLASS_LABELS.find((label) => label !== POSITIVE_CLASS);
/** How far onnxruntime (float32 arithmetic) may be from the TypeScript model (float64) on any row. */
const ONNX_TOLERANCE = 1e-5;

const LOGISTIC_REGRESSION: LogisticRegressionOptions = { l2: 1, maxIterations: 50, tolerance: 1e-8 };
const VALIDATION = {
  holdout: { target: TARGET },
  gates: { rocAuc: { min: 0.8 }, accuracy: { min: 0.75 } },
  primaryMetric: 'rocAuc',
  nonInferiorityMargin: 0.01,
  replay: { minAgreement: 0.85 },
} as const satisfies Manifest['validation'];
const ROLLOUT = { strategy: 'canary', canary: { weight: 0.1, bakeMinutes: 30 } } as const satisfies Manifest['rollout'];

/** Chosen by 5-fold cross-validation AUC on the train split (the holdout played no part). */
const GRADIENT_BOOSTING: GradientBoostingOptions = {
  trees: 200,
  maxDepth: 3,
  learningRate: 0.05,
  l2: 1,
  minRowsPerLeaf: 30,
  subsample: 0.8,
  seed: 7,
};

type Row = ChurnData['rows'][number];

interface TrainedModel {
  readonly version: string;
  readonly description: string;
  readonly onnx: Uint8Array;
  /** P(Yes) per encoded row, computed in TypeScript. */
  readonly probability: (row: Float64Array) => number;
  readonly algorithm: Record<string, unknown>;
}

async function main(): Promise<void> {
  const data = loadChurnData(DATA_FILE);
  const split = stratifiedSplit(data.churned, SPLIT.holdoutFraction, SPLIT.seed);
  const trainRows = split.train.map((i) => data.rows[i] as Row);
  const holdoutRows = split.holdout.map((i) => data.rows[i] as Row);
  const trainChurned = split.train.map((i) => data.churned[i] as boolean);
  const holdoutChurned = split.holdout.map((i) => data.churned[i] as boolean);
  const encoding = fitEncoding(data.features, trainRows);
  const trainEncoded = trainRows.map((row) => encodeRow(encoding, row));
  const holdoutEncoded = holdoutRows.map((row) => encodeRow(encoding, row));
  const preprocessing = describePreprocessing(encoding);

  const logistic = trainLogisticRegression(trainEncoded, trainChurned, encoding.numeric.length, LOGISTIC_REGRESSION);
  const boosted = trainGradientBoosting(trainEncoded, trainChurned, GRADIENT_BOOSTING);
  const models: TrainedModel[] = [
    {
      version: '1',
      description: 'Telco customer churn, logistic regression (modelgate example).',
      onnx: logisticRegressionOnnx(data.features, encoding, logistic),
      probability: (row) => logisticProbability(logistic, row),
      algorithm: {
        name: 'logistic regression, L2, Newton (IRLS)',
        hyperParameters: { ...LOGISTIC_REGRESSION, equivalentSklearnC: 1 / LOGISTIC_REGRESSION.l2 },
        newtonSteps: logistic.iterations,
        preprocessing: { ...preprocessing, standardised: encoding.numeric },
      },
    },
    {
      version: '2',
      description: 'Telco customer churn, gradient-boosted trees (modelgate example).',
      onnx: gradientBoostingOnnx(data.features, encoding, boosted),
      probability: (row) => boostedProbability(boosted, row),
      algorithm: {
        name: 'gradient-boosted trees, log loss, Newton leaves, exact splits',
        hyperParameters: GRADIENT_BOOSTING,
        treeNodes: boosted.trees.reduce((sum, tree) => sum + tree.length, 0),
        preprocessing,
      },
    },
  ];

  const dataSha256 = sha256(readFileSync(DATA_FILE));
  const results: { version: string; metrics: BinaryClassificationMetrics; bytes: number }[] = [];
  for (const model of models) {
    const session = await ort.InferenceSession.create(model.onnx);
    const trainProbabilities = await checkedProbabilities(session, data.features, trainRows, trainEncoded, model, 'train');
    const holdoutProbabilities = await checkedProbabilities(session, data.features, holdoutRows, holdoutEncoded, model, 'holdout');
    await session.release();
    const metrics = binaryClassificationMetrics(holdoutChurned, holdoutProbabilities, THRESHOLD);
    const manifest: Manifest = {
      schemaVersion: MANIFEST_SCHEMA_VERSION,
      name: 'churn',
      version: model.version,
      description: model.description,
      task: 'binary-classification',
      features: data.features,
      inputs: data.features.map((feature) => ({ name: feature.name, dtype: inputDtype(feature), features: [feature.name] })),
      outputs: { label: 'label', probabilities: 'probabilities' },
      classLabels: CLASS_LABELS,
      positiveClass: POSITIVE_CLASS,
      threshold: THRESHOLD,
      model: { file: 'model.onnx', sha256: sha256(model.onnx) },
      baseline: {
        rows: trainRows.length,
        features: Object.fromEntries(data.features.map((feature) => [feature.name, baselineOf(feature, trainRows)])),
        prediction: numericBaseline(trainProbabilities),
      },
      // What the promotion pipeline holds each version to (docs/pipeline.md): both models clear ROC AUC 0.8 on
      // the holdout; v1 and v2 give the same label to ~90% of requests, so replay agreement asks for 85%.
      validation: VALIDATION,
      rollout: ROLLOUT,
      training: {
        data: {
          file: relative(REPO_ROOT, DATA_FILE),
          origin: 'IBM Telco Customer Churn sample data, github.com/IBM/telco-customer-churn-on-icp4d (Apache-2.0)',
          sha256: dataSha256,
          rows: data.table.rows.length,
          target: TARGET,
        },
        split: {
          method: `stratified on ${TARGET}, mulberry32 shuffle per class`,
          ...SPLIT,
          trainRows: split.train.length,
          holdoutRows: split.holdout.length,
          trainPositives: trainChurned.filter(Boolean).length,
          holdoutPositives: holdoutChurned.filter(Boolean).length,
        },
        code: relative(REPO_ROOT, fileURLToPath(import.meta.url)),
        algorithm: model.algorithm,
        onnx: { opsets: OPSETS, checkedAgainstTypeScript: ONNX_TOLERANCE },
        holdoutMetrics: { threshold: THRESHOLD, ...roundValues(metrics) },
      },
    };
    parseManifest(manifest);
    const directory = join(HERE, `v${model.version}`);
    mkdirSync(directory, { recursive: true });
    writeFileSync(join(directory, 'model.onnx'), model.onnx);
    writeFileSync(join(directory, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    writeFileSync(join(directory, 'holdout.csv'), toCsv(data.table, split.holdout));
    results.push({ version: model.version, metrics, bytes: model.onnx.length });
  }

  console.log(`train ${split.train.length} rows, holdout ${split.holdout.length} rows (seed ${SPLIT.seed})`);
  console.table(
    Object.fromEntries(results.map(({ version, metrics, bytes }) => [`v${version}`, { ...roundValues(metrics, 4), modelBytes: bytes }])),
  );
}

/**
 * Runs the ONNX model on the rows (one [N, 1] tensor per feature, NaN for a missing number) and returns
 * P(Yes) per row, after checking it against the TypeScript model and the label output against the threshold.
 */
async function checkedProbabilities(
  session: ort.InferenceSession,
  features: readonly FeatureSpec[],
  rows: readonly Row[],
  encoded: readonly Float64Array[],
  model: TrainedModel,
  part: string,
): Promise<number[]> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const feature of features) {
    const values = rows.map((row) => row[feature.name] ?? null);
    feeds[feature.name] =
      inputDtype(feature) === 'string'
        ? new ort.Tensor('string', values as string[], [rows.length, 1])
        : new ort.Tensor('float32', Float32Array.from(values, (value) => (value === null ? NaN : (value as number))), [rows.length, 1]);
  }
  const output = await session.run(feeds);
  const probabilities = output.probabilities?.data as Float32Array;
  const labels = output.label?.data as string[];
  const positiveColumn = CLASS_LABELS.indexOf(POSITIVE_CLASS);
  let largestDifference = 0;
  const positive = rows.map((_, i) => {
    const p = probabilities[i * CLASS_LABELS.length + positiveColumn] as number;
    largestDifference = Math.max(largestDifference, Math.abs(p - model.probability(encoded[i] as Float64Array)));
    const expectedLabel = p >= THRESHOLD ? POSITIVE_CLASS : NEGATIVE_CLASS;
    if (labels[i] !== expectedLabel) throw new Error(`v${model.version} ${part} row ${i}: ONNX label ${labels[i]} for P(Yes) = ${p}`);
    return p;
  });
  if (largestDifference > ONNX_TOLERANCE) {
    throw new Error(`v${model.version} ${part}: ONNX and TypeScript probabilities differ by up to ${largestDifference}`);
  }
  console.log(`v${model.version} ${part}: ONNX = TypeScript within ${largestDifference.toExponential(2)} on ${rows.length} rows`);
  return positive;
}

function baselineOf(feature: FeatureSpec, rows: readonly Row[]) {
  return featureBaseline(feature, rows.map((row) => row[feature.name] as FeatureValue | null));
}

function describePreprocessing(encoding: Encoding) {
  return {
    imputedWithTrainMedian: Object.fromEntries(encoding.numeric.map((name, i) => [name, encoding.imputeValues[i]])),
    oneHot: encoding.categorical.map(({ name }) => name),
    encodedColumns: encodedWidth(encoding),
  };
}

function roundValues<T extends object>(values: T, decimals = 6): Record<keyof T, number> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, Number((value as number).toFixed(decimals))])) as Record<keyof T, number>;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

await main();
