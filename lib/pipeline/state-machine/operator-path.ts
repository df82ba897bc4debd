// What an operator asks of a model, under its lock (a baking rollout yields at its next check): promote a
// version or roll back (`modelgate promote|rollback`), or retire the whole model (`modelgate retire`: its
// routes withdrawn, its stack and alarms deleted, its registry history and logs kept).
import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { deleteAlarmsUnder } from './alarms-path';
import type { OnFailure } from './failure-path';
import { provisioningLoop } from './provisioning-path';
import { executionId, type PipelineTasks } from './tasks';

const model = sfn.JsonPath.stringAt('$.model');

export function operatorPath(scope: Construct, tasks: PipelineTasks, settings: { readonly stackPollInterval: Duration }): sfn.IChainable {
  const releaseAfterFailure = tasks.release('ReleaseControlLockAfterFailure', '$.model');
  releaseAfterFailure.next(new sfn.Fail(scope, 'ControlFailed', { errorPath: '$.error.Error', causePath: '$.error.Cause' }));
  const onFailure: OnFailure = (task) => {
    task.addCatch(releaseAfterFailure, { errors: ['States.ALL'], resultPath: '$.error' });
    return task;
  };

  // promote / rollback
  const releaseControl = tasks.release('ReleaseControlLock', '$.model');
  releaseControl.next(new sfn.Succeed(scope, 'RoutingChanged'));
  const control = onFailure(tasks.registry('PlanControl', { action: 'plan-control', request: sfn.JsonPath.objectAt('$') }, '$.control'))
    .next(onFailure(tasks.routing('ApplyControl', { action: 'set', model, control: sfn.JsonPath.objectAt('$.control') })))
    .next(onFailure(tasks.registry('RecordControl', { action: 'record-control', model, executionId, control: sfn.JsonPath.objectAt('$.control') }, '$.recorded')))
    .next(deleteAlarmsUnder(scope, 'DeleteReplacedAlarms', tasks, '$.recorded.retiredAlarmPrefixes', tasks.notify('NotifyControl', '$.recorded.notice', releaseControl)));

  // retire
  const releaseRetire = tasks.release('ReleaseRetireLock', '$.model');
  releaseRetire.next(new sfn.Succeed(scope, 'Retired'));
  const recordRetire = onFailure(tasks.registry('RecordRetire', { action: 'record-retire', model, executionId }, '$.recorded'));
  recordRetire.next(tasks.notify('NotifyRetire', '$.recorded.notice', releaseRetire));
  const deleteAlarms = new sfn.Pass(scope, 'ModelAlarmPrefix', { parameters: { 'prefixes.$': 'States.Array($.retire.alarmPrefix)' }, resultPath: '$.retireAlarms' });
  deleteAlarms.next(deleteAlarmsUnder(scope, 'DeleteModelAlarms', tasks, '$.retireAlarms.prefixes', recordRetire));
  const deleteStack = tasks.provision('DeleteStack', { action: 'delete', model }, '$.deleted');
  const stackDeleted = provisioningLoop(scope, 'Delete', tasks, onFailure, { start: deleteStack, resultPath: '$.deleted' }, '$.model', settings.stackPollInterval, deleteAlarms);
  // Routes out first (a new deployment of the stage without them: clients get 404), then the stack goes.
  const withdrawRoutes = onFailure(tasks.deployApi('WithdrawRoutes'));
  withdrawRoutes.next(stackDeleted);
  const unserve = tasks.provision('Unserve', { action: 'unserve', model }, '$.unserved');
  const unserved = provisioningLoop(scope, 'Unserve', tasks, onFailure, { start: unserve, resultPath: '$.unserved' }, '$.model', settings.stackPollInterval, withdrawRoutes);
  const retire = onFailure(tasks.registry('PlanRetire', { action: 'plan-retire', model }, '$.retire')).next(unserved);

  const acquire = onFailure(tasks.registry('AcquireControlLock', { action: 'acquire-lock', model, executionId, preempt: true }, '$.lock'));
  const operation = new sfn.Choice(scope, 'Retire?').when(sfn.Condition.stringEquals('$.operation', 'retire'), retire).otherwise(control);
  const wait = new sfn.Wait(scope, 'WaitForControlLock', { time: sfn.WaitTime.duration(Duration.seconds(5)) });
  wait.next(acquire);
  const locked = new sfn.Choice(scope, 'ControlLockAcquired?').when(sfn.Condition.booleanEquals('$.lock.acquired', true), operation);
  // A holder that is still running was asked to yield (preempt) and is waited for; one that has ended is taken over.
  locked.otherwise(tasks.lockHolder('Control', '$.model', onFailure, wait, locked));
  return acquire.next(locked);
}
