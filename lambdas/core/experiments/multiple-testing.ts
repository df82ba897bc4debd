// Corrections for reading several metrics of one experiment: without them, the more metrics, the more
// likely one of them looks significant by chance.

/**
 * `holm`: controls the family-wise error rate (the chance of any false positive), uniformly more powerful
 * than Bonferroni. `benjamini-hochberg`: controls the false discovery rate (the expected share of false
 * positives among the metrics called significant), more powerful when many metrics are read.
 */
export type Correction = 'holm' | 'benjamini-hochberg';

/** Adjusted p-values in the order given; compare each with alpha as usual (same as R's p.adjust). */
export function adjustPValues(pValues: readonly number[], correction: Correction): number[] {
  const m = pValues.length;
  const ascending = pValues.map((p, index) => ({ p, index })).sort((a, b) => a.p - b.p);
  const adjusted = new Array<number>(m);
  if (correction === 'holm') {
    // Step-down: the k-th smallest is scaled by (m - k), kept non-decreasing.
    let running = 0;
    ascending.forEach(({ p, index }, rank) => {
      running = Math.max(running, Math.min(1, (m - rank) * p));
      adjusted[index] = running;
    });
  } else {
    // Step-up: from the largest down, the k-th smallest is scaled by m / k, kept non-increasing.
    let running = 1;
    for (let rank = m - 1; rank >= 0; rank--) {
      const { p, index } = ascending[rank]!;
      running = Math.min(running, (m / (rank + 1)) * p);
      adjusted[index] = running;
    }
  }
  return adjusted;
}
