// `modelgate quality --bundle <dir> --current <csv>`: the monitor's estimated quality (CBPE) on an unlabeled
// CSV, offline. The rows are read and checked as `replay` reads them (cli/replay-engine.ts), scored by the
// bundle's model in onnxruntime as `package` and `validate` score the holdout, and estimated by the core
// code the monitor runs (lambdas/core/estimation/estimated-quality.ts), with the bundle's calibration.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadModel, ModelLoadError } from '../../lambdas/adapters/onnx-runtime';
import { CsvError } from '../../lambdas/core/csv';
import { describeIssues, ManifestError } from '../../lambdas/core/errors';
import { ESTIMATED_METRICS, EstimationError, estimateQualityOnRows, estimationFor, type RowsEstimate } from '../../lambdas/core/estimation/estimated-quality';
import { parseManifestJson, type Manifest } from '../../lambdas/core/manifest';
import { OnnxFormatError } from '../../lambdas/core/onnx-graph';
import { holdoutTargets } from '../../lambdas/core/promotion/evaluation';
import { validateRows } from '../../lambdas/core/request';
import { ContractError } from '../../lambdas/core/tensors';
import { readBundleManifest } from '../bundle-folder';
import { columns } from '../columns';
import { QUALITY_METRIC_LABELS } from '../metric-labels';
import type { CommandRun } from '../command';
import { readReplayInput, ReplayInputError, type ReplayInput } from '../replay-engine';
import type { qualityOptions } from '../specs/quality';
import { UsageError } from '../usage-error';

/** Bad rows listed in the error before "and N more". */
const BAD_ROWS_SHOWN = 10;

export const runQuality: CommandRun<typeof qualityOptions> = async ({ values }) => {
  const dir = values.bundle as string;
  const source = values.current as string;
  const manifest = bundleManifest(await readBundleManifest(dir, '--bundle'), dir);
  try {
    estimationFor(manifest);
  } catch (error) {
    if (error instanceof EstimationError)
      throw new UsageError(`--bundle ${dir}: ${error.message}`, 'estimate a binary or multiclass classifier whose manifest names outputs.probabilities');
    throw error;
  }
  const input = readRows(manifest, await readCsv(source), source, values.target);
  const actual = values.target === undefined ? undefined : targets(manifest, input, source, values.target);
  const estimate = estimateQualityOnRows(manifest, await predict(manifest, dir, input), actual);
  const result = { model: manifest.name, version: manifest.version, file: source, ...estimate };
  console.log(values.json ? JSON.stringify(result, null, 2) : table(manifest, source, estimate));
  return 0;
};

function bundleManifest(raw: string, dir: string): Manifest {
  try {
    return parseManifestJson(raw);
  } catch (error) {
    if (error instanceof ManifestError)
      throw new UsageError(`--bundle ${dir}: its manifest is invalid:\n${describeIssues(error.issues)}`, 'rebuild the bundle with `modelgate package`');
    throw new UsageError(`--bundle ${dir}: its manifest is invalid: ${(error as Error).message}`, 'rebuild the bundle with `modelgate package`');
  }
}

async function readCsv(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new UsageError(`--current ${path}: cannot read it: ${reason}`, 'check the path');
  }
}

/** Every row as the predict route would take it; one that it would refuse makes the whole file bad input. */
function readRows(manifest: Manifest, text: string, source: string, target: string | undefined): ReplayInput {
  let input: ReplayInput;
  try {
    input = readReplayInput(manifest, text, { format: 'csv', source, ...(target !== undefined ? { target } : {}) });
  } catch (error) {
    if (error instanceof ReplayInputError) throw new UsageError(error.message, `give a CSV whose header names the features of ${manifest.name} v${manifest.version}`);
    throw error;
  }
  if (input.bad.length > 0) {
    const shown = input.bad.slice(0, BAD_ROWS_SHOWN).map((row) => `  line ${row.line}: ${row.reason}`);
    const more = input.bad.length > BAD_ROWS_SHOWN ? [`  ... and ${input.bad.length - BAD_ROWS_SHOWN} more`] : [];
    throw new UsageError(
      `${source}: ${input.bad.length} of ${input.bad.length + input.rows.length} rows do not fit ${manifest.name} v${manifest.version}:\n${[...shown, ...more].join('\n')}`,
      'fix or remove those rows: an estimate over the rest would not be the estimate of this file',
    );
  }
  if (input.rows.length === 0) throw new UsageError(`${source}: no rows to estimate on`, 'give a CSV with a header and at least one row');
  return input;
}

/** The label column's values; with every row good, row i is line i + 2, as holdoutTargets names them. */
function targets(manifest: Manifest, input: ReplayInput, source: string, target: string) {
  try {
    return holdoutTargets(
      manifest,
      input.rows.map((row) => String(row.actual ?? '')),
      source,
    );
  } catch (error) {
    if (error instanceof CsvError) throw new UsageError(error.message.replace(', target:', `, column "${target}":`), `every row needs a label of ${manifest.name} with --target`);
    throw error;
  }
}

async function predict(manifest: Manifest, dir: string, input: ReplayInput) {
  const modelPath = join(dir, manifest.model.file);
  const bytes = await readFile(modelPath).catch(() => {
    throw new UsageError(`--bundle ${dir}: cannot read ${modelPath}, the model its manifest names`, 'give the complete bundle folder');
  });
  try {
    const model = await loadModel(manifest, new Uint8Array(bytes));
    try {
      return await model.predict(
        validateRows(
          manifest,
          input.rows.map((row) => row.instance),
        ),
      );
    } finally {
      await model.release();
    }
  } catch (error) {
    if (error instanceof ManifestError)
      throw new UsageError(`--bundle ${dir}: the model does not match its manifest:\n${describeIssues(error.issues)}`, 'rebuild the bundle with `modelgate package`');
    if (error instanceof ModelLoadError || error instanceof ContractError || error instanceof OnnxFormatError) {
      throw new UsageError(`--bundle ${dir}: ${error.message}`, 'rebuild the bundle with `modelgate package`');
    }
    throw error;
  }
}

/** Per metric: the estimate, its interval, the realized value when labelled, and a note below the minimum sample. */
function table(manifest: Manifest, source: string, estimate: RowsEstimate): string {
  const labelled = estimate.realized !== undefined;
  const header = ['metric', 'estimated', 'interval (+-3 SE)', ...(labelled ? ['realized'] : []), 'notes'];
  const rows = ESTIMATED_METRICS.filter((name) => estimate.estimated[name] !== undefined).map((name) => {
    const interval = estimate.interval[name];
    const sample = estimate.samples[name];
    const realized = estimate.realized?.[name];
    return [
      QUALITY_METRIC_LABELS[name],
      (estimate.estimated[name] as number).toFixed(4),
      interval ? `${interval.lower.toFixed(4)} - ${interval.upper.toFixed(4)}` : '-',
      ...(labelled ? [realized === undefined ? '-' : realized.toFixed(4)] : []),
      sample && !sample.enough ? `not enough data: rests on ${Math.round(sample.size)}, a verdict needs ${sample.minimum}` : '',
    ];
  });
  const classes = manifest.classLabels?.length ?? 0;
  const scope = classes > 2 ? `macro averages over ${classes} classes` : `positive class ${JSON.stringify(manifest.positiveClass ?? manifest.classLabels?.[1])}`;
  return [`${manifest.name} v${manifest.version} on ${source}: ${estimate.rows} rows, ${scope}, ${calibrationNote(manifest)}`, '', columns([header, ...rows])].join('\n');
}

/** Which probabilities the estimate rests on: the bundle's calibration applies only where it lowered the error. */
function calibrationNote(manifest: Manifest): string {
  if (!manifest.calibration) return 'raw probabilities (the bundle has no calibration: package it with a holdout)';
  const calibrated = Object.entries(manifest.calibration.classes)
    .filter(([, calibration]) => calibration.map !== undefined)
    .map(([label]) => JSON.stringify(label));
  if (calibrated.length === 0) return 'raw probabilities (calibrating them did not lower their calibration error on the holdout)';
  return `probabilities calibrated on the holdout (isotonic) for ${calibrated.join(', ')}`;
}
