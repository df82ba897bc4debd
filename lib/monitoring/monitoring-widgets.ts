// The CloudWatch side of the local dashboard's monitoring section, for one model: drift share, the prediction
// distribution's drift, the drift statistic of chosen features, estimated and realized quality and the
// estimated drop against its alarm thresholds. Every graph is a SEARCH over the `version` dimension, so one
// model dashboard shows each version the pipeline publishes without knowing them at synth (a version appears
// once the monitor has reported on it). The model's stack puts these widgets on its dashboard.
import { Duration, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import {
  DEFAULT_ALARM_THRESHOLDS,
  DEFAULT_ESTIMATED_QUALITY_DROP,
  DEFAULT_MONITOR_PERIOD_SECONDS,
  degradationMetricName,
  estimatedMetricName,
  METRIC,
  MONITOR_SERVICE,
  QUALITY_METRIC_NAMES,
  type SeverityThresholds,
} from '../../lambdas/core/monitoring/alarms';
import type { EstimatedMetricName } from '../../lambdas/core/estimation/estimated-quality';
import { MODEL_NAME_PATTERN, PropErrors, show } from '../validation/prop-validation';

export interface MonitoringWidgetsProps {
  /** The deployment's metrics namespace (lambdas/core/naming.ts metricsNamespace). */
  readonly namespace: string;
  readonly model: string;
  /** Features whose drift statistic gets a graph (e.g. the ones with feature-drift alarms). @default - none */
  readonly features?: readonly string[];
  /** The monitor's period: each point is one run. @default Duration.seconds(DEFAULT_MONITOR_PERIOD_SECONDS) */
  readonly period?: Duration;
  /** Drift share alarm levels, drawn across the drift share graph. @default DEFAULT_ALARM_THRESHOLDS.driftShare */
  readonly driftShare?: SeverityThresholds;
  /** Estimated-quality drop alarm levels, drawn across the drop graphs. @default DEFAULT_ESTIMATED_QUALITY_DROP */
  readonly estimatedQualityDrop?: Readonly<Partial<Record<EstimatedMetricName, SeverityThresholds>>>;
}

const WARNING = '#ff7f0e';
const CRITICAL = '#d62728';

/** The monitoring widgets of one model, every version in each graph (one line per version). */
export function monitoringWidgets(props: MonitoringWidgetsProps): cloudwatch.IWidget[] {
  const errors = new PropErrors('monitoringWidgets');
  // The model stack passes its parameters (tokens): CloudFormation resolves them, the deployment's rules checked them.
  errors.require(
    Token.isUnresolved(props.namespace) || (props.namespace.length > 0 && !/["']/.test(props.namespace)),
    `namespace must be a metrics namespace without quotes, got: ${show(props.namespace)}`,
  );
  errors.require(
    Token.isUnresolved(props.model) || (MODEL_NAME_PATTERN.test(props.model) && props.model.length <= 40),
    `model must be a model name (lower-case letters, digits, dashes), got: ${show(props.model)}`,
  );
  for (const feature of props.features ?? []) errors.require(!/["']/.test(feature), `features must be feature names without quotes, got: ${show(feature)}`);
  const period = props.period ?? Duration.seconds(DEFAULT_MONITOR_PERIOD_SECONDS);
  errors.require(period.toSeconds() >= 60 && period.toSeconds() % 60 === 0, `period must be a whole number of minutes, got: ${period.toSeconds()} seconds`);
  errors.throwIfAny();

  /** One line per version of `metricName` (exact dimension set: service, model, version, and feature when given). */
  const perVersion = (metricName: string, label: string, feature?: string) =>
    new cloudwatch.SearchExpression({
      expression:
        `SEARCH('{"${props.namespace}",${feature === undefined ? '' : 'feature,'}model,service,version} ` +
        `MetricName="${metricName}" service="${MONITOR_SERVICE}" model="${props.model}"${feature === undefined ? '' : ` feature="${feature}"`}', 'Maximum', ${period.toSeconds()})`,
      label: `${label} v\${PROP('Dim.version')}`,
      period,
    });
  const levels = (thresholds: SeverityThresholds | undefined): cloudwatch.HorizontalAnnotation[] => [
    ...(thresholds?.warning !== undefined ? [{ value: thresholds.warning, label: `warning (${thresholds.warning})`, color: WARNING }] : []),
    ...(thresholds?.critical !== undefined ? [{ value: thresholds.critical, label: `critical (${thresholds.critical})`, color: CRITICAL }] : []),
  ];
  const estimatedDrop = props.estimatedQualityDrop ?? DEFAULT_ESTIMATED_QUALITY_DROP;
  const quality = (['accuracy', 'rocAuc'] as const).map(
    (metric) =>
      new cloudwatch.GraphWidget({
        title: `${props.model}: ${metric === 'rocAuc' ? 'ROC AUC' : 'accuracy'}, estimated (no labels) and realized (24 h of labels)`,
        left: [perVersion(estimatedMetricName(metric), 'estimated'), perVersion(QUALITY_METRIC_NAMES[metric], 'realized')],
        leftYAxis: { min: 0, max: 1 },
        width: 8,
      }),
  );
  const drops = (Object.entries(estimatedDrop) as [EstimatedMetricName, SeverityThresholds][]).map(
    ([metric, thresholds]) =>
      new cloudwatch.GraphWidget({
        title: `${props.model}: estimated ${metric} below the holdout value (alarms: 2 of 3 runs)`,
        left: [perVersion(degradationMetricName(metric, 'estimated'), 'estimated drop')],
        leftAnnotations: levels(thresholds),
        width: 8,
      }),
  );
  return [
    new cloudwatch.TextWidget({
      markdown: `## ${props.model}: drift and quality\nOne line per model version, one point per monitor run (every ${period.toMinutes()} min) over its sliding window.`,
      width: 24,
      height: 2,
    }),
    new cloudwatch.GraphWidget({
      title: `${props.model}: share of drifted features`,
      left: [perVersion(METRIC.driftShare, 'drift share')],
      leftAnnotations: levels(props.driftShare ?? DEFAULT_ALARM_THRESHOLDS.driftShare),
      leftYAxis: { min: 0, max: 1 },
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: `${props.model}: prediction distribution drift (statistic)`,
      left: [perVersion(METRIC.predictionDriftStatistic, 'prediction')],
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: `${props.model}: predictions and labels in the window`,
      left: [perVersion(METRIC.monitoredPredictions, 'predictions')],
      right: [perVersion(METRIC.labelledPredictions, 'labels')],
      width: 8,
    }),
    ...(props.features ?? []).map(
      (feature) =>
        new cloudwatch.GraphWidget({
          title: `${props.model}: drift of ${feature} (statistic; drifted: 1)`,
          left: [perVersion(METRIC.featureDriftStatistic, feature, feature)],
          right: [perVersion(METRIC.featureDrift, `${feature} drifted`, feature)],
          rightYAxis: { min: 0, max: 1 },
          width: 8,
        }),
    ),
    ...quality,
    ...drops,
  ];
}
