// Deleting the alarms of versions that left traffic (and of a retired model): for each name prefix, list the
// alarms under it and delete them, 100 at a time (DescribeAlarms' page and DeleteAlarms' limit), until none is
// left — so alarms cost nothing once their version is gone.
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { PipelineTasks } from './tasks';

/** Deletes every alarm under each prefix listed at `prefixesPath`, then goes on to `next`. */
export function deleteAlarmsUnder(scope: Construct, id: string, tasks: PipelineTasks, prefixesPath: string, next: sfn.IChainable): sfn.Chain {
  const list = tasks.cloudWatch(
    `${id}List`,
    'describeAlarms',
    { AlarmNamePrefix: sfn.JsonPath.stringAt('$.prefix'), MaxRecords: 100 },
    {
      resultSelector: { 'alarms.$': '$.MetricAlarms' },
      resultPath: '$.found',
    },
  );
  // Only when some were found: a JSONPath over an empty list points to no value.
  const remove = tasks.cloudWatch(`${id}Delete`, 'deleteAlarms', { AlarmNames: sfn.JsonPath.listAt('$.found.alarms[*].AlarmName') });
  remove.next(list);
  const perPrefix = list.next(new sfn.Choice(scope, `${id}Any?`).when(sfn.Condition.isPresent('$.found.alarms[0]'), remove).otherwise(new sfn.Succeed(scope, `${id}Cleared`)));
  const map = new sfn.Map(scope, id, {
    itemsPath: prefixesPath,
    itemSelector: { 'prefix.$': '$$.Map.Item.Value' },
    maxConcurrency: 2,
    resultPath: sfn.JsonPath.DISCARD,
  }).itemProcessor(perPrefix);
  // Alarms that cannot be deleted now stay until the model's next retirement sweeps its prefix: never a reason
  // to fail a rollout that already took place.
  map.addCatch(next, { errors: ['States.ALL'], resultPath: `$.alarmCleanupErrors.${id}` });
  return map.next(next);
}
