// What the upload path does when a task fails after its retries: put the champion's routing back if a step
// may have moved traffic, record the failure in the registry, tell on-call, and always free the model's lock.
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { executionId, type PipelineTasks } from './tasks';

/** Wraps a task so any error after its retries runs the failure path. */
export type OnFailure = <T extends sfn.TaskStateBase | sfn.Map | sfn.CustomState>(task: T) => T;

export function failurePath(scope: Construct, tasks: PipelineTasks): OnFailure {
  const failed = new sfn.Fail(scope, 'PipelineFailed', { errorPath: '$.error.Error', causePath: '$.error.Cause' });
  const release = tasks.release('ReleaseLockAfterFailure', '$.candidate.model');
  release.addCatch(failed, { resultPath: '$.releaseError' });
  release.next(failed);
  const notify = tasks.notify('NotifyFailure', '$.recorded.notice', release);
  const record = tasks.registry('RecordFailure', { action: 'record-failure', executionId, state: sfn.JsonPath.objectAt('$') }, '$.recorded');
  record.addCatch(release, { resultPath: '$.recordError' });
  record.next(notify);
  // Whenever a rollout was planned: the routing function restores the champion's routing, a no-op when the
  // alias never moved (a step that moved it and then failed leaves no $.step behind).
  const restore = tasks.routing('RestoreRouting', { action: 'restore', state: sfn.JsonPath.objectAt('$') });
  restore.addCatch(record, { resultPath: '$.restoreError' });
  restore.next(record);
  return (task) => {
    task.addCatch(restore, { errors: ['States.ALL'], resultPath: '$.error' });
    return task;
  };
}
