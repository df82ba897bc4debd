import { describe, expect, it } from 'vitest';
import type { FeatureSpec, Manifest } from '../../lambdas/core/manifest';
import { compareSchemas, type ChangeKind } from '../../lambdas/core/promotion/compatibility';
import { describeChange } from '../../lambdas/core/promotion/gate-text';

const liveFeatures: FeatureSpec[] = [
  { name: 'amount', type: 'number', min: 0, max: 100 },
  { name: 'plan', type: 'string', categories: ['basic', 'pro'] },
  { name: 'visits', type: 'integer' },
  { name: 'score', type: 'number', required: false },
  { name: 'flag', type: 'integer', categories: [0, 1] },
];

const live: Manifest = {
  schemaVersion: '1',
  name: 'churn',
  version: '1',
  task: 'binary-classification',
  features: liveFeatures,
  inputs: [{ name: 'x', dtype: 'float32', features: liveFeatures.map((f) => f.name) }],
  outputs: { label: 'label', probabilities: 'probabilities' },
  classLabels: ['no', 'yes'],
  model: { file: 'model.onnx', sha256: 'ab'.repeat(32) },
};

/** The live manifest with one feature replaced (or removed with null), or features appended. */
function withFeature(name: string, replacement: Partial<FeatureSpec> | null, drop: (keyof FeatureSpec)[] = []): Manifest {
  const features = live.features.flatMap((feature) => {
    if (feature.name !== name) return [feature];
    if (replacement === null) return [];
    const changed: Record<string, unknown> = { ...feature, ...replacement };
    for (const key of drop) delete changed[key];
    return [changed as unknown as FeatureSpec];
  });
  return { ...live, features };
}

const added = (feature: FeatureSpec): Manifest => ({ ...live, features: [...live.features, feature] });

interface Case {
  readonly name: string;
  readonly candidate: Manifest;
  readonly changes: readonly { kind: ChangeKind; field: string; breaking: boolean; before?: unknown; after?: unknown }[];
}

const cases: Case[] = [
  { name: 'the same schema', candidate: live, changes: [] },
  {
    name: 'a removed feature: clients that send it get a 400',
    candidate: withFeature('visits', null),
    changes: [{ kind: 'FEATURE_REMOVED', field: 'features.visits', breaking: true }],
  },
  {
    name: 'a new required feature',
    candidate: added({ name: 'region', type: 'string' }),
    changes: [{ kind: 'REQUIRED_FEATURE_ADDED', field: 'features.region', breaking: true }],
  },
  {
    name: 'a new optional feature with a default',
    candidate: added({ name: 'region', type: 'string', required: false, default: 'eu' }),
    changes: [{ kind: 'OPTIONAL_FEATURE_ADDED', field: 'features.region', breaking: false }],
  },
  {
    name: 'a new optional number without default (NaN when missing)',
    candidate: added({ name: 'age', type: 'number', required: false }),
    changes: [{ kind: 'OPTIONAL_FEATURE_ADDED', field: 'features.age', breaking: false }],
  },
  {
    name: 'a category added',
    candidate: withFeature('plan', { categories: ['basic', 'pro', 'team'] }),
    changes: [{ kind: 'CATEGORY_ADDED', field: 'features.plan.categories', breaking: false, after: ['team'] }],
  },
  {
    name: 'a category removed',
    candidate: withFeature('plan', { categories: ['pro'] }),
    changes: [{ kind: 'CATEGORY_REMOVED', field: 'features.plan.categories', breaking: true, before: ['basic'] }],
  },
  {
    name: 'one category swapped for another: both reported',
    candidate: withFeature('plan', { categories: ['basic', 'team'] }),
    changes: [
      { kind: 'CATEGORY_REMOVED', field: 'features.plan.categories', breaking: true, before: ['pro'] },
      { kind: 'CATEGORY_ADDED', field: 'features.plan.categories', breaking: false, after: ['team'] },
    ],
  },
  {
    name: 'a closed set where values were free',
    candidate: withFeature('visits', { categories: [1, 2, 3] }),
    changes: [{ kind: 'CATEGORIES_INTRODUCED', field: 'features.visits.categories', breaking: true, after: [1, 2, 3] }],
  },
  {
    name: 'a closed set lifted',
    candidate: withFeature('flag', {}, ['categories']),
    changes: [{ kind: 'CATEGORIES_LIFTED', field: 'features.flag.categories', breaking: false, before: [0, 1] }],
  },
  {
    name: 'a higher minimum',
    candidate: withFeature('amount', { min: 10 }),
    changes: [{ kind: 'MIN_RAISED', field: 'features.amount.min', breaking: true, before: 0, after: 10 }],
  },
  {
    name: 'a minimum where there was none',
    candidate: withFeature('visits', { min: 0 }),
    changes: [{ kind: 'MIN_RAISED', field: 'features.visits.min', breaking: true, after: 0 }],
  },
  {
    name: 'a lower minimum',
    candidate: withFeature('amount', { min: -5 }),
    changes: [{ kind: 'MIN_LOWERED', field: 'features.amount.min', breaking: false, before: 0, after: -5 }],
  },
  {
    name: 'the minimum dropped',
    candidate: withFeature('amount', {}, ['min']),
    changes: [{ kind: 'MIN_LOWERED', field: 'features.amount.min', breaking: false, before: 0 }],
  },
  {
    name: 'a lower maximum',
    candidate: withFeature('amount', { max: 50 }),
    changes: [{ kind: 'MAX_LOWERED', field: 'features.amount.max', breaking: true, before: 100, after: 50 }],
  },
  {
    name: 'a higher maximum',
    candidate: withFeature('amount', { max: 1000 }),
    changes: [{ kind: 'MAX_RAISED', field: 'features.amount.max', breaking: false, before: 100, after: 1000 }],
  },
  {
    name: 'integer widened to number',
    candidate: withFeature('visits', { type: 'number' }),
    changes: [{ kind: 'TYPE_WIDENED', field: 'features.visits.type', breaking: false, before: 'integer', after: 'number' }],
  },
  {
    name: 'number narrowed to integer',
    candidate: withFeature('amount', { type: 'integer' }),
    changes: [{ kind: 'TYPE_CHANGED', field: 'features.amount.type', breaking: true, before: 'number', after: 'integer' }],
  },
  {
    name: 'string to integer: the type change alone, not its categories',
    candidate: withFeature('plan', { type: 'integer', categories: [1, 2] }),
    changes: [{ kind: 'TYPE_CHANGED', field: 'features.plan.type', breaking: true, before: 'string', after: 'integer' }],
  },
  {
    name: 'integer flag widened to number: categories lifted too',
    candidate: withFeature('flag', { type: 'number' }, ['categories']),
    changes: [
      { kind: 'TYPE_WIDENED', field: 'features.flag.type', breaking: false, before: 'integer', after: 'number' },
      { kind: 'CATEGORIES_LIFTED', field: 'features.flag.categories', breaking: false, before: [0, 1] },
    ],
  },
  {
    name: 'required turned on',
    candidate: withFeature('score', {}, ['required']),
    changes: [{ kind: 'FEATURE_NOW_REQUIRED', field: 'features.score.required', breaking: true, before: false, after: true }],
  },
  {
    name: 'required turned off',
    candidate: withFeature('visits', { required: false, default: 0 }),
    changes: [{ kind: 'FEATURE_NOW_OPTIONAL', field: 'features.visits.required', breaking: false, before: true, after: false }],
  },
  {
    name: 'a default changed',
    candidate: withFeature('score', { default: 0.5 }),
    changes: [{ kind: 'DEFAULT_CHANGED', field: 'features.score.default', breaking: false, after: 0.5 }],
  },
  {
    name: 'another task',
    candidate: { ...live, task: 'regression', outputs: { value: 'v' }, classLabels: undefined },
    changes: [{ kind: 'TASK_CHANGED', field: 'task', breaking: true, before: 'binary-classification', after: 'regression' }],
  },
  {
    name: 'a class label replaced',
    candidate: { ...live, classLabels: ['no', 'churned'] },
    changes: [
      { kind: 'CLASS_LABEL_REMOVED', field: 'classLabels', breaking: true, before: ['yes'] },
      { kind: 'CLASS_LABEL_ADDED', field: 'classLabels', breaking: false, after: ['churned'] },
    ],
  },
  {
    name: 'probabilities no longer answered, scores now answered',
    candidate: { ...live, outputs: { label: 'label', scores: 'scores' } },
    changes: [
      { kind: 'OUTPUT_REMOVED', field: 'outputs.probabilities', breaking: true },
      { kind: 'OUTPUT_ADDED', field: 'outputs.scores', breaking: false },
    ],
  },
];

describe('compareSchemas', () => {
  it.each(cases)('$name', ({ candidate, changes }) => {
    const report = compareSchemas(live, candidate);
    expect(report.changes).toEqual(changes);
    expect(report.compatible).toBe(changes.every((c) => !c.breaking));
  });

  it('reports every change of a candidate at once, breaking or not', () => {
    const candidate: Manifest = {
      ...live,
      features: [
        { name: 'amount', type: 'number', min: 0, max: 200 },
        { name: 'plan', type: 'string', categories: ['basic'] },
        { name: 'score', type: 'number', required: false },
        { name: 'flag', type: 'integer', categories: [0, 1] },
        { name: 'region', type: 'string', required: false, default: 'eu' },
      ],
    };
    const report = compareSchemas(live, candidate);
    expect(report.compatible).toBe(false);
    expect(report.changes.map((c) => [c.field, c.kind])).toEqual([
      ['features.amount.max', 'MAX_RAISED'],
      ['features.plan.categories', 'CATEGORY_REMOVED'],
      ['features.visits', 'FEATURE_REMOVED'],
      ['features.region', 'OPTIONAL_FEATURE_ADDED'],
    ]);
  });

  it('describes each change with its field and why it breaks', () => {
    const lines = compareSchemas(live, withFeature('plan', { categories: ['pro'] })).changes.map(describeChange);
    expect(lines).toEqual(['features.plan.categories: categories removed: "basic"; clients that send them get a 400 (breaking)']);
    const widened = compareSchemas(live, withFeature('visits', { type: 'number' })).changes.map(describeChange);
    expect(widened).toEqual(['features.visits.type: type integer -> number: every old value is still valid']);
  });
});
