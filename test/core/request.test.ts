import { describe, expect, it } from 'vitest';
import { describeIssues, ValidationError, type Issue } from '../../lambdas/core/errors';
import { parseManifest, type Manifest } from '../../lambdas/core/manifest';
import { parseInferRequest, parsePredictRequest, validateColumns, validateInstances, validateRows, type RequestLimits } from '../../lambdas/core/request';

// One feature of each kind: bounded number, integer, categorical string, boolean, optional number
// (no default: null), optional string and integer with defaults. `dense` is one [N, 3] matrix input.
const manifest: Manifest = parseManifest({
  schemaVersion: '1',
  name: 'loans',
  version: '1',
  task: 'binary-classification',
  features: [
    { name: 'age', type: 'number', min: 18, max: 120 },
    { name: 'count', type: 'integer' },
    { name: 'income', type: 'number', required: false },
    { name: 'city', type: 'string', categories: ['paris', 'rome'] },
    { name: 'member', type: 'boolean' },
    { name: 'segment', type: 'string', required: false, default: 'a' },
    { name: 'plan', type: 'integer', categories: [1, 2, 3], required: false, default: 1 },
  ],
  inputs: [
    { name: 'dense', dtype: 'float32', features: ['age', 'count', 'income'] },
    { name: 'city_in', dtype: 'string', features: ['city'] },
    { name: 'member_in', dtype: 'float32', features: ['member'] },
    { name: 'segment', dtype: 'string', features: ['segment'], rank: 1 },
    { name: 'plan_in', dtype: 'int64', features: ['plan'] },
  ],
  outputs: { probabilities: 'probabilities' },
  classLabels: [0, 1],
  model: { file: 'model.onnx', sha256: '0'.repeat(64) },
});

const limits: RequestLimits = { maxBatchRows: 10, maxBodyBytes: 4096 };
const valid = { age: 30, count: 2, income: 1000.5, city: 'paris', member: true };
const predictBody = (...instances: unknown[]) => JSON.stringify({ instances });

/** The issues a request is rejected with; fails when it is accepted or fails with another error. */
function rejection(parse: () => unknown): readonly Issue[] {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).statusCode).toBe(400);
    return (error as ValidationError).issues;
  }
  throw new Error('the request was accepted');
}

describe('parsePredictRequest accepts', () => {
  it('a full row as it is, filling defaults of missing optional features', () => {
    expect(parsePredictRequest(manifest, predictBody(valid), limits).rows).toEqual([{ ...valid, segment: 'a', plan: 1 }]);
  });

  it.each([
    { what: 'missing', row: { age: 30, count: 2, city: 'rome', member: false } },
    { what: 'null', row: { age: 30, count: 2, city: 'rome', member: false, income: null, segment: null, plan: null } },
  ])('$what optional features: number -> null, others -> default', ({ row }) => {
    expect(parsePredictRequest(manifest, predictBody(row), limits).rows).toEqual([{ age: 30, count: 2, income: null, city: 'rome', member: false, segment: 'a', plan: 1 }]);
  });

  it('given optional values over their defaults', () => {
    const [row] = parsePredictRequest(manifest, predictBody({ ...valid, segment: 'z', plan: 3 }), limits).rows;
    expect(row).toMatchObject({ segment: 'z', plan: 3 });
  });

  it('values on the bounds, an integer written as 2.0, and a batch at the row limit', () => {
    const rows = parsePredictRequest(manifest, `{"instances": [${Array(10).fill('{"age": 18, "count": 2.0, "city": "rome", "member": true}').join(',')}]}`, limits).rows;
    expect(rows).toHaveLength(10);
    expect(rows[0]).toMatchObject({ age: 18, count: 2 });
    expect(parsePredictRequest(manifest, predictBody({ ...valid, age: 120 }), limits).rows[0]?.age).toBe(120);
  });

  it("numbers at the edges of DynamoDB's and float32's ranges, and 0", () => {
    for (const income of [0, 1e-130, -1e-130, 3.4028234663852886e38, -3.4028234663852886e38]) {
      expect(parsePredictRequest(manifest, predictBody({ ...valid, income }), limits).rows[0]?.income).toBe(income);
    }
  });

  it('a body of exactly maxBodyBytes', () => {
    const body = predictBody(valid);
    expect(parsePredictRequest(manifest, body, { ...limits, maxBodyBytes: Buffer.byteLength(body) }).rows).toHaveLength(1);
  });
});

describe('parsePredictRequest rejects, naming row, field and reason', () => {
  const cases: { problem: string; body: string | null | undefined; issue: { row?: number; field: string; reason: RegExp } }[] = [
    { problem: 'a string for a number', body: predictBody({ ...valid, age: '30' }), issue: { row: 0, field: 'age', reason: /^expected a number, got the string "30"$/ } },
    { problem: 'a float for an integer', body: predictBody(valid, { ...valid, count: 2.5 }), issue: { row: 1, field: 'count', reason: /^expected an integer, got 2.5$/ } },
    { problem: 'a number for a string', body: predictBody({ ...valid, city: 7 }), issue: { row: 0, field: 'city', reason: /^expected a string, got number 7$/ } },
    {
      problem: 'a string for a boolean',
      body: predictBody({ ...valid, member: 'true' }),
      issue: { row: 0, field: 'member', reason: /^expected true or false, got the string "true"$/ },
    },
    { problem: '0/1 for a boolean', body: predictBody({ ...valid, member: 1 }), issue: { row: 0, field: 'member', reason: /^expected true or false, got number 1$/ } },
    {
      problem: 'an unknown category',
      body: predictBody({ ...valid, city: 'berlin' }),
      issue: { row: 0, field: 'city', reason: /^unknown category "berlin"; allowed: "paris", "rome"$/ },
    },
    { problem: 'an unknown integer category', body: predictBody({ ...valid, plan: 4 }), issue: { row: 0, field: 'plan', reason: /^unknown category 4; allowed: 1, 2, 3$/ } },
    { problem: 'a value below min', body: predictBody({ ...valid, age: 17.9 }), issue: { row: 0, field: 'age', reason: /^17.9 is below the minimum 18$/ } },
    { problem: 'a value above max', body: predictBody({ ...valid, age: 121 }), issue: { row: 0, field: 'age', reason: /^121 is above the maximum 120$/ } },
    { problem: 'a missing required feature', body: predictBody(valid, valid, { ...valid, city: undefined }), issue: { row: 2, field: 'city', reason: /^is required$/ } },
    { problem: 'null for a required feature', body: predictBody({ ...valid, count: null }), issue: { row: 0, field: 'count', reason: /^is required and cannot be null$/ } },
    {
      problem: '1e999 (Infinity) for a number',
      body: predictBody(valid).replace('"age":30', '"age":1e999'),
      issue: { row: 0, field: 'age', reason: /^expected a finite number, got Infinity$/ },
    },
    {
      problem: '-1e999 for an optional number',
      body: predictBody(valid).replace('"income":1000.5', '"income":-1e999'),
      issue: { row: 0, field: 'income', reason: /^expected a finite number, got -Infinity$/ },
    },
    {
      problem: '1e999 for an integer',
      body: predictBody(valid).replace('"count":2', '"count":1e999'),
      issue: { row: 0, field: 'count', reason: /^expected an integer, got Infinity$/ },
    },
    { problem: 'an unsafe integer', body: predictBody({ ...valid, count: 2 ** 53 }), issue: { row: 0, field: 'count', reason: /^expected an integer/ } },
    // DynamoDB stores magnitudes in [1e-130, 1e126) and 0: anything else would fail the prediction log's write.
    {
      problem: "1e308, beyond DynamoDB's numbers",
      body: predictBody(valid, { ...valid, income: 1e308 }),
      issue: { row: 1, field: 'income', reason: /^1e\+308 is too large to store: the magnitude must be below 1e126$/ },
    },
    {
      problem: "-1e126, beyond DynamoDB's numbers",
      body: predictBody({ ...valid, income: -1e126 }),
      issue: { row: 0, field: 'income', reason: /^-1e\+126 is too large to store/ },
    },
    {
      problem: "5e-324, below DynamoDB's smallest number",
      body: predictBody({ ...valid, income: 5e-324 }),
      issue: { row: 0, field: 'income', reason: /^5e-324 is too small to store: a number other than 0 must have a magnitude of at least 1e-130$/ },
    },
    {
      problem: "-1e-131, below DynamoDB's smallest number",
      body: predictBody({ ...valid, income: -1e-131 }),
      issue: { row: 0, field: 'income', reason: /^-1e-131 is too small to store/ },
    },
    // Within DynamoDB's range, but Infinity once it is a float32 in the model's input tensor.
    {
      problem: '1e39 for a float32 input',
      body: predictBody({ ...valid, income: 1e39 }),
      issue: { row: 0, field: 'income', reason: /^1e\+39 is outside the range of float32, the type of the model input "dense"/ },
    },
    { problem: 'an unknown field', body: predictBody({ ...valid, salary: 1 }), issue: { row: 0, field: 'salary', reason: /^is not a feature of this model$/ } },
    // A key that does not read plainly is named as a JSON string: an empty field name names nothing.
    { problem: 'an empty key', body: predictBody({ ...valid, '': 1 }), issue: { row: 0, field: '""', reason: /^is not a feature of this model$/ } },
    { problem: 'a key of spaces and a control character', body: predictBody({ ...valid, ' \u0007 ': 1 }), issue: { row: 0, field: '" \\u0007 "', reason: /^is not a feature/ } },
    { problem: 'an empty top-level key', body: JSON.stringify({ instances: [valid], '': 1 }), issue: { field: '""', reason: /^is not a known field/ } },
    { problem: 'a non-object row', body: predictBody(valid, [30, 2]), issue: { row: 1, field: '(row)', reason: /^expected an object of feature values$/ } },
    { problem: 'a null row', body: predictBody(null), issue: { row: 0, field: '(row)', reason: /^expected an object/ } },
    { problem: 'empty instances', body: predictBody(), issue: { field: 'instances', reason: /^must hold at least one row$/ } },
    { problem: 'an oversized batch', body: predictBody(...Array(11).fill(valid)), issue: { field: 'instances', reason: /^holds 11 rows; the limit is 10 per request$/ } },
    {
      problem: 'instances that are not an array',
      body: JSON.stringify({ instances: valid }),
      issue: { field: 'instances', reason: /^is required and must be an array of objects$/ },
    },
    { problem: 'no instances', body: '{}', issue: { field: 'instances', reason: /^is required/ } },
    { problem: 'malformed JSON', body: '{"instances": [', issue: { field: 'body', reason: /^malformed JSON: / } },
    { problem: 'an empty body', body: '', issue: { field: 'body', reason: /^is empty; send JSON$/ } },
    { problem: 'a null body', body: null, issue: { field: 'body', reason: /^is empty/ } },
    { problem: 'an undefined body', body: undefined, issue: { field: 'body', reason: /^is empty/ } },
    { problem: 'a top-level array', body: JSON.stringify([valid]), issue: { field: 'body', reason: /^expected a JSON object with an "instances" array$/ } },
    { problem: 'a top-level string', body: '"hello"', issue: { field: 'body', reason: /^expected a JSON object/ } },
    {
      problem: 'an extra top-level key',
      body: JSON.stringify({ instances: [valid], parameters: {} }),
      issue: { field: 'parameters', reason: /^is not a known field; send \{"instances": \[\.\.\.\]\}$/ },
    },
    { problem: 'OIP inputs sent to /v1', body: JSON.stringify({ inputs: [] }), issue: { field: 'inputs', reason: /^is not a known field/ } },
  ];

  it.each(cases)('$problem', ({ body, issue }) => {
    const issues = rejection(() => parsePredictRequest(manifest, body, limits));
    expect(issues).toContainEqual({ ...issue, reason: expect.stringMatching(issue.reason) });
    if (issue.row === undefined) expect(issues).toHaveLength(1);
  });

  it('counts the body limit in UTF-8 bytes, not characters', () => {
    // "é" is one UTF-16 unit but two UTF-8 bytes: under the limit in characters, over it in bytes.
    const body = predictBody({ ...valid, city: 'é'.repeat(100) });
    const maxBodyBytes = body.length + 50;
    expect(Buffer.byteLength(body)).toBe(body.length + 100);
    const issues = rejection(() => parsePredictRequest(manifest, body, { ...limits, maxBodyBytes }));
    expect(issues).toEqual([{ field: 'body', reason: `is larger than the limit of ${maxBodyBytes} bytes` }]);
  });

  it('rejects a body one byte over the limit', () => {
    const body = predictBody(valid);
    expect(rejection(() => parsePredictRequest(manifest, body, { ...limits, maxBodyBytes: Buffer.byteLength(body) - 1 }))[0]?.field).toBe('body');
  });

  it('collects every problem of every row', () => {
    const issues = rejection(() => parsePredictRequest(manifest, predictBody({ ...valid, age: 5, city: 'x' }, valid, { count: 1.5, member: true, extra: 0 }), limits));
    expect(issues.map((i) => `${i.row}:${i.field}`)).toEqual(['0:age', '0:city', '2:age', '2:count', '2:city', '2:extra']);
  });

  it('says where the first problem is in the message', () => {
    expect(() => parsePredictRequest(manifest, predictBody(valid, { ...valid, age: 5 }), limits)).toThrow('invalid request: row 1, age: 5 is below the minimum 18');
    expect(() => parsePredictRequest(manifest, predictBody({ ...valid, age: 5, city: 'x' }), limits)).toThrow(/^invalid request: 2 problems, first: row 0, age: /);
  });

  it.each([
    { what: '60 bad rows', instances: Array.from({ length: 60 }, () => ({ ...valid, age: 1 })) },
    { what: 'one row with 70 unknown fields', instances: [{ ...valid, ...Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`f${i}`, i])) }] },
  ])('reports at most 50 issues: $what', ({ instances }) => {
    const issues = rejection(() => parsePredictRequest(manifest, JSON.stringify({ instances }), { maxBatchRows: 100, maxBodyBytes: 1e6 }));
    expect(issues).toHaveLength(50);
  });
});

describe('parseInferRequest (Open Inference Protocol)', () => {
  const column = (name: string, datatype: string, data: unknown[], shape: number[] = [data.length]) => ({ name, shape, datatype, data });
  const inferBody = (inputs: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ ...extra, inputs });
  const validColumns = [column('age', 'FP32', [30, 40]), column('count', 'INT64', [2, 3]), column('city', 'BYTES', ['paris', 'rome']), column('member', 'BOOL', [true, false])];

  it('turns columnar inputs by feature name into validated rows', () => {
    expect(parseInferRequest(manifest, inferBody([...validColumns, column('income', 'FP64', [1.5, 2.5], [2, 1])]), limits)).toEqual({
      rows: [
        { age: 30, count: 2, income: 1.5, city: 'paris', member: true, segment: 'a', plan: 1 },
        { age: 40, count: 3, income: 2.5, city: 'rome', member: false, segment: 'a', plan: 1 },
      ],
    });
  });

  it.each([
    { layout: 'flat row-major data', data: [30, 2, 100, 40, 3, 200, 50, 4, 300] },
    {
      layout: 'nested data',
      data: [
        [30, 2, 100],
        [40, 3, 200],
        [50, 4, 300],
      ],
    },
  ])('reads one [N, F] input by ONNX name in the order of its features: $layout', ({ data }) => {
    const { rows } = parseInferRequest(
      manifest,
      inferBody([{ name: 'dense', shape: [3, 3], datatype: 'FP32', data }, column('city_in', 'BYTES', ['rome', 'rome', 'paris']), column('member', 'BOOL', [true, true, false])]),
      limits,
    );
    expect(rows.map((r) => [r.age, r.count, r.income, r.city, r.member])).toEqual([
      [30, 2, 100, 'rome', true],
      [40, 3, 200, 'rome', true],
      [50, 4, 300, 'paris', false],
    ]);
  });

  it('echoes the request id, and leaves it out when absent', () => {
    expect(parseInferRequest(manifest, inferBody(validColumns, { id: 'req-42' }), limits).id).toBe('req-42');
    expect(parseInferRequest(manifest, inferBody(validColumns), limits)).not.toHaveProperty('id');
  });

  const cases: { problem: string; body: string | null; issue: { row?: number; field: string; reason: RegExp }; limits?: RequestLimits }[] = [
    {
      problem: 'BYTES for a number feature',
      body: inferBody([column('age', 'BYTES', ['30'])]),
      issue: { field: 'inputs[0].datatype', reason: /^BYTES cannot carry number feature "age"$/ },
    },
    {
      problem: 'FP32 for a string feature',
      body: inferBody([validColumns[0], column('city', 'FP32', [1, 2])]),
      issue: { field: 'inputs[1].datatype', reason: /^FP32 cannot carry string feature "city"$/ },
    },
    {
      problem: 'FP32 for a boolean feature',
      body: inferBody([column('member', 'FP32', [1])]),
      issue: { field: 'inputs[0].datatype', reason: /cannot carry boolean feature "member"/ },
    },
    { problem: 'an unknown datatype', body: inferBody([column('age', 'FLOAT', [30])]), issue: { field: 'inputs[0].datatype', reason: /^must be one of BOOL, BYTES, / } },
    // Names of Object.prototype members are not datatypes (an `in` check found them, and the 500 followed).
    ...['toString', '__proto__', 'constructor', 'hasOwnProperty', 'valueOf'].map((datatype) => ({
      problem: `the datatype "${datatype}"`,
      body: inferBody([column('age', datatype, [30])]),
      issue: { field: 'inputs[0].datatype', reason: /^must be one of BOOL, BYTES, / },
    })),
    // flat(Infinity) recursed: 10,000 nested arrays (a 20 KB body) overflowed the stack.
    {
      problem: 'data nested 10,000 deep',
      body: inferBody([{ name: 'age', shape: [1], datatype: 'FP32', data: 'x' }]).replace('"x"', `${'['.repeat(10_000)}30${']'.repeat(10_000)}`),
      issue: { field: 'inputs[0].data', reason: /^must be a flat array, or an array of rows that are arrays of values \(nested at most two deep\)$/ },
      limits: { maxBatchRows: 10, maxBodyBytes: 1e6 },
    },
    {
      problem: 'data nested three deep',
      body: inferBody([{ name: 'dense', shape: [1, 3], datatype: 'FP32', data: [[[30], 2, 1]] }]),
      issue: { field: 'inputs[0].data', reason: /^must be a flat array, or an array of rows/ },
    },
    {
      problem: 'shape / data length mismatch',
      body: inferBody([column('age', 'FP32', [30, 40, 50], [2])]),
      issue: { field: 'inputs[0].data', reason: /^must hold 2 values for shape \[2\]$/ },
    },
    {
      problem: 'matrix data too short',
      body: inferBody([{ name: 'dense', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5] }]),
      issue: { field: 'inputs[0].data', reason: /^must hold 6 values for shape \[2, 3\]$/ },
    },
    {
      problem: 'data that is not an array',
      body: inferBody([{ name: 'age', shape: [1], datatype: 'FP32', data: 30 }]),
      issue: { field: 'inputs[0].data', reason: /^must hold 1 values/ },
    },
    {
      problem: 'differing row counts',
      body: inferBody([column('age', 'FP32', [30, 40]), column('count', 'INT64', [1, 2, 3])]),
      issue: { field: 'inputs[1].shape', reason: /^has 3 rows, earlier inputs have 2$/ },
    },
    {
      problem: "a matrix width that is not the input's",
      body: inferBody([{ name: 'dense', shape: [1, 2], datatype: 'FP32', data: [1, 2] }]),
      issue: { field: 'inputs[0].shape', reason: /^"dense" takes 3 feature\(s\) per row, shape says 2$/ },
    },
    {
      problem: 'a feature with width 2',
      body: inferBody([column('age', 'FP32', [1, 2], [1, 2])]),
      issue: { field: 'inputs[0].shape', reason: /^"age" takes 1 feature\(s\) per row, shape says 2$/ },
    },
    { problem: 'a rank-3 shape', body: inferBody([column('age', 'FP32', [1], [1, 1, 1])]), issue: { field: 'inputs[0].shape', reason: /^must be \[N\] or \[N, F\]/ } },
    { problem: 'a negative dimension', body: inferBody([column('age', 'FP32', [1], [-1])]), issue: { field: 'inputs[0].shape', reason: /^must be \[N\] or \[N, F\]/ } },
    { problem: 'zero rows', body: inferBody([column('age', 'FP32', [])]), issue: { field: 'inputs[0].shape', reason: /^must hold at least one row$/ } },
    {
      problem: 'an oversized batch',
      body: inferBody([column('age', 'FP32', Array(11).fill(30))]),
      issue: { field: 'inputs[0].shape', reason: /^holds 11 rows; the limit is 10 per request$/ },
    },
    {
      problem: 'an unknown input name',
      body: inferBody([column('salary', 'FP32', [1])]),
      issue: { field: 'inputs[0].name', reason: /^"salary" is neither a feature nor an input of model loans$/ },
    },
    {
      problem: 'a missing input name',
      body: inferBody([{ shape: [1], datatype: 'FP32', data: [1] }]),
      issue: { field: 'inputs[0].name', reason: /^is required and must be a string$/ },
    },
    {
      problem: 'a feature given twice (matrix, then column)',
      body: inferBody([{ name: 'dense', shape: [1, 3], datatype: 'FP32', data: [30, 2, 1] }, column('age', 'FP32', [30])]),
      issue: { field: 'inputs[1].name', reason: /^feature "age" is given twice$/ },
    },
    {
      problem: 'a feature given twice (column, column)',
      body: inferBody([column('age', 'FP32', [30]), column('age', 'FP64', [31])]),
      issue: { field: 'inputs[1].name', reason: /^feature "age" is given twice$/ },
    },
    { problem: 'a non-object input', body: inferBody([[1, 2]]), issue: { field: 'inputs[0]', reason: /^expected an object/ } },
    { problem: 'empty inputs', body: inferBody([]), issue: { field: 'inputs', reason: /^is required and must be a non-empty array/ } },
    { problem: 'no inputs', body: '{"id": "x"}', issue: { field: 'inputs', reason: /^is required/ } },
    { problem: 'a numeric id', body: inferBody(validColumns, { id: 7 }), issue: { field: 'id', reason: /^must be a string$/ } },
    { problem: 'a top-level array', body: JSON.stringify(validColumns), issue: { field: 'body', reason: /^expected a JSON object with an "inputs" array$/ } },
    { problem: 'malformed JSON', body: '{"inputs": [}', issue: { field: 'body', reason: /^malformed JSON: / } },
    { problem: 'an empty body', body: '', issue: { field: 'body', reason: /^is empty/ } },
    {
      problem: 'a body over the byte limit',
      body: inferBody(validColumns),
      issue: { field: 'body', reason: /^is larger than the limit of 100 bytes$/ },
      limits: { maxBatchRows: 10, maxBodyBytes: 100 },
    },
    // Values are validated like /v1, per row and feature.
    {
      problem: 'an unknown category in row 1',
      body: inferBody([...validColumns.slice(0, 2), column('city', 'BYTES', ['paris', 'berlin']), validColumns[3]]),
      issue: { row: 1, field: 'city', reason: /^unknown category "berlin"/ },
    },
    {
      problem: '1e999 in the data',
      body: inferBody(validColumns).replace('[30,40]', '[30,1e999]'),
      issue: { row: 1, field: 'age', reason: /^expected a finite number, got Infinity$/ },
    },
    {
      problem: 'a float for an integer feature in FP32',
      body: inferBody([validColumns[0], column('count', 'FP32', [2, 2.5]), validColumns[2], validColumns[3]]),
      issue: { row: 1, field: 'count', reason: /^expected an integer, got 2.5$/ },
    },
    { problem: 'a missing required feature', body: inferBody(validColumns.slice(0, 3)), issue: { row: 0, field: 'member', reason: /^is required$/ } },
    {
      problem: 'null in the data of a required feature',
      body: inferBody([column('age', 'FP32', [30, null]), ...validColumns.slice(1)]),
      issue: { row: 1, field: 'age', reason: /^is required and cannot be null$/ },
    },
  ];

  it.each(cases)('rejects $problem', ({ body, issue, limits: given }) => {
    const issues = rejection(() => parseInferRequest(manifest, body, given ?? limits));
    expect(issues).toContainEqual({ ...issue, reason: expect.stringMatching(issue.reason) });
  });

  it('reports at most 50 value issues', () => {
    const n = 60;
    const body = inferBody([
      column('age', 'FP32', Array(n).fill(1)),
      column('count', 'INT64', Array(n).fill(1)),
      column('city', 'BYTES', Array(n).fill('paris')),
      column('member', 'BOOL', Array(n).fill(true)),
    ]);
    expect(rejection(() => parseInferRequest(manifest, body, { maxBatchRows: 100, maxBodyBytes: 1e6 }))).toHaveLength(50);
  });
});

describe('pass-through fields', () => {
  // customerID is the join key; campaign is returned and logged only.
  const withIds: Manifest = parseManifest({ ...manifest, passThrough: [{ name: 'customerID', joinKey: true }, { name: 'campaign' }] });

  it('accepts them beside the features, keeps them out of the rows, and returns them per row', () => {
    const parsed = parsePredictRequest(withIds, predictBody({ ...valid, customerID: '7590-VHVEG' }, { ...valid, customerID: 42, campaign: 'spring' }, valid), limits);
    expect(parsed.rows).toEqual(parsePredictRequest(manifest, predictBody(valid, valid, valid), limits).rows);
    expect(parsed.passThrough).toEqual([{ customerID: '7590-VHVEG' }, { customerID: 42, campaign: 'spring' }, undefined]);
  });

  it('carries nothing for a model without them', () => {
    expect(parsePredictRequest(manifest, predictBody(valid), limits)).not.toHaveProperty('passThrough');
  });

  it.each([
    {
      problem: 'an unknown field next to them',
      instance: { ...valid, customerID: 'a', salary: 1 },
      issue: { row: 0, field: 'salary', reason: 'is neither a feature nor a pass-through field (customerID, campaign) of this model' },
    },
    { problem: 'an object', instance: { ...valid, customerID: { id: 1 } }, issue: { row: 0, field: 'customerID', reason: 'expected a string or a number, got object' } },
    { problem: 'a boolean', instance: { ...valid, campaign: true }, issue: { row: 0, field: 'campaign', reason: 'expected a string or a number, got boolean' } },
    { problem: 'an empty string', instance: { ...valid, customerID: '' }, issue: { row: 0, field: 'customerID', reason: 'expected a non-empty string of at most 256 characters' } },
    {
      problem: 'a 257-character string',
      instance: { ...valid, customerID: 'x'.repeat(257) },
      issue: { row: 0, field: 'customerID', reason: 'expected a non-empty string of at most 256 characters' },
    },
  ])('rejects $problem with a 400 naming the field', ({ instance, issue }) => {
    expect(rejection(() => parsePredictRequest(withIds, predictBody(instance), limits))).toEqual([issue]);
  });

  it('still rejects them, as unknown fields, for a model that does not declare them', () => {
    expect(rejection(() => parsePredictRequest(manifest, predictBody({ ...valid, customerID: 'a' }), limits))).toEqual([
      { row: 0, field: 'customerID', reason: 'is not a feature of this model' },
    ]);
  });

  it('takes /v2 inputs named like them, as BYTES or a number datatype, and nothing else unknown', () => {
    const inputs = [
      { name: 'age', shape: [2], datatype: 'FP32', data: [30, 40] },
      { name: 'count', shape: [2], datatype: 'INT64', data: [2, 3] },
      { name: 'city', shape: [2], datatype: 'BYTES', data: ['paris', 'rome'] },
      { name: 'member', shape: [2], datatype: 'BOOL', data: [true, false] },
      { name: 'customerID', shape: [2, 1], datatype: 'BYTES', data: ['a-1', 'b-2'] },
    ];
    const parsed = parseInferRequest(withIds, JSON.stringify({ inputs }), limits);
    expect(parsed.passThrough).toEqual([{ customerID: 'a-1' }, { customerID: 'b-2' }]);
    expect(parsed.rows).toHaveLength(2);
    const bool = [...inputs.slice(0, 4), { name: 'campaign', shape: [2], datatype: 'BOOL', data: [true, false] }];
    expect(rejection(() => parseInferRequest(withIds, JSON.stringify({ inputs: bool }), limits))).toEqual([
      { field: 'inputs[4].datatype', reason: 'pass-through field "campaign" takes BYTES (strings) or a number datatype' },
    ]);
    const unknown = [...inputs.slice(0, 4), { name: 'salary', shape: [2], datatype: 'FP32', data: [1, 2] }];
    expect(rejection(() => parseInferRequest(withIds, JSON.stringify({ inputs: unknown }), limits))).toEqual([
      { field: 'inputs[4].name', reason: '"salary" is neither a feature, an input nor a pass-through field of model loans' },
    ]);
  });
});

describe('validateColumns', () => {
  const withIds: Manifest = parseManifest({ ...manifest, passThrough: [{ name: 'customerID', joinKey: true }, { name: 'campaign' }] });
  /** The same values as one object per row: what validateColumns must answer like. */
  const asInstances = (columns: Record<string, unknown[]>, rows: number) =>
    Array.from({ length: rows }, (_, r) => Object.fromEntries(Object.entries(columns).map(([name, column]) => [name, column[r]])));
  const outcome = (validate: () => unknown) => {
    try {
      return { accepted: validate() };
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      return { message: (error as ValidationError).message, issues: (error as ValidationError).issues };
    }
  };
  const valid = { age: [30, 40], count: [2, 3], city: ['paris', 'rome'], member: [true, false] };

  it.each([
    { what: 'valid columns, optional features missing or null', manifest, columns: { ...valid, income: [null, 2.5] } },
    { what: 'pass-through values, missing in a row or null', manifest: withIds, columns: { ...valid, customerID: ['c-1', null], campaign: [7, 'spring'] } },
    { what: 'no pass-through column at all', manifest: withIds, columns: valid },
    { what: 'a value of the wrong type and an unknown category', manifest, columns: { ...valid, count: [2, 2.5], city: ['lyon', 'rome'] } },
    { what: 'a required column missing', manifest, columns: { age: valid.age, count: valid.count, city: valid.city } },
    { what: 'null for a required feature', manifest, columns: { ...valid, age: [30, null] } },
    { what: 'a number beyond float32 for a float32 input', manifest, columns: { ...valid, income: [1e39, 1] } },
    { what: 'a pass-through value that is no identifier', manifest: withIds, columns: { ...valid, customerID: ['', 'x'.repeat(257)] } },
  ])('answers as validateInstances does for the same values as instances: $what', ({ manifest: m, columns }) => {
    const byName = new Map(Object.entries(columns));
    expect(outcome(() => validateColumns(m, byName, 2))).toStrictEqual(outcome(() => validateInstances(m, asInstances(columns, 2))));
  });

  it('reports problems row by row, each with its field, whatever column they are in', () => {
    const columns = new Map<string, unknown[]>(Object.entries({ ...valid, count: [2, 2.5], city: ['lyon', 'rome'] }));
    expect(rejection(() => validateColumns(manifest, columns, 2))).toEqual([
      { row: 0, field: 'city', reason: 'unknown category "lyon"; allowed: "paris", "rome"' },
      { row: 1, field: 'count', reason: 'expected an integer, got 2.5' },
    ]);
  });

  it('keeps to 50 issues, with the count in the message, as for instances', () => {
    const columns = { age: Array(60).fill(10), count: Array(60).fill(1), city: Array(60).fill('paris'), member: Array(60).fill(true) };
    const columnar = outcome(() => validateColumns(manifest, new Map(Object.entries(columns)), 60));
    expect(columnar.issues).toHaveLength(50);
    expect(columnar).toStrictEqual(outcome(() => validateInstances(manifest, asInstances(columns, 60))));
  });

  it('fills rows with every feature, defaults for missing optional ones', () => {
    expect(validateColumns(manifest, new Map(Object.entries(valid)), 2)).toStrictEqual({
      rows: [
        { age: 30, count: 2, income: null, city: 'paris', member: true, segment: 'a', plan: 1 },
        { age: 40, count: 3, income: null, city: 'rome', member: false, segment: 'a', plan: 1 },
      ],
    });
  });
});

describe('validateRows', () => {
  it('accepts every feature missing only when all are optional', () => {
    const optional: Manifest = { ...manifest, features: manifest.features.filter((f) => f.required === false) };
    expect(validateRows(optional, [{}])).toEqual([{ income: null, segment: 'a', plan: 1 }]);
  });

  // Feature names are data: names of Object.prototype members must behave like any other name
  // ("constructor" is a column of the Formula 1 data sets, for one).
  it('treats a missing feature named like an Object.prototype member as missing', () => {
    const f1: Manifest = {
      ...manifest,
      features: [
        { name: 'constructor', type: 'string', required: false, default: 'none' },
        { name: 'valueOf', type: 'number', required: false },
        { name: 'toString', type: 'string' },
      ],
    };
    expect(validateRows(f1, [{ toString: 'x' }])).toEqual([{ constructor: 'none', valueOf: null, toString: 'x' }]);
    expect(rejection(() => validateRows(f1, [{}]))).toEqual([{ row: 0, field: 'toString', reason: 'is required' }]);
  });
});

describe('describeIssues', () => {
  it('formats one issue per line, with the row when there is one', () => {
    expect(
      describeIssues([
        { field: 'body', reason: 'is empty' },
        { row: 3, field: 'age', reason: 'is required' },
      ]),
    ).toBe('body: is empty\nrow 3: age: is required');
  });
});
