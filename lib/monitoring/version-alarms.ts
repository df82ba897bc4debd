import { Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  DEFAULT_ALARM_THRESHOLDS,
  thresholdProblems,
  versionAlarmSpecs,
  type AlarmSpec,
  type AlarmThresholds,
  type Severity,
} from '../../lambdas/core/monitoring/alarms';
import { alarmMetricOf } from './monitoring-metrics';
import { modelIdentityProblems } from '../serving/model-endpoint';
import { PropErrors } from '../validation/prop-validation';

export interface VersionAlarmsProps {
  readonly model: string;
  readonly version: string;
  /** @default DEFAULT_ALARM_THRESHOLDS */
  readonly thresholds?: AlarmThresholds;
  /** Where ALARM and OK notifications go. */
  readonly topic: sns.ITopic;
}

/**
 * The alarms of one model version, keyed by severity, named `<deployment>/<model>/v<version>/<metric>-<severity>`
 * and dimensioned by model and version, so a bad canary's alarms fire without touching the champion's.
 * The definitions are `versionAlarmSpecs` (lambdas/core/monitoring/alarms.ts), which the promotion
 * pipeline also uses for versions it publishes after the deploy.
 */
export class VersionAlarms extends Construct {
  readonly specs: readonly AlarmSpec[];
  readonly alarms: ReadonlyMap<string, cloudwatch.Alarm>;

  constructor(scope: Construct, id: string, props: VersionAlarmsProps) {
    super(scope, id);
    const thresholds = props.thresholds ?? DEFAULT_ALARM_THRESHOLDS;
    const errors = new PropErrors('VersionAlarms');
    errors.add(...modelIdentityProblems(props.model, props.version));
    errors.add(...thresholdProblems(thresholds).map((problem) => `thresholds.${problem}`));
    errors.throwIfAny();

    this.specs = versionAlarmSpecs(Stack.of(this).stackName, props.model, props.version, thresholds);
    const alarms = new Map<string, cloudwatch.Alarm>();
    const notify = new actions.SnsAction(props.topic);
    for (const spec of this.specs) {
      const alarm = new cloudwatch.Alarm(this, `${spec.metricKey}-${spec.severity}`, {
        alarmName: spec.name,
        alarmDescription: spec.description,
        metric: alarmMetricOf(spec),
        threshold: spec.threshold,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: spec.evaluationPeriods,
        datapointsToAlarm: spec.datapointsToAlarm,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(notify);
      alarm.addOkAction(notify);
      alarms.set(spec.name, alarm);
    }
    this.alarms = alarms;
  }

  /** The alarms of one severity (a composite or a canary watch can take them). */
  ofSeverity(severity: Severity): cloudwatch.Alarm[] {
    return this.specs.filter((spec) => spec.severity === severity).map((spec) => this.alarms.get(spec.name) as cloudwatch.Alarm);
  }
}
