// Which alarms roll a baking candidate back. Version-scoped alarms are named by the monitoring convention
// (core/naming.ts): `<deployment>/<model>/v<version>/<metric>-<severity>`, <version> being the MODEL
// version (the `version` dimension of the serving and monitor metrics). During a bake the state machine asks
// CloudWatch for the alarms in ALARM whose names start with the candidate's prefix: any of them, warning or
// critical, rolls the canary back — a version on trial gets no benefit of the doubt.
import { versionAlarmSpecs, type AlarmThresholds, type MetricRef } from '../monitoring/alarms';
import { versionAlarmPrefix } from '../naming';

/** The prefix whose alarms in ALARM roll a baking candidate back. */
export function rollbackAlarmPrefix(deployment: string, model: string, version: string): string {
  return versionAlarmPrefix(deployment, model, version);
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
  readonly Metrics: readonly Record<string, unknown>[];
}

/**
 * The alarms of a version the pipeline publishes, from the same specs the stack turns into
 * AWS::CloudWatch::Alarm for the versions it knows at synth (core/monitoring/alarms.ts).
 */
export function versionAlarmInputs(deployment: string, model: string, version: string, thresholds: AlarmThresholds, actions: readonly string[]): PutMetricAlarmInput[] {
  const dimensions = (d: Readonly<Record<string, string>>) => Object.entries(d).map(([Name, Value]) => ({ Name, Value }));
  const metricStat = (id: string, m: MetricRef, returnData: boolean) => ({
    Id: id,
    ReturnData: returnData,
    MetricStat: { Metric: { Namespace: m.namespace, MetricName: m.metricName, Dimensions: dimensions(m.dimensions) }, Period: m.periodSeconds, Stat: m.statistic },
  });
  return versionAlarmSpecs(deployment, model, version, thresholds).map((spec) => ({
    AlarmName: spec.name,
    AlarmDescription: spec.description,
    ComparisonOperator: spec.comparison,
    Threshold: spec.threshold,
    EvaluationPeriods: spec.evaluationPeriods,
    DatapointsToAlarm: spec.datapointsToAlarm,
    TreatMissingData: spec.treatMissingData,
    AlarmActions: actions,
    Metrics:
      'expression' in spec.metric
        ? [
            { Id: 'expression', Expression: spec.metric.expression, Label: spec.metric.label, ReturnData: true, Period: spec.metric.periodSeconds },
            ...Object.entries(spec.metric.metrics).map(([id, m]) => metricStat(id, m, false)),
          ]
        : [metricStat('metric', spec.metric, true)],
  }));
}
