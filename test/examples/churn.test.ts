import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { column, parseCsv, type CsvTable } from '../../lambdas/core/csv';
import { parseManifestJson, type DistributionBaseline, type Manifest } from '../../lambdas/core/manifest';
import { rocAuc } from '../../lambdas/core/metrics/classification';
import { onnxProbabilities } from '../support/onnx-probabilities';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'churn');
const VERSIONS = ['v1', 'v2'] as const;

interface Bundle {
  readonly manifest: Manifest;
  readonly model: Buffer;
  readonly holdout: CsvTable;
  /** P(positive class) per holdout row, from onnxruntime. */
  probabilities: number[];
}

const bundles = {} as Record<(typeof VERSIONS)[number], Bundle>;

beforeAll(async () => {
  for (const version of VERSIONS) {
    const directory = join(EXAMPLE, version);
    const manifest = parseManifestJson(readFileSync(join(directory, 'manifest.json'), 'utf8'));
    const model = readFileSync(join(directory, manifest.model.file));
    const holdout = parseCsv(readFileSync(join(directory, 'holdout.csv'), 'utf8'));
    bundles[version] = { manifest, model, holdout, probabilities: await positiveProbabilities(manifest, model, holdout) };
  }
});

/** P(positive class) per holdout row, from onnxruntime. */
async function positiveProbabilities(manifest: Manifest, model: Buffer, table: CsvTable): Promise<number[]> {
  const positiveColumn = (manifest.classLabels as readonly (string | number)[]).indexOf(manifest.positiveClass as string);
  return (await onnxProbabilities(manifest, model, table)).map((row) => row[positiveColumn] as number);
}

function countsTotal(distribution: DistributionBaseline): number {
  const counts = Object.values(distribution.counts).reduce((sum, n) => sum + n, 0);
  return distribution.kind === 'numeric' ? counts + distribution.underflow + distribution.overflow + distribution.missing : counts + distribution.missing;
}

describe.each(VERSIONS)('churn example %s', (version) => {
  it('names the sha256 of its model file', () => {
    const { manifest, model } = bundles[version];
    expect(createHash('sha256').update(model).digest('hex')).toBe(manifest.model.sha256);
  });

  it('is small enough to commit', () => {
    expect(bundles[version].model.length).toBeLessThan(1_000_000);
  });

  it('separates churners from the rest on the holdout (AUC >= 0.80), as its manifest reports', () => {
    const { manifest, holdout, probabilities } = bundles[version];
    const churned = column(holdout, 'Churn').map((label) => label === manifest.positiveClass);
    const auc = rocAuc(churned, probabilities);
    expect(auc).toBeGreaterThanOrEqual(0.8);
    const reported = (manifest.training?.holdoutMetrics as { rocAuc: number }).rocAuc;
    expect(auc).toBeCloseTo(reported, 5);
  });

  it('has a baseline whose counts add up to the train rows', () => {
    const { manifest } = bundles[version];
    const baseline = manifest.baseline!;
    expect(baseline.rows).toBe((manifest.training?.split as { trainRows: number }).trainRows);
    expect(Object.keys(baseline.features).sort()).toEqual(manifest.features.map((f) => f.name).sort());
    for (const distribution of [...Object.values(baseline.features), baseline.prediction!]) {
      expect(distribution.count).toBe(baseline.rows);
      expect(countsTotal(distribution)).toBe(baseline.rows);
    }
  });
});

describe('churn examples v1 and v2', () => {
  it('are different models: same holdout rows, different probabilities', () => {
    const v1 = bundles.v1.probabilities;
    const v2 = bundles.v2.probabilities;
    expect(bundles.v1.holdout).toEqual(bundles.v2.holdout);
    expect(bundles.v1.manifest.model.sha256).not.toBe(bundles.v2.manifest.model.sha256);
    const largestDifference = Math.max(...v1.map((p, i) => Math.abs(p - (v2[i] as number))));
    expect(largestDifference).toBeGreaterThan(0.05);
  });
});
