// The CloudWatch widgets of a model's monitoring, synthesized on a dashboard: every graph a SEARCH over the
// version dimension with the exact dimension set the monitor emits, the alarm thresholds drawn.
import { Duration } from 'aws-cdk-lib';
import { Capture, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { describe, expect, it } from 'vitest';
import { monitoringWidgets, type MonitoringWidgetsProps } from '../../lib/monitoring/monitoring-widgets';
import { InvalidPropsError } from '../../lib/validation/prop-validation';
import { fastStack, thrownBy } from './support';
import { readDashboard, sections, type Panel } from '../support/grafana-dashboard';

interface Body {
  widgets: {
    type: string;
    x: number;
    y: number;
    width: number;
    height: number;
    properties: { title?: string; markdown?: string; metrics?: unknown[][]; annotations?: { horizontal?: { value: number; label: string }[] } };
  }[];
}

function dashboard(props: MonitoringWidgetsProps): Body {
  const stack = fastStack();
  new cloudwatch.Dashboard(stack, 'Model', { widgets: [monitoringWidgets(props)] });
  const body = new Capture();
  Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardBody: body });
  const value = body.asObject() as { 'Fn::Join': [string, unknown[]] } | string;
  const text = typeof value === 'string' ? value : value['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'us-east-1')).join('');
  return JSON.parse(text) as Body;
}

/** The SEARCH expressions of a widget. */
const searches = (widget: Body['widgets'][number]) => (widget.properties.metrics ?? []).map((m) => (m[0] as { expression?: string }).expression).filter(Boolean) as string[];

describe('monitoringWidgets', () => {
  const body = dashboard({ namespace: 'modelgate-dev', model: 'churn', features: ['Contract', 'MonthlyCharges'] });
  const graph = (title: string) => body.widgets.find((w) => w.properties.title?.includes(title))!;

  it('graphs every version by a SEARCH over the version dimension, with the dimensions the monitor emits', () => {
    expect(searches(graph('share of drifted features'))).toEqual([
      `SEARCH('{"modelgate-dev",model,service,version} MetricName="DriftShare" service="monitor" model="churn"', 'Maximum', 300)`,
    ]);
    expect(searches(graph('drift of Contract'))).toEqual([
      `SEARCH('{"modelgate-dev",feature,model,service,version} MetricName="FeatureDriftStatistic" service="monitor" model="churn" feature="Contract"', 'Maximum', 300)`,
      `SEARCH('{"modelgate-dev",feature,model,service,version} MetricName="FeatureDrift" service="monitor" model="churn" feature="Contract"', 'Maximum', 300)`,
    ]);
    expect(graph('drift of MonthlyCharges')).toBeDefined();
    const labels = (graph('share of drifted features').properties.metrics ?? []).map((m) => (m[0] as { label?: string }).label);
    expect(labels).toEqual(["drift share v${PROP('Dim.version')}"]);
  });

  it('puts estimated quality beside realized quality, and the estimated drop against its alarm levels', () => {
    expect(searches(graph('accuracy, estimated')).map((s) => /MetricName="(\w+)"/.exec(s)?.[1])).toEqual(['EstimatedAccuracy', 'Accuracy']);
    expect(searches(graph('ROC AUC, estimated')).map((s) => /MetricName="(\w+)"/.exec(s)?.[1])).toEqual(['EstimatedRocAuc', 'RocAuc']);
    const drop = graph('estimated rocAuc below the holdout value');
    expect(searches(drop)[0]).toContain('MetricName="EstimatedRocAucDegradation"');
    expect(drop.properties.annotations?.horizontal?.map((a) => [a.label, a.value])).toEqual([
      ['warning (0.05)', 0.05],
      ['critical (0.1)', 0.1],
    ]);
    expect(graph('share of drifted features').properties.annotations?.horizontal?.map((a) => a.value)).toEqual([0.25, 0.5]);
  });

  it('follows the monitor period and the thresholds it is given', () => {
    const tuned = dashboard({ namespace: 'modelgate-prod', model: 'churn', period: Duration.minutes(10), estimatedQualityDrop: { f1: { critical: 0.2 } } });
    const drops = tuned.widgets.filter((w) => w.properties.title?.includes('below the holdout value'));
    expect(drops.map((w) => w.properties.title)).toEqual(['churn: estimated f1 below the holdout value (alarms: 2 of 3 runs)']);
    expect(searches(drops[0]!)[0]).toMatch(/^SEARCH\('\{"modelgate-prod",model,service,version\} MetricName="EstimatedF1Degradation" .*', 'Maximum', 600\)$/);
  });

  it('fails on a namespace or feature that would break the expression, a bad model name or period, naming each', () => {
    const error = thrownBy(() => monitoringWidgets({ namespace: 'a"b', model: 'Churn', features: ["it's"], period: Duration.seconds(90) }));
    expect(error).toBeInstanceOf(InvalidPropsError);
    expect(error.message).toContain('namespace must be a metrics namespace without quotes, got: "a\\"b"');
    expect(error.message).toContain('model must be a model name (lower-case letters, digits, dashes), got: "Churn"');
    expect(error.message).toContain('features must be feature names without quotes, got: "it\'s"');
    expect(error.message).toContain('period must be a whole number of minutes, got: 90 seconds');
  });
});

describe('monitoringWidgets as dashboards/modelgate-cloudwatch.json shows them in Grafana (its model section)', () => {
  const model = 'churn';
  const widgets = dashboard({ namespace: 'modelgate-dev', model }).widgets;
  const grafana = readDashboard('modelgate-cloudwatch.json');
  const panels = sections(grafana).find((section) => section[0]?.options?.content?.startsWith('## $model')) ?? [];
  const variable = (name: string) => grafana.templating.list.find((v) => v.name === name);
  /** A panel's text with the model variable set to the model synthesized here. */
  const withModel = (text: string | undefined) => text?.replaceAll('$model', model);
  /** SEARCH('{"<namespace>",<dimension>...} MetricName="<name>" service="<service>" model="<model>"', '<stat>', <period>) */
  const search = (expression: string) => {
    const match = /^SEARCH\('\{"([^"]+)",([^}]*)\} MetricName="([^"]+)" service="([^"]+)" model="([^"]+)"', '([^']+)', (\d+)\)$/.exec(expression);
    if (!match) throw new Error(`not a SEARCH this test reads: ${expression}`);
    const [, namespace, dimensions, metricName, service, searchedModel, statistic, period] = match as unknown as string[];
    return { namespace, dimensions: (dimensions as string).split(',').sort(), metricName, service, model: searchedModel, statistic, period };
  };

  it('has the same panels, placed alike, with the same metrics, statistics, periods, labels, axes, bounds and alarm levels', () => {
    expect(variable('model')?.type).toBe('query');
    expect(panels).toHaveLength(widgets.length);
    const top = (widgets[0] as Body['widgets'][number]).y;
    const panelTop = (panels[0] as Panel).gridPos.y;
    widgets.forEach((widget, i) => {
      const panel = panels[i] as Panel & { fieldConfig?: { defaults: Record<string, unknown>; overrides: { matcher: { options: string }; properties: { value: string }[] }[] } };
      expect(panel.gridPos).toEqual({ x: widget.x, y: panelTop + widget.y - top, w: widget.width, h: widget.height });
      if (widget.type === 'text') {
        expect(withModel(panel.options?.content)).toBe(widget.properties.markdown);
        return;
      }
      expect(withModel(panel.title)).toBe(widget.properties.title);
      const metrics = (widget.properties.metrics ?? []).map((m) => m[0] as { expression: string; label: string; yAxis?: string });
      const right = new Set(panel.fieldConfig?.overrides.filter((o) => o.properties.some((p) => p.value === 'right')).map((o) => o.matcher.options));
      expect(
        (panel.targets ?? []).map((t) => ({
          namespace: t.namespace === '$namespace' ? variable('namespace')?.query : t.namespace,
          dimensions: Object.keys(t.dimensions as object).sort(),
          metricName: t.metricName,
          service: (t.dimensions as Record<string, string>).service,
          model: withModel((t.dimensions as Record<string, string>).model),
          statistic: t.statistic,
          period: t.period,
          label: t.label,
          right: right.has(t.refId),
        })),
      ).toEqual(metrics.map((m) => ({ ...search(m.expression), label: m.label, right: m.yAxis === 'right' })));
      for (const target of panel.targets ?? []) expect((target.dimensions as Record<string, string>).version).toBe('*');
      const yAxis = (widget.properties as { yAxis?: { left?: { min?: number; max?: number } } }).yAxis?.left;
      expect([panel.fieldConfig?.defaults.min, panel.fieldConfig?.defaults.max]).toEqual([yAxis?.min, yAxis?.max]);
      const steps = ((panel.fieldConfig?.defaults.thresholds as { steps: { value: number | null }[] } | undefined)?.steps ?? []).flatMap((step) =>
        step.value === null ? [] : [step.value],
      );
      expect(steps).toEqual(widget.properties.annotations?.horizontal?.map((a) => a.value) ?? []);
    });
  });
});
