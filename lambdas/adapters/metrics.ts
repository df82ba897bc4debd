import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * Serving metrics as CloudWatch EMF through Powertools, dimensioned by model and model version so
 * alarms can be scoped to one version (a bad canary rolls back without touching the champion).
 * One EMF line per invocation; errors (server and client apart) also go out as their own line with an `errorKind` dimension.
 */
export class ServingMetrics {
  private readonly metrics: Metrics;

  constructor(namespace: string, service: string, model: string, version: string) {
    this.metrics = new Metrics({ namespace, serviceName: service, defaultDimensions: { model, version } });
  }

  /** Metric names may not hold every character a label can; keep a readable, safe form. */
  static classMetricName(label: string | number): string {
    return `PredictedClass_${String(label)
      .replace(/[^A-Za-z0-9_.-]/g, '_')
      .slice(0, 200)}`;
  }

  recordPredictions(rows: number, latencyMs: number, predictions: readonly { readonly label?: string | number }[]): void {
    this.metrics.addMetric('Predictions', MetricUnit.Count, rows);
    this.metrics.addMetric('Latency', MetricUnit.Milliseconds, latencyMs);
    const byClass = new Map<string | number, number>();
    for (const { label } of predictions) if (label !== undefined) byClass.set(label, (byClass.get(label) ?? 0) + 1);
    for (const [label, count] of byClass) this.metrics.addMetric(this.classMetricName(label), MetricUnit.Count, count);
  }

  /** Class metric names per label, built once (labels are few: the manifest's classes). */
  private readonly classNames = new Map<string | number, string>();

  private classMetricName(label: string | number): string {
    let name = this.classNames.get(label);
    if (name === undefined) {
      name = ServingMetrics.classMetricName(label);
      if (this.classNames.size < 1000) this.classNames.set(label, name);
    }
    return name;
  }

  recordLogWrite(logMs: number, fallbackRecords: number): void {
    this.metrics.addMetric('LogWriteLatency', MetricUnit.Milliseconds, logMs);
    if (fallbackRecords > 0) this.metrics.addMetric('LogFallbacks', MetricUnit.Count, fallbackRecords);
  }

  /** Shadow version: rows compared with the champion's answers and how many agreed (agreement = agreed / compared). */
  recordShadowAgreement(compared: number, agreed: number): void {
    this.metrics.addMetric('ShadowCompared', MetricUnit.Count, compared);
    this.metrics.addMetric('ShadowAgreed', MetricUnit.Count, agreed);
  }

  /** A failure of the service (model, bundle, log and fallback): the numerator of the error-rate alarm. */
  recordError(kind: string): void {
    this.recordByKind('Errors', kind);
  }

  /**
   * A request the client got wrong (4xx). Counted apart, and watched by no rollback alarm: whoever can call
   * the API could otherwise roll back a good canary by sending bad requests.
   */
  recordClientError(kind: string): void {
    this.recordByKind('ClientErrors', kind);
  }

  private recordByKind(metric: 'Errors' | 'ClientErrors', kind: string): void {
    // Every kind together on the invocation's dimensions, and each kind on its own line with an errorKind dimension.
    this.metrics.addMetric(metric, MetricUnit.Count, 1);
    const single = this.metrics.singleMetric();
    single.addDimension('errorKind', kind);
    single.addMetric(metric, MetricUnit.Count, 1);
    if (single.hasStoredMetrics()) single.publishStoredMetrics();
  }

  flush(): void {
    // Every invocation ends here, answered or failed: the denominator of the error-rate alarm.
    this.metrics.addMetric('Requests', MetricUnit.Count, 1);
    if (this.metrics.hasStoredMetrics()) this.metrics.publishStoredMetrics();
  }
}
