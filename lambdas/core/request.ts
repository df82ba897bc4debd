import { ValidationError, type Issue } from './errors';
import { describeJsonKey } from './json-body';
import { valueProblem, type FeatureSpec, type FeatureValue, type Manifest } from './manifest';
import { passThroughProblem, type PassThroughValues } from './pass-through';

/** One validated instance: every feature of the manifest, `null` where an optional number is missing (fed as NaN). */
export type Row = Record<string, FeatureValue | null>;

/** Validated instances: the rows for the model and, when the manifest declares pass-through fields, their values per row. */
export interface ValidatedInstances {
  readonly rows: Row[];
  /** One entry per row (undefined where the row carried none); absent when the manifest declares no pass-through fields. */
  readonly passThrough?: readonly (PassThroughValues | undefined)[];
}

export interface RequestLimits {
  /** Rows per request; more is a 400. */
  readonly maxBatchRows: number;
  /** UTF-8 bytes per request body; more is a 400. */
  readonly maxBodyBytes: number;
}

/** Issues reported per request at most: enough to fix a client, small enough to answer quickly. */
const MAX_ISSUES = 50;

/**
 * Parses and validates `{"instances": [{feature: value, ...}, ...]}` against the manifest.
 * Throws a ValidationError whose issues name the row, the field and the reason.
 */
export function parsePredictRequest(manifest: Manifest, body: string | null | undefined, limits: RequestLimits): ValidatedInstances {
  const parsed = parseBody(body, limits);
  if (!isPlainObject(parsed)) throw invalid({ field: 'body', reason: 'expected a JSON object with an "instances" array' });
  for (const key of Object.keys(parsed)) {
    if (key !== 'instances' && key !== 'unitId') throw invalid({ field: describeJsonKey(key), reason: 'is not a known field; send {"instances": [...]}' });
  }
  // The experiment unit (sticky assignment, core/experiments/assignment.ts); the header x-modelgate-unit-id works too.
  if (parsed.unitId !== undefined && !(typeof parsed.unitId === 'string' && parsed.unitId !== '' && parsed.unitId.length <= 256)) {
    throw invalid({ field: 'unitId', reason: 'must be a non-empty string of at most 256 characters' });
  }
  const instances = parsed.instances;
  if (!Array.isArray(instances)) throw invalid({ field: 'instances', reason: 'is required and must be an array of objects' });
  checkBatchSize(instances.length, 'instances', limits);
  return validateInstances(manifest, instances);
}

/** Validates raw instances (objects keyed by feature name) into rows for the model, collecting every issue. */
export function validateRows(manifest: Manifest, instances: readonly unknown[]): Row[] {
  return validateInstances(manifest, instances).rows;
}

/**
 * Validates raw instances into rows and their pass-through values, collecting every issue: a field that is
 * neither a feature nor a pass-through field of the manifest is named, as is a pass-through value that is
 * not an identifier. A missing or null pass-through field is simply not carried.
 */
export function validateInstances(manifest: Manifest, instances: readonly unknown[]): ValidatedInstances {
  const issues: Issue[] = [];
  const shape = rowShape(manifest);
  const passThroughNames = manifest.passThrough?.map((f) => f.name);
  const passThrough: (PassThroughValues | undefined)[] | undefined = passThroughNames ? new Array(instances.length) : undefined;
  const rows: Row[] = new Array(instances.length);
  for (let index = 0; index < instances.length && issues.length < MAX_ISSUES; index++) {
    const instance = instances[index];
    if (!isPlainObject(instance)) {
      issues.push({ row: index, field: '(row)', reason: 'expected an object of feature values' });
      continue;
    }
    const row: Row = {};
    for (const feature of manifest.features) {
      // Own properties only: a feature named like an Object.prototype member must not read the prototype.
      const result = featureValue(feature, Object.hasOwn(instance, feature.name) ? instance[feature.name] : undefined, shape.float32Inputs.get(feature.name));
      if (typeof result === 'object' && result !== null) issues.push({ row: index, field: feature.name, reason: result.problem });
      else row[feature.name] = result;
    }
    for (const key of Object.keys(instance)) {
      if (!shape.names.has(key) && !passThroughNames?.includes(key)) {
        issues.push({
          row: index,
          field: describeJsonKey(key),
          reason: passThroughNames ? `is neither a feature nor a pass-through field (${passThroughNames.join(', ')}) of this model` : 'is not a feature of this model',
        });
      }
    }
    if (passThrough && passThroughNames) {
      let values: Record<string, string | number> | undefined;
      for (const name of passThroughNames) {
        const value = Object.hasOwn(instance, name) ? instance[name] : undefined;
        if (value === undefined || value === null) continue;
        const problem = passThroughProblem(value);
        if (problem) issues.push({ row: index, field: name, reason: problem });
        else (values ??= {})[name] = value as string | number;
      }
      passThrough[index] = values;
    }
    rows[index] = row;
  }
  if (issues.length > 0) throw new ValidationError(summary(issues), issues.slice(0, MAX_ISSUES));
  return passThrough ? { rows, passThrough } : { rows };
}

/** What validation needs from a manifest besides its features, computed once per manifest (validation runs on every request). */
export interface RowShape {
  readonly names: ReadonlySet<string>;
  /** Number features fed to a float32 input -> that input's name. */
  readonly float32Inputs: ReadonlyMap<string, string>;
}

const rowShapes = new WeakMap<Manifest, RowShape>();

export function rowShape(manifest: Manifest): RowShape {
  let shape = rowShapes.get(manifest);
  if (shape === undefined) {
    const float32Inputs = new Map<string, string>();
    for (const input of manifest.inputs) {
      if (input.dtype === 'float32') for (const name of input.features) float32Inputs.set(name, input.name);
    }
    shape = { names: new Set(manifest.features.map((f) => f.name)), float32Inputs };
    rowShapes.set(manifest, shape);
  }
  return shape;
}

/**
 * One feature's value as the model gets it: the default (or null) for a missing optional value, else the value
 * checked against the feature; `{ problem }` names what is wrong. `float32Input` is the input the feature feeds
 * when that input is float32 ({@link rowShape}).
 */
export function featureValue(feature: FeatureSpec, value: unknown, float32Input: string | undefined): FeatureValue | null | { problem: string } {
  if (value === undefined || value === null) {
    if (feature.required !== false) return { problem: value === null ? 'is required and cannot be null' : 'is required' };
    return feature.default ?? null;
  }
  const problem = valueProblem(feature, value);
  if (problem !== undefined) return { problem };
  // A number beyond float32's range reaches the model as Infinity, and its answer as NaN.
  if (float32Input !== undefined && typeof value === 'number' && !Number.isFinite(Math.fround(value))) {
    return { problem: `${value} is outside the range of float32, the type of the model input "${float32Input}" (magnitude at most 3.4028235e38)` };
  }
  return value as FeatureValue;
}

/** Open Inference Protocol datatypes and the feature types each can carry. */
const oipDatatypes: Readonly<Record<string, readonly FeatureSpec['type'][]>> = {
  BOOL: ['boolean'],
  BYTES: ['string'],
  FP16: ['number', 'integer'],
  FP32: ['number', 'integer'],
  FP64: ['number', 'integer'],
  INT8: ['integer', 'number'],
  INT16: ['integer', 'number'],
  INT32: ['integer', 'number'],
  INT64: ['integer', 'number'],
  UINT8: ['integer', 'number'],
  UINT16: ['integer', 'number'],
  UINT32: ['integer', 'number'],
  UINT64: ['integer', 'number'],
};

export interface InferRequest extends ValidatedInstances {
  readonly id?: string;
}

/**
 * Parses an Open Inference Protocol (KServe v2) infer request. Each input is either one feature
 * (named like the feature, shape [N] or [N, 1]) or one ONNX input of the manifest (shape [N, F], the
 * features of that input in order, row-major data). The columns become rows validated like /v1.
 */
export function parseInferRequest(manifest: Manifest, body: string | null | undefined, limits: RequestLimits): InferRequest {
  const parsed = parseBody(body, limits);
  if (!isPlainObject(parsed)) throw invalid({ field: 'body', reason: 'expected a JSON object with an "inputs" array' });
  const { id, inputs } = parsed;
  if (id !== undefined && typeof id !== 'string') throw invalid({ field: 'id', reason: 'must be a string' });
  if (!Array.isArray(inputs) || inputs.length === 0) {
    throw invalid({ field: 'inputs', reason: 'is required and must be a non-empty array of {name, shape, datatype, data}' });
  }
  const features = new Map(manifest.features.map((f) => [f.name, f]));
  const columns = new Map<string, unknown[]>();
  let rowCount: number | undefined;
  inputs.forEach((input: unknown, i) => {
    const at = (key: string) => `inputs[${i}].${key}`;
    if (!isPlainObject(input)) throw invalid({ field: `inputs[${i}]`, reason: 'expected an object {name, shape, datatype, data}' });
    const { name, shape, datatype, data } = input;
    if (typeof name !== 'string') throw invalid({ field: at('name'), reason: 'is required and must be a string' });
    const passingThrough = manifest.passThrough?.some((f) => f.name === name) === true;
    const target = features.has(name) || passingThrough ? [name] : manifest.inputs.find((x) => x.name === name)?.features;
    if (!target) {
      const kinds = manifest.passThrough ? 'a feature, an input nor a pass-through field' : 'a feature nor an input';
      throw invalid({ field: at('name'), reason: `"${name}" is neither ${kinds} of model ${manifest.name}` });
    }
    if (!Array.isArray(shape) || shape.length < 1 || shape.length > 2 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw invalid({ field: at('shape'), reason: 'must be [N] or [N, F] with non-negative integers' });
    }
    const [n, width = 1] = shape as number[];
    if (width !== target.length) {
      throw invalid({ field: at('shape'), reason: `"${name}" takes ${target.length} feature(s) per row, shape says ${width}` });
    }
    // An own key only: "toString" or "__proto__" must not find Object.prototype's members.
    const carries = typeof datatype === 'string' && Object.hasOwn(oipDatatypes, datatype) ? oipDatatypes[datatype] : undefined;
    if (!carries) throw invalid({ field: at('datatype'), reason: `must be one of ${Object.keys(oipDatatypes).join(', ')}` });
    for (const featureName of target) {
      if (columns.has(featureName)) throw invalid({ field: at('name'), reason: `${passingThrough ? 'pass-through field' : 'feature'} "${featureName}" is given twice` });
      if (passingThrough) {
        if (datatype === 'BOOL') throw invalid({ field: at('datatype'), reason: `pass-through field "${featureName}" takes BYTES (strings) or a number datatype` });
        continue;
      }
      const feature = features.get(featureName) as FeatureSpec;
      if (!carries.includes(feature.type)) {
        throw invalid({ field: at('datatype'), reason: `${datatype} cannot carry ${feature.type} feature "${featureName}"` });
      }
    }
    const flat = flatData(data);
    if (flat === 'nested') throw invalid({ field: at('data'), reason: 'must be a flat array, or an array of rows that are arrays of values (nested at most two deep)' });
    if (!Array.isArray(flat) || flat.length !== (n as number) * width) {
      throw invalid({ field: at('data'), reason: `must hold ${(n as number) * width} values for shape [${shape.join(', ')}]` });
    }
    if (rowCount !== undefined && n !== rowCount) {
      throw invalid({ field: at('shape'), reason: `has ${n} rows, earlier inputs have ${rowCount}` });
    }
    rowCount = n;
    checkBatchSize(n as number, at('shape'), limits);
    if (width === 1) columns.set(target[0] as string, flat);
    else {
      target.forEach((featureName, j) => {
        const column = new Array<unknown>(n as number);
        for (let r = 0; r < (n as number); r++) column[r] = flat[r * width + j];
        columns.set(featureName, column);
      });
    }
  });
  if (!rowCount) throw invalid({ field: 'inputs', reason: 'hold no rows' });
  return { ...(id === undefined ? {} : { id }), ...validateColumns(manifest, columns, rowCount) };
}

/**
 * Validates columns (one value per row, by feature or pass-through field name; a feature without a column is
 * missing from every row) into rows for the model, as {@link validateInstances} validates the same values sent
 * as instances, one loop per column and no object per instance. Columns with any problem are validated again
 * as instances, so a problem is reported alike whatever form the request had.
 */
export function validateColumns(manifest: Manifest, columns: ReadonlyMap<string, readonly unknown[]>, rowCount: number): ValidatedInstances {
  const shape = rowShape(manifest);
  const rows: Row[] = new Array(rowCount);
  for (let r = 0; r < rowCount; r++) rows[r] = {};
  for (const feature of manifest.features) {
    const column = columns.get(feature.name);
    const float32Input = shape.float32Inputs.get(feature.name);
    for (let r = 0; r < rowCount; r++) {
      const result = featureValue(feature, column?.[r], float32Input);
      if (typeof result === 'object' && result !== null) return validateInstances(manifest, asInstances(columns, rowCount));
      (rows[r] as Row)[feature.name] = result;
    }
  }
  if (!manifest.passThrough) return { rows };
  const passThrough = new Array<Record<string, string | number> | undefined>(rowCount).fill(undefined);
  for (const { name } of manifest.passThrough) {
    const column = columns.get(name);
    if (!column) continue;
    for (let r = 0; r < rowCount; r++) {
      const value = column[r];
      if (value === undefined || value === null) continue;
      if (passThroughProblem(value)) return validateInstances(manifest, asInstances(columns, rowCount));
      (passThrough[r] ??= {})[name] = value as string | number;
    }
  }
  return { rows, passThrough };
}

function asInstances(columns: ReadonlyMap<string, readonly unknown[]>, rowCount: number): Record<string, unknown>[] {
  const instances = new Array<Record<string, unknown>>(rowCount);
  for (let r = 0; r < rowCount; r++) {
    const instance: Record<string, unknown> = {};
    for (const [name, column] of columns) instance[name] = column[r];
    instances[r] = instance;
  }
  return instances;
}

/**
 * The values of an input's `data`, row-major: a flat array as it is, an array of rows (arrays of values)
 * flattened one level; 'nested' when anything is deeper. Iterative on purpose: `flat(Infinity)` recurses, and
 * 10,000 nested arrays (a 20 KB body) overflow the stack.
 */
function flatData(data: unknown): unknown[] | 'nested' | undefined {
  if (!Array.isArray(data)) return undefined;
  if (!data.some(Array.isArray)) return data;
  for (const row of data) if (Array.isArray(row) && row.some(Array.isArray)) return 'nested';
  return data.flat();
}

function parseBody(body: string | null | undefined, limits: RequestLimits): unknown {
  if (body === null || body === undefined || body.length === 0) throw invalid({ field: 'body', reason: 'is empty; send JSON' });
  // A UTF-16 length over the limit is a cheap early answer; the byte length is exact, and only needed when
  // the body could be over the limit (a UTF-16 code unit is at most 3 UTF-8 bytes).
  if (body.length > limits.maxBodyBytes || (body.length * 3 > limits.maxBodyBytes && Buffer.byteLength(body, 'utf8') > limits.maxBodyBytes)) {
    throw invalid({ field: 'body', reason: `is larger than the limit of ${limits.maxBodyBytes} bytes` });
  }
  try {
    return JSON.parse(body);
  } catch (error) {
    throw invalid({ field: 'body', reason: `malformed JSON: ${(error as Error).message}` });
  }
}

function checkBatchSize(rows: number, field: string, limits: RequestLimits): void {
  if (rows === 0) throw invalid({ field, reason: 'must hold at least one row' });
  if (rows > limits.maxBatchRows) {
    throw invalid({ field, reason: `holds ${rows} rows; the limit is ${limits.maxBatchRows} per request` });
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(issue: Issue): ValidationError {
  return new ValidationError(summary([issue]), [issue]);
}

function summary(issues: readonly Issue[]): string {
  const [first] = issues;
  if (!first) return 'invalid request';
  const where = `${first.row === undefined ? '' : `row ${first.row}, `}${first.field}`;
  return issues.length === 1 ? `invalid request: ${where}: ${first.reason}` : `invalid request: ${issues.length} problems, first: ${where}: ${first.reason}`;
}
