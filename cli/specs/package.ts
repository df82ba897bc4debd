import { defineCommand } from '../command';
import { jsonOption } from '../target-options';

export const packageOptions = {
  onnx: { type: 'string' },
  mlflow: { type: 'string' },
  train: { type: 'string' },
  target: { type: 'string' },
  holdout: { type: 'string' },
  name: { type: 'string' },
  version: { type: 'string' },
  out: { type: 'string' },
  strategy: { type: 'string' },
  exclude: { type: 'string' },
  passthrough: { type: 'string' },
  task: { type: 'string' },
  ...jsonOption,
} as const;

export const packageSpec = defineCommand({
  name: 'package',
  summary: 'Build a model bundle (model, manifest with schema and baseline, holdout) from an ONNX model and a training CSV',
  usage: `usage: modelgate package --onnx <m.onnx> --train <train.csv> --target <column> --name <model>
                        --version <v> --out <dir> [options]
       modelgate package --mlflow <model dir> --train <train.csv> --target <column> --name <model>
                        --version <v> --out <dir> [options]

Builds a model bundle in <dir>: model.onnx (ZipMap removed), manifest.json (validated) and, with
--holdout, holdout.csv. The feature schema comes from the training CSV, the feature -> input mapping
from the model's inputs: an input named like a column takes that column; one remaining [N, F] input
takes the remaining columns in CSV order. The baseline is computed from the training rows and the
model's predictions on them. See docs/cli.md and docs/bundle.md.

  --onnx <file>         the ONNX model (--model is its old name)
  --mlflow <dir>        an MLflow model directory with the onnx flavor (MLmodel, model.onnx):
                        its signature's columns are the features, its run id and model uuid the
                        lineage; its input example is checked. A pickle, a joblib file or a
                        TensorFlow SavedModel is refused with the command that converts it
  --train <file>        training CSV with a header row: the features and the target
  --target <column>     the column holding the label (classification) or value (regression)
  --holdout <file>      labelled holdout CSV: copied into the bundle, its metrics printed, and
                        default gates written (better than chance; docs/bundle.md)
  --name <model>        model name: lower-case letters, digits and dashes
  --version <v>         model version, e.g. 3 or 2024-06-01
  --out <dir>           where to write the bundle (created if missing)
  --strategy <s>        rollout: canary | linear | ab-test | shadow | all-at-once (default: canary)
  --exclude <a,b,...>   columns that are neither features nor the target, dropped
  --passthrough <a,...> columns that are not features but pass through requests to the log
                        and the answer (an entity id); the first is the join key feedback
                        may name instead of a predictionId
  --task <task>         binary-classification | multiclass-classification | regression
                        (default: inferred from the model's outputs and the target column)
  --json                print the summary as JSON

Exit codes: 0 bundle written, 1 the bundle could not be written, 2 bad usage or input (a model whose
inputs do not match the CSV, a missing target column, a model that does not load).`,
  options: packageOptions,
  renamed: { model: 'onnx' },
  positionals: false,
  load: () => import('../commands/package').then((m) => m.runPackage),
});
