// Is the candidate's request schema one the live version's clients can keep calling? Pure comparison of two
// manifests; each difference is data (a kind, the field, before and after). Words live in gate-text.ts.
import type { FeatureSpec, Manifest } from '../manifest-types';

/**
 * Differences that break clients of the live version:
 * - FEATURE_REMOVED: clients that send it get a 400 (an unknown field is rejected);
 * - REQUIRED_FEATURE_ADDED: clients that do not know it get a 400;
 * - FEATURE_NOW_REQUIRED: clients that leave it out get a 400;
 * - TYPE_CHANGED: values of the old type are rejected (integer -> number is TYPE_WIDENED instead);
 * - CATEGORY_REMOVED / CATEGORIES_INTRODUCED: values that were accepted are rejected;
 * - MIN_RAISED / MAX_LOWERED (including a bound where there was none): the same;
 * - TASK_CHANGED, CLASS_LABEL_REMOVED, OUTPUT_REMOVED: the response no longer has what clients read.
 * And differences that do not:
 * - OPTIONAL_FEATURE_ADDED, FEATURE_NOW_OPTIONAL, TYPE_WIDENED, CATEGORY_ADDED, CATEGORIES_LIFTED,
 *   MIN_LOWERED / MAX_RAISED (including a bound dropped), DEFAULT_CHANGED, CLASS_LABEL_ADDED, OUTPUT_ADDED.
 */
export type ChangeKind =
  | 'FEATURE_REMOVED'
  | 'REQUIRED_FEATURE_ADDED'
  | 'FEATURE_NOW_REQUIRED'
  | 'TYPE_CHANGED'
  | 'CATEGORY_REMOVED'
  | 'CATEGORIES_INTRODUCED'
  | 'MIN_RAISED'
  | 'MAX_LOWERED'
  | 'TASK_CHANGED'
  | 'CLASS_LABEL_REMOVED'
  | 'OUTPUT_REMOVED'
  | 'OPTIONAL_FEATURE_ADDED'
  | 'FEATURE_NOW_OPTIONAL'
  | 'TYPE_WIDENED'
  | 'CATEGORY_ADDED'
  | 'CATEGORIES_LIFTED'
  | 'MIN_LOWERED'
  | 'MAX_RAISED'
  | 'DEFAULT_CHANGED'
  | 'CLASS_LABEL_ADDED'
  | 'OUTPUT_ADDED';

export const BREAKING_CHANGES: ReadonlySet<ChangeKind> = new Set<ChangeKind>([
  'FEATURE_REMOVED',
  'REQUIRED_FEATURE_ADDED',
  'FEATURE_NOW_REQUIRED',
  'TYPE_CHANGED',
  'CATEGORY_REMOVED',
  'CATEGORIES_INTRODUCED',
  'MIN_RAISED',
  'MAX_LOWERED',
  'TASK_CHANGED',
  'CLASS_LABEL_REMOVED',
  'OUTPUT_REMOVED',
]);

export interface SchemaChange {
  readonly kind: ChangeKind;
  readonly breaking: boolean;
  /** Where: `features.<name>`, `features.<name>.categories`, `task`, `classLabels`, `outputs.<role>`. */
  readonly field: string;
  /** The live version's value and the candidate's (absent when there is none); for categories and class labels, the values removed or added. */
  readonly before?: unknown;
  readonly after?: unknown;
}

export interface CompatibilityReport {
  /** No breaking change. */
  readonly compatible: boolean;
  readonly changes: readonly SchemaChange[];
}

/** Compares the candidate's request and response contract with the live version's. */
export function compareSchemas(live: Manifest, candidate: Manifest): CompatibilityReport {
  const changes: SchemaChange[] = [];
  const add = (kind: ChangeKind, field: string, before?: unknown, after?: unknown) =>
    changes.push({ kind, breaking: BREAKING_CHANGES.has(kind), field, ...(before === undefined ? {} : { before }), ...(after === undefined ? {} : { after }) });

  const candidateFeatures = new Map(candidate.features.map((f) => [f.name, f]));
  const liveFeatures = new Map(live.features.map((f) => [f.name, f]));
  for (const before of live.features) {
    const after = candidateFeatures.get(before.name);
    if (after) featureChanges(before, after, add);
    else add('FEATURE_REMOVED', `features.${before.name}`);
  }
  for (const after of candidate.features) {
    if (liveFeatures.has(after.name)) continue;
    add(isRequired(after) ? 'REQUIRED_FEATURE_ADDED' : 'OPTIONAL_FEATURE_ADDED', `features.${after.name}`);
  }

  if (live.task !== candidate.task) add('TASK_CHANGED', 'task', live.task, candidate.task);
  else if (live.task !== 'regression') {
    const liveLabels = live.classLabels ?? [];
    const candidateLabels = candidate.classLabels ?? [];
    const removed = liveLabels.filter((label) => !candidateLabels.includes(label));
    const added = candidateLabels.filter((label) => !liveLabels.includes(label));
    if (removed.length > 0) add('CLASS_LABEL_REMOVED', 'classLabels', removed);
    if (added.length > 0) add('CLASS_LABEL_ADDED', 'classLabels', undefined, added);
    // The label is always answered; probabilities and scores only when an output carries them.
    for (const role of ['probabilities', 'scores'] as const) {
      if (live.outputs[role] !== undefined && candidate.outputs[role] === undefined) add('OUTPUT_REMOVED', `outputs.${role}`);
      if (live.outputs[role] === undefined && candidate.outputs[role] !== undefined) add('OUTPUT_ADDED', `outputs.${role}`);
    }
  }
  return { compatible: changes.every((c) => !c.breaking), changes };
}

type Add = (kind: ChangeKind, field: string, before?: unknown, after?: unknown) => void;

function featureChanges(before: FeatureSpec, after: FeatureSpec, add: Add): void {
  const field = `features.${before.name}`;
  if (isRequired(before) !== isRequired(after)) {
    add(isRequired(after) ? 'FEATURE_NOW_REQUIRED' : 'FEATURE_NOW_OPTIONAL', `${field}.required`, isRequired(before), isRequired(after));
  }
  if (!isRequired(before) && !isRequired(after) && before.default !== after.default) {
    add('DEFAULT_CHANGED', `${field}.default`, before.default, after.default);
  }
  if (before.type !== after.type) {
    // Every integer is a valid number; any other change rejects values that were valid, so the rest
    // of the comparison (categories, bounds) would only repeat it.
    if (!(before.type === 'integer' && after.type === 'number')) {
      add('TYPE_CHANGED', `${field}.type`, before.type, after.type);
      return;
    }
    add('TYPE_WIDENED', `${field}.type`, before.type, after.type);
  }
  categoryChanges(`${field}.categories`, before.categories, after.categories, add);
  if (before.min !== after.min) {
    const raised = after.min !== undefined && (before.min === undefined || after.min > before.min);
    add(raised ? 'MIN_RAISED' : 'MIN_LOWERED', `${field}.min`, before.min, after.min);
  }
  if (before.max !== after.max) {
    const lowered = after.max !== undefined && (before.max === undefined || after.max < before.max);
    add(lowered ? 'MAX_LOWERED' : 'MAX_RAISED', `${field}.max`, before.max, after.max);
  }
}

function categoryChanges(field: string, before: readonly (string | number)[] | undefined, after: readonly (string | number)[] | undefined, add: Add): void {
  if (before === undefined && after === undefined) return;
  if (before === undefined) {
    add('CATEGORIES_INTRODUCED', field, undefined, after);
    return;
  }
  if (after === undefined) {
    add('CATEGORIES_LIFTED', field, before);
    return;
  }
  const removed = before.filter((c) => !after.includes(c));
  const added = after.filter((c) => !before.includes(c));
  if (removed.length > 0) add('CATEGORY_REMOVED', field, removed);
  if (added.length > 0) add('CATEGORY_ADDED', field, undefined, added);
}

function isRequired(feature: FeatureSpec): boolean {
  return feature.required !== false;
}
