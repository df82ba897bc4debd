// What the pipeline tells on-call through SNS: a subject line and a JSON message a machine can read
// (`event`, `reasons`) with a sentence for people (`summary`).
import type { ReasonCode } from './registry-types';

export type PipelineEvent = 'rejected' | 'duplicate' | 'rolled-back' | 'promoted' | 'experiment' | 'shadow' | 'failed' | 'operator' | 'retired';

export interface Notification {
  readonly subject: string;
  readonly message: string;
}

export interface NotificationFacts {
  readonly event: PipelineEvent;
  readonly model: string;
  readonly version: string;
  readonly reasons?: readonly ReasonCode[];
  readonly summary: string;
  readonly executionId?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

const SUBJECTS: Readonly<Record<PipelineEvent, string>> = {
  rejected: 'rejected',
  duplicate: 'rejected as a duplicate',
  'rolled-back': 'rolled back',
  promoted: 'is live',
  experiment: 'is in an A/B experiment',
  shadow: 'is shadowing the champion',
  failed: 'pipeline failed',
  operator: 'routing changed by an operator',
  retired: 'retired with its model: serving removed, history kept',
};

/** SNS subjects are at most 100 printable ASCII characters. */
export function notification(facts: NotificationFacts): Notification {
  const reasons = facts.reasons && facts.reasons.length > 0 ? ` (${facts.reasons.join(', ')})` : '';
  const subject = `modelgate ${facts.model} v${facts.version} ${SUBJECTS[facts.event]}${reasons}`.replace(/[^\x20-\x7e]/g, '?').slice(0, 100);
  return { subject, message: JSON.stringify({ source: 'modelgate', ...facts }) };
}
