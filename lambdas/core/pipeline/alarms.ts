// Which alarms roll a baking candidate back. Version-scoped alarms are named by the monitoring convention
// (core/naming.ts): `<deployment>/<model>/v<version>/<metric>-<severity>`, <version> being the MODEL
// version (the `version` dimension of the serving and monitor metrics). During a bake the state machine asks
// CloudWatch which of the candidate's critical alarms are in ALARM (DescribeAlarms by AlarmNames): any of
// them rolls the canary back. Warnings page on-call through their actions but do not roll back: their
// thresholds (one record in the log fallback, p99 over 250 ms for three minutes) are ones a single client or
// a noisy neighbour can cross, and a rollback of a good version is an outage of the improvement it brings.
import { batchAlarmSpecs, versionAlarmSpecs, type AlarmSpec, type AlarmThresholds, type MetricRef, type Severity } from '../monitoring/alarms';
import { versionAlarmPrefix } from '../naming';

/** The severity whose alarms roll a baking candidate back. */
export const ROLLBACK_SEVERITY: Severity = 'critical';

/** DescribeAlarms takes at most this many AlarmNames. */
export const MAX_DESCRIBED_ALARM_NAMES = 100;

/** The prefix of every alarm of a candidate version. */
export function rollbackAlarmPrefix(deployment: string, model: string, version: string): string {
  return versionAlarmPrefix(deployment, model, version);
}

/** Whether an alarm, by name, rolls back the baking candidate `version` of `model`: one of its critical alarms. */
export function rollsBack(alarmName: string, deployment: string, model: string, version: string): boolean {
  return alarmName.startsWith(versionAlarmPrefix(deployment, model, version)) && alarmName.endsWith(`-${ROLLBACK_SEVERITY}`);
}

/**
 * The names of the candidate's alarms that roll it back, for the bake's DescribeAlarms (AlarmNames, StateValue
 * ALARM). Throws when there are more than DescribeAlarms takes (critical drift alarms on very many features).
 */
export function rollbackAlarmNames(alarms: readonly Pick<PutMetricAlarmInput, 'AlarmName'>[], deployment: string, model: string, version: string): string[] {
  const names = alarms.map((alarm) => alarm.AlarmName).filter((name) => rollsBack(name, deployment, model, version));
  if (names.length > MAX_DESCRIBED_ALARM_NAMES) {
    throw new RangeError(
      `${model} v${version} has ${names.length} ${ROLLBACK_SEVERITY} alarms; a bake checks at most ${MAX_DESCRIBED_ALARM_NAMES}: give fewer features a ${ROLLBACK_SEVERITY} drift alarm`,
    );
  }
  return names;
}

/**
 * PutMetricAlarm's input, as the state machine's aws-sdk:cloudwatch:putMetricAlarm task sends it. Every alarm
 * is written in the `Metrics` form (a single metric is one MetricStat returning data), so the task's
 * Parameters have one shape whatever the alarm.
 */
export interface PutMetricAlarmInput {
  readonly AlarmName: string;
  readonly AlarmDescription: string;
  readonly ComparisonOperator: string;
  readonly Threshold: number;
  readonly EvaluationPeriods: number;
  readonly DatapointsToAlarm: number;
  readonly TreatMissingData: string;
  readonly AlarmActions: readonly string[];
  /** The same actions when the alarm clears: on-call hears that it is over, not only that it began. */
  readonly OKActions: readonly string[];
  readonly Metrics: readonly Record<string, unknown>[];
}

/**
 * The alarms a rollout of a version puts: the version's own (core/monitoring/alarms.ts), and its model's batch
 * alarms, put again by every rollout (PutMetricAlarm overwrites an alarm of the same name and keeps its state)
 * so that every model in traffic has them; they live under the model's prefix, not the version's, so a version
 * leaving traffic does not delete them, and no bake watches them.
 */
export function rolloutAlarmInputs(deployment: string, model: string, version: string, thresholds: AlarmThresholds, actions: readonly string[]): PutMetricAlarmInput[] {
  return [...versionAlarmSpecs(deployment, model, version, thresholds), ...batchAlarmSpecs(deployment, model, thresholds)].map((spec) => alarmInput(spec, actions));
}

function alarmInput(spec: AlarmSpec, actions: readonly string[]): PutMetricAlarmInput {
  const dimensions = (d: Readonly<Record<string, string>>) => Object.entries(d).map(([Name, Value]) => ({ Name, Value }));
  const metricStat = (id: string, m: MetricRef, returnData: boolean) => ({
    Id: id,
    ReturnData: returnData,
    MetricStat: { Metric: { Namespace: m.namespace, MetricName: m.metricName, Dimensions: dimensions(m.dimensions) }, Period: m.periodSeconds, Stat: m.statistic },
  });
  return {
    AlarmName: spec.name,
    AlarmDescription: spec.description,
    ComparisonOperator: spec.comparison,
    Threshold: spec.threshold,
    EvaluationPeriods: spec.evaluationPeriods,
    DatapointsToAlarm: spec.datapointsToAlarm,
    TreatMissingData: spec.treatMissingData,
    AlarmActions: actions,
    OKActions: actions,
    Metrics:
      'expression' in spec.metric
        ? [
            { Id: 'expression', Expression: spec.metric.expression, Label: spec.metric.label, ReturnData: true, Period: spec.metric.periodSeconds },
            ...Object.entries(spec.metric.metrics).map(([id, m]) => metricStat(id, m, false)),
          ]
        : [metricStat('metric', spec.metric, true)],
  };
}
