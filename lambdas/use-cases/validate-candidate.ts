// The candidate validation: everything the gates (core/promotion/gates.ts) judge, measured on real models.
// Runs in the validation function against S3 and the prediction log, and in-process in `modelgate validate`
// against a folder, through the same `BundleSource` interface, so CI checks a bundle exactly as the pipeline will.
import { sha256Hex } from '../adapters/model-store';
import { loadModel, type LoadedModel } from '../adapters/onnx-runtime';
import { exampleRow } from '../core/contract';
import { CsvError, parseCsv, type CsvTable } from '../core/csv';
import { ManifestError, ModelTooLargeError, type Issue } from '../core/errors';
import { modelSizeLimit, parseManifestJson, type Manifest, type MlflowLineage, type RolloutSpec, type RolloutStrategy } from '../core/manifest';
import { ROLLOUT_STRATEGIES } from '../core/manifest-types';
import { OnnxFormatError } from '../core/onnx-graph';
import { PackagingError, tableRows, tableTargets } from '../core/packaging';
import type { PredictionRecord } from '../core/prediction-record';
import { PROMOTION_DEFAULTS } from '../core/promotion/defaults';
import { evaluatePredictions, p99, summarizeReplay, type MetricSet, type ReplaySummary } from '../core/promotion/evaluation';
import { describeReport } from '../core/promotion/gate-text';
import { validationReport, type ValidationEvidence, type ValidationReport } from '../core/promotion/gates';
import { rolloutSpec } from '../core/promotion/rollout-plan';
import { MANIFEST_FILE, UPLOAD_METADATA } from '../core/pipeline/candidate';
import type { MemoryEvidence } from '../core/pipeline/provisioning';
import { estimatedQualityThresholds, type AlarmThresholds } from '../core/monitoring/alarms';
import type { GateOutcome, ReasonCode, ValidationMetrics } from '../core/pipeline/registry-types';
import { validateRows, type Row } from '../core/request';
import type { RowPrediction } from '../core/tensors';

/** Where a bundle's files come from: an S3 prefix, or a folder. */
export interface BundleSource {
  /**
   * The file's bytes (and S3 object version), or undefined when it is not there. With `maxBytes`, a larger file
   * is refused from its size before it is read: ModelTooLargeError.
   */
  read(file: string, options?: { readonly maxBytes?: number }): Promise<{ bytes: Uint8Array; versionId?: string; metadata?: Readonly<Record<string, string>> } | undefined>;
}

export interface Champion {
  readonly manifest: Manifest;
  readonly modelBytes: Uint8Array;
}

export interface ValidationInput {
  readonly model: string;
  readonly version: string;
  readonly candidate: BundleSource;
  readonly champion?: Champion;
  /** Recent requests the champion answered (prediction log records with inputs), newest first. */
  readonly replay?: readonly PredictionRecord[];
  /** One-row predictions timed for the p99 (default 200). */
  readonly latencySamples?: number;
  /** The rollout the model's declaration makes the default (the manifest's own wins). */
  readonly declaredRollout?: RolloutSpec;
}

export interface ValidationResult {
  readonly verdict: 'accepted' | 'rejected';
  readonly reasons: readonly ReasonCode[];
  /** The report in words, one line per rule. */
  readonly summary: string;
  readonly gates: readonly GateOutcome[];
  readonly metrics: ValidationMetrics;
  readonly sha256?: string;
  readonly modelObjectVersion?: string;
  readonly manifestObjectVersion?: string;
  /** The MLflow model the bundle was packaged from (manifest `lineage.mlflow`), for the registry's lineage. */
  readonly mlflow?: MlflowLineage;
  /**
   * The S3 object version of each file validation read, by file name (empty for a folder): publish copies exactly
   * these, so an upload over the candidate after validation does not change what goes live.
   */
  readonly objectVersions: Readonly<Record<string, string>>;
  /** The rollout the bundle asks for (manifest, with the upload's strategy override). */
  readonly rollout?: RolloutSpec;
  /** The alarm settings the bundle's manifest sets (estimated-quality drops), for the alarms of the version. */
  readonly alarms?: Partial<AlarmThresholds>;
  /** The bundle's files validation read, manifest last: what the pipeline copies to models/<model>/<version>/. */
  readonly files: readonly string[];
  /** What sizes the model's function (core/pipeline/provisioning.ts rightSizeMemory); absent when the model never loaded. */
  readonly memory?: MemoryEvidence;
}

export async function validateCandidate(input: ValidationInput): Promise<ValidationResult> {
  const manifestObject = await input.candidate.read(MANIFEST_FILE);
  if (!manifestObject) return incomplete(`no ${MANIFEST_FILE} in the bundle`);
  const metadata = manifestObject.metadata ?? {};
  const manifestObjectVersion = manifestObject.versionId;
  const objectVersions: Record<string, string> = manifestObjectVersion ? { [MANIFEST_FILE]: manifestObjectVersion } : {};

  let manifest: Manifest;
  try {
    manifest = parseManifestJson(new TextDecoder().decode(manifestObject.bytes));
  } catch (error) {
    const issues: Issue[] = error instanceof ManifestError ? [...error.issues] : [{ field: '(manifest)', reason: (error as Error).message }];
    return finish(validationReport({ manifestIssues: issues }), {}, { files: [MANIFEST_FILE], manifestObjectVersion, objectVersions });
  }
  const pathIssues: Issue[] = [
    ...(manifest.name === input.model ? [] : [{ field: 'name', reason: `"${manifest.name}" differs from the upload path's model "${input.model}"` }]),
    ...(manifest.version === input.version ? [] : [{ field: 'version', reason: `"${manifest.version}" differs from the upload path's version "${input.version}"` }]),
  ];
  if (pathIssues.length > 0) return finish(validationReport({ manifestIssues: pathIssues }), {}, { files: [MANIFEST_FILE], manifestObjectVersion, objectVersions });

  const override = metadata[UPLOAD_METADATA.strategy];
  if (override !== undefined && !(ROLLOUT_STRATEGIES as readonly string[]).includes(override)) {
    const issues = [{ field: `x-amz-meta-${UPLOAD_METADATA.strategy}`, reason: `must be one of ${ROLLOUT_STRATEGIES.join(', ')}, got: "${override}"` }];
    return finish(validationReport({ manifestIssues: issues }), {}, { files: [MANIFEST_FILE], manifestObjectVersion, objectVersions });
  }
  if (metadata[UPLOAD_METADATA.allowBreakingChanges] === 'true') {
    manifest = { ...manifest, validation: { ...manifest.validation, allowBreakingChanges: true } };
  }
  const rollout = rolloutSpec(manifest, override as RolloutStrategy | undefined, input.declaredRollout);
  const holdoutFile = manifest.validation?.holdout ? (manifest.validation.holdout.file ?? PROMOTION_DEFAULTS.holdoutFile) : undefined;
  const files = [manifest.model.file, MANIFEST_FILE];

  const fetchStarted = performance.now();
  const sizeLimit = modelSizeLimit(manifest);
  let modelObject: Awaited<ReturnType<BundleSource['read']>>;
  try {
    modelObject = await input.candidate.read(manifest.model.file, { maxBytes: sizeLimit });
  } catch (error) {
    // Refused from its size, before a byte of it was read: nothing else can be judged without reading it.
    if (!(error instanceof ModelTooLargeError)) throw error;
    const report = validationReport({ candidate: manifest, modelSize: { bytes: error.bytes, limit: error.limit } });
    return finish(report, {}, { files, manifestObjectVersion, objectVersions, rollout });
  }
  if (!modelObject) return incomplete(`the model file "${manifest.model.file}" the manifest names is not in the bundle`, manifest);
  if (modelObject.versionId) objectVersions[manifest.model.file] = modelObject.versionId;
  const extra = {
    files,
    manifestObjectVersion,
    objectVersions,
    rollout,
    alarms: estimatedQualityThresholds(manifest),
    ...(modelObject.versionId ? { modelObjectVersion: modelObject.versionId } : {}),
    ...(manifest.lineage?.mlflow ? { mlflow: manifest.lineage.mlflow } : {}),
  };
  const sha256 = sha256Hex(modelObject.bytes);
  const evidence: Mutable<ValidationEvidence> = {
    candidate: manifest,
    modelSize: { bytes: modelObject.bytes.length, limit: sizeLimit },
    checksum: { expected: manifest.model.sha256, actual: sha256 },
  };
  if (sha256 !== manifest.model.sha256) return finish(validationReport(evidence), {}, { ...extra, sha256 });

  let candidate: LoadedModel;
  const residentBefore = process.memoryUsage().rss;
  try {
    candidate = await loadModel(manifest, modelObject.bytes);
    evidence.load = {};
    evidence.contractIssues = [];
  } catch (error) {
    if (error instanceof ManifestError) {
      evidence.load = {};
      evidence.contractIssues = error.issues;
    } else if (error instanceof OnnxFormatError || (error as Error).name === 'ModelLoadError') {
      evidence.load = { error: (error as Error).message };
    } else {
      evidence.load = { error: `${(error as Error).name}: ${(error as Error).message}` };
    }
    return finish(validationReport(evidence), {}, { ...extra, sha256 });
  }
  const initMs = performance.now() - fetchStarted;
  // What the model adds to a process: its session and a first answer (before the champion is loaded beside it).
  await candidate.predict([exampleRow(manifest)]).catch(() => undefined);
  const footprintMb = Math.max(0, (process.memoryUsage().rss - residentBefore) / (1024 * 1024));

  const metrics: Mutable<ValidationMetrics> = { initMs: round(initMs), footprintMb: round(footprintMb) };
  let champion: LoadedModel | undefined;
  try {
    if (input.champion) {
      evidence.champion = input.champion.manifest;
      metrics.championVersion = input.champion.manifest.version;
      champion = await loadModel(input.champion.manifest, input.champion.modelBytes).catch(() => undefined);
    }

    let holdout: { table: CsvTable; rows: Row[] } | undefined;
    if (holdoutFile) {
      const object = await input.candidate.read(holdoutFile);
      if (object) {
        // Read, so published with the bundle: exactly this version of it.
        files.splice(files.length - 1, 0, holdoutFile);
        if (object.versionId) objectVersions[holdoutFile] = object.versionId;
        try {
          const table = parseCsv(new TextDecoder().decode(object.bytes), holdoutFile);
          const target = manifest.validation?.holdout?.target as string;
          const rows = tableRows(manifest, table, holdoutFile);
          const candidateMetrics = evaluatePredictions(manifest, tableTargets(manifest, table, target, holdoutFile), await candidate.predict(rows));
          metrics.candidate = round(candidateMetrics);
          metrics.holdoutRows = rows.length;
          holdout = { table, rows };
          const championMetrics = champion ? await championHoldoutMetrics(champion, table, target, holdoutFile) : undefined;
          evidence.holdout = { candidate: candidateMetrics, ...(championMetrics ? { champion: championMetrics } : {}) };
          if (championMetrics) metrics.champion = round(championMetrics);
        } catch (error) {
          // An unreadable holdout leaves the gated metrics unavailable: the gates say METRIC_UNAVAILABLE.
          if (!(error instanceof CsvError || error instanceof PackagingError || error instanceof RangeError)) throw error;
          metrics.holdoutError = (error as Error).message;
        }
      }
    }

    const samples = input.latencySamples ?? 200;
    const sampleRows = holdout && holdout.rows.length > 0 ? holdout.rows : [exampleRow(manifest)];
    const latencies: number[] = [];
    for (let i = 0; i < samples; i++) {
      const started = performance.now();
      await candidate.predict([sampleRows[i % sampleRows.length] as Row]);
      latencies.push(performance.now() - started);
    }
    const p99Ms = p99(latencies);
    metrics.p99Ms = round(p99Ms);
    evidence.timing = { initMs, p99Ms };

    if (input.replay && input.replay.length > 0) {
      const replay = await replayRequests(manifest, candidate, input.replay);
      evidence.replay = replay;
      metrics.replay = replay;
    }
  } finally {
    await candidate.release();
    await champion?.release();
  }
  const memory: MemoryEvidence = {
    footprintMb,
    initMs,
    ...(metrics.p99Ms !== undefined ? { p99Ms: metrics.p99Ms } : {}),
    initBudgetMs: manifest.validation?.latency?.initMs ?? PROMOTION_DEFAULTS.initMs,
    latencyBudgetMs: manifest.validation?.latency?.p99Ms ?? PROMOTION_DEFAULTS.p99Ms,
  };
  return finish(validationReport(evidence), metrics, { ...extra, sha256, memory });
}

async function championHoldoutMetrics(champion: LoadedModel, table: CsvTable, target: string, source: string): Promise<MetricSet | undefined> {
  try {
    const rows = tableRows(champion.manifest, table, source);
    return evaluatePredictions(champion.manifest, tableTargets(champion.manifest, table, target, source), await champion.predict(rows));
  } catch {
    // The champion cannot read the candidate's holdout (a changed schema): the comparison is skipped.
    return undefined;
  }
}

/** Each logged request through the candidate; a request it cannot validate or answer counts as an error. */
async function replayRequests(manifest: Manifest, candidate: LoadedModel, records: readonly PredictionRecord[]): Promise<ReplaySummary> {
  const answers: (RowPrediction | null)[] = [];
  for (const record of records) {
    try {
      const [row] = validateRows(manifest, [record.inputs]);
      const [prediction] = await candidate.predict([row as Row]);
      answers.push(prediction ?? null);
    } catch {
      answers.push(null);
    }
  }
  return summarizeReplay(
    manifest,
    answers,
    records.map((r) => r.outputs),
  );
}

function finish(
  report: ValidationReport,
  metrics: ValidationMetrics,
  extra: Partial<ValidationResult> & { files: readonly string[]; objectVersions: Readonly<Record<string, string>> },
): ValidationResult {
  return {
    verdict: report.verdict,
    reasons: report.reasons,
    summary: describeReport(report),
    gates: report.results.map((r) => ({
      rule: r.rule,
      passed: r.passed,
      ...(r.reason ? { reason: r.reason } : {}),
      ...(r.metric ? { metric: r.metric } : {}),
      ...(r.observed !== undefined ? { observed: typeof r.observed === 'number' ? round(r.observed) : r.observed } : {}),
      ...(r.threshold !== undefined ? { threshold: typeof r.threshold === 'number' ? round(r.threshold) : r.threshold } : {}),
      ...(r.bound ? { bound: r.bound } : {}),
    })),
    metrics,
    ...extra,
  };
}

function incomplete(detail: string, manifest?: Manifest): ValidationResult {
  return {
    verdict: 'rejected',
    reasons: ['BUNDLE_INCOMPLETE'],
    summary: `rejected: BUNDLE_INCOMPLETE (${detail})`,
    gates: [{ rule: 'bundle', passed: false, reason: 'BUNDLE_INCOMPLETE' }],
    metrics: {},
    files: manifest ? [manifest.model.file, MANIFEST_FILE] : [MANIFEST_FILE],
    objectVersions: {},
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function round<T extends number | MetricSet>(value: T): T {
  if (typeof value === 'number') return (Math.round(value * 1e6) / 1e6) as T;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, Math.round((v as number) * 1e6) / 1e6])) as T;
}
