import type { ErrorObject } from 'ajv';
import { validateManifestSchema as validateSchema } from '#manifest-schema-validator';
import { dynamoNumberProblem } from './dynamodb-number';
import { ManifestError, type Issue } from './errors';
import type { DistributionBaseline, FeatureSpec, InputSpec, Manifest, QualityMetric } from './manifest-types';
import { FEEDBACK_FIELDS } from './monitoring/feedback';
import { baselineQuality } from './monitoring/quality';
import { metricProblem } from './promotion/defaults';
import { INFER_OUTPUT_NAMES } from './responses';

export * from './manifest-types';
export { manifestSchema } from './manifest-schema';

const MIB = 1024 * 1024;

/**
 * How large a model file may be (docs/bundle.md, `model.maxBytes`). The model is read into memory — by the
 * validation function beside the live champion, by the publish step to pack it, by the inference function at
 * every cold start — never into /tmp: memory and the cold-start budget bound it, not /tmp's 512 MB. The default
 * keeps a candidate and a champion of that size, each with its session, well inside the validation function's
 * 3,008 MB, and its download a few seconds of a 10 s init budget; the ceiling is what the schema admits at all.
 */
export const MODEL_SIZE = { defaultMaxBytes: 256 * MIB, ceilingBytes: 512 * MIB } as const;

/** The size limit of a manifest's model file, bytes. */
export function modelSizeLimit(manifest: Pick<Manifest, 'model'>): number {
  return manifest.model.maxBytes ?? MODEL_SIZE.defaultMaxBytes;
}

/**
 * Checks a parsed manifest against the JSON Schema and against itself (features referenced by the
 * inputs exist, types agree, class labels fit the task...). Throws a ManifestError naming every bad
 * field; returns the manifest typed when it is sound.
 */
export function parseManifest(raw: unknown): Manifest {
  if (!validateSchema(raw)) {
    throw new ManifestError(schemaIssues(validateSchema.errors ?? []));
  }
  const manifest = raw as unknown as Manifest;
  const issues = [
    ...featureIssues(manifest.features),
    ...passThroughIssues(manifest),
    ...inputIssues(manifest),
    ...taskIssues(manifest),
    ...baselineIssues(manifest),
    ...loggingIssues(manifest),
    ...validationIssues(manifest),
    ...calibrationIssues(manifest),
    ...monitoringIssues(manifest),
  ];
  if (issues.length > 0) throw new ManifestError(issues);
  return manifest;
}

/** Parses manifest JSON text; a syntax error is reported like any other manifest problem. */
export function parseManifestJson(text: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ManifestError([{ field: '(file)', reason: `not valid JSON: ${(error as Error).message}` }]);
  }
  return parseManifest(raw);
}

/** `/features/3/type` -> `features[3].type` */
function fieldPath(instancePath: string, property?: string): string {
  const parts = instancePath.split('/').slice(1);
  if (property !== undefined) parts.push(property);
  const path = parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : `${i === 0 ? '' : '.'}${p}`)).join('');
  return path === '' ? '(manifest)' : path;
}

function schemaIssues(errors: readonly ErrorObject[]): Issue[] {
  const issues: Issue[] = [];
  for (const error of errors) {
    // oneOf/discriminator failures repeat what the branch errors already say.
    if (error.keyword === 'oneOf' || error.keyword === 'if') continue;
    const params = error.params as Record<string, unknown>;
    if (error.keyword === 'required') {
      issues.push({ field: fieldPath(error.instancePath, String(params.missingProperty)), reason: 'is required' });
    } else if (error.keyword === 'additionalProperties') {
      issues.push({ field: fieldPath(error.instancePath, String(params.additionalProperty)), reason: 'is not a known field' });
    } else if (error.keyword === 'enum') {
      const allowed = (params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ');
      issues.push({ field: fieldPath(error.instancePath), reason: `must be one of ${allowed}` });
    } else if (error.keyword === 'const') {
      issues.push({ field: fieldPath(error.instancePath), reason: `must be ${JSON.stringify(params.allowedValue)}` });
    } else {
      issues.push({ field: fieldPath(error.instancePath), reason: error.message ?? error.keyword });
    }
  }
  // allErrors can report one problem through several keywords; keep each message once.
  return issues.filter((issue, i) => issues.findIndex((o) => o.field === issue.field && o.reason === issue.reason) === i);
}

function featureIssues(features: readonly FeatureSpec[]): Issue[] {
  const issues: Issue[] = [];
  const seen = new Set<string>();
  features.forEach((feature, i) => {
    const at = (key: string) => `features[${i}].${key}`;
    if (seen.has(feature.name)) issues.push({ field: at('name'), reason: `duplicate feature name "${feature.name}"` });
    seen.add(feature.name);
    const numeric = feature.type === 'number' || feature.type === 'integer';
    if (feature.categories !== undefined) {
      if (feature.type === 'string') {
        if (feature.categories.some((c) => typeof c !== 'string')) {
          issues.push({ field: at('categories'), reason: 'categories of a string feature must be strings' });
        }
      } else if (feature.type === 'integer') {
        if (feature.categories.some((c) => typeof c !== 'number')) {
          issues.push({ field: at('categories'), reason: 'categories of an integer feature must be integers' });
        }
      } else {
        issues.push({ field: at('categories'), reason: `a ${feature.type} feature cannot have categories` });
      }
    }
    if (!numeric && (feature.min !== undefined || feature.max !== undefined)) {
      issues.push({ field: at(feature.min !== undefined ? 'min' : 'max'), reason: `a ${feature.type} feature cannot have bounds` });
    }
    if (feature.min !== undefined && feature.max !== undefined && feature.min > feature.max) {
      issues.push({ field: at('min'), reason: `min ${feature.min} is greater than max ${feature.max}` });
    }
    if (feature.default !== undefined) {
      if (feature.required !== false) {
        issues.push({ field: at('default'), reason: 'a default is only used when the feature has "required": false' });
      }
      const problem = valueProblem(feature, feature.default);
      if (problem) issues.push({ field: at('default'), reason: problem });
    }
  });
  return issues;
}

/**
 * Names a pass-through field cannot take: the fields of a feedback item (a join key is sent beside them) and
 * the output tensors of an Open Inference Protocol answer (each pass-through field is returned as one).
 */
const RESERVED_PASS_THROUGH_NAMES: ReadonlySet<string> = new Set([...FEEDBACK_FIELDS, ...INFER_OUTPUT_NAMES]);

/** Pass-through fields are unique, are not features or graph inputs (a /v2 input names either), and one at most is the join key. */
function passThroughIssues(manifest: Manifest): Issue[] {
  const fields = manifest.passThrough ?? [];
  const issues: Issue[] = [];
  const features = new Set(manifest.features.map((f) => f.name));
  const inputs = new Set(manifest.inputs.map((i) => i.name));
  const seen = new Set<string>();
  let joinKey: string | undefined;
  fields.forEach((field, i) => {
    const at = `passThrough[${i}].name`;
    if (seen.has(field.name)) issues.push({ field: at, reason: `duplicate pass-through field "${field.name}"` });
    seen.add(field.name);
    if (features.has(field.name)) issues.push({ field: at, reason: `"${field.name}" is a feature; a pass-through field is a request field the model does not take` });
    else if (inputs.has(field.name)) issues.push({ field: at, reason: `"${field.name}" names a model input; /v2 requests could not tell them apart` });
    // `#` separates the parts of the log's join key (`<model>#<field>#<value>`).
    if (field.name.includes('#')) issues.push({ field: at, reason: 'cannot contain "#"' });
    if (RESERVED_PASS_THROUGH_NAMES.has(field.name)) {
      issues.push({ field: at, reason: `"${field.name}" is reserved (${[...RESERVED_PASS_THROUGH_NAMES].join(', ')})` });
    }
    if (field.joinKey) {
      if (joinKey !== undefined) issues.push({ field: `passThrough[${i}].joinKey`, reason: `only one field can be the join key, and "${joinKey}" is already` });
      joinKey ??= field.name;
    }
  });
  return issues;
}

/**
 * Why `value` is not acceptable for `feature`, or undefined when it is. The one definition of a valid
 * feature value, used for manifest defaults here and for request values in request.ts.
 */
export function valueProblem(feature: FeatureSpec, value: unknown): string | undefined {
  switch (feature.type) {
    case 'number': {
      if (typeof value !== 'number') return `expected a number, got ${describe(value)}`;
      // Logged values are stored in DynamoDB: a number it refuses would fail the log write.
      const problem = dynamoNumberProblem(value);
      if (problem) return problem;
      break;
    }
    case 'integer':
      if (typeof value !== 'number') return `expected an integer, got ${describe(value)}`;
      if (!Number.isSafeInteger(value)) return `expected an integer, got ${value}`;
      break;
    case 'string':
      if (typeof value !== 'string') return `expected a string, got ${describe(value)}`;
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return `expected true or false, got ${describe(value)}`;
      break;
  }
  if (feature.categories !== undefined && !feature.categories.includes(value as string | number)) {
    return `unknown category ${JSON.stringify(value)}; allowed: ${feature.categories.map((c) => JSON.stringify(c)).join(', ')}`;
  }
  if (feature.min !== undefined && (value as number) < feature.min) return `${value} is below the minimum ${feature.min}`;
  if (feature.max !== undefined && (value as number) > feature.max) return `${value} is above the maximum ${feature.max}`;
  return undefined;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** Which feature types each tensor dtype can carry (booleans become 0/1, integers fit floats). */
const dtypeAccepts: Readonly<Record<InputSpec['dtype'], readonly FeatureSpec['type'][]>> = {
  float32: ['number', 'integer', 'boolean'],
  float64: ['number', 'integer', 'boolean'],
  int64: ['integer', 'boolean'],
  string: ['string'],
  bool: ['boolean'],
};

function inputIssues(manifest: Manifest): Issue[] {
  const issues: Issue[] = [];
  const byName = new Map(manifest.features.map((f) => [f.name, f]));
  const fed = new Map<string, string>();
  const inputNames = new Set<string>();
  manifest.inputs.forEach((input, i) => {
    if (inputNames.has(input.name)) issues.push({ field: `inputs[${i}].name`, reason: `duplicate input name "${input.name}"` });
    inputNames.add(input.name);
    if (input.rank === 1 && input.features.length !== 1) {
      issues.push({ field: `inputs[${i}].rank`, reason: `rank 1 takes exactly one feature, got ${input.features.length}` });
    }
    input.features.forEach((name, j) => {
      const field = `inputs[${i}].features[${j}]`;
      const feature = byName.get(name);
      if (!feature) {
        issues.push({ field, reason: `no feature named "${name}"` });
        return;
      }
      const earlier = fed.get(name);
      if (earlier !== undefined) issues.push({ field, reason: `feature "${name}" already feeds input "${earlier}"` });
      fed.set(name, input.name);
      if (!dtypeAccepts[input.dtype].includes(feature.type)) {
        issues.push({ field, reason: `a ${feature.type} feature cannot feed a ${input.dtype} input` });
      }
    });
  });
  manifest.features.forEach((feature, i) => {
    const input = fed.get(feature.name);
    if (input === undefined) {
      issues.push({ field: `features[${i}]`, reason: `feature "${feature.name}" feeds no input` });
      return;
    }
    // A missing optional value without a default becomes NaN, which only a float tensor can carry.
    const dtype = manifest.inputs.find((x) => x.name === input)?.dtype;
    if (feature.required === false && feature.default === undefined && dtype !== 'float32' && dtype !== 'float64') {
      issues.push({ field: `features[${i}].default`, reason: `optional feature "${feature.name}" feeds a ${dtype} input, so it needs a default` });
    }
  });
  return issues;
}

function taskIssues(manifest: Manifest): Issue[] {
  const issues: Issue[] = [];
  const { task, outputs, classLabels, positiveClass, threshold } = manifest;
  if (task === 'regression') {
    if (outputs.value === undefined) issues.push({ field: 'outputs.value', reason: 'is required for regression' });
    for (const key of ['label', 'probabilities', 'scores'] as const) {
      if (outputs[key] !== undefined) issues.push({ field: `outputs.${key}`, reason: 'is only for classification' });
    }
    for (const key of ['classLabels', 'positiveClass', 'threshold'] as const) {
      if (manifest[key] !== undefined) issues.push({ field: key, reason: 'is only for classification' });
    }
    return issues;
  }
  if (outputs.label === undefined && outputs.probabilities === undefined) {
    issues.push({ field: 'outputs', reason: 'a classifier needs a label or probabilities output (scores alone do not say the class)' });
  }
  if (outputs.value !== undefined) issues.push({ field: 'outputs.value', reason: 'is only for regression' });
  if (classLabels === undefined) {
    issues.push({ field: 'classLabels', reason: `is required for ${task}` });
    return issues;
  }
  if (task === 'binary-classification') {
    if (classLabels.length !== 2) {
      issues.push({ field: 'classLabels', reason: `binary classification needs 2 labels, got ${classLabels.length}` });
    }
    if (positiveClass !== undefined && !classLabels.includes(positiveClass)) {
      issues.push({ field: 'positiveClass', reason: `${JSON.stringify(positiveClass)} is not one of classLabels` });
    }
  } else {
    if (classLabels.length < 3) {
      issues.push({ field: 'classLabels', reason: `multiclass classification needs 3 or more labels, got ${classLabels.length}` });
    }
    if (positiveClass !== undefined) issues.push({ field: 'positiveClass', reason: 'is only for binary classification' });
    if (threshold !== undefined) issues.push({ field: 'threshold', reason: 'is only for binary classification' });
  }
  return issues;
}

function baselineIssues(manifest: Manifest): Issue[] {
  if (!manifest.baseline) return [];
  const issues: Issue[] = [];
  const byName = new Map(manifest.features.map((f) => [f.name, f]));
  for (const [name, distribution] of Object.entries(manifest.baseline.features)) {
    const field = `baseline.features.${name}`;
    const feature = byName.get(name);
    if (!feature) {
      issues.push({ field, reason: `no feature named "${name}"` });
      continue;
    }
    const categorical = feature.type === 'string' || feature.type === 'boolean' || feature.categories !== undefined;
    if (categorical && distribution.kind === 'numeric') {
      issues.push({ field, reason: `feature "${name}" is categorical; its baseline must be categorical` });
    }
    if (!categorical && distribution.kind === 'categorical') {
      issues.push({ field, reason: `feature "${name}" is numeric; its baseline must be numeric` });
    }
    issues.push(...distributionIssues(field, distribution));
  }
  if (manifest.baseline.prediction) issues.push(...distributionIssues('baseline.prediction', manifest.baseline.prediction));
  return issues;
}

function distributionIssues(field: string, distribution: DistributionBaseline): Issue[] {
  if (distribution.kind === 'categorical') return [];
  const { edges, counts } = distribution;
  const issues: Issue[] = [];
  if (counts.length !== edges.length - 1) {
    issues.push({ field: `${field}.counts`, reason: `needs ${edges.length - 1} counts for ${edges.length} edges, got ${counts.length}` });
  }
  if (edges.some((edge, i) => i > 0 && edge <= (edges[i - 1] as number))) {
    issues.push({ field: `${field}.edges`, reason: 'must be strictly ascending' });
  }
  return issues;
}

function loggingIssues(manifest: Manifest): Issue[] {
  const names = new Set(manifest.features.map((f) => f.name));
  return (manifest.logging?.redact ?? [])
    .map((name, i) => ({ name, i }))
    .filter(({ name }) => !names.has(name))
    .map(({ name, i }) => ({ field: `logging.redact[${i}]`, reason: `no feature named "${name}"` }));
}

/** Gates and the primary metric must be metrics this model can report; the holdout target is not a feature. */
function validationIssues(manifest: Manifest): Issue[] {
  const validation = manifest.validation;
  if (!validation) return [];
  const issues: Issue[] = [];
  for (const [metric, gate] of Object.entries(validation.gates ?? {})) {
    const problem = metricProblem(manifest, metric as QualityMetric);
    if (problem) issues.push({ field: `validation.gates.${metric}`, reason: problem });
    if (gate?.min !== undefined && gate.max !== undefined && gate.min > gate.max) {
      issues.push({ field: `validation.gates.${metric}.min`, reason: `min ${gate.min} is greater than max ${gate.max}` });
    }
  }
  if (validation.primaryMetric !== undefined) {
    const problem = metricProblem(manifest, validation.primaryMetric);
    if (problem) issues.push({ field: 'validation.primaryMetric', reason: `${validation.primaryMetric} ${problem}` });
  }
  const target = validation.holdout?.target;
  if (target !== undefined && manifest.features.some((f) => f.name === target)) {
    issues.push({ field: 'validation.holdout.target', reason: `"${target}" is a feature; the target must be another column` });
  }
  return issues;
}

/** Calibration is of a classifier's probabilities, keyed by its classes, with maps that are functions. */
function calibrationIssues(manifest: Manifest): Issue[] {
  const calibration = manifest.calibration;
  if (!calibration) return [];
  if (manifest.task === 'regression') return [{ field: 'calibration', reason: 'is only for classification' }];
  const issues: Issue[] = [];
  if (manifest.outputs.probabilities === undefined) {
    issues.push({ field: 'calibration', reason: 'calibrates probabilities, and the model has no outputs.probabilities' });
  }
  const labels = (manifest.classLabels ?? []).map(String);
  const positive = String(manifest.positiveClass ?? labels[1]);
  for (const [label, entry] of Object.entries(calibration.classes)) {
    // Named as schema errors name it (a label such as 1 reads as calibration.classes[1]).
    const field = fieldPath(`/calibration/classes/${label}`);
    if (manifest.task === 'binary-classification' && label !== positive) {
      issues.push({ field, reason: `a binary classifier calibrates P(positive) only: the key must be the positive class ${JSON.stringify(positive)}` });
    } else if (!labels.includes(label)) {
      issues.push({ field, reason: `is not one of classLabels (${labels.map((l) => JSON.stringify(l)).join(', ')})` });
    }
    if (!entry.map) continue;
    const { scores, probabilities } = entry.map;
    if (probabilities.length !== scores.length) {
      issues.push({ field: `${field}.map.probabilities`, reason: `needs one probability per score (${scores.length}), got ${probabilities.length}` });
    }
    if (scores.some((score, i) => i > 0 && score <= (scores[i - 1] as number))) {
      issues.push({ field: `${field}.map.scores`, reason: 'must be strictly ascending' });
    }
    if (probabilities.some((p, i) => i > 0 && p < (probabilities[i - 1] as number))) {
      issues.push({ field: `${field}.map.probabilities`, reason: 'must be non-decreasing (an isotonic map)' });
    }
  }
  return issues;
}

/**
 * Estimated-quality alarms need a model whose quality can be estimated (a classifier with probabilities) and
 * the holdout value each threshold is relative to; a critical drop is at least the warning one.
 */
function monitoringIssues(manifest: Manifest): Issue[] {
  const drops = manifest.monitoring?.estimatedQualityDrop;
  if (!drops) return [];
  const field = 'monitoring.estimatedQualityDrop';
  if (manifest.task === 'regression') return [{ field, reason: 'quality is estimated for classifiers only; this model is a regression' }];
  if (manifest.outputs.probabilities === undefined) return [{ field, reason: 'quality is estimated from probabilities, and the model has no outputs.probabilities' }];
  const issues: Issue[] = [];
  const holdout = baselineQuality(manifest);
  for (const [metric, levels] of Object.entries(drops)) {
    if (holdout[metric as QualityMetric] === undefined) {
      issues.push({ field: `${field}.${metric}`, reason: `is relative to the holdout value, and the manifest records none (training.holdout.metrics.${metric})` });
    }
    if (levels?.warning !== undefined && levels.critical !== undefined && levels.critical < levels.warning) {
      issues.push({ field: `${field}.${metric}.critical`, reason: `must be at least the warning drop (${levels.warning}), got: ${levels.critical}` });
    }
  }
  return issues;
}
