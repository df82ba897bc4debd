// The self-contained HTML report of `modelgate drift --html`: one file with its style inline and its charts as
// inline SVG, no script and no request, to open or attach to a ticket. The feature table and its charts are the
// dashboard's (local/dashboard/drift-view.js); every string from the data is escaped there (toMarkup).
import { writeFile } from 'node:fs/promises';
import type { FeatureView, DriftViews } from '../lambdas/core/drift/feature-view';
import type { DriftReport } from '../lambdas/core/drift/report';
import { badge, featureTable, h, num, percent, STATUS_TEXT, toMarkup, type ViewNode } from '../local/dashboard/drift-view.js';
import { UsageError } from './usage-error';

/** One comparison: a served version's window against its baseline, or two files. */
export interface DriftHtmlSection {
  /** `churn v1`, or the current file's name. */
  readonly title: string;
  /** What the reference is, with its size: `training baseline, 5634 rows`. */
  readonly reference: string;
  /** What the current data is, with its size and time span: `752 predictions, 20:50 .. 21:54 UTC`. */
  readonly current: string;
  /** null when there is no report, with the reason in `skipped`. */
  readonly report: DriftReport | null;
  readonly skipped?: string;
  readonly views: DriftViews;
}

export interface DriftHtmlInput {
  readonly title: string;
  /** When the report was made (ISO 8601). */
  readonly generatedAt: string;
  /** How it was made: the command line, as a person would rerun it. */
  readonly command: string;
  readonly sections: readonly DriftHtmlSection[];
}

const STYLE = `
:root { --fg: #1d2330; --muted: #6b7280; --line: #e5e7eb; --ok: #15803d; --alarm: #b91c1c; --bg: #f8fafc; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 72rem; padding: 1rem 1.5rem 2rem; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #fff; }
h1 { font-size: 1.3rem; margin: 0 0 0.2rem; } h2 { font-size: 1.1rem; margin: 1.4rem 0 0.4rem; } h3 { font-size: 0.95rem; margin: 1rem 0 0.3rem; }
.muted, .reason { color: var(--muted); font-size: 0.85em; }
.summary { border: 1px solid var(--line); border-radius: 6px; padding: 0.7rem 1rem; background: var(--bg); }
.summary p { margin: 0.25rem 0; }
.verdict { font-size: 1.05rem; }
.summary ul { margin: 0.2rem 0; padding-left: 1.2rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.1rem 0.8rem; margin: 0.4rem 0 0; }
dt { color: var(--muted); } dd { margin: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.25rem 0.5rem; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { font-weight: 600; color: var(--muted); font-size: 0.85em; }
.status { font-weight: 600; padding: 0.05rem 0.4rem; border-radius: 3px; font-size: 0.8em; white-space: nowrap; }
.status.drift { background: var(--alarm); color: #fff; } .status.no-drift { background: #dcfce7; color: var(--ok); } .status.not-enough-data { background: #f3f4f6; color: var(--muted); }
svg.distribution { display: block; background: var(--bg); }
footer { margin-top: 1.5rem; color: var(--muted); font-size: 0.85em; }
code { font-size: 0.9em; }
`;

/** What a command gives to be written: the rest (when, by which command line) is filled in. */
export type DriftHtml = Omit<DriftHtmlInput, 'command' | 'generatedAt'>;

/** Writes the report to `path` (--html); a path that cannot be written is bad usage. */
export async function writeDriftHtml(path: string, input: DriftHtml): Promise<void> {
  const command = ['modelgate', ...process.argv.slice(2)].map((word) => (/^[\w./:=,-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`)).join(' ');
  try {
    await writeFile(path, driftHtml({ ...input, command, generatedAt: new Date().toISOString() }));
  } catch (error) {
    throw new UsageError(`--html ${path}: cannot write it: ${(error as Error).message}`, 'name a file in a folder that exists and you can write to');
  }
}

/** The report as one HTML document. */
export function driftHtml(input: DriftHtmlInput): string {
  const body = h(
    'body',
    {},
    h('h1', {}, input.title),
    h('p', { class: 'muted' }, `made ${input.generatedAt} by `, h('code', {}, input.command)),
    input.sections.map(section),
    h(
      'footer',
      {},
      h(
        'p',
        {},
        'A feature drifts when its statistic crosses its threshold: a distance (psi, wasserstein, jensenshannon) at or above it, ' +
          'a p-value (ks, chisquare) at or below it. The dataset drifts when at least half of the features with a verdict drift. ' +
          'Below a method’s minimum sample there is no verdict ("not enough data"). Bars: the reference’s share of values per bin (gray) ' +
          'beside the current data’s (blue; red when the feature drifted). docs/drift.md explains the methods.',
      ),
    ),
  );
  return `<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>${toMarkup(input.title)}</title>\n<style>${STYLE}</style>\n</head>\n${toMarkup(body)}\n</html>\n`;
}

function section(input: DriftHtmlSection): ViewNode {
  const views = [...(input.views.prediction ? [input.views.prediction] : []), ...input.views.features];
  return h(
    'section',
    { 'data-section': input.title },
    h('h2', {}, input.title),
    summary(input),
    views.length > 0 ? [h('h3', {}, 'Per feature, most drifted first'), featureTable(views)] : null,
  );
}

/** What the person paged looks at first: the verdict, the drifted features, what was compared, the prediction. */
function summary(input: DriftHtmlSection): ViewNode {
  const { report } = input;
  const features = input.views.features;
  const drifted = features.filter((view) => view.status === 'drift');
  const waiting = features.filter((view) => view.status === 'not-enough-data');
  const prediction = input.views.prediction;
  return h(
    'div',
    { class: 'summary' },
    h('p', { class: 'verdict' }, verdict(report, input.skipped, features.length)),
    drifted.length > 0
      ? [
          h('p', {}, `Drifted features (${drifted.length}):`),
          h(
            'ul',
            { class: 'drifted' },
            drifted.map((view) => h('li', {}, h('strong', {}, view.name), ` ${crossing(view)}`)),
          ),
        ]
      : null,
    prediction ? h('p', {}, 'Prediction distribution: ', badge(prediction.status), ` ${crossing(prediction)}`) : null,
    waiting.length > 0 ? h('p', { class: 'muted' }, `No verdict yet (not enough data): ${waiting.map((view) => view.name).join(', ')}`) : null,
    h('dl', {}, h('dt', {}, 'reference'), h('dd', {}, input.reference), h('dt', {}, 'current'), h('dd', {}, input.current)),
  );
}

function verdict(report: DriftReport | null, skipped: string | undefined, features: number): (ViewNode | string)[] {
  if (!report) return [badge('not-enough-data', 'no drift report'), ` ${skipped ?? ''}`];
  const share = `${percent(report.driftShare)} of ${report.assessed} assessed features drifted`;
  if (report.status === 'not-enough-data') {
    return [badge('not-enough-data', 'not enough data'), ` only ${report.assessed} of ${features} features have the values a verdict needs (half must)`];
  }
  return [badge(report.status, report.datasetDrift ? 'DATASET DRIFT' : 'no dataset drift'), ` ${share} (dataset drift from 50%)`];
}

/** The statistic against its threshold, in the direction the method reads it. */
function crossing(view: FeatureView): string {
  if (view.statistic === null) return `${view.method}: no values to compare`;
  if (view.status === 'not-enough-data') return `${view.method}: ${STATUS_TEXT[view.status]} (${view.values} of ${view.minimum ?? '—'} values needed)`;
  if (view.pValue !== null) return `${view.method} p = ${num(view.pValue, 2)} (drift at p <= ${num(view.threshold)})`;
  return `${view.method} ${num(view.statistic)} (drift at >= ${num(view.threshold)})`;
}
