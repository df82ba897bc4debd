// Isotonic regression by pool-adjacent-violators: the non-decreasing function of a score that is closest (least
// squares) to the observed outcomes. Fitted on a holdout's scores and 0/1 outcomes it is the calibration map
// NannyML uses (sklearn's IsotonicRegression(out_of_bounds='clip')).

/**
 * A non-decreasing map from a model's score to a probability, as knots: `scores` strictly ascending, one
 * probability each. Between knots it is linear; below the first and above the last it is the end value.
 */
export interface IsotonicMap {
  readonly scores: readonly number[];
  readonly probabilities: readonly number[];
}

/**
 * The isotonic fit of `y` on `x` (equal lengths, at least one point). Points with the same x are pooled
 * first (their mean y, weighted by their count); then adjacent blocks are pooled while a block's mean is not
 * below the next one's, so the block means rise strictly. Each block becomes the knots at its smallest and
 * largest x, both at the block's mean: the same function as sklearn's, which drops the interior points of a
 * run of equal values.
 */
export function fitIsotonic(x: readonly number[], y: readonly number[]): IsotonicMap {
  if (x.length !== y.length) throw new RangeError(`isotonic regression needs one y per x, got ${x.length} x and ${y.length} y`);
  if (x.length === 0) throw new RangeError('isotonic regression needs at least one point');
  const order = x.map((_, i) => i).sort((a, b) => (x[a] as number) - (x[b] as number));
  const blocks: { weight: number; sum: number; first: number; last: number }[] = [];
  for (let k = 0; k < order.length; ) {
    const value = x[order[k] as number] as number;
    const block = { weight: 0, sum: 0, first: value, last: value };
    for (; k < order.length && x[order[k] as number] === value; k++) {
      block.weight++;
      block.sum += y[order[k] as number] as number;
    }
    blocks.push(block);
    while (blocks.length >= 2) {
      const last = blocks[blocks.length - 1] as (typeof blocks)[number];
      const previous = blocks[blocks.length - 2] as (typeof blocks)[number];
      if (previous.sum / previous.weight < last.sum / last.weight) break;
      previous.weight += last.weight;
      previous.sum += last.sum;
      previous.last = last.last;
      blocks.pop();
    }
  }
  const scores: number[] = [];
  const probabilities: number[] = [];
  for (const block of blocks) {
    const mean = block.sum / block.weight;
    scores.push(block.first);
    probabilities.push(mean);
    if (block.last !== block.first) {
      scores.push(block.last);
      probabilities.push(mean);
    }
  }
  return { scores, probabilities };
}

/** The map's value at `score`: linear between knots, the end value beyond them. */
export function applyIsotonic(map: IsotonicMap, score: number): number {
  const { scores, probabilities } = map;
  const last = scores.length - 1;
  if (score <= (scores[0] as number)) return probabilities[0] as number;
  if (score >= (scores[last] as number)) return probabilities[last] as number;
  // The last knot at or below the score: scores[low] <= score < scores[low + 1].
  let low = 0;
  let high = last;
  while (high - low > 1) {
    const middle = (low + high) >> 1;
    if ((scores[middle] as number) <= score) low = middle;
    else high = middle;
  }
  const x0 = scores[low] as number;
  const x1 = scores[low + 1] as number;
  const y0 = probabilities[low] as number;
  const y1 = probabilities[low + 1] as number;
  return y0 + ((y1 - y0) * (score - x0)) / (x1 - x0);
}
