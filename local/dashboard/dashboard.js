// The local dashboard's page script: fetches /dashboard/api/* every few seconds and renders plain DOM and
// uPlot charts. No framework and no build step; every text goes through textContent.
(() => {
  const REFRESH_MS = 5000;
  const palette = ['#2563eb', '#ea580c', '#16a34a', '#9333ea', '#db2777', '#0891b2', '#ca8a04', '#4b5563'];
  const colors = new Map();
  const colorFor = (key) => {
    if (!colors.has(key)) colors.set(key, palette[colors.size % palette.length]);
    return colors.get(key);
  };
  const charts = new Map();
  const windowSelect = document.getElementById('window');

  const { el, table } = window.modelgateDom;

  const content = (id) => document.querySelector(`#${id} .content`);
  const fill = (id, ...nodes) => content(id).replaceChildren(...nodes);
  const empty = (text) => el('p', { class: 'empty' }, text);
  const time = (iso) => (iso ? new Date(iso).toLocaleString() : '');

  async function fetchJson(path) {
    const response = await fetch(path, { cache: 'no-store' });
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  }

  function renderModels(models) {
    if (models.length === 0) return fill('models', empty('No model functions in this stack.'));
    fill(
      'models',
      ...models.map((m) =>
        el(
          'div',
          { class: 'model', 'data-model': m.model },
          el('h3', {}, m.model, ' ', el('span', { class: 'muted' }, m.functionName)),
          el('div', { class: 'muted' }, m.routes.join(' · ')),
          m.aliases.map((alias) =>
            el(
              'div',
              { class: 'alias', 'data-alias': alias.name },
              el(
                'div',
                {},
                'alias ',
                el('strong', {}, alias.name),
                ' routes to ',
                alias.routing.map((r) => `version ${r.lambdaVersion} (model ${r.bundle}) ${(r.weight * 100).toFixed(1)}%`).join(', '),
              ),
              el(
                'div',
                { class: 'weights' },
                alias.routing
                  .filter((r) => r.weight > 0)
                  .map((r) =>
                    el(
                      'div',
                      { style: { width: `${r.weight * 100}%`, background: colorFor(r.bundle) }, title: `Lambda version ${r.lambdaVersion}` },
                      `model ${r.bundle} · ${(r.weight * 100).toFixed(0)}%`,
                    ),
                  ),
              ),
            ),
          ),
          table(
            ['Lambda version', 'model version', 'published', 'description'],
            m.versions.map((v) => [v.lambdaVersion, v.bundle, time(v.publishedAt), v.description]),
          ),
        ),
      ),
    );
  }

  /** [x, ...ys] for uPlot: every minute of the window, null where a series has no datapoint. */
  function align(start, end, period, seriesList, missingAs) {
    const xs = [];
    for (let t = start; t < end; t += period) xs.push(t);
    return [
      xs,
      ...seriesList.map((points) => {
        const byTime = new Map(points);
        return xs.map((t) => (byTime.has(t) ? byTime.get(t) : missingAs));
      }),
    ];
  }

  let chartLayout = '';
  const CHART_HEIGHT = 220;

  function plot(wrapper, yLabel, series, data) {
    return new uPlot(
      {
        width: Math.max(320, wrapper.clientWidth),
        height: CHART_HEIGHT,
        series: [{}, ...series.map((s) => ({ points: { show: false }, ...s }))],
        axes: [{}, { label: yLabel, size: 60 }],
        scales: { x: { time: true } },
        legend: { live: false },
      },
      data,
      wrapper,
    );
  }

  /**
   * Per model: predictions per minute and latency percentiles, one series per model version. The charts are
   * rebuilt when the set of models or versions changes, and only fed new data otherwise.
   */
  function renderCharts(metrics) {
    const models = Object.entries(metrics.models).map(([model, view]) => [model, view, Object.keys(view.versions).sort()]);
    if (models.length === 0) {
      for (const c of charts.values()) c.plot.destroy();
      charts.clear();
      chartLayout = '';
      return fill('traffic', empty('No predictions in this window yet: send one (see the curl example printed by npm start).'));
    }
    const traffic = (view, versions) =>
      align(
        metrics.start,
        metrics.end,
        metrics.period,
        versions.map((v) => view.versions[v].predictions),
        0,
      );
    const latency = (view, versions) =>
      align(
        metrics.start,
        metrics.end,
        metrics.period,
        versions.flatMap((v) => [view.versions[v].p50, view.versions[v].p99]),
        null,
      );
    const layout = JSON.stringify(models.map(([model, , versions]) => [model, versions]));
    if (layout === chartLayout) {
      for (const [model, view, versions] of models) {
        charts.get(`${model}-traffic`).plot.setData(traffic(view, versions));
        charts.get(`${model}-latency`).plot.setData(latency(view, versions));
      }
      return;
    }
    for (const c of charts.values()) c.plot.destroy();
    charts.clear();
    chartLayout = layout;
    const rows = models.map(([model, view, versions]) => {
      const trafficBox = el('div', { class: 'chart', 'data-chart': `${model}-traffic` }, el('h3', {}, `${model}: predictions per minute`));
      const latencyBox = el('div', { class: 'chart', 'data-chart': `${model}-latency` }, el('h3', {}, `${model}: model latency (ms), p50 dashed, p99 solid`));
      return { model, view, versions, trafficBox, latencyBox, row: el('div', { class: 'charts' }, trafficBox, latencyBox) };
    });
    // Laid out first, plotted second: each chart takes the width its grid cell ends up with.
    fill('traffic', ...rows.map((r) => r.row));
    for (const { model, view, versions, trafficBox, latencyBox } of rows) {
      const trafficSeries = versions.map((v) => ({ label: `model ${v}`, stroke: colorFor(v), width: 2, fill: `${colorFor(v)}22` }));
      const latencySeries = versions.flatMap((v) => [
        // Points shown: a minute between two minutes without traffic has no line to draw.
        { label: `model ${v} p50`, stroke: colorFor(v), width: 1.5, dash: [6, 4], points: { show: true, size: 5, fill: '#fff' } },
        { label: `model ${v} p99`, stroke: colorFor(v), width: 2, points: { show: true, size: 6, fill: colorFor(v) } },
      ]);
      charts.set(`${model}-traffic`, { plot: plot(trafficBox, 'predictions', trafficSeries, traffic(view, versions)), wrapper: trafficBox });
      charts.set(`${model}-latency`, { plot: plot(latencyBox, 'ms', latencySeries, latency(view, versions)), wrapper: latencyBox });
    }
  }

  window.addEventListener('resize', () => {
    for (const c of charts.values()) c.plot.setSize({ width: Math.max(320, c.wrapper.clientWidth), height: CHART_HEIGHT });
  });

  function renderErrors(metrics) {
    const rows = [];
    for (const [model, view] of Object.entries(metrics.models)) {
      for (const [version, kinds] of Object.entries(view.errors)) {
        for (const [kind, count] of Object.entries(kinds)) rows.push([model, version, kind, String(count)]);
      }
    }
    fill('errors', rows.length === 0 ? empty('No errors in this window.') : table(['model', 'version', 'error kind', 'count'], rows));
  }

  const STATE_ORDER = { ALARM: 0, INSUFFICIENT_DATA: 1, OK: 2 };

  /** Alarms first, then insufficient data, then OK; the reason on one line (in full on hover). */
  function renderAlarms(alarms) {
    if (alarms.length === 0) return fill('alarms', empty('No CloudWatch alarms in this stack yet.'));
    const counts = Object.keys(STATE_ORDER)
      .map((state) => [state, alarms.filter((a) => a.StateValue === state).length])
      .filter(([, n]) => n > 0);
    const sorted = [...alarms].sort((a, b) => STATE_ORDER[a.StateValue] - STATE_ORDER[b.StateValue] || a.AlarmName.localeCompare(b.AlarmName));
    fill(
      'alarms',
      el(
        'div',
        { class: 'counts' },
        counts.map(([state, n]) => el('span', { class: `state ${state}` }, `${n} ${state}`)),
      ),
      el(
        'div',
        { class: 'scroll' },
        table(
          ['state', 'alarm', 'since'],
          sorted.map((a) => [
            el('span', { class: `state ${a.StateValue}` }, a.StateValue),
            el('div', {}, a.AlarmName, el('div', { class: 'reason', title: a.StateReason }, a.StateReason)),
            time(a.StateUpdatedTimestamp),
          ]),
        ),
      ),
    );
  }

  /** An alarm notification as its state change and reason; other messages as they are. */
  function messageText(message) {
    try {
      const parsed = JSON.parse(message);
      if (parsed && typeof parsed.AlarmName === 'string' && parsed.NewStateValue) return `${parsed.OldStateValue} -> ${parsed.NewStateValue}: ${parsed.NewStateReason}`;
      return JSON.stringify(parsed, null, 1);
    } catch {
      return message;
    }
  }

  function renderNotifications(notifications) {
    fill(
      'notifications',
      notifications.length === 0
        ? empty('No notifications yet.')
        : el(
            'div',
            { class: 'scroll' },
            table(
              ['when', 'topic', 'subject / message'],
              notifications.map((n) => [time(n.Timestamp), n.topicName, el('div', {}, el('strong', {}, n.Subject || ''), el('pre', {}, messageText(n.Message)))]),
            ),
          ),
    );
  }

  function renderRegistry(registry) {
    if (!registry) return fill('registry', empty('This stack has no model registry table yet (the promotion pipeline adds one, named by a stack output).'));
    if (registry.error) return fill('registry', empty(`${registry.tableName}: ${registry.error}`));
    if (registry.items.length === 0) return fill('registry', empty(`${registry.tableName}: no promotions or rejections yet.`));
    const scalar = (v) => v === null || ['string', 'number', 'boolean'].includes(typeof v);
    const columns = [...new Set(registry.items.flatMap((item) => Object.keys(item).filter((k) => scalar(item[k]))))].slice(0, 8);
    fill(
      'registry',
      el('div', { class: 'muted' }, registry.tableName),
      el(
        'div',
        { class: 'scroll' },
        table(
          columns,
          registry.items.map((item) => columns.map((c) => (item[c] === undefined ? '' : String(item[c])))),
        ),
      ),
    );
  }

  async function refresh() {
    try {
      const [overview, metrics] = await Promise.all([fetchJson('/dashboard/api/overview'), fetchJson(`/dashboard/api/metrics?minutes=${windowSelect.value}`)]);
      document.getElementById('meta').textContent = `stack ${overview.stackName} · API ${overview.apiUrl} · updated ${new Date(overview.generatedAt).toLocaleTimeString()}`;
      renderModels(overview.models);
      renderCharts(metrics);
      renderErrors(metrics);
      renderAlarms(overview.alarms);
      renderNotifications(overview.notifications);
      renderRegistry(overview.registry);
      document.body.dataset.loaded = 'true';
    } catch (error) {
      document.getElementById('meta').textContent = `cannot reach the runtime: ${error.message}`;
    }
  }

  windowSelect.addEventListener('change', refresh);
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
