/**
 * Trains the credit-default example model, a logistic regression, on examples/credit/data/train.csv and
 * writes examples/credit/model.onnx: a plain ONNX classifier with no manifest, the way a data scientist
 * hands one over. `modelgate package` makes the bundle from it (README, "Serve your own model").
 * Deterministic: the same data gives the same bytes. Run with `npm run train:credit`.
 *
 * The model is checked before it is written: onnxruntime must return the probabilities the TypeScript
 * model computes (to 1e-5) on the train and holdout rows.
 *
 * `npm run train:credit -- --source <UCI_Credit_Card.csv>` first rewrites data/train.csv and
 * data/holdout.csv from the original file (data/README.md says which rows and how they are split).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { column, parseCsv, type CsvTable } from '../../lambdas/core/csv';
import type { FeatureSpec } from '../../lambdas/core/manifest-types';
import { binaryClassificationMetrics } from '../../lambdas/core/metrics/classification';
import { loadLabelledCsv, stratifiedSplit, toCsv, type DatasetSpec } from '../training/dataset';
import { encodeRow, fitEncoding } from '../training/encoding';
import { logisticProbability, trainLogisticRegression, type LogisticRegressionOptions } from '../training/logistic-regression';
import { checkedProbabilities, type CheckedClassifier } from '../training/onnx-check';
import { logisticRegressionOnnx } from '../training/onnx-graph';

const HERE = dirname(fileURLToPath(import.meta.url));
const TRAIN_FILE = join(HERE, 'data', 'train.csv');
const HOLDOUT_FILE = join(HERE, 'data', 'holdout.csv');
const MODEL_FILE = join(HERE, 'model.onnx');

const TARGET = 'default.payment.next.month';
/** The first rows of the original file (ID 1 to 4000) are the example's data; 20% of them, stratified, the holdout. */
const SOURCE_ROWS = 4000;
const SPLIT = { holdoutFraction: 0.2, seed: 42 } as const;
/**
 * Codes, not quantities: one-hot encoded. PAY_0, the latest month's repayment status, is one too: -2, -1 and 0
 * are kinds of not being late, 1 to 9 months of delay. The older months' statuses stay numbers (one-hot for
 * them adds 40 columns and no ROC AUC on the holdout). Every other column is a number used as it is.
 */
const CATEGORICAL = new Set(['SEX', 'EDUCATION', 'MARRIAGE', 'PAY_0']);
const LOGISTIC_REGRESSION: LogisticRegressionOptions = { l2: 1, maxIterations: 50, tolerance: 1e-8 };
const THRESHOLD = 0.5;
const ONNX_TOLERANCE = 1e-5;

const DATASET: DatasetSpec = {
  target: TARGET,
  classes: ['0', '1'],
  exclude: ['ID'],
  feature: (name, cells): FeatureSpec =>
    CATEGORICAL.has(name) ? { name, type: 'integer', categories: [...new Set(cells.map(Number))].sort((a, b) => a - b) } : { name, type: 'integer' },
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { source: { type: 'string' } } });
  if (values.source !== undefined) writeSplit(parseCsv(readFileSync(values.source, 'utf8'), values.source));

  const train = loadLabelledCsv(TRAIN_FILE, DATASET);
  // The holdout is read with the features of the training file: its categories are the ones the model learnt.
  const byName = new Map(train.features.map((feature) => [feature.name, feature]));
  const holdout = loadLabelledCsv(HOLDOUT_FILE, { ...DATASET, feature: (name) => byName.get(name) });
  const encoding = fitEncoding(train.features, train.rows);
  const trainEncoded = train.rows.map((row) => encodeRow(encoding, row));
  const holdoutEncoded = holdout.rows.map((row) => encodeRow(encoding, row));

  const model = trainLogisticRegression(trainEncoded, train.positive, encoding.numeric.length, LOGISTIC_REGRESSION);
  const classifier: CheckedClassifier = {
    name: 'credit',
    onnx: logisticRegressionOnnx(train.features, encoding, model, {
      name: 'credit_default_logistic_regression',
      docString: 'Default of credit card clients: logistic regression on standardised amounts, ages and payment delays, and one-hot SEX, EDUCATION, MARRIAGE.',
      producer: 'modelgate examples/credit/train.ts',
      classLabels: [0, 1],
    }),
    probability: (row) => logisticProbability(model, row),
    classLabels: [0, 1],
    threshold: THRESHOLD,
    tolerance: ONNX_TOLERANCE,
  };
  const session = await ort.InferenceSession.create(classifier.onnx);
  await checkedProbabilities(session, train.features, train.rows, trainEncoded, classifier, 'train');
  const holdoutProbabilities = await checkedProbabilities(session, holdout.features, holdout.rows, holdoutEncoded, classifier, 'holdout');
  await session.release();
  writeFileSync(MODEL_FILE, classifier.onnx);

  const metrics = binaryClassificationMetrics(holdout.positive, holdoutProbabilities, THRESHOLD);
  console.log(`train ${train.rows.length} rows, holdout ${holdout.rows.length} rows; ${model.iterations} Newton steps; ${classifier.onnx.length} bytes`);
  console.table({ holdout: Object.fromEntries(Object.entries(metrics).map(([name, value]) => [name, Number(value.toFixed(4))])) });
}

/** data/train.csv and data/holdout.csv from the original file's first SOURCE_ROWS rows. */
function writeSplit(source: CsvTable): void {
  const table = { header: source.header, rows: source.rows.slice(0, SOURCE_ROWS) };
  const split = stratifiedSplit(
    column(table, TARGET).map((label) => label === '1'),
    SPLIT.holdoutFraction,
    SPLIT.seed,
  );
  writeFileSync(TRAIN_FILE, toCsv(table, split.train));
  writeFileSync(HOLDOUT_FILE, toCsv(table, split.holdout));
}

await main();
