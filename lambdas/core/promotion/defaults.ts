// The promotion policy's defaults and the catalogue of holdout metrics: which metrics a task reports, which
// way is better, and which one the champion comparison uses. Every rule that takes a setting defaults to
// these, and docs/bundle.md quotes them.
import type { Manifest, QualityMetric, RolloutStrategy, Task } from '../manifest-types';

export const PROMOTION_DEFAULTS = {
  /** Absolute slack on the primary metric when the candidate is compared with the champion. */
  nonInferiorityMargin: 0.01,
  /** p99 of one-row prediction latency, milliseconds. */
  p99Ms: 50,
  /** Model fetch + session create + warm-up, milliseconds. */
  initMs: 10_000,
  /** Share of replayed requests where the candidate answers like the champion. */
  minAgreement: 0.95,
  /** Share of replayed requests the candidate may fail. */
  maxErrorRate: 0,
  /** Regression replay: values agree when |candidate - champion| <= valueTolerance x max(1, |champion|). */
  valueTolerance: 0.05,
  /**
   * The holdout gates `modelgate package --holdout` writes (packaging.ts defaultGates): better than a constant
   * predictor by a margin. A constant scores a ROC AUC of 0.5 and an R2 of at most 0 on a holdout; the log
   * loss gate is the training prior's own log loss, computed per bundle.
   */
  defaultGates: { rocAucMin: 0.55, r2Min: 0.01 },
  holdoutFile: 'holdout.csv',
  strategy: 'canary' as RolloutStrategy,
  canary: { weight: 0.1, bakeMinutes: 30 },
  linear: { steps: 4, intervalMinutes: 10 },
  abTest: { weight: 0.5 },
  shadow: { sampleRate: 1 },
} as const;

/** Every metric a gate can name, with the direction in which it gets better. */
export const METRIC_DIRECTION: Readonly<Record<QualityMetric, 'higher' | 'lower'>> = {
  accuracy: 'higher',
  precision: 'higher',
  recall: 'higher',
  f1: 'higher',
  rocAuc: 'higher',
  logLoss: 'lower',
  calibrationError: 'lower',
  mae: 'lower',
  rmse: 'lower',
  r2: 'higher',
};

/** The metrics a task can report at all, with the outputs each one needs. */
const TASK_METRICS: Readonly<Record<Task, Readonly<Partial<Record<QualityMetric, 'label' | 'score' | 'probabilities'>>>>> = {
  'binary-classification': {
    accuracy: 'label',
    precision: 'label',
    recall: 'label',
    f1: 'label',
    rocAuc: 'score',
    logLoss: 'probabilities',
    calibrationError: 'probabilities',
  },
  'multiclass-classification': {
    accuracy: 'label',
    precision: 'label',
    recall: 'label',
    f1: 'label',
    rocAuc: 'score',
    logLoss: 'probabilities',
  },
  regression: { mae: 'label', rmse: 'label', r2: 'label' },
};

export function taskMetrics(task: Task): QualityMetric[] {
  return Object.keys(TASK_METRICS[task]) as QualityMetric[];
}

/**
 * Why `metric` cannot be computed for this manifest's model, or undefined when it can: a metric of another
 * task, or one that needs probabilities (log loss, calibration) or scores (ROC AUC) the model does not output.
 */
export function metricProblem(manifest: Pick<Manifest, 'task' | 'outputs'>, metric: QualityMetric): string | undefined {
  const needs = TASK_METRICS[manifest.task][metric];
  if (needs === undefined) return `is not a ${manifest.task} metric (${manifest.task}: ${taskMetrics(manifest.task).join(', ')})`;
  const { probabilities, scores } = manifest.outputs;
  if (needs === 'probabilities' && probabilities === undefined) return 'needs a probabilities output';
  if (needs === 'score' && probabilities === undefined && scores === undefined) return 'needs a probabilities or scores output';
  return undefined;
}

/** The metric the champion comparison uses: the manifest's, or ROC AUC / accuracy / RMSE by task. */
export function primaryMetric(manifest: Pick<Manifest, 'task' | 'outputs' | 'validation'>): QualityMetric {
  if (manifest.validation?.primaryMetric !== undefined) return manifest.validation.primaryMetric;
  if (manifest.task === 'regression') return 'rmse';
  if (manifest.task === 'multiclass-classification') return 'accuracy';
  return metricProblem(manifest, 'rocAuc') === undefined ? 'rocAuc' : 'accuracy';
}
