// Calibration of a classifier's probabilities, as NannyML does it for confidence-based performance estimation:
// an isotonic map per class (one-vs-rest), fitted on the labelled holdout at packaging time and kept only where
// it lowers the expected calibration error; then applied to every logged prediction before estimation.
import type { CalibrationSpec, ClassCalibration, Manifest } from '../manifest-types';
import { expectedCalibrationError } from '../metrics/classification';
import type { Target } from '../promotion/evaluation';
import { mulberry32 } from '../random';
import type { RowPrediction } from '../tensors';
import { applyIsotonic, fitIsotonic } from './isotonic';

/** Cross-validation folds for judging a map on rows it was not fitted on (NannyML: 10 shuffle splits). */
export const CALIBRATION_FOLDS = 10;
/** Fixed, so that packaging the same bundle twice gives the same calibration. */
const FOLD_SEED = 42;

export interface CalibrationFit {
  /** Undefined when no class could be judged (no probabilities, or too few rows of a class). */
  readonly calibration?: CalibrationSpec;
  /** What was decided and why, for the person packaging the bundle. */
  readonly notes: readonly string[];
}

/**
 * The calibration of a classifier from its predictions on a labelled holdout. Per class (binary: the positive
 * class; multiclass: each class against the rest):
 * 1. the raw P(class) of each row, and whether the row is of the class;
 * 2. out-of-fold calibrated probabilities: 10 stratified folds (seeded), each fold's rows mapped by the
 *    isotonic fit of the other nine;
 * 3. the expected calibration error (10 equal-width bins, the `calibrationError` the gates and the monitor
 *    report) of the raw and of the out-of-fold probabilities;
 * 4. the map fitted on every row is kept only when it lowered that error.
 * NannyML judges on 10 shuffle splits of 10% instead of folds, and with equal-frequency bins; folds use each
 * row exactly once. A class needs 10 rows in and 10 out of it to be judged.
 */
export function fitCalibration(manifest: Manifest, actual: readonly Target[], predictions: readonly RowPrediction[]): CalibrationFit {
  if (manifest.task === 'regression') return { notes: [] };
  if (actual.length !== predictions.length) {
    throw new RangeError(`expected one prediction per holdout row, got ${predictions.length} for ${actual.length} rows`);
  }
  if (manifest.outputs.probabilities === undefined) {
    return { notes: ['calibration: the model has no probabilities output, so quality cannot be estimated before labels arrive'] };
  }
  const notes: string[] = [];
  const classes: Record<string, ClassCalibration> = {};
  for (const label of calibratedClasses(manifest)) {
    const scores = predictions.map((p) => p.probabilities?.[label]);
    if (!scores.every((p): p is number => typeof p === 'number' && p >= 0 && p <= 1)) {
      notes.push(`calibration of ${JSON.stringify(label)}: some holdout predictions have no probability in [0, 1] for it; left uncalibrated`);
      continue;
    }
    const outcomes = actual.map((target) => String(target) === label);
    const members = outcomes.filter(Boolean).length;
    if (Math.min(members, outcomes.length - members) < CALIBRATION_FOLDS) {
      notes.push(
        `calibration of ${JSON.stringify(label)}: ${members} of ${outcomes.length} holdout rows are of this class; ` +
          `judging a map needs ${CALIBRATION_FOLDS} in and ${CALIBRATION_FOLDS} out of it, so it is left uncalibrated`,
      );
      continue;
    }
    const entry = judgeClass(scores, outcomes);
    classes[label] = entry;
    notes.push(
      `calibration of ${JSON.stringify(label)}: calibration error ${entry.rawError.toFixed(4)} raw, ${entry.calibratedError.toFixed(4)} calibrated (out of fold): ` +
        (entry.map ? `isotonic map kept (${entry.map.scores.length} knots)` : 'the raw probabilities are kept'),
    );
  }
  if (Object.keys(classes).length === 0) return { notes };
  return { calibration: { method: 'isotonic', holdoutRows: actual.length, classes }, notes };
}

/**
 * A prediction's probabilities as estimation reads them, keyed by class label: each class's map applied where
 * the manifest has one, then (multiclass) scaled to sum to 1, as NannyML does. Undefined when the prediction
 * lacks a probability in [0, 1] for a class.
 */
export function calibratedProbabilities(manifest: Manifest, probabilities: Readonly<Record<string, number>> | undefined): Record<string, number> | undefined {
  if (!probabilities || manifest.task === 'regression') return undefined;
  const maps = manifest.calibration?.classes ?? {};
  const calibrate = (label: string): number | undefined => {
    const p = Object.hasOwn(probabilities, label) ? probabilities[label] : undefined;
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) return undefined;
    const map = Object.hasOwn(maps, label) ? maps[label]?.map : undefined;
    return map ? applyIsotonic(map, p) : p;
  };
  const labels = (manifest.classLabels ?? []).map(String);
  if (manifest.task === 'binary-classification') {
    const positive = positiveLabel(manifest);
    const q = calibrate(positive);
    if (q === undefined) return undefined;
    const negative = labels.find((label) => label !== positive) as string;
    return { [negative]: 1 - q, [positive]: q };
  }
  const calibrated: Record<string, number> = {};
  let total = 0;
  for (const label of labels) {
    const q = calibrate(label);
    if (q === undefined) return undefined;
    calibrated[label] = q;
    total += q;
  }
  if (total > 0) for (const label of labels) calibrated[label] = (calibrated[label] as number) / total;
  return calibrated;
}

/** The classes a classifier's calibration has maps for: the positive class of a binary one, every class of a multiclass one. */
export function calibratedClasses(manifest: Manifest): string[] {
  return manifest.task === 'binary-classification' ? [positiveLabel(manifest)] : (manifest.classLabels ?? []).map(String);
}

function positiveLabel(manifest: Manifest): string {
  return String(manifest.positiveClass ?? manifest.classLabels?.[1]);
}

function judgeClass(scores: readonly number[], outcomes: readonly boolean[]): ClassCalibration {
  const fold = stratifiedFolds(outcomes);
  const outOfFold = new Array<number>(scores.length);
  for (let f = 0; f < CALIBRATION_FOLDS; f++) {
    const train = scores.map((_, i) => i).filter((i) => fold[i] !== f);
    const map = fitIsotonic(
      train.map((i) => scores[i] as number),
      train.map((i) => (outcomes[i] ? 1 : 0)),
    );
    scores.forEach((score, i) => {
      if (fold[i] === f) outOfFold[i] = applyIsotonic(map, score);
    });
  }
  const rawError = expectedCalibrationError(outcomes, scores);
  const calibratedError = expectedCalibrationError(outcomes, outOfFold);
  if (!(calibratedError < rawError)) return { rawError, calibratedError };
  return {
    rawError,
    calibratedError,
    map: fitIsotonic(
      scores,
      outcomes.map((y) => (y ? 1 : 0)),
    ),
  };
}

/** A fold per row: each class's rows shuffled (seeded) and dealt round the folds, so every fold has both. */
function stratifiedFolds(outcomes: readonly boolean[]): number[] {
  const random = mulberry32(FOLD_SEED);
  const fold = new Array<number>(outcomes.length);
  let dealt = 0;
  for (const member of [true, false]) {
    const rows = outcomes.map((y, i) => (y === member ? i : -1)).filter((i) => i >= 0);
    for (let i = rows.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [rows[i], rows[j]] = [rows[j] as number, rows[i] as number];
    }
    for (const row of rows) fold[row] = dealt++ % CALIBRATION_FOLDS;
  }
  return fold;
}
