// What `GET /v1/models/{name}` and `modelgate models <name>` show: the live version(s) with their weights,
// the shadow, and each registered version newest first with its status, reason, metrics and lineage.
import { predictionCost, type PredictionCost } from '../cost';
import type { MlflowLineage } from '../manifest-types';
import { REASON_TEXT } from '../promotion/gate-text';
import type { RejectionReason } from '../promotion/gates';
import { weightsOf, type ModelRecord, type VersionRecord } from './registry-types';

export interface VersionView {
  readonly version: string;
  readonly status: string;
  /** The reason code of the last transition that had one (rejections, rollbacks), else null. */
  readonly reason: string | null;
  readonly reasons: readonly string[];
  readonly reasonText: string | null;
  /** Candidate holdout metrics (and the champion's, timing and replay under `validation`). */
  readonly metrics: Readonly<Record<string, number>> | null;
  readonly validation: VersionRecord['metrics'] | null;
  /** Share of live traffic this version answers now (0 when not routed). */
  readonly weight: number;
  readonly shadow: boolean;
  readonly strategy: string | null;
  readonly lambdaVersion: string | null;
  /** The function's memory when the version was published, why, and what a million predictions cost at it. */
  readonly memory: { readonly memoryMb: number; readonly reason: string | null; readonly costPerMillion: PredictionCost | null } | null;
  readonly sha256: string | null;
  /** The MLflow run and model the version was packaged from (`modelgate package --mlflow`). */
  readonly mlflow: MlflowLineage | null;
  readonly registeredAt: string;
  readonly updatedAt: string;
  readonly history: VersionRecord['history'];
}

export interface ModelView {
  readonly model: string;
  /** The versions that answer traffic, with their weights. */
  readonly live: readonly { readonly version: string; readonly lambdaVersion: string; readonly weight: number; readonly status: string }[];
  readonly shadow: { readonly version: string; readonly lambdaVersion: string; readonly sampleRate: number } | null;
  readonly routingUpdatedAt: string | null;
  /** Newest first. */
  readonly versions: readonly VersionView[];
}

export function modelView(model: string, record: ModelRecord | undefined, versions: readonly VersionRecord[]): ModelView {
  const routing = record?.routing;
  const weights = weightsOf(routing);
  const statusOf = (version: string) => versions.find((v) => v.version === version)?.status ?? 'unknown';
  const live = routing
    ? [routing.primary, ...(routing.additional ? [routing.additional] : [])].map((r) => ({
        version: r.version,
        lambdaVersion: r.lambdaVersion,
        weight: weights[r.version] ?? 0,
        status: statusOf(r.version),
      }))
    : [];
  return {
    model,
    live,
    shadow: routing?.shadow ? { version: routing.shadow.version, lambdaVersion: routing.shadow.lambdaVersion, sampleRate: routing.shadow.sampleRate } : null,
    routingUpdatedAt: routing?.updatedAt ?? null,
    versions: [...versions].sort((a, b) => b.sequence - a.sequence).map((v) => versionView(v, weights[v.version] ?? 0, routing?.shadow?.version === v.version)),
  };
}

function versionView(v: VersionRecord, weight: number, shadow: boolean): VersionView {
  const lastReason = [...v.history].reverse().find((h) => h.reason !== undefined);
  // The reasons recorded with a rejection or a rollback describe that status only: once the version moves on
  // (an operator promotes it again), the latest transition's reason speaks for it.
  const recordedReasons = v.status === 'rejected' || v.status === 'rolled-back';
  const textOf = (code: string | undefined) => (code && Object.hasOwn(REASON_TEXT, code) ? REASON_TEXT[code as RejectionReason] : null);
  const memoryMb = v.lineage.memoryMb;
  return {
    version: v.version,
    status: v.status,
    reason: lastReason?.reason ?? null,
    reasons: recordedReasons ? (v.reasons ?? []) : lastReason?.reason ? [lastReason.reason] : [],
    reasonText: (recordedReasons ? v.reasonText : undefined) ?? lastReason?.detail ?? textOf(lastReason?.reason) ?? null,
    metrics: v.metrics?.candidate ? ({ ...v.metrics.candidate } as Record<string, number>) : null,
    validation: v.metrics ?? null,
    weight,
    shadow,
    strategy: v.strategy ?? null,
    lambdaVersion: v.lineage.lambdaVersion ?? null,
    memory: memoryMb
      ? { memoryMb, reason: v.lineage.memoryReason ?? null, costPerMillion: v.metrics?.p99Ms !== undefined ? predictionCost({ memoryMb, inferenceMs: v.metrics.p99Ms }) : null }
      : null,
    sha256: v.lineage.sha256 ?? null,
    mlflow: v.lineage.mlflow ?? null,
    registeredAt: v.lineage.registeredAt,
    updatedAt: v.updatedAt,
    history: v.history,
  };
}
