// `modelgate quality` as users run it: the bundle's model scored in onnxruntime on a CSV, a subprocess per case.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ESTIMATED_METRICS, type RowsEstimate } from '../../lambdas/core/estimation/estimated-quality';
import type { Manifest } from '../../lambdas/core/manifest';
import { runCli, type CliResult } from '../support/cli';

const root = fileURLToPath(new URL('../..', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'modelgate-quality-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
const holdout = readFileSync(join(root, 'examples/churn/v1/holdout.csv'), 'utf8');
const churnManifest = JSON.parse(readFileSync(join(root, 'examples/churn/v1/manifest.json'), 'utf8')) as Manifest;

function quality(...args: string[]): Promise<CliResult> {
  return runCli(['quality', ...args], { cwd: root });
}

function file(name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

/** A bundle folder holding only a manifest: the model is never read when the manifest already rules it out. */
function manifestOnlyBundle(name: string, manifest: object): string {
  const dir = join(directory, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

describe.concurrent('modelgate quality on the churn example', () => {
  it('--json --target: every estimate inside its interval, and the realized values validate reports (docs/cli.md)', async () => {
    const run = await quality('--bundle', 'examples/churn/v1', '--current', 'examples/churn/v1/holdout.csv', '--target', 'Churn', '--json');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as RowsEstimate & { model: string; version: string };
    expect(result).toMatchObject({ model: 'churn', version: '1', rows: 1409 });
    expect(Object.keys(result.estimated)).toEqual(ESTIMATED_METRICS);
    for (const metric of ESTIMATED_METRICS) {
      const { lower, upper, standardError } = result.interval[metric]!;
      expect(lower).toBeLessThanOrEqual(result.estimated[metric]!);
      expect(upper).toBeGreaterThanOrEqual(result.estimated[metric]!);
      expect(standardError).toBeGreaterThan(0);
    }
    // `modelgate validate` prints holdout accuracy 0.7977 for churn v1, and ROC AUC 0.8276 as the champion.
    expect(result.realized?.accuracy).toBeCloseTo(0.7977, 4);
    expect(result.realized?.rocAuc).toBeCloseTo(0.8276, 4);
  });

  it('prints a table without --json, with no realized column when there are no labels', async () => {
    const run = await quality('--bundle', 'examples/churn/v1', '--current', 'test/fixtures/drift/telco-current.csv');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe(
      'churn v1 on test/fixtures/drift/telco-current.csv: 1200 rows, positive class "Yes", raw probabilities (the bundle has no calibration: package it with a holdout)',
    );
    expect(lines[2]).toMatch(/^metric +estimated +interval \(\+-3 SE\) +notes$/);
    expect(lines.slice(3).map((line) => line.split(/ {2,}/)[0])).toEqual(['accuracy', 'precision', 'recall', 'F1', 'ROC AUC']);
    expect(lines[3]).toMatch(/^accuracy +0\.\d{4} +0\.\d{4} - 0\.\d{4}$/);
  });

  it('a few rows: the estimate is printed, each metric saying it has not enough data for a verdict', async () => {
    const run = await quality('--bundle', 'examples/churn/v1', '--current', file('few.csv', holdout.split('\n').slice(0, 6).join('\n')));
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/accuracy .* not enough data: rests on 5, a verdict needs 30/);
  });
});

describe.concurrent('modelgate quality: what it cannot estimate is exit 2, named', () => {
  it('a CSV without a feature the model requires names the column', async () => {
    const lines = holdout.split('\n').slice(0, 20);
    const drop = lines[0]!.split(',').indexOf('MonthlyCharges');
    const csv = file(
      'no-charges.csv',
      lines
        .map((line) =>
          line
            .split(',')
            .filter((_, i) => i !== drop)
            .join(','),
        )
        .join('\n'),
    );
    const run = await quality('--bundle', 'examples/churn/v1', '--current', csv);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no column "MonthlyCharges", which the model requires');
    expect(run.stdout).toBe('');
  });

  it('bad rows: every one named with its line, column and reason, and nothing estimated', async () => {
    const [header, good, second, ...rest] = holdout.split('\n');
    const badNumber = second!.replace(/^([^,]*,[^,]*,[^,]*,[^,]*,[^,]*,)\d+,/, '$1abc,');
    const csv = file('bad-rows.csv', [header, good, badNumber, 'x,Male', ...rest.slice(0, 30)].join('\n'));
    const run = await quality('--bundle', 'examples/churn/v1', '--current', csv);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('2 of 33 rows do not fit churn v1');
    expect(run.stderr).toContain('line 3: column "tenure": expected a number, got "abc"');
    expect(run.stderr).toContain('line 4: 2 cells, the header has 21');
    expect(run.stdout).toBe('');
  });

  it('--target: an unknown column, and a label that is not a class, are named', async () => {
    const unknown = await quality('--bundle', 'examples/churn/v1', '--current', 'examples/churn/v1/holdout.csv', '--target', 'Churned');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no column "Churned" (the --target label column)');
    const lines = holdout.split('\n').slice(0, 5);
    lines[3] = lines[3]!.replace(/,(Yes|No)$/, ',Maybe');
    const run = await quality('--bundle', 'examples/churn/v1', '--current', file('maybe.csv', lines.join('\n')), '--target', 'Churn');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('line 4, column "Churn": "Maybe" is not one of the class labels "No", "Yes"');
  });

  it('a regression model, and a classifier without probabilities, say why they cannot be estimated', async () => {
    const { classLabels, positiveClass, threshold, ...rest } = churnManifest;
    const regression = manifestOnlyBundle('regression', {
      ...rest,
      task: 'regression',
      outputs: { value: 'probabilities' },
      baseline: { ...churnManifest.baseline, prediction: undefined },
      validation: { holdout: { target: 'Churn' } },
    });
    const run = await quality('--bundle', regression, '--current', 'examples/churn/v1/holdout.csv');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('estimated quality is for classifiers; churn v1 is a regression');
    const labelsOnly = manifestOnlyBundle('labels-only', {
      ...churnManifest,
      outputs: { label: 'label' },
      validation: { holdout: { target: 'Churn' }, gates: { accuracy: { min: 0.75 } }, primaryMetric: 'accuracy' },
    });
    const second = await quality('--bundle', labelsOnly, '--current', 'examples/churn/v1/holdout.csv', '--json');
    expect(second.code).toBe(2);
    expect(JSON.parse(second.stdout)).toMatchObject({ error: expect.stringContaining('has no outputs.probabilities'), exitCode: 2 });
  });
});
