// Ground truth for batch rows from a file (lambdas/core/batch/labels.ts): parts as the scoring function writes them
// (formatPredictions), labels joined by id, and the realized quality of the monitor's core — checked against the
// promotion gates' sklearn-exact metrics on the same joined rows.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatOfFile } from '../../lambdas/contracts/batch-job';
import { BatchLabelsError, BatchLabelsJoin, readLabels, readPart, rejectedIds, type ScoredRow } from '../../lambdas/core/batch/labels';
import { formatPredictions, formatRejections } from '../../lambdas/core/batch/output';
import { parseManifestJson } from '../../lambdas/core/manifest';
import { baselineQuality } from '../../lambdas/core/monitoring/quality';
import { evaluatePredictions } from '../../lambdas/core/promotion/evaluation';
import { mulberry32 } from '../../lambdas/core/random';
import type { RowPrediction } from '../../lambdas/core/tensors';

const manifest = parseManifestJson(readFileSync(new URL('../../examples/churn/v1/manifest.json', import.meta.url), 'utf8'));
const random = mulberry32(20261205);
/** 400 scored customers c1..c400: P(Yes) at random, the label by the manifest's 0.5 threshold, the truth agreeing 80% of the time. */
const customers = Array.from({ length: 400 }, (_, i) => {
  const yes = Math.round(random() * 1e6) / 1e6;
  const prediction: RowPrediction = { label: yes >= 0.5 ? 'Yes' : 'No', probabilities: { No: 1 - yes, Yes: yes } };
  const actual = random() < 0.8 ? prediction.label : prediction.label === 'Yes' ? 'No' : 'Yes';
  return { id: `c${i + 1}`, prediction, actual: actual as string };
});
const part = (rows: typeof customers, format: 'csv' | 'jsonl', idColumn?: string) =>
  formatPredictions(manifest, { predictions: rows.map((r) => r.prediction), ids: rows.map((r, i) => (idColumn ? r.id : i + 1)) }, format, idColumn);

describe('readPart', () => {
  it('reads back what the scoring function writes, CSV and JSON Lines, with the id column it names', () => {
    const csv = readPart(manifest, part(customers.slice(0, 3), 'csv', 'customerID'), 'csv', 'parts/part-1.csv');
    expect(csv.idColumn).toBe('customerID');
    expect(csv.rows).toEqual(customers.slice(0, 3).map(({ id, prediction }) => ({ id, prediction })));
    const jsonl = readPart(manifest, part(customers.slice(0, 3), 'jsonl'), 'jsonl', 'parts/part-1.jsonl');
    expect(jsonl.idColumn).toBe('row');
    expect(jsonl.rows.map((r) => r.id)).toEqual(['1', '2', '3']);
    expect(jsonl.rows[0]?.prediction).toEqual(customers[0]?.prediction);
  });

  it("refuses a part that is not this model version's, naming its columns and the expected ones", () => {
    expect(() => readPart(manifest, 'customerID,version,value\nc1,1,0.3\n', 'csv', 'out/parts/part-1.csv')).toThrow(
      new BatchLabelsError(
        "out/parts/part-1.csv: not a part of churn v1: its columns are customerID, version, value, expected <id>, [the input's columns,] version, label, probability_No, probability_Yes",
      ),
    );
  });
});

describe('BatchLabelsJoin', () => {
  // Labels for c1..c300 (c1..c100 twice: c1..c50 the same again, c51..c100 flipped, which must not count), c999 for
  // no row, and c401 for a row the job rejected.
  const labelled = customers.slice(0, 300);
  const lines = [
    'customerID,Churn',
    ...labelled.map((c) => `${c.id},${c.actual}`),
    ...customers.slice(0, 50).map((c) => `${c.id},${c.actual}`),
    ...customers.slice(50, 100).map((c) => `${c.id},${c.actual === 'Yes' ? 'No' : 'Yes'}`),
    'c999,Yes',
    'c401,No',
  ];
  const labels = readLabels(manifest, `${lines.join('\n')}\n`, 'csv', { idColumn: 'customerID', target: 'Churn' }, 'labels.csv');

  it('joins by id part by part: counts of labelled rows, rows without a label, labels without a row (rejected ones apart), duplicates', () => {
    const join = new BatchLabelsJoin(manifest, labels);
    join.addPart(readPart(manifest, part(customers.slice(0, 200), 'csv', 'customerID'), 'csv', 'a').rows);
    join.addPart(readPart(manifest, part(customers.slice(200), 'csv', 'customerID'), 'csv', 'b').rows);
    const rejected = formatRejections([{ row: 401, id: 'c401', field: 'tenure', reason: 'expected a number' }], 'csv', 'customerID');
    const report = join.report(new Set(rejectedIds(rejected, 'csv', 'customerID', 'rejected/part-1.csv')));
    expect(report).toMatchObject({
      predictions: 400,
      labels: 302,
      labelled: 300,
      predictionsWithoutLabel: 100,
      labelsWithoutPrediction: { count: 2, rejectedRows: 1, examples: ['c999', 'c401'] },
      duplicateLabels: { same: 50, conflicting: 50 },
      labelsOnSeveralPredictions: 0,
    });
    // The first label of an id stands: the same metrics as sklearn's on the 300 labelled rows.
    const exact = evaluatePredictions(
      manifest,
      labelled.map((c) => c.actual),
      labelled.map((c) => c.prediction),
    );
    for (const name of ['accuracy', 'precision', 'recall', 'f1', 'logLoss'] as const) expect(report.quality[name]).toBeCloseTo(exact[name] as number, 9);
    // ROC AUC from the monitor's 1000 score bins: exact up to the bound it reports.
    expect(Math.abs((report.quality.rocAuc as number) - (exact.rocAuc as number))).toBeLessThanOrEqual((report.quality.rocAucMaxError as number) + 1e-12);
    expect(report.baseline).toEqual(baselineQuality(manifest));
    expect(report.degradation.accuracy).toBeCloseTo(
      (manifest.training as { holdoutMetrics: { accuracy: number } }).holdoutMetrics.accuracy - (report.quality.accuracy as number),
      12,
    );
  });

  it('counts every row of an id the input held twice, and says so', () => {
    const join = new BatchLabelsJoin(manifest, readLabels(manifest, 'row,Churn\n1,Yes\n', 'csv', { idColumn: 'row', target: 'Churn' }, 'labels.csv'));
    const rows: ScoredRow[] = [
      { id: '1', prediction: { label: 'Yes', probabilities: { No: 0.2, Yes: 0.8 } } },
      { id: '1', prediction: { label: 'No', probabilities: { No: 0.7, Yes: 0.3 } } },
    ];
    join.addPart(rows);
    const report = join.report();
    expect(report).toMatchObject({ labelled: 2, labelsOnSeveralPredictions: 1 });
    expect(report.quality).toMatchObject({ labelled: 2, accuracy: 0.5 });
    expect(report.quality.samples?.accuracy?.enough).toBe(false);
  });

  it('reads JSON Lines labels keyed by the row number when the job had no id column', () => {
    const labelsJsonl = customers
      .slice(0, 40)
      .map((c, i) => JSON.stringify({ row: i + 1, churned: c.actual }))
      .join('\n');
    const join = new BatchLabelsJoin(manifest, readLabels(manifest, labelsJsonl, 'jsonl', { idColumn: 'row', target: 'churned' }, 'labels.jsonl'));
    join.addPart(readPart(manifest, part(customers.slice(0, 40), 'jsonl'), 'jsonl', 'p').rows);
    expect(join.report()).toMatchObject({ labelled: 40, predictionsWithoutLabel: 0, labelsWithoutPrediction: { count: 0 } });
  });
});

describe('readLabels refuses, naming the file, the flag, the column and every line', () => {
  it.each([
    ['a missing id column', 'id,Churn\nc1,Yes\n', 'labels.csv: no column "customerID" (the --id-column column; columns: id, Churn)'],
    ['a missing label column', 'customerID,churned\nc1,Yes\n', 'labels.csv: no column "Churn" (the --target column; columns: customerID, churned)'],
    [
      'labels the model does not have, and empty cells',
      'customerID,Churn\nc1,Yes\nc2,maybe\n,No\nc4,\n',
      [
        'labels.csv: 3 of 4 labels cannot be used:',
        '  line 3, column "Churn": actual must be one of the class labels of churn v1 ("No", "Yes"), got: "maybe"',
        '  line 4: no id in "customerID"',
        '  line 5: no label in "Churn"',
      ].join('\n'),
    ],
  ])('%s', (_, text, message) => {
    expect(() => readLabels(manifest, text, 'csv', { idColumn: 'customerID', target: 'Churn' }, 'labels.csv')).toThrow(new BatchLabelsError(message));
  });

  it('JSON Lines that are not objects', () => {
    expect(() => readLabels(manifest, '{"customerID":"c1","Churn":"Yes"}\n[1]\nnope\n', 'jsonl', { idColumn: 'customerID', target: 'Churn' }, 'labels.jsonl')).toThrow(
      /^labels\.jsonl: 2 lines cannot be read:\n {2}line 2: not a JSON object\n {2}line 3: not JSON/,
    );
  });

  it('tells the format by the extension', () => {
    expect(['a.csv', 'b.JSONL', 'c.ndjson', 'd.txt'].map(formatOfFile)).toEqual(['csv', 'jsonl', 'jsonl', undefined]);
  });
});
