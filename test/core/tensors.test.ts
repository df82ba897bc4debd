import { describe, expect, it } from 'vitest';
import type { InputSpec, Manifest } from '../../lambdas/core/manifest';
import type { Row } from '../../lambdas/core/request';
import { ValidationError } from '../../lambdas/core/errors';
import { checkFinitePredictions, ContractError, decodePredictions, encodeFeeds, ModelOutputError, type TensorData } from '../../lambdas/core/tensors';

const base = {
  schemaVersion: '1',
  name: 'm',
  version: '1',
  model: { file: 'model.onnx', sha256: '0'.repeat(64) },
} as const;

function withInputs(inputs: InputSpec[], batchSize?: number): Manifest {
  return {
    ...base,
    task: 'regression',
    features: [
      { name: 'a', type: 'number' },
      { name: 'b', type: 'integer' },
      { name: 'c', type: 'boolean' },
      { name: 's', type: 'string' },
      { name: 'opt', type: 'number', required: false },
    ],
    inputs,
    outputs: { value: 'v' },
    ...(batchSize === undefined ? {} : { batchSize }),
  };
}

const rows: Row[] = [
  { a: 0.1, b: 2, c: true, s: 'x', opt: null },
  { a: -3.5, b: -7, c: false, s: 'y', opt: 4 },
];

describe('encodeFeeds', () => {
  it.each([
    { dtype: 'float32', features: ['a'], data: Float32Array.from([0.1, -3.5]) },
    { dtype: 'float64', features: ['a'], data: Float64Array.from([0.1, -3.5]) },
    { dtype: 'int64', features: ['b'], data: BigInt64Array.from([2n, -7n]) },
    { dtype: 'int64', features: ['c'], data: BigInt64Array.from([1n, 0n]) },
    { dtype: 'string', features: ['s'], data: ['x', 'y'] },
    { dtype: 'bool', features: ['c'], data: [true, false] },
    { dtype: 'float32', features: ['c'], data: Float32Array.from([1, 0]) },
    { dtype: 'float64', features: ['b'], data: Float64Array.from([2, -7]) },
    { dtype: 'float32', features: ['opt'], data: Float32Array.from([NaN, 4]) },
    { dtype: 'float64', features: ['opt'], data: Float64Array.from([NaN, 4]) },
  ] as const)('$features.0 into $dtype', ({ dtype, features, data }) => {
    const [chunk, ...more] = encodeFeeds(withInputs([{ name: 'in', dtype, features: [...features] }]), rows);
    expect(more).toHaveLength(0);
    expect(chunk?.rows).toBe(2);
    const tensor = chunk?.feeds.in as TensorData;
    expect(tensor.dtype).toBe(dtype);
    expect(tensor.dims).toEqual([2, 1]);
    expect(tensor.data.constructor).toBe(data.constructor);
    expect(Array.from(tensor.data as ArrayLike<unknown>)).toEqual(Array.from(data as ArrayLike<unknown>));
  });

  it('stores a float32 value rounded to single precision, a float64 value exactly', () => {
    const [chunk] = encodeFeeds(
      withInputs([
        { name: 'f32', dtype: 'float32', features: ['a'] },
        { name: 'f64', dtype: 'float64', features: ['opt'] },
      ]),
      [{ ...rows[1], a: 0.1, opt: 0.1 } as Row],
    );
    expect(chunk?.feeds.f32?.data[0]).toBe(Math.fround(0.1));
    expect(chunk?.feeds.f32?.data[0]).not.toBe(0.1);
    expect(chunk?.feeds.f64?.data[0]).toBe(0.1);
  });

  it.each([
    { rank: undefined, dims: [2, 1] },
    { rank: 2, dims: [2, 1] },
    { rank: 1, dims: [2] },
  ] as const)('shapes a one-feature input of rank $rank as $dims', ({ rank, dims }) => {
    const [chunk] = encodeFeeds(withInputs([{ name: 'in', dtype: 'float32', features: ['a'], ...(rank ? { rank } : {}) }]), rows);
    expect(chunk?.feeds.in?.dims).toEqual(dims);
  });

  it('lays a matrix input out [N, F] row-major, in the order of the input features', () => {
    const [chunk] = encodeFeeds(withInputs([{ name: 'X', dtype: 'float64', features: ['b', 'a', 'c', 'opt'] }]), rows);
    expect(chunk?.feeds.X?.dims).toEqual([2, 4]);
    expect(Array.from(chunk?.feeds.X?.data as Float64Array)).toEqual([2, 0.1, 1, NaN, -7, -3.5, 0, 4]);
  });

  it('fills every input of the manifest', () => {
    const [chunk] = encodeFeeds(
      withInputs([
        { name: 'num', dtype: 'float32', features: ['a', 'opt'] },
        { name: 'int', dtype: 'int64', features: ['b'] },
        { name: 'str', dtype: 'string', features: ['s'], rank: 1 },
      ]),
      rows,
    );
    expect(Object.keys(chunk?.feeds ?? {}).sort()).toEqual(['int', 'num', 'str']);
    expect(chunk?.feeds.str).toEqual({ dtype: 'string', dims: [2], data: ['x', 'y'] });
  });

  it('runs all rows in one chunk when the batch dimension is free', () => {
    const many = Array.from({ length: 7 }, (_, i) => ({ ...rows[0], a: i }) as Row);
    const chunks = encodeFeeds(withInputs([{ name: 'in', dtype: 'float32', features: ['a'] }]), many);
    expect(chunks.map((c) => c.rows)).toEqual([7]);
    expect(chunks[0]?.feeds.in?.dims).toEqual([7, 1]);
  });

  it.each([
    { batchSize: 1, rows: 3, chunks: [1, 1, 1] },
    { batchSize: 4, rows: 5, chunks: [4, 1] },
    { batchSize: 2, rows: 4, chunks: [2, 2] },
    { batchSize: 4, rows: 1, chunks: [1] },
    { batchSize: 3, rows: 0, chunks: [] },
  ])('cuts $rows rows into chunks of batchSize $batchSize: real rows $chunks', ({ batchSize, rows: n, chunks: expected }) => {
    const many = Array.from({ length: n }, (_, i) => ({ ...rows[0], a: i + 1 }) as Row);
    const chunks = encodeFeeds(withInputs([{ name: 'in', dtype: 'float32', features: ['a', 'b'] }], batchSize), many);
    expect(chunks.map((c) => c.rows)).toEqual(expected);
    for (const chunk of chunks) expect(chunk.feeds.in?.dims).toEqual([batchSize, 2]);
  });

  it('pads the last chunk by repeating its last real row', () => {
    const many = Array.from({ length: 5 }, (_, i) => ({ ...rows[0], a: i + 1, b: 10 * (i + 1) }) as Row);
    const [first, second] = encodeFeeds(withInputs([{ name: 'in', dtype: 'float32', features: ['a', 'b'] }], 4), many);
    expect(Array.from(first?.feeds.in?.data as Float32Array)).toEqual([1, 10, 2, 20, 3, 30, 4, 40]);
    expect(Array.from(second?.feeds.in?.data as Float32Array)).toEqual([5, 50, 5, 50, 5, 50, 5, 50]);
  });
});

describe('decodePredictions', () => {
  const classifier = (task: Manifest['task'], extra: Partial<Manifest>): Manifest => ({
    ...base,
    task,
    features: [{ name: 'x', type: 'number' }],
    inputs: [{ name: 'in', dtype: 'float32', features: ['x'] }],
    outputs: {},
    ...extra,
  });
  const f32 = (dims: number[], values: number[]): TensorData => ({ dtype: 'float32', dims, data: Float32Array.from(values) });
  const f64 = (dims: number[], values: number[]): TensorData => ({ dtype: 'float64', dims, data: Float64Array.from(values) });
  const i64 = (values: bigint[]): TensorData => ({ dtype: 'int64', dims: [values.length], data: BigInt64Array.from(values) });

  const multiclass = classifier('multiclass-classification', { outputs: { label: 'label', probabilities: 'probs' }, classLabels: [0, 1, 2] });
  const binary = classifier('binary-classification', { outputs: { label: 'label', probabilities: 'probs' }, classLabels: [0, 1] });

  it('keys multiclass probabilities [N, C] by class label and takes the label from an int64 label tensor', () => {
    const predictions = decodePredictions(multiclass, { label: i64([2n, 0n]), probs: f64([2, 3], [0.1, 0.2, 0.7, 0.5, 0.3, 0.2]) }, 2);
    expect(predictions).toEqual([
      { label: 2, probabilities: { 0: 0.1, 1: 0.2, 2: 0.7 } },
      { label: 0, probabilities: { 0: 0.5, 1: 0.3, 2: 0.2 } },
    ]);
  });

  it("takes float32 rounding back into [0, 1] (a forest's 1.0000001), and leaves a value further out as it is", () => {
    const [rounded, outside] = decodePredictions(multiclass, { label: i64([2n, 2n]), probs: f32([2, 3], [-1e-7, 0, 1.0000001, 0, -0.5, 1.5]) }, 2);
    expect(rounded?.probabilities).toEqual({ 0: 0, 1: 0, 2: 1 });
    expect(outside?.probabilities).toEqual({ 0: 0, 1: -0.5, 2: 1.5 });
  });

  it('trusts the label tensor of a multiclass model over the largest probability', () => {
    const [p] = decodePredictions(multiclass, { label: i64([1n]), probs: f64([1, 3], [0.1, 0.2, 0.7]) }, 1);
    expect(p?.label).toBe(1);
  });

  it('takes the argmax of the probabilities without a label output (first label on ties)', () => {
    const manifest = classifier('multiclass-classification', { outputs: { probabilities: 'probs' }, classLabels: ['a', 'b', 'c'] });
    const predictions = decodePredictions(manifest, { probs: f64([3, 3], [0.1, 0.6, 0.3, 0.8, 0.1, 0.1, 0.4, 0.4, 0.2]) }, 3);
    expect(predictions.map((p) => p.label)).toEqual(['b', 'a', 'a']);
  });

  it('maps string labels from a string label tensor', () => {
    const manifest = classifier('multiclass-classification', { outputs: { label: 'label' }, classLabels: ['setosa', 'versicolor', 'virginica'] });
    const predictions = decodePredictions(manifest, { label: { dtype: 'string', dims: [2, 1], data: ['virginica', 'setosa'] } }, 2);
    expect(predictions).toEqual([{ label: 'virginica' }, { label: 'setosa' }]);
  });

  it('maps int64 labels onto string class labels that spell them', () => {
    const manifest = classifier('multiclass-classification', { outputs: { label: 'label' }, classLabels: ['1', '2', '3'] });
    expect(decodePredictions(manifest, { label: i64([3n]) }, 1)).toEqual([{ label: '3' }]);
  });

  it.each([
    { p1: 0.6, threshold: undefined, label: 1 },
    { p1: 0.5, threshold: undefined, label: 1 },
    { p1: 0.4999, threshold: undefined, label: 0 },
    { p1: 0.4, threshold: 0.3, label: 1 },
    { p1: 0.29, threshold: 0.3, label: 0 },
    { p1: 0.85, threshold: 0.9, label: 0 },
  ])('binary [N, 2]: P(1) = $p1 with threshold $threshold -> $label', ({ p1, threshold, label }) => {
    const manifest = { ...binary, ...(threshold === undefined ? {} : { threshold }) };
    // The label tensor says the opposite: the manifest's threshold decides a binary label.
    const [p] = decodePredictions(manifest, { label: i64([BigInt(1 - label)]), probs: f64([1, 2], [1 - p1, p1]) }, 1);
    expect(p).toEqual({ label, probabilities: { 0: 1 - p1, 1: p1 } });
  });

  it('reads a sigmoid [N, 1] as the probability of classLabels[1]', () => {
    const manifest = classifier('binary-classification', { outputs: { probabilities: 'out' }, classLabels: ['stay', 'churn'] });
    const predictions = decodePredictions(manifest, { out: f64([2, 1], [0.25, 0.75]) }, 2);
    expect(predictions).toEqual([
      { label: 'stay', probabilities: { stay: 0.75, churn: 0.25 } },
      { label: 'churn', probabilities: { stay: 0.25, churn: 0.75 } },
    ]);
  });

  it('reads a sigmoid [N, 1] as the probability of positiveClass when it is set', () => {
    const manifest = classifier('binary-classification', { outputs: { probabilities: 'out' }, classLabels: ['fraud', 'ok'], positiveClass: 'fraud', threshold: 0.2 });
    const [p] = decodePredictions(manifest, { out: f64([1, 1], [0.25]) }, 1);
    expect(p).toEqual({ label: 'fraud', probabilities: { ok: 0.75, fraud: 0.25 } });
  });

  it('orders [N, 2] probabilities by classLabels, not by positiveClass', () => {
    const manifest = classifier('binary-classification', { outputs: { probabilities: 'probs' }, classLabels: [0, 1], positiveClass: 0 });
    const [p] = decodePredictions(manifest, { probs: f64([1, 2], [0.7, 0.3]) }, 1);
    expect(p).toEqual({ label: 0, probabilities: { 0: 0.7, 1: 0.3 } });
  });

  it('reads a binary label tensor when there are no probabilities', () => {
    const manifest = classifier('binary-classification', { outputs: { label: 'label' }, classLabels: [0, 1] });
    expect(decodePredictions(manifest, { label: i64([1n, 0n]) }, 2)).toEqual([{ label: 1 }, { label: 0 }]);
  });

  it('returns scores [N, C] keyed by label beside the label, never as probabilities', () => {
    const manifest = classifier('binary-classification', { outputs: { label: 'label', scores: 'margins' }, classLabels: [0, 1] });
    const predictions = decodePredictions(manifest, { label: i64([1n]), margins: f64([1, 2], [-1.5, 1.5]) }, 1);
    expect(predictions).toEqual([{ label: 1, scores: { 0: -1.5, 1: 1.5 } }]);
  });

  it('decodes only the real rows of a padded chunk', () => {
    const predictions = decodePredictions(multiclass, { label: i64([1n, 1n, 1n, 1n]), probs: f64([4, 3], Array(12).fill(1 / 3)) }, 1);
    expect(predictions).toHaveLength(1);
  });

  describe('regression', () => {
    const regression: Manifest = {
      ...base,
      task: 'regression',
      features: [{ name: 'x', type: 'number' }],
      inputs: [{ name: 'in', dtype: 'float32', features: ['x'] }],
      outputs: { value: 'v' },
    };

    it.each([
      { shape: '[N]', tensor: f64([2], [1.5, -2]), values: [1.5, -2] },
      { shape: '[N, 1]', tensor: f64([2, 1], [1.5, -2]), values: [1.5, -2] },
      {
        shape: '[N, K]',
        tensor: f64([2, 3], [1, 2, 3, 4, 5, 6]),
        values: [
          [1, 2, 3],
          [4, 5, 6],
        ],
      },
      { shape: '[N] float32', tensor: f32([2], [0.5, 0.25]), values: [0.5, 0.25] },
      { shape: '[N] int64', tensor: i64([3n, 4n]), values: [3, 4] },
    ])('$shape', ({ tensor, values }) => {
      expect(decodePredictions(regression, { v: tensor }, 2)).toEqual(values.map((value) => ({ value })));
    });
  });

  describe('throws a ContractError', () => {
    it.each([
      {
        what: 'probabilities of 4 columns for 3 labels',
        manifest: multiclass,
        outputs: { label: i64([0n]), probs: f64([1, 4], [0.25, 0.25, 0.25, 0.25]) },
        message: /output "probs" has 4 columns, the manifest has 3 class labels/,
      },
      {
        what: 'a [N, 1] probability for a multiclass model',
        manifest: multiclass,
        outputs: { label: i64([0n]), probs: f64([1, 1], [0.5]) },
        message: /has 1 columns, the manifest has 3 class labels/,
      },
      {
        what: 'scores of the wrong width',
        manifest: classifier('binary-classification', { outputs: { label: 'label', scores: 's' }, classLabels: [0, 1] }),
        outputs: { label: i64([0n]), s: f64([1, 3], [1, 2, 3]) },
        message: /output "s" has 3 columns, the manifest has 2 class labels/,
      },
      {
        what: 'a missing output',
        manifest: multiclass,
        outputs: { label: i64([0n]), output_probability: f64([1, 3], [1, 0, 0]) },
        message: /the model has no output "probs" \(outputs: label, output_probability\)/,
      },
      {
        what: 'a label not in classLabels',
        manifest: multiclass,
        outputs: { label: i64([7n]), probs: f64([1, 3], [1, 0, 0]) },
        message: /the model answered label 7, which is not in classLabels/,
      },
      { what: 'a rank-3 output', manifest: multiclass, outputs: { label: i64([0n]), probs: f64([1, 3, 1], [1, 0, 0]) }, message: /probabilities output has shape \[1, 3, 1\]/ },
      {
        what: 'fewer rows than asked for',
        manifest: multiclass,
        outputs: { label: i64([0n]), probs: f64([1, 3], [1, 0, 0]) },
        rows: 2,
        message: /expected \[N\] or \[N, K\] with N >= 2/,
      },
    ] as { what: string; manifest: Manifest; outputs: Record<string, TensorData>; message: RegExp; rows?: number }[])('for $what', ({ manifest, outputs, message, rows: n }) => {
      expect(() => decodePredictions(manifest, outputs, n ?? 1)).toThrow(ContractError);
      expect(() => decodePredictions(manifest, outputs, n ?? 1)).toThrow(message);
    });

    it('for a regression model without its value output', () => {
      const regression: Manifest = {
        ...base,
        task: 'regression',
        features: [{ name: 'x', type: 'number' }],
        inputs: [{ name: 'in', dtype: 'float32', features: ['x'] }],
        outputs: { value: 'variable' },
      };
      expect(() => decodePredictions(regression, { v: f64([1], [1]) }, 1)).toThrow(/the model has no output "variable"/);
    });
  });
});

describe('checkFinitePredictions', () => {
  const numeric = (min: number, max: number) => ({
    kind: 'numeric' as const,
    edges: [min, max],
    counts: [1],
    underflow: 0,
    overflow: 0,
    missing: 0,
    count: 1,
    mean: min,
    std: 0,
    min,
    max,
  });
  const manifest: Manifest = {
    ...withInputs([{ name: 'x', dtype: 'float32', features: ['a', 'b', 'c', 'opt'] }]),
    baseline: { rows: 1, features: { a: numeric(0, 10), opt: numeric(-1, 1) } },
  };
  const row = (a: number, opt: number | null = 0): Row => ({ a, b: 1, c: true, s: 'x', opt });

  it('passes finite answers whatever the inputs', () => {
    expect(() => checkFinitePredictions(manifest, [row(1), row(1e30)], [{ value: 1 }, { value: [2, 3] }])).not.toThrow();
  });

  // NaN from an overflow inside the model: a label decided on NaN, and a log record DynamoDB refuses.
  it('blames the client (400, naming row and feature) when an input lies outside the training data', () => {
    try {
      checkFinitePredictions(manifest, [row(1), row(3e38)], [{ value: 1 }, { value: [1, Number.NaN] }]);
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues).toEqual([
        { row: 1, field: 'a', reason: 'the model computes no finite prediction for this row (value[1] is NaN); 3e+38 is far outside the training data of a (0 to 10)' },
      ]);
    }
  });

  it('blames the model (ModelOutputError, a 500) when every input lies inside the training data', () => {
    expect(() => checkFinitePredictions(manifest, [row(5, null)], [{ probabilities: { no: Number.NaN, yes: Number.NaN }, label: 'no' }])).toThrow(ModelOutputError);
    expect(() => checkFinitePredictions(manifest, [row(5)], [{ value: Number.POSITIVE_INFINITY }])).toThrow(
      'row 0: the model answered value is Infinity for inputs inside its training data',
    );
    expect(() => checkFinitePredictions({ ...manifest, baseline: undefined }, [row(3e38)], [{ scores: { no: Number.NEGATIVE_INFINITY } }])).toThrow(ModelOutputError);
  });
});
