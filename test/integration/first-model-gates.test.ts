// A first version has no champion to be compared with: the default gates `modelgate package --holdout` writes
// are what stops a model worse than chance. The churn model is packaged as users do (the CLI), once with its
// holdout and once with the holdout's labels inverted, and each bundle goes through the validation the pipeline
// runs (validateCandidate, no champion).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../lambdas/core/csv';
import { parseManifestJson, type Manifest } from '../../lambdas/core/manifest';
import { validateCandidate, type ValidationResult } from '../../lambdas/use-cases/validate-candidate';
import { bundleFolderSource } from '../../cli/bundle-folder';
import { runCli, type CliResult } from '../support/cli';

const root = fileURLToPath(new URL('../..', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'modelgate-first-gates-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** The holdout with every Churn label swapped: the same model is now worse than chance on it. */
function invertedHoldout(): string {
  const table = parseCsv(readFileSync(join(root, 'examples/churn/v1/holdout.csv'), 'utf8'));
  const target = table.header.indexOf('Churn');
  const quote = (cell: string) => (/[",]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell);
  const rows = table.rows.map((cells) => cells.map((cell, i) => (i === target ? (cell === 'Yes' ? 'No' : 'Yes') : cell)));
  return `${[table.header, ...rows].map((cells) => cells.map(quote).join(',')).join('\n')}\n`;
}

async function packageChurn(out: string, holdout: string): Promise<CliResult> {
  return runCli(
    [
      ...['package', '--onnx', join(root, 'examples/churn/v1/model.onnx'), '--train', join(root, 'examples/churn/data/telco-customer-churn.csv')],
      ...['--exclude', 'customerID', '--target', 'Churn', '--holdout', holdout, '--name', 'churn', '--version', '1', '--out', out],
    ],
    { cwd: root },
  );
}

describe('default gates on a first version', () => {
  const good = join(directory, 'good');
  const inverted = join(directory, 'inverted');
  let goodRun: CliResult;
  let invertedRun: CliResult;
  let manifest: Manifest;

  beforeAll(async () => {
    const invertedPath = join(directory, 'inverted-holdout.csv');
    writeFileSync(invertedPath, invertedHoldout());
    [goodRun, invertedRun] = await Promise.all([packageChurn(good, join(root, 'examples/churn/v1/holdout.csv')), packageChurn(inverted, invertedPath)]);
    manifest = parseManifestJson(readFileSync(join(good, 'manifest.json'), 'utf8'));
  });

  it("writes ROC AUC >= 0.55 and log loss at most the training prior's into the manifest", () => {
    expect(goodRun.code).toBe(0);
    // 1869 of the 7043 training rows churned: the prior's log loss is the entropy of 0.2654 / 0.7346.
    const p = 1869 / 7043;
    const prior = -(p * Math.log(p) + (1 - p) * Math.log(1 - p));
    expect(manifest.validation?.gates).toEqual({ rocAuc: { min: 0.55 }, logLoss: { max: Math.floor(prior * 1e4) / 1e4 } });
    expect(goodRun.stdout).toContain(`note: default holdout gates: rocAuc >= 0.55 (a constant scores 0.5), logLoss <= ${Math.floor(prior * 1e4) / 1e4}`);
  });

  it('says while packaging that the inverted holdout fails them', () => {
    expect(invertedRun.code).toBe(0);
    expect(invertedRun.stdout).toMatch(/note: the holdout's rocAuc 0\.17\d* fails its default gate: validation will reject this bundle \(METRIC_BELOW_GATE\)/);
    expect(invertedRun.stdout).toMatch(/note: the holdout's logLoss [\d.]+ fails its default gate: validation will reject this bundle \(METRIC_ABOVE_GATE\)/);
  });

  it('accepts the model on its own holdout, with both gates run', async () => {
    const result = await validateCandidate({ model: 'churn', version: '1', candidate: bundleFolderSource(good), latencySamples: 20 });
    expect(result.reasons).toEqual([]);
    expect(result.verdict).toBe('accepted');
    expect(metricGates(result)).toEqual([
      { rule: 'metric-gate', passed: true, metric: 'rocAuc', observed: expect.closeTo(0.8276, 4), threshold: 0.55, bound: 'min' },
      { rule: 'metric-gate', passed: true, metric: 'logLoss', observed: expect.closeTo(0.4411, 4), threshold: manifest.validation?.gates?.logLoss?.max, bound: 'max' },
    ]);
  });

  it('rejects the model worse than chance, naming each metric, its value and its bound', async () => {
    const result = await validateCandidate({ model: 'churn', version: '1', candidate: bundleFolderSource(inverted), latencySamples: 20 });
    expect(result.verdict).toBe('rejected');
    expect(result.reasons).toEqual(['METRIC_BELOW_GATE', 'METRIC_ABOVE_GATE']);
    const [rocAuc, logLoss] = metricGates(result);
    expect(rocAuc).toMatchObject({ passed: false, reason: 'METRIC_BELOW_GATE', metric: 'rocAuc', threshold: 0.55, bound: 'min' });
    expect(rocAuc?.observed).toBeCloseTo(1 - 0.8276, 4);
    expect(logLoss).toMatchObject({ passed: false, reason: 'METRIC_ABOVE_GATE', metric: 'logLoss', bound: 'max' });
    expect(result.summary).toMatch(/FAIL {2}holdout gate rocAuc: 0\.17\d* \(gate >= 0\.55\)/);
    expect(result.summary).toMatch(/FAIL {2}holdout gate logLoss: [\d.]+ \(gate <= 0\.5\d*\)/);
  });
});

function metricGates(result: ValidationResult) {
  return result.gates.filter((gate) => gate.rule === 'metric-gate');
}
