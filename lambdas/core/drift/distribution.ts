// Reference against current, bin by bin: what a person looks at to see a drift rather than read its
// statistic. The bins are the ones the statistic is computed over (the baseline's frozen edges or
// categories, and the values that fall outside them), as shares of the values that are not missing.
import type { DistributionBaseline } from '../manifest-types';
import type { FeatureAggregate } from './aggregate';

export interface DistributionBin {
  /** `[18.3, 29.4)` for a numeric bin, `< 18.3` / `>= 118.8` for values outside the edges, the category otherwise. */
  readonly label: string;
  /** Share of the reference's (the training baseline's) values in this bin; 0 for a bin only the current has. */
  readonly reference: number;
  /** Share of the current window's values in this bin. */
  readonly current: number;
}

export interface DistributionComparison {
  readonly kind: 'numeric' | 'categorical';
  readonly bins: readonly DistributionBin[];
  /** Values the shares are of (missing left out), each side. */
  readonly referenceValues: number;
  readonly currentValues: number;
}

/**
 * The baseline's distribution beside a window's aggregate. Numeric: the baseline's bins, plus an underflow and
 * an overflow bin when either side has values there. Categorical: the baseline's categories, then the unseen
 * categories the aggregate kept by name, then the other unseen ones together.
 */
export function compareDistributions(baseline: DistributionBaseline, aggregate: FeatureAggregate): DistributionComparison {
  if (baseline.kind === 'numeric' && aggregate.kind === 'numeric') {
    const { edges } = baseline;
    const rows: [string, number, number][] = baseline.counts.map((count, i) => [
      // The last bin also holds its upper edge (lambdas/core/baseline.ts binIndex).
      `[${short(edges[i] as number)}, ${short(edges[i + 1] as number)}${i === baseline.counts.length - 1 ? ']' : ')'}`,
      count,
      aggregate.counts[i] ?? 0,
    ]);
    if (baseline.underflow + aggregate.underflow > 0) rows.unshift([`< ${short(edges[0] as number)}`, baseline.underflow, aggregate.underflow]);
    if (baseline.overflow + aggregate.overflow > 0) rows.push([`> ${short(edges[edges.length - 1] as number)}`, baseline.overflow, aggregate.overflow]);
    return shares('numeric', rows);
  }
  if (baseline.kind === 'categorical' && aggregate.kind === 'categorical') {
    const rows: [string, number, number][] = Object.entries(baseline.counts).map(([category, count]) => [category, count, aggregate.counts[category] ?? 0]);
    for (const [category, count] of Object.entries(aggregate.unseen)) rows.push([category, 0, count]);
    if (aggregate.otherUnseen > 0) rows.push(['(other unseen)', 0, aggregate.otherUnseen]);
    return shares('categorical', rows);
  }
  throw new TypeError(`a ${aggregate.kind} aggregate cannot be compared with a ${baseline.kind} baseline`);
}

function shares(kind: DistributionComparison['kind'], rows: readonly [string, number, number][]): DistributionComparison {
  const referenceValues = rows.reduce((sum, [, reference]) => sum + reference, 0);
  const currentValues = rows.reduce((sum, [, , current]) => sum + current, 0);
  return {
    kind,
    bins: rows.map(([label, reference, current]) => ({
      label,
      reference: referenceValues === 0 ? 0 : reference / referenceValues,
      current: currentValues === 0 ? 0 : current / currentValues,
    })),
    referenceValues,
    currentValues,
  };
}

/** Edges as a person reads them: 4 significant digits. */
function short(value: number): string {
  return String(Number(value.toPrecision(4)));
}
