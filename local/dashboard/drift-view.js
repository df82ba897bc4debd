// Drift as a person looks at it, shared by the dashboard's monitoring section (monitoring.js, in the browser)
// and the report `modelgate drift --html` writes (cli/drift-html.ts, in Node): functions from feature views
// (lambdas/core/drift/feature-view.ts) to a tree of { tag, attrs, children }, which `toDom` turns into DOM
// nodes and `toMarkup` into HTML. Text from data is only ever a text node or escaped, never markup.

export const STATUS_TEXT = { drift: 'DRIFT', 'no-drift': 'no drift', 'not-enough-data': 'not enough data' };
const SVG_NS = 'http://www.w3.org/2000/svg';
const VOID_TAGS = new Set(['br', 'hr', 'img', 'meta', 'link']);

/** A node of the tree: children flattened, null/undefined/false left out, numbers as text. */
export function h(tag, attrs = {}, ...children) {
  return {
    tag,
    attrs,
    children: children.flat(Number.POSITIVE_INFINITY).filter((child) => child !== null && child !== undefined && child !== false),
  };
}

export const num = (x, digits = 3) => (x === null || x === undefined ? '–' : Math.abs(x) >= 1000 ? x.toFixed(0) : Number(x.toPrecision(digits)).toString());
export const percent = (x) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);
export const badge = (status, text) => h('span', { class: `status ${status}` }, text ?? STATUS_TEXT[status] ?? status);

/** Reference distribution (gray) beside the current one (blue, red when drifted), one pair of bars per bin. */
export function distributionChart(view) {
  const bins = view.distribution.bins;
  const width = 150;
  const height = 40;
  const slot = width / Math.max(1, bins.length);
  const top = Math.max(...bins.flatMap((b) => [b.reference, b.current]), 0.01);
  const bars = bins.flatMap((bin, i) =>
    [
      [0, bin.reference, '#9ca3af'],
      [1, bin.current, view.status === 'drift' ? '#dc2626' : '#2563eb'],
    ].map(([k, share, color]) => {
      const barHeight = (share / top) * (height - 2);
      return h(
        'rect',
        { x: i * slot + 1 + (k * (slot - 2)) / 2, y: height - barHeight, width: Math.max(1, (slot - 2) / 2 - 0.5), height: Math.max(0, barHeight), fill: color },
        h('title', {}, `${bin.label}: reference ${percent(bin.reference)}, current ${percent(bin.current)}`),
      );
    }),
  );
  return h(
    'svg',
    { width, height, viewBox: `0 0 ${width} ${height}`, class: 'distribution', role: 'img', 'aria-label': `${view.name}: reference against current distribution` },
    bars,
  );
}

/** One feature's row: name and notes, method, statistic (and p-value), threshold, verdict, sample, chart. */
export function featureRow(view) {
  const sample = view.status === 'not-enough-data' ? `${view.values} of ${view.minimum ?? '—'} needed` : String(view.values);
  const notes = [
    view.outOfRange ? `${view.outOfRange} out of range` : '',
    view.unseenCategories ? `${view.unseenCategories} unseen` : '',
    view.missing ? `${view.missing} missing` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return h(
    'tr',
    { 'data-feature': view.name, 'data-status': view.status },
    h('td', {}, h('strong', {}, view.name), notes ? h('div', { class: 'reason' }, notes) : null),
    h('td', {}, view.method),
    h('td', {}, num(view.statistic), view.pValue !== null ? h('div', { class: 'reason' }, `p ${num(view.pValue, 2)}`) : null),
    h('td', {}, num(view.threshold)),
    h('td', {}, badge(view.status)),
    h('td', {}, sample),
    h('td', {}, distributionChart(view)),
  );
}

/** The prediction (when given) and the features, one row each, under a header naming the columns. */
export function featureTable(views, distributionHeader = 'reference vs current') {
  return h(
    'table',
    { class: 'features' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['feature', 'method', 'statistic', 'threshold', 'verdict', 'values', distributionHeader].map((header) => h('th', {}, header)),
      ),
    ),
    h('tbody', {}, views.map(featureRow)),
  );
}

/** The tree as DOM nodes of `document` (SVG elements in the SVG namespace), text as text nodes. */
export function toDom(node, inSvg = false) {
  if (typeof node !== 'object') return document.createTextNode(String(node));
  const svg = inSvg || node.tag === 'svg';
  const element = svg ? document.createElementNS(SVG_NS, node.tag) : document.createElement(node.tag);
  for (const [key, value] of Object.entries(node.attrs)) element.setAttribute(key, String(value));
  for (const child of node.children) element.append(toDom(child, svg));
  return element;
}

/** The tree as HTML, every text and attribute value escaped. */
export function toMarkup(node) {
  if (typeof node !== 'object') return escapeText(String(node));
  const attrs = Object.entries(node.attrs)
    .map(([key, value]) => ` ${key}="${escapeAttribute(String(value))}"`)
    .join('');
  if (VOID_TAGS.has(node.tag)) return `<${node.tag}${attrs}>`;
  return `<${node.tag}${attrs}>${node.children.map(toMarkup).join('')}</${node.tag}>`;
}

const escapeText = (text) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
const escapeAttribute = (text) => escapeText(text).replaceAll('"', '&quot;').replaceAll("'", '&#39;');
