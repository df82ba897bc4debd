// A published version's way into traffic: plan the rollout, create the version's alarms, walk the steps
// (the first makes the model's routes live), bake each step while its alarms are watched, roll back when one
// fires, hand over to an operator who preempts, and clean up the alarms of versions that left traffic.
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { deleteAlarmsUnder } from './alarms-path';
import type { OnFailure } from './failure-path';
import { executionId, type PipelineTasks } from './tasks';

const candidate = { model: sfn.JsonPath.stringAt('$.candidate.model'), version: sfn.JsonPath.stringAt('$.candidate.version') };

export function rolloutPath(scope: Construct, tasks: PipelineTasks, onFailure: OnFailure): sfn.IChainable {
  const plan = onFailure(
    tasks.routing(
      'PlanRollout',
      {
        action: 'plan',
        model: candidate.model,
        spec: sfn.JsonPath.objectAt('$.validation.rollout'),
        candidate: { version: candidate.version, lambdaVersion: sfn.JsonPath.stringAt('$.published.lambdaVersion') },
        champion: sfn.JsonPath.objectAt('$.validation.champion'),
        // The bundle's own alarm settings (its manifest's estimated-quality drops), over the declared thresholds.
        alarms: sfn.JsonPath.objectAt('$.validation.alarms'),
      },
      '$.rollout',
    ),
  );
  const putAlarm = tasks.cloudWatch(
    'PutAlarm',
    'putMetricAlarm',
    Object.fromEntries(
      [
        'AlarmName',
        'AlarmDescription',
        'ComparisonOperator',
        'Threshold',
        'EvaluationPeriods',
        'DatapointsToAlarm',
        'TreatMissingData',
        'AlarmActions',
        'OKActions',
        'Metrics',
      ].map((field) => [field, sfn.JsonPath.objectAt(`$.${field}`)]),
    ),
  );
  const createAlarms = onFailure(
    new sfn.Map(scope, 'CreateAlarms', { itemsPath: '$.rollout.alarms', maxConcurrency: 5, resultPath: sfn.JsonPath.DISCARD }).itemProcessor(putAlarm),
  );
  const startRollout = new sfn.Pass(scope, 'StartRollout', { result: sfn.Result.fromObject({ index: 0 }), resultPath: '$.cursor' });
  const applyStep = onFailure(
    tasks.routing(
      'ApplyStep',
      { action: 'apply-step', model: candidate.model, rollout: sfn.JsonPath.objectAt('$.rollout'), stepIndex: sfn.JsonPath.numberAt('$.cursor.index') },
      '$.step',
    ),
  );
  // The first step points the alias at a published version: from then on the model's routes may go live (a
  // new model's stack was created without a deployment of the API's stage; redeploying an unchanged API is harmless).
  const deployRoutes = onFailure(tasks.deployApi('DeployRoutes'));
  const recordStep = onFailure(
    tasks.registry(
      'RecordStep',
      {
        action: 'record-step',
        ...candidate,
        executionId,
        rollout: sfn.JsonPath.objectAt('$.rollout'),
        step: sfn.JsonPath.objectAt('$.step'),
        published: sfn.JsonPath.objectAt('$.published'),
      },
      '$.recorded',
    ),
  );

  // Done: notify, free the lock.
  const releaseAfterRollout = tasks.release('ReleaseLock', '$.candidate.model');
  releaseAfterRollout.next(new sfn.Succeed(scope, 'RolledOut'));
  const done = tasks.notify('NotifyOutcome', '$.recorded.notice', releaseAfterRollout);
  const nextStep = new sfn.Pass(scope, 'NextStep', { parameters: { 'index.$': 'States.MathAdd($.cursor.index, 1)' }, resultPath: '$.cursor' });
  const lastStep = new sfn.Choice(scope, 'LastStep?').when(sfn.Condition.booleanEquals('$.step.last', true), done).otherwise(nextStep.next(applyStep));

  // Baking: wait a check interval, look at the candidate's alarms, keep baking, roll back, or yield.
  const bakeWait = new sfn.Wait(scope, 'Bake', { time: sfn.WaitTime.secondsPath('$.step.bake.checkSeconds') });
  const checkAlarms = onFailure(
    // Only the candidate's critical alarms roll it back (lambdas/core/pipeline/alarms.ts): a warning pages, it does not undo a rollout.
    tasks.cloudWatch(
      'CheckAlarms',
      'describeAlarms',
      { AlarmNames: sfn.JsonPath.listAt('$.rollout.rollbackAlarms'), StateValue: 'ALARM' },
      {
        resultSelector: { 'metricAlarms.$': '$.MetricAlarms' },
        resultPath: '$.alarms',
      },
    ),
  );
  const rollBack = onFailure(tasks.routing('RollBack', { action: 'rollback', model: candidate.model, rollout: sfn.JsonPath.objectAt('$.rollout') }));
  const recordRollback = onFailure(
    tasks.registry(
      'RecordRollback',
      { action: 'record-rollback', ...candidate, executionId, alarms: sfn.JsonPath.listAt('$.alarms.metricAlarms[*].AlarmName'), rollout: sfn.JsonPath.objectAt('$.rollout') },
      '$.recorded',
    ),
  );
  const releaseAfterRollback = tasks.release('ReleaseLockAfterRollback', '$.candidate.model');
  releaseAfterRollback.next(new sfn.Fail(scope, 'RolledBack', { error: 'RolledBack', causePath: '$.recorded.notice.subject' }));
  const rolledBack = rollBack
    .next(recordRollback)
    .next(deleteAlarmsUnder(scope, 'DeleteRolledBackAlarms', tasks, '$.recorded.retiredAlarmPrefixes', tasks.notify('NotifyRollback', '$.recorded.notice', releaseAfterRollback)));
  const bakeTick = onFailure(tasks.registry('BakeTick', { action: 'bake-tick', model: candidate.model, executionId, bake: sfn.JsonPath.objectAt('$.step.bake') }, '$.step.bake'));
  const yielded = tasks.release('YieldToOperator', '$.candidate.model').next(new sfn.Succeed(scope, 'Yielded', { comment: 'an operator promote/rollback took over the model' }));
  bakeWait
    .next(checkAlarms)
    .next(
      new sfn.Choice(scope, 'AlarmFiring?')
        .when(sfn.Condition.isPresent('$.alarms.metricAlarms[0]'), rolledBack)
        .otherwise(
          bakeTick.next(
            new sfn.Choice(scope, 'KeepBaking?')
              .when(sfn.Condition.booleanEquals('$.step.bake.preempted', true), yielded)
              .when(sfn.Condition.numberGreaterThan('$.step.bake.checks', 0), bakeWait)
              .otherwise(lastStep),
          ),
        ),
    );

  const afterRecord = deleteAlarmsUnder(
    scope,
    'DeleteRetiredAlarms',
    tasks,
    '$.recorded.retiredAlarmPrefixes',
    new sfn.Choice(scope, 'Bake?').when(sfn.Condition.numberGreaterThan('$.step.bake.checks', 0), bakeWait).otherwise(lastStep),
  );
  applyStep.next(new sfn.Choice(scope, 'FirstStep?').when(sfn.Condition.numberEquals('$.cursor.index', 0), deployRoutes.next(recordStep)).otherwise(recordStep));
  recordStep.next(afterRecord);
  return plan.next(createAlarms).next(startRollout).next(applyStep);
}
