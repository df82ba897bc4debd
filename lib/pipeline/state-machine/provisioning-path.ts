// Bringing a model's CloudFormation stack to where it must be: start an operation (the provision function),
// then poll until CloudFormation reports it done; a failed operation throws ProvisioningError (the caller's
// Catch handles it), an operation that must be followed by another (a failed first creation is deleted, then
// created again) loops back.
import type { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { OnFailure } from './failure-path';
import type { PipelineTasks } from './tasks';

export interface ProvisioningStep {
  /** The state that starts it (its result at `resultPath`). */
  readonly start: sfn.TaskStateBase;
  readonly resultPath: string;
}

/**
 * `start` -> [pending?] -> Wait -> progress -> [done?] -> `next` (or back to `start` when `again`). Ids are
 * prefixed with `id` so one machine can hold several loops.
 */
export function provisioningLoop(
  scope: Construct,
  id: string,
  tasks: PipelineTasks,
  onFailure: OnFailure,
  step: ProvisioningStep,
  modelPath: string,
  pollInterval: Duration,
  next: sfn.IChainable,
): sfn.IChainable {
  const wait = new sfn.Wait(scope, `${id}Wait`, { time: sfn.WaitTime.duration(pollInterval) });
  const progress = onFailure(
    tasks.provision(
      `${id}Progress`,
      { action: 'progress', model: sfn.JsonPath.stringAt(modelPath), expect: sfn.JsonPath.stringAt(`${step.resultPath}.expect`) },
      `${step.resultPath}.progress`,
    ),
  );
  const afterDone = new sfn.Choice(scope, `${id}Again?`).when(sfn.Condition.booleanEquals(`${step.resultPath}.again`, true), step.start).otherwise(next);
  wait.next(progress).next(new sfn.Choice(scope, `${id}Done?`).when(sfn.Condition.booleanEquals(`${step.resultPath}.progress.done`, true), afterDone).otherwise(wait));
  return onFailure(step.start).next(new sfn.Choice(scope, `${id}Pending?`).when(sfn.Condition.booleanEquals(`${step.resultPath}.pending`, true), wait).otherwise(afterDone));
}
