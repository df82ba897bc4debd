/** Regression quality metrics, defined like scikit-learn's. Pure functions over plain arrays. */

import { checkPaired } from './paired';

export function meanAbsoluteError(actual: readonly number[], predicted: readonly number[]): number {
  checkPaired(actual, predicted);
  return actual.reduce((sum, y, i) => sum + Math.abs(y - (predicted[i] as number)), 0) / actual.length;
}

export function rootMeanSquaredError(actual: readonly number[], predicted: readonly number[]): number {
  checkPaired(actual, predicted);
  return Math.sqrt(sumOfSquaredErrors(actual, predicted) / actual.length);
}

/**
 * Coefficient of determination, 1 - SS_res / SS_tot. When the actual values are constant (SS_tot = 0)
 * it is 1 for a perfect prediction and 0 otherwise, like sklearn's r2_score (force_finite=True).
 */
export function r2Score(actual: readonly number[], predicted: readonly number[]): number {
  checkPaired(actual, predicted);
  const mean = actual.reduce((sum, y) => sum + y, 0) / actual.length;
  const totalSumOfSquares = actual.reduce((sum, y) => sum + (y - mean) ** 2, 0);
  const residualSumOfSquares = sumOfSquaredErrors(actual, predicted);
  if (totalSumOfSquares === 0) return residualSumOfSquares === 0 ? 1 : 0;
  return 1 - residualSumOfSquares / totalSumOfSquares;
}

function sumOfSquaredErrors(actual: readonly number[], predicted: readonly number[]): number {
  return actual.reduce((sum, y, i) => sum + (y - (predicted[i] as number)) ** 2, 0);
}
