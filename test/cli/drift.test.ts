import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../lambdas/core/csv';
import type { DriftReport } from '../../lambdas/core/drift/report';
import { runCli, type CliResult } from '../support/cli';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixtures = join(root, 'test/fixtures/drift');
const directory = mkdtempSync(join(tmpdir(), 'modelgate-drift-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** Runs `modelgate drift ...` from the repository root. */
function drift(...args: string[]): Promise<CliResult> {
  return runCli(['drift', ...args], { cwd: root });
}

async function driftJson(...args: string[]): Promise<DriftReport> {
  const run = await drift(...args, '--json');
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as DriftReport;
}

function file(name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

/** A one-column CSV with each category repeated its count of times. */
function categoryCsv(name: string, counts: readonly number[]): string {
  const cells = counts.flatMap((count, i) => new Array<string>(count).fill(`c${i + 1}`));
  return file(name, `${['color', ...cells].join('\n')}\n`);
}

describe('modelgate drift: output', () => {
  const reference = file('shape-ref.csv', 'age,plan\n20,basic\n30,pro\n,basic\n40,basic\n50,pro\n60,basic\n70,pro\n');
  const current = file('shape-cur.csv', 'age,plan,extra\n25,basic,1\n95,gold,2\n35,,3\n45,pro,4\n');

  it('--json prints features with method, statistic, pValue, threshold, drifted, and driftShare, datasetDrift', async () => {
    const report = await driftJson('--reference', reference, '--current', current);
    expect(Object.keys(report).sort()).toEqual(['assessed', 'datasetDrift', 'driftShare', 'features', 'status']);
    expect(Object.keys(report.features)).toEqual(['age', 'plan']);
    for (const feature of Object.values(report.features)) {
      expect(feature).toEqual(
        expect.objectContaining({
          method: expect.any(String),
          statistic: expect.any(Number),
          threshold: expect.any(Number),
          drifted: expect.any(Boolean),
        }),
      );
      expect('pValue' in feature).toBe(true);
    }
    expect(report.features.age).toMatchObject({ kind: 'numeric', method: 'ks', reference: { values: 6, missing: 1 }, outOfRange: 1 });
    expect(report.features.plan).toMatchObject({
      kind: 'categorical',
      method: 'chisquare',
      current: { values: 3, missing: 1 },
      unseenCategories: 1,
      unseenExamples: ['gold'],
    });
    expect(typeof report.driftShare).toBe('number');
    expect(typeof report.datasetDrift).toBe('boolean');
  });

  it('prints a table by default (four rows: no verdict on any column)', async () => {
    const run = await drift('--reference', reference, '--current', current);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^column\s+type\s+method\s+values\s+statistic\s+p-value\s+threshold\s+drift\s+notes/);
    expect(run.stdout).toMatch(/^plan\s+categorical\s+chisquare\s+3\s.*not enough data\s+needs 30 values; missing 0 -> 1; 1 in unseen categories \(e\.g\. gold\)$/m);
    expect(run.stdout).toContain('0 of 2 columns have the values a verdict needs; dataset drift: not enough data');
  });

  it('reproduces the Evidently categorical known answers from CSV files', async () => {
    const reference = categoryCsv('known-ref.csv', [16, 18, 16, 14, 12, 12]);
    const current = categoryCsv('known-cur.csv', [16, 16, 16, 16, 16, 8]);
    const byDefault = (await driftJson('--reference', reference, '--current', current)).features.color!;
    expect(byDefault).toMatchObject({ method: 'chisquare', threshold: 0.05, drifted: false });
    expect(byDefault.pValue).toBeCloseTo(0.89853, 5); // test of homogeneity: see docs/drift.md
    expect(byDefault.statistic).toBeCloseTo(1.6224, 4);
    const psi = (await driftJson('--reference', reference, '--current', current, '--method', 'psi')).features.color!;
    expect(psi).toMatchObject({ method: 'psi', pValue: null, threshold: 0.1, drifted: false });
    expect(psi.statistic).toBeCloseTo(0.03722, 5);
    const js = await driftJson('--reference', reference, '--current', current, '--method', 'jensenshannon', '--threshold', '0.05');
    expect(js.features.color!.statistic).toBeCloseTo(0.06805, 5);
    // 88 against 88 values are too few for a Jensen-Shannon verdict at 0.05 (docs/drift.md, minimum samples).
    expect(js).toMatchObject({ status: 'not-enough-data', datasetDrift: false });
  });
});

describe('modelgate drift: bad input exits 2 with the reason', () => {
  const good = file('good.csv', 'age,plan\n20,basic\n30,pro\n');

  it.each([
    ['a column missing from the current file', () => ['--current', file('no-plan.csv', 'age\n20\n')], /no column "plan"/],
    ['an empty file', () => ['--current', file('empty.csv', '')], /empty file/],
    ['a header without rows', () => ['--current', file('header.csv', 'age,plan\n')], /no data rows/],
    ['a file that does not exist', () => ['--current', join(directory, 'missing.csv')], /cannot read .*missing\.csv: no such file/],
    [
      'a non-number in a column that is numeric in the reference',
      () => ['--current', file('text-age.csv', 'age,plan\n20,basic\nabc,pro\n')],
      /column "age" is numeric in the reference, but line 3 has "abc"/,
    ],
    ['a row with too many cells', () => ['--current', file('ragged.csv', 'age,plan\n20,basic,x\n')], /line 2 has 3 cells, the header has 2/],
    ['a method that cannot apply to a column', () => ['--current', good, '--method', 'ks'], /"plan": ks needs numeric values/],
    ['an unknown column in --exclude', () => ['--current', good, '--exclude', 'height'], /no column "height"/],
  ])('%s', async (_, args, reason) => {
    const run = await drift('--reference', good, ...args());
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(reason);
    expect(run.stdout).toBe('');
  });

  it.each([
    ['no --reference', ['--current', 'b.csv'], /--reference is required/],
    ['an unknown method', ['--reference', 'a.csv', '--current', 'b.csv', '--method', 'magic'], /--method must be one of/],
    ['a threshold that is not a positive number', ['--reference', 'a.csv', '--current', 'b.csv', '--threshold', '0'], /--threshold must be a number > 0/],
    ['an unknown option', ['--reference', 'a.csv', '--current', 'b.csv', '--frobnicate'], /frobnicate/],
  ])('bad usage: %s (one line with the next step)', async (_, args, reason) => {
    const run = await drift(...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(reason);
    expect(run.stderr).toMatch(/^modelgate drift: [^\n]+; [^\n]+\n$/);
  });
});

describe('modelgate drift on the telco churn data (a 1 200-row training sample and a 1 200-row holdout)', () => {
  const reference = join(fixtures, 'telco-reference.csv');
  const holdout = join(fixtures, 'telco-current.csv');

  /** The holdout with only month-to-month contracts and monthly charges up 30%. */
  function shifted(rows?: number): string {
    const table = parseCsv(readFileSync(holdout, 'utf8'));
    const contract = table.header.indexOf('Contract');
    const charges = table.header.indexOf('MonthlyCharges');
    const kept = table.rows
      .filter((row) => row[contract] === 'Month-to-month')
      .slice(0, rows)
      .map((row) => row.map((cell, i) => (i === charges ? (Number(cell) * 1.3).toFixed(2) : cell)));
    return file(`telco-shifted-${rows ?? 'all'}.csv`, `${[table.header, ...kept].map((row) => row.join(',')).join('\n')}\n`);
  }

  it('the holdout against itself: every statistic 0, no drift', async () => {
    const report = await driftJson('--reference', holdout, '--current', holdout);
    expect(Object.keys(report.features)).toHaveLength(21);
    for (const feature of Object.values(report.features)) {
      expect(feature.statistic).toBeCloseTo(0, 12);
      expect(feature.drifted).toBe(false);
    }
    expect(report).toMatchObject({ driftShare: 0, datasetDrift: false });
  });

  it('training sample against the holdout: no dataset drift; Wasserstein / Jensen-Shannon chosen (> 1000 rows)', async () => {
    const report = await driftJson('--reference', reference, '--current', holdout, '--exclude', 'customerID');
    expect(report.datasetDrift).toBe(false);
    expect(report.driftShare).toBeLessThan(0.2);
    expect(report.features.Contract).toMatchObject({ method: 'jensenshannon', drifted: false });
    expect(report.features.MonthlyCharges).toMatchObject({ method: 'wasserstein', drifted: false });
    expect(report.features.TotalCharges).toMatchObject({ reference: { missing: 1 }, current: { missing: 3 } });
  });

  it('only month-to-month contracts with charges x 1.3: drift on those columns, not on unrelated ones', async () => {
    const report = await driftJson('--reference', reference, '--current', shifted(), '--exclude', 'customerID');
    expect(report.features.Contract).toMatchObject({ method: 'jensenshannon', drifted: true });
    expect(report.features.Contract!.statistic).toBeGreaterThan(0.3);
    // The shift is plain in the statistic, but the month-to-month rows are fewer than the 752 a Wasserstein
    // verdict needs against 1 200 reference rows (docs/drift.md, minimum samples).
    expect(report.features.MonthlyCharges).toMatchObject({ method: 'wasserstein', status: 'not-enough-data', minimum: 752 });
    expect(report.features.MonthlyCharges!.current.values).toBeLessThan(752);
    expect(report.features.MonthlyCharges!.statistic).toBeGreaterThan(0.5);
    expect(report.features.MonthlyCharges!.outOfRange).toBeGreaterThan(0);
    expect(report.features.gender!.drifted).toBe(false);
    expect(report.datasetDrift).toBe(true);
  });

  it('the same shift on small samples (<= 1000 rows): KS and chi-squared flag it', async () => {
    const smallReference = file('telco-small-ref.csv', `${readFileSync(reference, 'utf8').split('\n').slice(0, 401).join('\n')}\n`);
    const report = await driftJson('--reference', smallReference, '--current', shifted(300), '--columns', 'gender,Contract,MonthlyCharges');
    expect(report.features.Contract).toMatchObject({ method: 'chisquare', drifted: true });
    expect(report.features.MonthlyCharges).toMatchObject({ method: 'ks', drifted: true });
    expect(report.features.MonthlyCharges!.pValue).toBeLessThan(1e-10);
    expect(report.features.gender).toMatchObject({ method: 'chisquare', drifted: false });
    expect(report).toMatchObject({ driftShare: 2 / 3, datasetDrift: true });
  });
});

describe('modelgate drift: the sample count, and no verdict below the minimum', () => {
  // KS (a numeric reference of at most 1000 values with more than 5 distinct ones) needs 30 current values.
  const reference = file('minimum-ref.csv', ['amount', ...Array.from({ length: 100 }, (_, i) => String(i))].join('\n') + '\n');
  /** A current file far outside the reference. */
  const current = (values: number) => file(`minimum-cur-${values}.csv`, ['amount', ...Array.from({ length: values }, (_, i) => String(1000 + i))].join('\n') + '\n');

  it('29 values (one below the minimum): the count, "not enough data" and the minimum, no dataset verdict, exit 0 with --fail-on-drift', async () => {
    const run = await drift('--reference', reference, '--current', current(29), '--fail-on-drift');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^column\s+type\s+method\s+values\s+statistic\s+p-value\s+threshold\s+drift\s+notes$/m);
    expect(run.stdout).toMatch(/^amount\s+numeric\s+ks\s+29\s+1\.0000\s+\S+\s+0\.05\s+not enough data\s+needs 30 values; 29 out of range$/m);
    expect(run.stdout).toContain('0 of 1 columns have the values a verdict needs; dataset drift: not enough data');
    expect(run.stdout).not.toMatch(/YES/);
  });

  it('30 values (the minimum): a verdict, and --fail-on-drift exits 1 on it', async () => {
    const run = await drift('--reference', reference, '--current', current(30), '--fail-on-drift');
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^amount\s+numeric\s+ks\s+30\s+1\.0000\s+\S+\s+0\.05\s+YES\s+30 out of range$/m);
    expect(run.stdout).toContain('1 of 1 columns drifted (drift share 100.0%); dataset drift: YES');
  });

  it('missing cells do not count: 30 rows with one empty is 29 values', async () => {
    const withEmptyCell = file('minimum-cur-empty.csv', ['amount,id', ...Array.from({ length: 30 }, (_, i) => `${i === 0 ? '' : 1000 + i},${i}`)].join('\n') + '\n');
    const report = await driftJson('--reference', reference, '--current', withEmptyCell);
    expect(report.features.amount).toMatchObject({ status: 'not-enough-data', minimum: 30, drifted: false, current: { values: 29, missing: 1 } });
    expect(report).toMatchObject({ assessed: 0, status: 'not-enough-data', datasetDrift: false });
  });

  it('a column without enough data leaves the share to the assessed ones, and the line says how many waited', async () => {
    const twoColumns = (name: string, amounts: number) =>
      file(name, ['amount,score', ...Array.from({ length: 100 }, (_, i) => `${i < amounts ? 1000 + i : ''},${i % 50}`)].join('\n') + '\n');
    const referenceTwo = file('minimum-two-ref.csv', ['amount,score', ...Array.from({ length: 100 }, (_, i) => `${i},${i % 50}`)].join('\n') + '\n');
    const run = await drift('--reference', referenceTwo, '--current', twoColumns('minimum-two-cur.csv', 10));
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^amount\s+numeric\s+ks\s+10\s.*not enough data\s+needs 30 values/m);
    expect(run.stdout).toMatch(/^score\s+numeric\s+ks\s+100\s.*\sno\b/m);
    expect(run.stdout).toContain('0 of 1 assessed columns (1 with not enough data) drifted (drift share 0.0%); dataset drift: no');
  });
});
