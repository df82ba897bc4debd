/**
 * The model bundle manifest (schema version "1"): the contract between a model and modelgate.
 * The JSON Schema in `manifest.v1.schema.json` is the normative form; these types mirror it.
 */
import type { IsotonicMap } from './estimation/isotonic';

export const MANIFEST_SCHEMA_VERSION = '1';

export type Task = 'binary-classification' | 'multiclass-classification' | 'regression';

export type FeatureType = 'number' | 'integer' | 'string' | 'boolean';

/** A value a client may send for one feature. */
export type FeatureValue = number | string | boolean;

export interface FeatureSpec {
  readonly name: string;
  readonly type: FeatureType;
  readonly description?: string;
  /** Closed set of allowed values (string or integer features); anything else is rejected. */
  readonly categories?: readonly (string | number)[];
  /** Inclusive bounds for number / integer features; a value outside is rejected. */
  readonly min?: number;
  readonly max?: number;
  /**
   * A request must carry the field (default true). When false, a missing or null value takes `default`,
   * or — for number features without a default — is passed to the model as NaN (for models that impute).
   */
  readonly required?: boolean;
  readonly default?: FeatureValue;
  /** Per-feature drift settings (monitoring); defaults follow docs/monitoring.md. */
  readonly drift?: { readonly method?: DriftMethod; readonly threshold?: number };
}

/**
 * A request field that is not a feature — an entity id such as `customerID`: accepted in requests (a string of
 * at most 256 characters or a finite number, optional), never given to the model, logged with the prediction
 * (whatever the input sampling) and returned with it.
 */
export interface PassThroughField {
  readonly name: string;
  readonly description?: string;
  /**
   * Ground truth may name the model and this field's value instead of a predictionId: the label joins the
   * latest prediction of that value at or before the label's time (docs/monitoring.md). At most one field.
   */
  readonly joinKey?: boolean;
}

export type DriftMethod = 'psi' | 'ks' | 'wasserstein' | 'chisquare' | 'jensenshannon';

export type TensorDtype = 'float32' | 'float64' | 'int64' | 'string' | 'bool';

/**
 * One ONNX graph input and the features that fill it, in order. One input per feature
 * (skl2onnx pipelines) has `features: [name]` and shape [N, 1] (rank 2) or [N] (rank 1);
 * one matrix input has every feature and shape [N, F].
 */
export interface InputSpec {
  readonly name: string;
  readonly dtype: TensorDtype;
  readonly features: readonly string[];
  /** 2 (default): [N, features.length]; 1: [N] — only with exactly one feature. */
  readonly rank?: 1 | 2;
}

/** Names of the ONNX graph outputs that carry each part of the answer. */
export interface OutputSpec {
  /** Class label per row: int64 or string tensor [N] or [N, 1]. */
  readonly label?: string;
  /**
   * Class probabilities: float tensor [N, C] with C = classLabels.length, or [N, 1] holding the
   * positive-class probability of a binary classifier (a sigmoid output).
   */
  readonly probabilities?: string;
  /**
   * Raw decision scores per class (margins, not probabilities — e.g. a hinge-loss linear model):
   * float tensor [N, C] in classLabels order. Returned as they are; never used as probabilities.
   */
  readonly scores?: string;
  /** Regression value: float tensor [N], [N, 1] (one value per row) or [N, K] (K values per row). */
  readonly value?: string;
}

export interface NumericBaseline {
  readonly kind: 'numeric';
  /** k + 1 ascending finite edges; bin i is [edges[i], edges[i+1]), the last bin also holds edges[k]. */
  readonly edges: readonly number[];
  /** k counts, one per bin. */
  readonly counts: readonly number[];
  /** Values below edges[0] / above edges[k] (zero for the training data the edges came from). */
  readonly underflow: number;
  readonly overflow: number;
  /** Rows where the value was missing. */
  readonly missing: number;
  readonly count: number;
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
}

export interface CategoricalBaseline {
  readonly kind: 'categorical';
  /** Count per category as seen in training (keys are the values as strings). */
  readonly counts: Readonly<Record<string, number>>;
  readonly missing: number;
  readonly count: number;
}

export type DistributionBaseline = NumericBaseline | CategoricalBaseline;

export interface Baseline {
  /** Rows of the training split the baseline was computed from. */
  readonly rows: number;
  readonly features: Readonly<Record<string, DistributionBaseline>>;
  /**
   * Distribution of the model's predictions on the training split: numeric for regression values and
   * the positive-class probability of binary classifiers, categorical (labels) for multiclass.
   */
  readonly prediction?: DistributionBaseline;
}

export interface LoggingSpec {
  /** Fraction of predictions whose inputs are stored in the log, in [0, 1] (default 1). Outputs are always stored. */
  readonly inputSampleRate?: number;
  /** Feature names never stored in the log (e.g. personal data). */
  readonly redact?: readonly string[];
}

/** Holdout metrics a validation gate or the champion comparison can name (which ones apply depends on the task). */
export type QualityMetric = 'accuracy' | 'precision' | 'recall' | 'f1' | 'rocAuc' | 'logLoss' | 'calibrationError' | 'mae' | 'rmse' | 'r2';

/** Inclusive bounds a holdout metric must meet. */
export interface MetricGate {
  readonly min?: number;
  readonly max?: number;
}

/** How a candidate of this bundle is validated before it takes traffic; defaults in promotion/defaults.ts. */
export interface ValidationSpec {
  /** Absolute bounds on holdout metrics, e.g. `{ "rocAuc": { "min": 0.8 }, "logLoss": { "max": 0.5 } }`. */
  readonly gates?: Readonly<Partial<Record<QualityMetric, MetricGate>>>;
  /** The metric compared with the champion (default rocAuc for binary, accuracy for multiclass, rmse for regression). */
  readonly primaryMetric?: QualityMetric;
  /** How much worse than the champion the primary metric may be, absolute (default 0.01). */
  readonly nonInferiorityMargin?: number;
  readonly latency?: {
    /** p99 of one-row prediction latency in milliseconds (default 50). */
    readonly p99Ms?: number;
    /** Cold-start budget in milliseconds: model fetch, session create, warm-up (default 10000). */
    readonly initMs?: number;
  };
  readonly replay?: {
    /** Share of replayed requests answered like the champion (default 0.95). */
    readonly minAgreement?: number;
    /** Share of replayed requests the candidate may fail (default 0). */
    readonly maxErrorRate?: number;
    /** Regression: values agree when |candidate - champion| <= valueTolerance x max(1, |champion|) (default 0.05). */
    readonly valueTolerance?: number;
  };
  /** Accept input-schema changes that break clients of the live version (default false). */
  readonly allowBreakingChanges?: boolean;
  /** The holdout the gates are measured on: a CSV in the bundle and its target column. */
  readonly holdout?: { readonly file?: string; readonly target: string };
}

export const ROLLOUT_STRATEGIES = ['canary', 'linear', 'ab-test', 'shadow', 'all-at-once'] as const;
export type RolloutStrategy = (typeof ROLLOUT_STRATEGIES)[number];

/** How a validated candidate takes traffic; the settings of each strategy default as in promotion/defaults.ts. */
export interface RolloutSpec {
  readonly strategy: RolloutStrategy;
  /** Candidate weight in (0, 1) for bakeMinutes while alarms are watched, then all traffic (default 0.1, 30). */
  readonly canary?: { readonly weight?: number; readonly bakeMinutes?: number };
  /** Traffic in `steps` equal increments, intervalMinutes apart, alarms watched (default 4, 10). */
  readonly linear?: { readonly steps?: number; readonly intervalMinutes?: number };
  /** Fixed candidate weight in (0, 1) until the experiment is concluded (default 0.5). */
  readonly abTest?: { readonly weight?: number };
  /** The candidate answers nothing; this share of requests is mirrored to it (default 1). */
  readonly shadow?: { readonly sampleRate?: number };
}

/**
 * Calibration of a classifier's probabilities, fitted on the labelled holdout when the bundle is packaged
 * (lambdas/core/estimation/calibration.ts). Estimated quality reads the calibrated probabilities; serving
 * answers with the model's own.
 */
export interface CalibrationSpec {
  readonly method: 'isotonic';
  /** The holdout rows the maps were fitted and judged on. */
  readonly holdoutRows: number;
  /** Per class label (binary: the positive class only). A class without an entry keeps its raw probabilities. */
  readonly classes: Readonly<Record<string, ClassCalibration>>;
}

export interface ClassCalibration {
  /** Expected calibration error (10 bins) of the raw P(class) on the holdout, and of the calibrated P(class) out of fold. */
  readonly rawError: number;
  readonly calibratedError: number;
  /** The map from the raw to the calibrated P(class); present only where it lowered the error. */
  readonly map?: IsotonicMap;
}

/** An alarm's thresholds per severity; a severity left out gets no alarm. */
export interface DropThresholds {
  readonly warning?: number;
  readonly critical?: number;
}

/** The metrics estimated quality (CBPE) has; lambdas/core/estimation/estimated-quality.ts. */
export type EstimatedQualityMetric = 'accuracy' | 'precision' | 'recall' | 'f1' | 'rocAuc';

/** How the monitor watches versions of this bundle (docs/monitoring.md). */
export interface MonitoringSpec {
  /**
   * Minutes of the most recent traffic that drift, prediction drift and estimated quality cover: a sliding
   * window, recomputed at every monitor run (default 60). Whole aggregation windows (5 minutes) are read.
   */
  readonly windowMinutes?: number;
  /**
   * Alarms on estimated quality: a drop below the holdout value (`training.holdout.metrics`), holdout -
   * estimate, of at least `warning` / `critical` (default accuracy and rocAuc: 0.05 / 0.10; {} for none).
   */
  readonly estimatedQualityDrop?: Readonly<Partial<Record<EstimatedQualityMetric, DropThresholds>>>;
}

export interface Manifest {
  readonly schemaVersion: typeof MANIFEST_SCHEMA_VERSION;
  /** Lower-case letters, digits and dashes; names the API route /v1/models/{name}. */
  readonly name: string;
  readonly version: string;
  readonly description?: string;
  readonly task: Task;
  readonly features: readonly FeatureSpec[];
  /** Request fields that are not features: accepted, logged and returned with each prediction. */
  readonly passThrough?: readonly PassThroughField[];
  readonly inputs: readonly InputSpec[];
  readonly outputs: OutputSpec;
  /** Class labels in the order of the probability columns (classification only). */
  readonly classLabels?: readonly (string | number)[];
  /** Binary classification: the label counted as positive (default classLabels[1]). */
  readonly positiveClass?: string | number;
  /** Binary classification: label = positive when P(positive) >= threshold (default 0.5). */
  readonly threshold?: number;
  /** The model accepts exactly this many rows per run (fixed batch dimension); rows are run in padded chunks. */
  readonly batchSize?: number;
  readonly model: {
    readonly file: string;
    readonly sha256: string;
    /** The largest the model file may be, bytes: bigger is refused before it is read (MODEL_TOO_LARGE). Default MODEL_SIZE.defaultMaxBytes. */
    readonly maxBytes?: number;
  };
  readonly baseline?: Baseline;
  readonly logging?: LoggingSpec;
  readonly validation?: ValidationSpec;
  readonly rollout?: RolloutSpec;
  readonly calibration?: CalibrationSpec;
  readonly monitoring?: MonitoringSpec;
  /** Where the bundle came from: free-form provenance (training data, code revision, metrics). */
  readonly training?: Readonly<Record<string, unknown>>;
  /** The ids the tools that made the model give it: kept in the registry with the version. */
  readonly lineage?: ManifestLineage;
}

export interface ManifestLineage {
  readonly mlflow?: MlflowLineage;
}

/** The MLflow model a bundle was packaged from, as its MLmodel file names it (`modelgate package --mlflow`). */
export interface MlflowLineage {
  /** MLmodel `run_id`: the run that logged the model (absent for a model saved outside a run). */
  readonly runId?: string;
  /** MLmodel `model_uuid`. */
  readonly modelUuid: string;
  /** MLmodel `model_id`: the logged model's id (MLflow 3). */
  readonly modelId?: string;
  /** MLmodel `artifact_path`. */
  readonly artifactPath?: string;
  /** MLmodel `utc_time_created`, as MLflow wrote it. */
  readonly createdAt?: string;
  /** MLmodel `mlflow_version`. */
  readonly mlflowVersion?: string;
}
