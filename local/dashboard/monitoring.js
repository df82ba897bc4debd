// The dashboard's monitoring section, per model version: the drift the monitor sees in its sliding window now
// (per feature: method, statistic, threshold, verdict or "not enough data" with the count, and the training
// distribution beside the current one), the prediction distribution, estimated and realized quality and the
// drift share over time with the alarm thresholds drawn, the version's alarms, and the error rate per slice.
// Reads /dashboard/api/monitoring (local/monitoring-views.ts); plain DOM, SVG and uPlot, like dashboard.js. A
// module: the drift table and its charts are drift-view.js's, which `modelgate drift --html` renders too.
import { badge as badgeNode, featureTable as featureTableNode, num, percent, STATUS_TEXT, toDom } from './drift-view.js';

(() => {
  const REFRESH_MS = 10_000;
  const section = document.querySelector('#monitoring .content');
  if (!section) return;
  const windowSelect = document.getElementById('window');
  const charts = [];
  const sliceChoice = new Map();
  const METRIC_NAMES = { accuracy: 'accuracy', rocAuc: 'ROC AUC' };

  const { el } = window.modelgateDom;
  const badge = (status, text) => toDom(badgeNode(status, text));

  function featureTable(version) {
    const views = [...(version.prediction ? [version.prediction] : []), ...version.features];
    if (views.length === 0) return el('p', { class: 'empty' }, version.driftSkipped ? `No drift report: ${version.driftSkipped}.` : 'No drift report yet.');
    return el('div', { class: 'scroll tall' }, toDom(featureTableNode(views, 'training vs current')));
  }

  /** A uPlot chart of the timeline; `lines` are constant thresholds drawn across it. */
  function timelineChart(container, title, yLabel, points, series, lines) {
    const wrapper = el('div', { class: 'chart', 'data-chart': title }, el('h3', {}, title));
    container.append(wrapper);
    if (points.length === 0) {
      wrapper.append(el('p', { class: 'empty' }, 'No windows yet.'));
      return;
    }
    // One point (a version's first window) would stretch uPlot's time axis over years: start it half an hour before.
    const shown = points.length === 1 ? [{ at: new Date(Date.parse(points[0].at) - 1_800_000).toISOString(), empty: true }, ...points] : points;
    const xs = shown.map((p) => Date.parse(p.at) / 1000);
    const data = [xs, ...series.map((s) => shown.map((p) => (p.empty ? null : s.value(p)))), ...lines.map((l) => shown.map(() => l.value))];
    const plot = new uPlot(
      {
        width: Math.max(320, wrapper.clientWidth || 480),
        height: 180,
        series: [
          {},
          ...series.map((s) => ({ label: s.label, stroke: s.color, width: s.width ?? 2, dash: s.dash, points: { show: true, size: 4 } })),
          ...lines.map((l) => ({ label: l.label, stroke: l.color, width: 1, dash: [6, 4], points: { show: false } })),
        ],
        // A band from an upper series down to the series `bandTo` (indices in `series`; uPlot counts x as 0).
        bands: series.flatMap((s, i) => (s.bandTo !== undefined ? [{ series: [i + 1, s.bandTo + 1], fill: '#2563eb1f' }] : [])),
        axes: [{}, { label: yLabel, size: 55 }],
        scales: { x: { time: true } },
        legend: { live: false },
      },
      data,
      wrapper,
    );
    charts.push(plot);
  }

  function qualityChart(container, version, metric) {
    const holdout = version.baseline[metric];
    const value = (kind, field) => (p) => (p[kind][metric] === undefined ? null : field ? p[kind][metric][field] : p[kind][metric]);
    const lines = [];
    if (holdout !== undefined) {
      lines.push({ label: 'holdout', value: holdout, color: '#6b7280' });
      const drops = version.thresholds.estimatedDrop[metric] ?? {};
      if (drops.warning !== undefined) lines.push({ label: `warning (holdout − ${drops.warning})`, value: holdout - drops.warning, color: '#ca8a04' });
      if (drops.critical !== undefined) lines.push({ label: `critical (holdout − ${drops.critical})`, value: holdout - drops.critical, color: '#b91c1c' });
    }
    timelineChart(
      container,
      `${version.model} v${version.version}: ${METRIC_NAMES[metric]}, estimated (band: ±3 SE) and realized on the same windows`,
      METRIC_NAMES[metric],
      version.timeline,
      [
        { label: 'estimated', value: value('estimated', 'value'), color: '#2563eb' },
        { label: 'interval high', value: value('estimated', 'upper'), color: '#93c5fd', width: 1, dash: [3, 3], bandTo: 2 },
        { label: 'interval low', value: value('estimated', 'lower'), color: '#93c5fd', width: 1, dash: [3, 3] },
        { label: 'realized', value: value('realized'), color: '#16a34a' },
      ],
      lines,
    );
  }

  function driftChart(container, version) {
    const levels = version.thresholds.driftShare;
    const lines = [];
    if (levels.warning !== undefined) lines.push({ label: `warning (${levels.warning})`, value: levels.warning, color: '#ca8a04' });
    if (levels.critical !== undefined) lines.push({ label: `critical (${levels.critical})`, value: levels.critical, color: '#b91c1c' });
    timelineChart(
      container,
      `${version.model} v${version.version}: share of drifted features`,
      'drift share',
      version.timeline,
      [{ label: 'drift share', value: (p) => p.driftShare, color: '#9333ea' }],
      lines,
    );
  }

  function errorSlices(version) {
    const key = `${version.model}/${version.version}`;
    if (!version.errors) return el('p', { class: 'empty' }, 'No prediction log to read labelled predictions from.');
    if (version.errors.labelled === 0) return el('p', { class: 'empty' }, 'No labelled predictions in this span yet (POST /v1/feedback).');
    const features = Object.keys(version.errors.slices);
    const drifted = version.features.find((f) => f.status === 'drift' && features.includes(f.name));
    const chosen = sliceChoice.get(key) ?? drifted?.name ?? features[0];
    const select = el(
      'select',
      { 'data-slices': key },
      features.map((f) => el('option', f === chosen ? { value: f, selected: 'selected' } : { value: f }, f)),
    );
    const body = el('div');
    const render = (feature) => {
      sliceChoice.set(key, feature);
      const slices = version.errors.slices[feature] ?? [];
      body.replaceChildren(
        el(
          'table',
          {},
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              [feature, 'labelled', 'wrong', 'error rate', '95% interval'].map((h) => el('th', {}, h)),
            ),
          ),
          el(
            'tbody',
            {},
            slices.map((s) =>
              el(
                'tr',
                {},
                el('td', {}, s.slice),
                el('td', {}, String(s.count)),
                el('td', {}, String(s.wrong)),
                el('td', {}, percent(s.errorRate)),
                el('td', {}, `${percent(s.low)} – ${percent(s.high)}`),
              ),
            ),
          ),
        ),
      );
    };
    select.addEventListener('change', () => render(select.value));
    render(chosen);
    return el('div', {}, el('div', {}, `${version.errors.labelled} labelled, ${version.errors.wrong} wrong (error rate ${percent(version.errors.errorRate)}); by `, select), body);
  }

  function summary(version) {
    const drift = version.drift;
    const estimated = version.estimated;
    const alarming = version.alarms.filter((a) => a.state === 'ALARM');
    const estimateText = ['accuracy', 'rocAuc']
      .filter((m) => estimated && estimated.estimated[m] !== undefined)
      .map((m) => {
        const realized = estimated.realized[m];
        // Below the minimum sample the estimate is not shown, as the monitor emits no metric for it (docs/drift.md).
        const sample = estimated.samples?.[m];
        if (sample && !sample.enough) return `estimated ${METRIC_NAMES[m]}: not enough data (${Math.round(sample.size)} of ${sample.minimum} needed)`;
        return `estimated ${METRIC_NAMES[m]} ${num(estimated.estimated[m])} (${num(estimated.interval[m].lower)}–${num(estimated.interval[m].upper)})${realized !== undefined ? `, realized ${num(realized)}` : ''}${version.baseline[m] !== undefined ? `, holdout ${num(version.baseline[m])}` : ''}`;
      });
    return el(
      'div',
      { class: 'summary' },
      el(
        'div',
        {},
        drift
          ? badge(
              drift.status,
              drift.status === 'drift'
                ? `DATASET DRIFT ${percent(drift.driftShare)}`
                : drift.status === 'no-drift'
                  ? `no dataset drift (${percent(drift.driftShare)} drifted)`
                  : undefined,
            )
          : badge('not-enough-data', 'no drift report'),
        ' ',
        version.prediction ? badge(version.prediction.status, `prediction: ${STATUS_TEXT[version.prediction.status]}`) : null,
        ' ',
        alarming.length > 0 ? el('span', { class: 'state ALARM' }, `${alarming.length} in ALARM`) : el('span', { class: 'state OK' }, 'no alarm'),
      ),
      el(
        'div',
        { class: 'muted' },
        `sliding window ${version.window.minutes} min: ${new Date(version.window.from).toLocaleTimeString()} – ${new Date(version.window.to).toLocaleTimeString()}, ${version.predictions} predictions${drift ? `, ${drift.assessed} of ${version.features.length} features with a verdict` : ''}`,
      ),
      estimateText.length > 0 ? el('div', { class: 'muted' }, estimateText.join(' · ')) : null,
      alarming.length > 0 ? el('div', { class: 'reason' }, alarming.map((a) => a.name).join(', ')) : null,
    );
  }

  function render(payload) {
    for (const chart of charts.splice(0)) chart.destroy();
    if (payload.versions.length === 0) {
      section.replaceChildren(el('p', { class: 'empty' }, 'No monitored traffic yet: the monitor reports once predictions reach the monitoring table.'));
      return;
    }
    section.replaceChildren();
    for (const version of payload.versions) {
      const chartColumn = el('div', { class: 'monitoring-charts' });
      const block = el(
        'div',
        { class: 'monitoring-version', 'data-monitoring': `${version.model}/${version.version}` },
        el('h3', {}, `${version.model} v${version.version}`),
        summary(version),
        el(
          'div',
          { class: 'monitoring-grid' },
          el('div', {}, el('h4', {}, 'Drift per feature, sliding window', el('span', { class: 'muted' }, ' gray: training · blue: current (red: drifted)')), featureTable(version)),
          chartColumn,
        ),
        el('h4', {}, 'Error rate by slice ', el('span', { class: 'muted' }, 'labelled predictions, 95% Wilson interval')),
        errorSlices(version),
      );
      section.append(block);
      driftChart(chartColumn, version);
      qualityChart(chartColumn, version, 'accuracy');
      qualityChart(chartColumn, version, 'rocAuc');
    }
  }

  async function refresh() {
    try {
      // At least an hour: a timeline shorter than the sliding window says little.
      const response = await fetch(`/dashboard/api/monitoring?minutes=${Math.max(60, Number(windowSelect?.value ?? 360))}`, { cache: 'no-store' });
      if (!response.ok) return;
      render(await response.json());
      document.body.dataset.monitoringLoaded = 'true';
    } catch {
      // dashboard.js reports an unreachable runtime in the header.
    }
  }
  windowSelect?.addEventListener('change', refresh);
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
