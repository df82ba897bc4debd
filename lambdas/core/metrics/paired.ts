/** Metrics compare row by row: both arrays must be non-empty and of equal length. */
export function checkPaired(actual: readonly unknown[], predicted: readonly unknown[]): void {
  if (actual.length !== predicted.length) {
    throw new RangeError(`expected as many predictions as actual values, got ${predicted.length} and ${actual.length}`);
  }
  if (actual.length === 0) throw new RangeError('a metric needs at least one row');
}
