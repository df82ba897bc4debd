// The data the promotion state machine carries from state to state (lib/promotion-pipeline.ts): each task
// writes its result under its own key, and the next tasks read what they need through Parameters.
import type { PutMetricAlarmInput } from '../core/pipeline/alarms';
import type { ControlPlan } from '../core/pipeline/control';
import type { Notification } from '../core/pipeline/notification';
import type { RoutedVersion } from '../core/pipeline/registry-types';
import type { ExecutableRollout, ExecutableStep } from '../core/pipeline/rollout';
import type { ValidationResult } from '../use-cases/validate-candidate';

export interface CandidateRef {
  readonly model: string;
  readonly version: string;
  readonly bucket: string;
  readonly candidatePrefix: string;
  readonly modelPrefix: string;
}

export type ValidationOutput = ValidationResult & { readonly champion?: RoutedVersion | null };

export interface Published {
  readonly lambdaVersion: string;
  readonly functionName: string;
  readonly modelPrefix: string;
  readonly objectVersions?: Readonly<Record<string, string | undefined>>;
  /** The function's memory when the version was published, and why that size. */
  readonly memoryMb?: number;
  readonly memoryReason?: string;
}

export type PlannedRollout = ExecutableRollout & {
  readonly alarms: readonly PutMetricAlarmInput[];
  /** The alarms whose ALARM state rolls the candidate back during a bake (its critical ones; core/pipeline/alarms.ts). */
  readonly rollbackAlarms: readonly string[];
};

/** The whole execution state, as the failure handler receives it. */
export interface PipelineState {
  readonly candidate?: CandidateRef & { readonly duplicate?: boolean };
  readonly validation?: ValidationOutput;
  readonly published?: Published;
  readonly rollout?: PlannedRollout;
  readonly step?: ExecutableStep;
  readonly notice?: Notification;
  readonly error?: { readonly Error?: string; readonly Cause?: string };
  readonly operation?: 'promote' | 'rollback';
  readonly model?: string;
  readonly version?: string;
  readonly to?: string;
  readonly control?: ControlPlan;
}
