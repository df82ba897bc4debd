// The inference rules of `modelgate package`, on declared model signatures (no onnxruntime): feature types,
// categories, optional columns, the feature -> input mapping, task, class labels and outputs.
import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../lambdas/core/csv';
import type { Manifest } from '../../lambdas/core/manifest';
import type { ModelDescription, TensorSignature } from '../../lambdas/core/onnx-graph';
import { PackagingError, draftManifest, predictionBaseline, tableRows, withBaseline, withDefaultGates, type PackageOptions } from '../../lambdas/core/packaging';

const options: PackageOptions = { name: 'm', version: '1', target: 'y', modelFile: 'model.onnx', sha256: 'ab'.repeat(32) };
const column = (name: string, type = 'float32', dims: (number | string)[] = ['N', 1]): TensorSignature => ({ name, type, dims });
const classifier = (inputs: TensorSignature[], classLabels: (string | number)[] = [0, 1]): ModelDescription => ({
  inputs,
  outputs: [
    { name: 'label', type: 'int64', dims: ['N'] },
    { name: 'probabilities', type: 'float32', dims: ['N', classLabels.length] },
  ],
  producer: 'test',
  opsets: {},
  classLabels,
});

function draft(csv: string, model: ModelDescription, extra: Partial<PackageOptions> = {}) {
  return draftManifest(parseCsv(csv), model, { ...options, ...extra });
}

function problems(csv: string, model: ModelDescription, extra: Partial<PackageOptions> = {}): readonly string[] {
  try {
    draft(csv, model, extra);
  } catch (error) {
    if (error instanceof PackagingError) return error.problems;
    throw error;
  }
  throw new Error('expected a PackagingError');
}

describe('declared columns (an MLflow signature)', () => {
  const csv = ['visits,amount,flag,y', '3,1.5,0,0', '4,2,1,1', '5,3,1,0', '6,4,0,1'].join('\n');
  const declared = (name: string, type: 'number' | 'integer' | 'boolean' | 'string', declaredAs: string, required = true) => ({ name, type, declaredAs, required });
  const matrix = classifier([column('features', 'float32', ['N', 3])]);

  it('makes the declared columns the features, in their order and with their types', () => {
    const { manifest, notes } = draft(csv, matrix, {
      declaredColumns: [declared('amount', 'number', 'double'), declared('visits', 'number', 'double'), declared('flag', 'boolean', 'boolean', false)],
    });
    // visits holds integers, declared double: a number feature. flag holds 0/1, declared boolean.
    expect(manifest.features).toEqual([
      { name: 'amount', type: 'number' },
      { name: 'visits', type: 'number' },
      { name: 'flag', type: 'boolean', required: false },
    ]);
    expect(manifest.inputs).toEqual([{ name: 'features', dtype: 'float32', features: ['amount', 'visits', 'flag'] }]);
    expect(notes).toContain("flag: optional (the model's signature says not required); missing values reach the model as NaN");
  });

  it('names declared columns the CSV lacks, CSV columns the signature lacks, and cells that do not fit the declared type', () => {
    expect(
      problems(csv, matrix, { declaredColumns: [declared('amount', 'number', 'double'), declared('visits', 'number', 'double'), declared('tenure', 'integer', 'long')] }),
    ).toEqual([
      'the CSV has no column "tenure", which the model\'s signature declares (columns: visits, amount, flag, y)',
      'the CSV\'s column(s) "flag" are not in the model\'s signature; leave them out with --exclude, or name them --target or --passthrough',
    ]);
    expect(
      problems(csv, matrix, { declaredColumns: [declared('amount', 'integer', 'long'), declared('visits', 'number', 'double'), declared('flag', 'integer', 'long')] }),
    ).toEqual(['column "amount" holds non-integer numbers (e.g. "1.5"), but the model\'s signature declares it long']);
  });
});

describe('feature schema', () => {
  const csv = ['amount,visits,flag,plan,note,opt,y', '1.5,3,0,basic,a,,0', '2,4,1,pro,b,2.5,1', '3,5,1,basic,c,,0', '4,6,0,pro,d,1,1', '5,7,0,basic,e,3,0'].join('\n');
  const model = classifier([column('amount'), column('visits'), column('flag'), column('plan', 'string'), column('note', 'string'), column('opt')]);

  it('types each column from its cells and the input dtype; categories for repeated strings and 0/1 flags', () => {
    const { manifest, notes } = draft(csv, model);
    expect(manifest.features).toEqual([
      { name: 'amount', type: 'number' },
      { name: 'visits', type: 'integer' },
      { name: 'flag', type: 'integer', categories: [0, 1] },
      { name: 'plan', type: 'string', categories: ['basic', 'pro'] },
      // Every value distinct: an identifier or free text, not a closed set.
      { name: 'note', type: 'string' },
      { name: 'opt', type: 'number', required: false },
    ]);
    expect(notes).toContain('opt: optional (2 empty cells); missing values reach the model as NaN');
  });

  it('makes any column a string feature for a string input, with its values as categories', () => {
    const csv2 = 'pclass,y\n1,0\n2,1\n3,0\n1,1\n2,0\n3,1\n';
    expect(draft(csv2, classifier([column('pclass', 'string')])).manifest.features).toEqual([{ name: 'pclass', type: 'string', categories: ['1', '2', '3'] }]);
  });

  it('gives an optional column feeding a non-float input its most frequent value as default', () => {
    const csv2 = 'port,count,y\nS,1,0\n,2,1\nC,,0\nS,2,1\nQ,3,0\nS,2,1\nC,1,0\nQ,2,1\n';
    const { manifest, notes } = draft(csv2, classifier([column('port', 'string'), column('count', 'int64')]));
    expect(manifest.features).toEqual([
      { name: 'port', type: 'string', categories: ['C', 'Q', 'S'], required: false, default: 'S' },
      { name: 'count', type: 'integer', required: false, default: 2 },
    ]);
    expect(notes).toContain('port: optional (1 empty cells); default "S", its most frequent value');
  });

  it('reads booleans: true/false for any numeric or bool input, 0/1 for a bool input', () => {
    const csv2 = 'active,member,y\ntrue,1,0\nfalse,0,1\nTRUE,1,0\n';
    const { manifest } = draft(csv2, classifier([column('active'), column('member', 'bool')]));
    expect(manifest.features).toEqual([
      { name: 'active', type: 'boolean' },
      { name: 'member', type: 'boolean' },
    ]);
  });

  it.each([
    { csv: 'x,y\n1.5,0\n2,1\n', dtype: 'int64', problem: 'column "x" holds non-integer numbers (e.g. "1.5"), but model input "x" is int64' },
    { csv: 'x,y\nabc,0\n2,1\n', dtype: 'float32', problem: 'column "x" holds text (e.g. "abc"), but model input "x" is float32' },
    { csv: 'x,y\n2,0\n3,1\n', dtype: 'bool', problem: 'column "x" holds integer values (e.g. "2"), but model input "x" is bool: expected true/false or 0/1' },
    { csv: 'x,y\n1,0\n2,1\n', dtype: 'int32', problem: 'model input "x" has element type int32, which modelgate cannot feed (float32, float64, int64, string, bool)' },
    { csv: 'x,y\n,0\n,1\n', dtype: 'float32', problem: 'CSV: column "x" has no values' },
  ])('refuses a $dtype input for $csv', ({ csv: text, dtype, problem }) => {
    expect(problems(text, classifier([column('x', dtype)]))).toEqual([problem]);
  });
});

describe('feature -> input mapping', () => {
  it('takes inputs named like the columns, in any order', () => {
    const { manifest } = draft('b,a,y\n1,2,0\n3,4,1\n', classifier([column('a'), column('b', 'float32', ['N'])]));
    expect(manifest.features.map((f) => f.name)).toEqual(['b', 'a']);
    expect(manifest.inputs).toEqual([
      { name: 'a', dtype: 'float32', features: ['a'] },
      { name: 'b', dtype: 'float32', features: ['b'], rank: 1 },
    ]);
  });

  it('gives one [N, F] input the columns in CSV order, and takes a fixed batch size from it', () => {
    const { manifest } = draft('s1,s2,s3,s4,y\n1,2,3,4,0\n5,6,7,8,1\n', classifier([column('float_input', 'float32', [1, 4])]));
    expect(manifest.inputs).toEqual([{ name: 'float_input', dtype: 'float32', features: ['s1', 's2', 's3', 's4'] }]);
    expect(manifest.batchSize).toBe(1);
  });

  it('mixes both: named inputs first, the one input left takes the rest', () => {
    const model = classifier([column('input', 'float32', ['N', 2]), column('text', 'string')], [0, 1, 2]);
    const { manifest } = draft('x0,text,x1,y\n1,a b,2,0\n3,c,4,1\n5,d,6,2\n', model);
    expect(manifest.inputs).toEqual([
      { name: 'input', dtype: 'float32', features: ['x0', 'x1'] },
      { name: 'text', dtype: 'string', features: ['text'] },
    ]);
  });

  it.each([
    {
      name: 'a column no input takes',
      csv: 'id,a,y\n1,2,0\n2,3,1\n',
      inputs: [column('a')],
      problem: 'the model has no input for column(s) "id" (inputs: "a"); leave them out with --exclude',
    },
    {
      name: 'a matrix of another width',
      csv: 'a,b,c,y\n1,2,3,0\n4,5,6,1\n',
      inputs: [column('float_input', 'float32', [1, 4])],
      problem: 'model input "float_input" [1, 4] takes 4 values per row, but 3 column(s) are left: "a", "b", "c"',
    },
    {
      name: 'several unnamed inputs',
      csv: 'a,b,y\n1,2,0\n4,5,1\n',
      inputs: [column('pclass', 'string'), column('sex', 'string')],
      problem:
        'model input(s) "pclass" [N, 1], "sex" [N, 1] match no CSV column (columns left: "a", "b"); name the columns like the inputs, or give one [N, F] input the columns in order',
    },
    {
      name: 'an input named like a column but wider than one feature',
      csv: 'a,y\n1,0\n2,1\n',
      inputs: [column('a', 'float32', ['N', 3])],
      problem: 'model input "a" [N, 3] takes 3 values per row, but column "a" is one feature',
    },
  ])('names what does not match: $name', ({ csv, inputs, problem }) => {
    expect(problems(csv, classifier(inputs))).toEqual([problem]);
  });

  it('keeps pass-through columns out of the features, the first one as the join key', () => {
    const { manifest } = draft('id,region,a,b,y\nc1,n,1,2,0\nc2,s,3,4,1\n', classifier([column('x', 'float32', ['N', 2])]), { passThrough: ['id', 'region'] });
    expect(manifest.features.map((f) => f.name)).toEqual(['a', 'b']);
    expect(manifest.passThrough).toEqual([{ name: 'id', joinKey: true }, { name: 'region' }]);
    expect(problems('id,a,b,y\nc1,1,2,0\n', classifier([column('x', 'float32', ['N', 2])]), { passThrough: ['id', 'crm'], exclude: ['id'] })).toEqual([
      'the CSV has no column "crm" (columns: id, a, b, y)',
      'column "id" is both excluded and passed through: give it to one of them',
    ]);
  });

  it('leaves out excluded columns, and needs the target and excluded columns to exist', () => {
    expect(draft('id,a,y\n1,2,0\n2,3,1\n', classifier([column('a')]), { exclude: ['id'] }).manifest.features).toEqual([{ name: 'a', type: 'integer' }]);
    expect(problems('a,y\n1,0\n', classifier([column('a')]), { target: 'churn', exclude: ['id'] })).toEqual([
      'the CSV has no column "churn" (columns: a, y)',
      'the CSV has no column "id" (columns: a, y)',
    ]);
  });
});

describe('task, class labels and outputs', () => {
  const inputs = [column('a')];

  it('takes class labels from the model and checks every target against them', () => {
    const { manifest } = draft('a,y\n1,A\n2,B\n', classifier(inputs, ['A', 'B']));
    expect(manifest).toMatchObject({ task: 'binary-classification', classLabels: ['A', 'B'], outputs: { label: 'label', probabilities: 'probabilities' } });
    expect(() => draft('a,y\n1,A\n2,C\n', classifier(inputs, ['A', 'B']))).toThrow('train CSV: line 3, target: "C" is not one of the class labels "A", "B"');
  });

  it('takes class labels from the target when the model declares none', () => {
    const model: ModelDescription = { ...classifier(inputs), classLabels: undefined };
    expect(draft('a,y\n1,cat\n2,dog\n3,bird\n', model).manifest).toMatchObject({ task: 'multiclass-classification', classLabels: ['bird', 'cat', 'dog'] });
    expect(
      draft('a,y\n1,10\n2,2\n3,2\n', {
        ...model,
        outputs: [
          { name: 'label', type: 'int64' },
          { name: 'p', type: 'float32', dims: ['N', 2] },
        ],
      }).manifest,
    ).toMatchObject({
      task: 'binary-classification',
      classLabels: [2, 10],
      outputs: { label: 'label', probabilities: 'p' },
    });
  });

  it('reads a [N, 1] float output of a model with a two-valued target as a sigmoid probability', () => {
    const model: ModelDescription = { inputs, outputs: [{ name: 'output_0', type: 'float32', dims: ['N', 1] }], producer: 'keras', opsets: {} };
    expect(draft('a,y\n1,0\n2,1\n3,1\n', model).manifest).toMatchObject({ task: 'binary-classification', classLabels: [0, 1], outputs: { probabilities: 'output_0' } });
    expect(draft('a,y\n1,0.5\n2,1\n3,7\n', model).manifest).toMatchObject({ task: 'regression', outputs: { value: 'output_0' } });
    expect(draft('a,y\n1,0\n2,1\n', model, { task: 'regression' }).manifest).toMatchObject({ task: 'regression', outputs: { value: 'output_0' } });
  });

  it('prefers an output named like probabilities, and accepts one without a shape (a removed ZipMap)', () => {
    const model: ModelDescription = {
      ...classifier(inputs),
      outputs: [
        { name: 'label', type: 'int64' },
        { name: 'raw', type: 'float32', dims: ['N', 2] },
        { name: 'output_probability', type: 'float32' },
      ],
    };
    expect(draft('a,y\n1,0\n2,1\n', model).manifest.outputs).toEqual({ label: 'label', probabilities: 'output_probability' });
  });

  it.each([
    { csv: 'a,y\n1,0\n2,\n', problem: 'the target column "y" has 1 empty cell(s)' },
    { csv: 'a,y\n1,0.5\n2,1.5\n', task: 'binary-classification', problem: /holds non-integer numbers/ },
    { csv: 'a,y\n1,x\n2,x\n', problem: 'multiclass-classification needs 3 or more class labels, got 1: "x"' },
  ] as const)('refuses $csv', ({ csv, problem, ...rest }) => {
    const model: ModelDescription = { ...classifier(inputs), classLabels: undefined };
    const found = problems(csv, model, 'task' in rest ? { task: rest.task } : {});
    expect(found[0]).toMatch(problem);
  });
});

describe('baseline', () => {
  const csv = 'amount,plan,y\n1,basic,0\n2,pro,1\n,basic,0\n4,pro,1\n';
  const model = classifier([column('amount'), column('plan', 'string')]);

  it('counts every training row of each feature, and the predictions', () => {
    const table = parseCsv(csv);
    const { manifest } = draftManifest(table, model, options);
    const rows = tableRows(manifest, table, 'train.csv');
    const predictions = [0.1, 0.9, 0.2, 0.8].map((p) => ({ label: p >= 0.5 ? 1 : 0, probabilities: { 0: 1 - p, 1: p } }));
    const withIt = withBaseline(manifest, rows, predictions);
    const amount = withIt.baseline?.features.amount;
    expect(amount).toMatchObject({ kind: 'numeric', missing: 1, count: 4, min: 1, max: 4 });
    expect(withIt.baseline?.features.plan).toEqual({ kind: 'categorical', counts: { basic: 2, pro: 2 }, missing: 0, count: 4 });
    expect(withIt.baseline?.prediction).toMatchObject({ kind: 'numeric', count: 4, min: 0.1, max: 0.9 });
    expect(withIt.baseline?.rows).toBe(4);
  });

  it('is categorical over the class labels for a multiclass model, numeric for regression values', () => {
    const multiclass = { task: 'multiclass-classification', classLabels: ['a', 'b', 'c'], outputs: { label: 'l' } } as unknown as Manifest;
    expect(predictionBaseline(multiclass, [{ label: 'a' }, { label: 'a' }])).toEqual({ kind: 'categorical', counts: { a: 2, b: 0, c: 0 }, missing: 0, count: 2 });
    const regression = { task: 'regression', outputs: { value: 'v' } } as unknown as Manifest;
    expect(predictionBaseline(regression, [{ value: 1 }, { value: 3 }])).toMatchObject({ kind: 'numeric', mean: 2 });
    expect(predictionBaseline(regression, [{ value: [1, 2] }])).toBeUndefined();
  });

  it('reports a cell the schema rejects with its line', () => {
    const table = parseCsv(csv);
    const { manifest } = draftManifest(table, model, options);
    expect(() => tableRows(manifest, parseCsv('amount,plan,y\n1,gold,0\n'), 'holdout.csv')).toThrow(/holdout.csv: line 2, column "plan": unknown category "gold"/);
  });
});

describe('default holdout gates', () => {
  const model = classifier([column('a')]);
  const binary = draft('a,y\n1,0\n2,1\n3,0\n4,0\n', model).manifest;

  it("gates a classifier on ROC AUC >= 0.55 and on log loss at most the prior's, from the training class frequencies", () => {
    // Training frequencies 3/4 and 1/4: the prior's log loss is -(3/4 ln 3/4 + 1/4 ln 1/4) = 0.562335...
    const { manifest, notes } = withDefaultGates(binary, [0, 1, 0, 0], { rocAuc: 0.8, logLoss: 0.4, accuracy: 0.9 });
    expect(manifest.validation?.gates).toEqual({ rocAuc: { min: 0.55 }, logLoss: { max: 0.5623 } });
    expect(notes).toEqual([
      "default holdout gates: rocAuc >= 0.55 (a constant scores 0.5), logLoss <= 0.5623 (the training prior's log loss); edit validation.gates to change them (docs/bundle.md)",
    ]);
  });

  it('says which default gate the holdout fails already', () => {
    const { notes } = withDefaultGates(binary, [0, 1, 0, 0], { rocAuc: 0.2, logLoss: 0.9 });
    expect(notes.slice(1)).toEqual([
      "the holdout's rocAuc 0.2 fails its default gate: validation will reject this bundle (METRIC_BELOW_GATE)",
      "the holdout's logLoss 0.9 fails its default gate: validation will reject this bundle (METRIC_ABOVE_GATE)",
    ]);
  });

  it('computes the prior over every class of a multiclass model, and gates only metrics the holdout gives', () => {
    const three = draft('a,y\n1,0\n2,1\n3,2\n4,2\n', classifier([column('a')], [0, 1, 2])).manifest;
    // ROC AUC is missing when a class is absent from the holdout: gating it would reject every upload.
    const { manifest, notes } = withDefaultGates(three, [0, 1, 2, 2], { logLoss: 0.5, accuracy: 1 });
    const prior = -(2 * 0.25 * Math.log(0.25) + 0.5 * Math.log(0.5));
    expect(manifest.validation?.gates).toEqual({ logLoss: { max: Math.floor(prior * 1e4) / 1e4 } });
    expect(notes).toContain("no default gate on rocAuc: the model's outputs or this holdout do not give it");
  });

  it('gates regression on R2 >= 0.01, and writes nothing for a label-only classifier', () => {
    const regression = { ...binary, task: 'regression', outputs: { value: 'v' }, classLabels: undefined, validation: { holdout: { target: 'y' } } } as unknown as Manifest;
    expect(withDefaultGates(regression, [1, 2, 3], { mae: 1, rmse: 1, r2: 0.3 }).manifest.validation).toEqual({ holdout: { target: 'y' }, gates: { r2: { min: 0.01 } } });
    const labelsOnly = withDefaultGates(binary, [0, 1, 0, 0], { accuracy: 0.9, f1: 0.5 });
    expect(labelsOnly.manifest).toBe(binary);
    expect(labelsOnly.notes).toEqual(["no default gate on rocAuc, logLoss: the model's outputs or this holdout do not give them"]);
  });
});
