import { expect } from 'vitest';
import type { ParsedFamily } from './exposition-parser';

/**
 * What every /metrics answer must satisfy beyond the grammar: counters named with `_total` as the format
 * wants it, and each histogram series with ascending bounds, cumulative (non-decreasing) buckets, a `+Inf`
 * bucket equal to its `_count`, and a `_sum`.
 */
export function checkExposition(families: readonly ParsedFamily[], format: 'text' | 'openmetrics'): void {
  for (const family of families) {
    if (family.type === 'counter') {
      expect(family.name.endsWith('_total'), `counter ${family.name}`).toBe(format === 'text');
      for (const sample of family.samples) expect(sample.name).toMatch(/_total$/);
    } else expect(family.name, `${family.type} ${family.name}`).not.toMatch(/_total$/);
    if (family.type !== 'histogram') continue;
    const series = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
    for (const sample of family.samples) {
      const { le, ...labels } = sample.labels;
      const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
      const entry = series.get(key) ?? { buckets: [] };
      series.set(key, entry);
      if (sample.name === `${family.name}_bucket`) {
        expect(le, `${sample.name} without le`).toBeDefined();
        entry.buckets.push([le === '+Inf' ? Infinity : Number(le), sample.value]);
      } else if (sample.name === `${family.name}_count`) entry.count = sample.value;
      else if (sample.name === `${family.name}_sum`) entry.sum = sample.value;
    }
    for (const [key, { buckets, count, sum }] of series) {
      const where = `${family.name}${key}`;
      expect(
        buckets.map(([le]) => le).every((le, i, all) => !Number.isNaN(le) && (i === 0 || le > (all[i - 1] as number))),
        `${where}: bounds ascending`,
      ).toBe(true);
      expect(
        buckets.map(([, n]) => n).every((n, i, all) => i === 0 || n >= (all[i - 1] as number)),
        `${where}: buckets cumulative`,
      ).toBe(true);
      expect(buckets.at(-1), `${where}: last bucket is le="+Inf" and equals _count`).toEqual([Infinity, count]);
      expect(sum, `${where}: _sum`).toBeTypeOf('number');
    }
  }
}
