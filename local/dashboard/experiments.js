// The dashboard's experiments panel: each experiment's decision and metrics now, and the primary metric's
// relative lift with its interval over time (one point per analysis snapshot). Reads /dashboard/api/experiments
// (local/experiment-views.ts); plain DOM and uPlot, like dashboard.js.
(() => {
  const REFRESH_MS = 5000;
  const section = document.querySelector('#experiments .content');
  if (!section) return;
  const charts = new Map();

  const { el, table } = window.modelgateDom;
  const percent = (x) => (x === undefined || x === null ? '' : `${x > 0 ? '+' : ''}${(x * 100).toFixed(1)}%`);
  const pValue = (p) => (p === undefined ? '' : p < 1e-4 ? p.toExponential(1) : p.toPrecision(3));

  function metricsTable(analysis) {
    const rows = analysis.metrics.map((m) => [
      m.name,
      m.role,
      m.status === 'waiting' ? `waiting: ${m.reason}` : percent(m.lift),
      m.ci ? `[${percent(m.ci[0])}, ${percent(m.ci[1])}]` : '',
      m.chanceToWin !== undefined ? `win ${(m.chanceToWin * 100).toFixed(1)}%` : pValue(m.adjustedPValue ?? m.pValue),
      m.verdict ?? '',
    ]);
    return table(['metric', 'role', 'lift', 'interval', 'p / chance', 'verdict'], rows);
  }

  /** Lift and its interval of the primary metric per snapshot, as uPlot series (seconds on x). */
  function liftChart(view, container) {
    const metric = view.experiment.primaryMetric.name;
    const points = view.snapshots.filter((s) => s.metrics[metric]?.ci);
    const key = view.id;
    const existing = charts.get(key);
    if (existing) existing.destroy();
    if (points.length === 0) return el('p', { class: 'empty' }, 'No analysis with an interval yet (snapshots come from the schedule or `experiment status --snapshot`).');
    const data = [
      points.map((s) => Date.parse(s.at) / 1000),
      points.map((s) => s.metrics[metric].lift),
      points.map((s) => s.metrics[metric].ci[0]),
      points.map((s) => s.metrics[metric].ci[1]),
      points.map(() => 0),
    ];
    const wrapper = el(
      'div',
      { class: 'chart', 'data-chart': `experiment-${key}` },
      el('h3', {}, `${metric}: relative lift of v${view.experiment.treatment.version} over v${view.experiment.control.version}, with its interval, per analysis`),
    );
    container.append(wrapper);
    const plot = new uPlot(
      {
        width: Math.max(320, wrapper.clientWidth || 520),
        height: 220,
        series: [
          {},
          { label: 'lift', stroke: '#2563eb', width: 2 },
          { label: 'interval low', stroke: '#93c5fd', dash: [4, 4] },
          { label: 'interval high', stroke: '#93c5fd', dash: [4, 4] },
          { label: 'no effect', stroke: '#9ca3af', width: 1 },
        ],
        bands: [{ series: [3, 2], fill: '#2563eb22' }],
        axes: [{}, { label: 'relative lift', size: 60, values: (_, ticks) => ticks.map((t) => `${(t * 100).toFixed(0)}%`) }],
        scales: { x: { time: true } },
        legend: { live: false },
      },
      data,
      wrapper,
    );
    charts.set(key, plot);
    return null;
  }

  function render(payload) {
    if (payload.experiments.length === 0) {
      section.replaceChildren(el('p', { class: 'empty' }, 'No experiments yet: npx modelgate experiment start --help'));
      return;
    }
    section.replaceChildren();
    for (const view of payload.experiments) {
      const { experiment, analysis } = view;
      const block = el(
        'div',
        { class: 'experiment', 'data-experiment': view.id },
        el(
          'h3',
          {},
          `${view.id} `,
          el(
            'span',
            { class: 'muted' },
            `${experiment.model} v${experiment.control.version} vs v${experiment.treatment.version} · ${experiment.assignment} assignment · ${experiment.status}`,
          ),
        ),
        el('div', {}, el('strong', {}, analysis.decisionText), ' ', el('span', { class: 'muted' }, analysis.reasons.map((r) => r.text).join(' '))),
        el(
          'div',
          { class: 'muted' },
          `units ${analysis.arms.control.units} / ${analysis.arms.treatment.units} · sample ratio ${analysis.srm ? `${analysis.srm.mismatch ? 'MISMATCH' : 'ok'} (p ${pValue(analysis.srm.pValue)})` : 'no traffic yet'} · ${analysis.requiredUnitsPerArm === null ? 'sample size not planned yet' : `${analysis.unitsPerArm} of ${analysis.requiredUnitsPerArm} units per arm`}`,
        ),
        metricsTable(analysis),
      );
      section.append(block);
      const empty = liftChart(view, block);
      if (empty) block.append(empty);
    }
  }

  async function refresh() {
    try {
      const response = await fetch('/dashboard/api/experiments', { cache: 'no-store' });
      if (response.ok) render(await response.json());
    } catch {
      // dashboard.js reports an unreachable runtime in the header.
    }
  }
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
