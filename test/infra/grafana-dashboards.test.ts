// The Grafana dashboards in dashboards/, against Grafana's dashboard JSON model, and every PromQL query against
// the metrics /metrics serves (parsed with Prometheus' own PromQL grammar). The CloudWatch dashboard is compared
// with the stack's own in model-monitoring.test.ts, which synthesizes it.
import { parser } from '@prometheus-io/lezer-promql';
import { describe, expect, it } from 'vitest';
import { METRIC_FAMILIES } from '../../local/prometheus/families';
import { readDashboard } from '../support/grafana-dashboard';

/** Variables Grafana defines itself (https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/#global-variables). */
const GLOBAL_VARIABLES = ['__rate_interval', '__interval', '__range', '__interval_ms', '__range_s'];

describe.each([
  { file: 'modelgate-prometheus.json', input: 'DS_PROMETHEUS', plugin: 'prometheus' },
  { file: 'modelgate-cloudwatch.json', input: 'DS_CLOUDWATCH', plugin: 'cloudwatch' },
])('$file, against the dashboard JSON model', ({ file, input, plugin }) => {
  const dashboard = readDashboard(file);

  it('is a current dashboard (schemaVersion >= 36: datasources referenced by uid) with a uid, a title and panels on the 24-column grid', () => {
    expect(Number.isInteger(dashboard.schemaVersion) && dashboard.schemaVersion >= 36).toBe(true);
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.title).not.toBe('');
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    for (const panel of dashboard.panels) {
      const { x, y, w, h } = panel.gridPos;
      expect([x, y, w, h].every(Number.isInteger) && x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= 24, `panel ${panel.id} gridPos`).toBe(true);
    }
  });

  it(`references its datasource through one input, \${${input}}, everywhere (panels, queries, variables)`, () => {
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: input, type: 'datasource', pluginId: plugin })]);
    const refs: unknown[] = [];
    const collect = (value: unknown, key?: string): void => {
      if (key === 'datasource') refs.push(value);
      else if (Array.isArray(value)) for (const item of value) collect(item);
      else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) collect(v, k);
    };
    collect(dashboard);
    expect(refs.length).toBeGreaterThan(0);
    expect(refs.filter((ref) => JSON.stringify(ref) !== JSON.stringify({ type: plugin, uid: `\${${input}}` }))).toEqual([]);
  });

  it('has queries on every panel that shows data, each with its own refId, using only variables that are defined', () => {
    const defined = new Set([...dashboard.templating.list.map((v) => v.name), ...GLOBAL_VARIABLES]);
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row' && p.type !== 'text')) {
      expect(panel.targets?.length, `panel ${panel.title}`).toBeGreaterThan(0);
      const targets = panel.targets ?? [];
      expect(new Set(targets.map((t) => t.refId)).size).toBe(targets.length);
      const used = JSON.stringify(targets).match(/\$\{?([a-zA-Z_][a-zA-Z0-9_]*)/g) ?? [];
      expect(used.map((v) => v.replace(/^\$\{?/, '')).filter((v) => !defined.has(v) && v !== input && v !== 'PROP')).toEqual([]);
    }
  });
});

describe('modelgate-prometheus.json queries', () => {
  const dashboard = readDashboard('modelgate-prometheus.json');
  /** The sample names /metrics serves, from the renderer's declaration of its families. */
  const served = new Set(
    Object.values(METRIC_FAMILIES).flatMap((f) =>
      f.type === 'counter' ? [`${f.name}_total`] : f.type === 'histogram' ? [`${f.name}_bucket`, `${f.name}_count`, `${f.name}_sum`] : [f.name],
    ),
  );
  /** PromQL as Grafana sends it: its variables interpolated. */
  const interpolate = (expr: string) => expr.replaceAll('$__rate_interval', '1m').replaceAll('$model', '.*');
  const metricNames = (expr: string) => {
    const names: string[] = [];
    const errors: number[] = [];
    parser.parse(expr).iterate({
      enter: (node) => {
        if (node.type.isError) errors.push(node.from);
        if (node.name === 'VectorSelector') {
          const identifier = node.node.getChild('Identifier');
          if (identifier) names.push(expr.slice(identifier.from, identifier.to));
        }
      },
    });
    expect(errors, `PromQL errors at ${errors.join(', ')} in ${expr}`).toEqual([]);
    return names;
  };
  const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr as string })));

  it.each(queries)('$panel: $expr names only metrics /metrics serves', ({ expr }) => {
    const names = metricNames(interpolate(expr));
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((name) => !served.has(name))).toEqual([]);
  });

  it("reads the model variable's values from a served metric", () => {
    const variable = dashboard.templating.list.find((v) => v.name === 'model');
    const match = /^label_values\((\w+), model\)$/.exec(String(variable?.definition));
    expect(served.has(match?.[1] ?? '')).toBe(true);
  });

  it('knows what a wrong name looks like', () => {
    expect(metricNames('rate(modelgate_prediction_total[1m])').filter((name) => !served.has(name))).toEqual(['modelgate_prediction_total']);
    expect(() => metricNames('sum by (model (x)')).toThrow();
  });
});
