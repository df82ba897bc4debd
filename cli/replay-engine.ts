// The traffic replayer's engine: a file's rows sent to a model as predictions at a steady rate, open loop
// (the schedule does not wait for answers, so a slow server gets the same load; when the replayer itself
// cannot keep up it says so as lag), each row's label optionally posted as feedback after a delay, and a
// report of counts and latency percentiles. Rows that do not fit the model are reported, never sent.
// Everything the command needs is here, so `modelgate replay` is argument parsing and printing around
// `readReplayInput`, `httpReplayTarget` and `replay`; benchmarks and tests drive the same functions.
import * as http from 'node:http';
import * as https from 'node:https';
import { parse } from 'csv-parse/sync';
import { featureColumns, instanceOf } from '../lambdas/core/csv-instances';
import { CsvError } from '../lambdas/core/csv';
import { ValidationError } from '../lambdas/core/errors';
import type { FeatureValue, Manifest } from '../lambdas/core/manifest';
import { validateRows } from '../lambdas/core/request';

/** A row to send: where it came from, its instance (feature values), and its label when the file has one. */
export interface ReplayRow {
  /** Line in the file (1-based; the header of a CSV is line 1). */
  readonly line: number;
  readonly instance: Readonly<Record<string, FeatureValue>>;
  readonly actual?: string | number;
}

/** A row that does not fit the model, and why: reported, not sent. */
export interface BadRow {
  readonly line: number;
  readonly reason: string;
}

export interface ReplayInput {
  readonly rows: readonly ReplayRow[];
  readonly bad: readonly BadRow[];
}

export type ReplayFormat = 'csv' | 'jsonl';

/** A file that cannot be replayed at all (no header, a required column missing, the target column missing). */
export class ReplayInputError extends Error {
  override readonly name = 'ReplayInputError';
}

/**
 * Reads a replay file: CSV with a header row, or JSON Lines (one object of feature values per line). Each
 * row is checked as the predict route would check it (the manifest's types, categories, bounds, required
 * features; columns that are not features are ignored, the target column taken out as the label); a row
 * that fails is a BadRow naming its line and the reason. Throws ReplayInputError when the file as a whole
 * cannot be read.
 */
export function readReplayInput(manifest: Manifest, text: string, options: { readonly format: ReplayFormat; readonly source?: string; readonly target?: string }): ReplayInput {
  const source = options.source ?? 'input';
  if (options.target !== undefined && manifest.features.some((f) => f.name === options.target)) {
    throw new ReplayInputError(`${source}: the target "${options.target}" is a feature of ${manifest.name}; name the label column`);
  }
  return options.format === 'csv' ? readCsv(manifest, text, source, options.target) : readJsonLines(manifest, text, source, options.target);
}

function readCsv(manifest: Manifest, text: string, source: string, target: string | undefined): ReplayInput {
  let records: string[][];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: true, trim: true, info: false });
  } catch (error) {
    throw new ReplayInputError(`${source}: not valid CSV: ${(error as Error).message}`);
  }
  const [header, ...cells] = records;
  if (!header || header.length === 0) throw new ReplayInputError(`${source}: empty file (no header row)`);
  let columns;
  try {
    columns = featureColumns(manifest, header, source);
  } catch (error) {
    throw new ReplayInputError((error as CsvError).message);
  }
  const targetIndex = target === undefined ? -1 : header.indexOf(target);
  if (target !== undefined && targetIndex === -1) throw new ReplayInputError(`${source}: no column "${target}" (the --target label column)`);
  const rows: ReplayRow[] = [];
  const bad: BadRow[] = [];
  cells.forEach((row, i) => {
    const line = i + 2;
    if (row.length !== header.length) {
      bad.push({ line, reason: `${row.length} cells, the header has ${header.length}` });
      return;
    }
    let instance: Record<string, FeatureValue>;
    try {
      instance = instanceOf(columns, row, `line ${line}`);
    } catch (error) {
      if (!(error instanceof CsvError)) throw error;
      bad.push({ line, reason: error.message.replace(`line ${line}, `, '') });
      return;
    }
    const label = labelOf(manifest, targetIndex === -1 ? undefined : row[targetIndex]);
    if ('reason' in label) {
      bad.push({ line, reason: `the label "${target}" ${label.reason}` });
      return;
    }
    accept(manifest, { line, instance, ...label }, rows, bad);
  });
  return { rows, bad };
}

function readJsonLines(manifest: Manifest, text: string, source: string, target: string | undefined): ReplayInput {
  const rows: ReplayRow[] = [];
  const bad: BadRow[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      bad.push({ line, reason: `not JSON: ${(error as Error).message}` });
      return;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      bad.push({ line, reason: 'expected an object of feature values' });
      return;
    }
    const { [target ?? '']: actual, ...fields } = value as Record<string, unknown>;
    const known = new Set(manifest.features.map((f) => f.name));
    const instance = Object.fromEntries(Object.entries(target === undefined ? (value as Record<string, unknown>) : fields).filter(([key]) => known.has(key)));
    if (target !== undefined && actual !== undefined && actual !== null && typeof actual !== 'string' && typeof actual !== 'number') {
      bad.push({ line, reason: `the label "${target}" must be a string or a number, got ${JSON.stringify(actual)}` });
      return;
    }
    accept(manifest, { line, instance: instance as Record<string, FeatureValue>, ...(typeof actual === 'string' || typeof actual === 'number' ? { actual } : {}) }, rows, bad);
  });
  if (rows.length === 0 && bad.length === 0) throw new ReplayInputError(`${source}: empty file (no rows)`);
  return { rows, bad };
}

/** Checks a row as the predict route would; a row it would refuse is bad. */
function accept(manifest: Manifest, row: ReplayRow, rows: ReplayRow[], bad: BadRow[]): void {
  try {
    validateRows(manifest, [row.instance]);
    rows.push(row);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    bad.push({ line: row.line, reason: error.issues.map((issue) => `${issue.field} ${issue.reason}`).join('; ') });
  }
}

/**
 * A CSV cell as the label feedback takes: a class label as written (the route matches it to the model's labels,
 * numeric ones too), a regression target as a number (the route refuses a string for a regression model).
 */
function labelOf(manifest: Manifest, cell: string | undefined): { actual?: string | number } | { reason: string } {
  if (cell === undefined || cell === '') return {};
  if (manifest.task !== 'regression') return { actual: cell };
  const value = Number(cell);
  return Number.isFinite(value) ? { actual: value } : { reason: `must be a number for the regression model ${manifest.name}, got ${JSON.stringify(cell)}` };
}

/** What the target answered one predict request. */
export interface PredictAnswer {
  /** HTTP status; 0 when there was no answer (connection refused, timeout). */
  readonly status: number;
  /** One per row, in order, when the request succeeded. */
  readonly predictionIds?: readonly string[];
  readonly error?: string;
}

export interface FeedbackAnswer {
  readonly accepted: number;
  /** Items the route answered with another status (duplicate, not_found, invalid, conflict). */
  readonly rejected: number;
  /** Set when the request failed as a whole. */
  readonly error?: string;
}

/** Where the rows go: a model's predict route and the feedback route (the HTTP API; a fake in tests). */
export interface ReplayTarget {
  predict(instances: readonly Readonly<Record<string, FeatureValue>>[]): Promise<PredictAnswer>;
  feedback(items: readonly { readonly predictionId: string; readonly actual: string | number }[]): Promise<FeedbackAnswer>;
}

/**
 * The model API over HTTP(S): `POST <api>/v1/models/<model>/predict` and `POST <api>/v1/feedback`, on
 * keep-alive connections through node:http (about a third of fetch's CPU per request, measured: the
 * replayer's own cost is what limits the rate it can keep). Predicting and posting labels each take their
 * own API key (docs/serving.md): `apiKeys.predict` and `apiKeys.feedback`.
 */
export function httpReplayTarget(options: {
  readonly apiUrl: string;
  readonly model: string;
  readonly apiKeys?: Readonly<Partial<Record<'predict' | 'feedback', string>>>;
  readonly timeoutMs?: number;
}): ReplayTarget {
  const base = new URL(options.apiUrl.replace(/\/*$/, '/'));
  const secure = base.protocol === 'https:';
  const agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const post = (path: string, payload: unknown, apiKey: string | undefined): Promise<{ status: number; body: unknown; error?: string }> =>
    new Promise((resolve) => {
      const body = JSON.stringify(payload);
      const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(apiKey ? { 'x-api-key': apiKey } : {}) };
      const request = (secure ? https : http).request(new URL(path, base), { method: 'POST', agent, headers }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON: keep the text for the error
          }
          resolve({ status: response.statusCode ?? 0, body: parsed });
        });
        response.on('error', (error) => resolve({ status: 0, body: undefined, error: error.message }));
      });
      request.setTimeout(timeoutMs, () => request.destroy(new Error(`no answer in ${timeoutMs} ms`)));
      request.on('error', (error: NodeJS.ErrnoException) => resolve({ status: 0, body: undefined, error: error.code ?? error.message }));
      request.end(body);
    });
  const message = (body: unknown) => (typeof body === 'object' && body !== null && 'message' in body ? String((body as { message: unknown }).message) : String(body).slice(0, 200));
  return {
    async predict(instances) {
      const answer = await post(`v1/models/${encodeURIComponent(options.model)}/predict`, { instances }, options.apiKeys?.predict);
      if (answer.status === 200) {
        const predictions = (answer.body as { predictions?: { predictionId?: string }[] }).predictions ?? [];
        return { status: 200, predictionIds: predictions.map((p) => String(p.predictionId)) };
      }
      return { status: answer.status, error: answer.error ?? message(answer.body) };
    },
    async feedback(items) {
      const answer = await post('v1/feedback', { feedback: items }, options.apiKeys?.feedback);
      if (answer.status !== 200) return { accepted: 0, rejected: 0, error: `${answer.status || 'no answer'}: ${answer.error ?? message(answer.body)}` };
      const summary = (answer.body as { summary?: Record<string, number> }).summary ?? {};
      const accepted = summary.accepted ?? 0;
      return { accepted, rejected: Object.values(summary).reduce((a, b) => a + b, 0) - accepted };
    },
  };
}

export interface ReplayOptions {
  readonly rows: readonly ReplayRow[];
  /** Rows left out by readReplayInput, carried into the report. */
  readonly bad?: readonly BadRow[];
  readonly target: ReplayTarget;
  /** Rows per second, the steady rate the schedule keeps whatever the answers. */
  readonly rate: number;
  /** Stop sending after this long; the rows are sent again from the first when they run out before. @default - each row once */
  readonly durationMs?: number;
  /** Rows per predict request: 1 is what clients do; more lowers the per-request cost of a load test. @default 1 */
  readonly rowsPerRequest?: number;
  /** Post each answered row's label (ReplayRow.actual) as feedback this long after its answer. @default - no feedback */
  readonly labelDelayMs?: number;
  /** Requests without an answer yet, at most; at the limit the schedule waits, and the wait shows as lag. @default 1000 */
  readonly maxInFlight?: number;
  /** Called about once a second while sending. */
  readonly onProgress?: (progress: ReplayProgress) => void;
  /** Stops sending (what was sent is still answered and reported). */
  readonly signal?: AbortSignal;
}

export interface ReplayProgress {
  readonly elapsedMs: number;
  readonly sent: number;
  readonly answered: number;
  readonly failed: number;
  /** How far behind its schedule the last request went out. */
  readonly lagMs: number;
}

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface ReplayReport {
  /** The rate asked for, and the rate rows went out at (sent / the time sending took). */
  readonly rate: number;
  readonly achievedRate: number;
  readonly elapsedMs: number;
  readonly sent: number;
  readonly requests: number;
  /** Rows answered 200, and rows that were not, by status or cause. */
  readonly answered: number;
  readonly failed: number;
  readonly failures: Readonly<Record<string, number>>;
  /** Per request, in ms; null when nothing was answered. */
  readonly latencyMs: LatencySummary | null;
  /**
   * The most a request went out behind its schedule, and whether the replayer fell behind (more than a
   * second, or under 95% of the rate): then the figures describe a lower rate than asked for.
   */
  readonly lag: { readonly maxMs: number; readonly behind: boolean };
  readonly bad: { readonly count: number; readonly examples: readonly BadRow[] };
  readonly labels?: { readonly posted: number; readonly accepted: number; readonly rejected: number; readonly failed: number };
}

/** A replayer that fell this far behind its schedule says so. */
const LAG_TOLERANCE_MS = 1000;
const BAD_EXAMPLES = 10;
const FEEDBACK_BATCH = 1000;
const LABEL_BATCHING_MS = 100;

/**
 * Sends the rows at `rate` rows per second, open loop: request k goes out at start + k x rowsPerRequest /
 * rate whether or not the earlier ones were answered (only `maxInFlight` unanswered requests hold it back,
 * which shows as lag). Resolves once every request is answered and every label posted.
 */
export async function replay(options: ReplayOptions): Promise<ReplayReport> {
  if (!(options.rate > 0 && Number.isFinite(options.rate))) throw new RangeError(`rate must be a positive number of rows per second, got: ${options.rate}`);
  const perRequest = options.rowsPerRequest ?? 1;
  if (!(Number.isInteger(perRequest) && perRequest >= 1)) throw new RangeError(`rowsPerRequest must be a whole number >= 1, got: ${perRequest}`);
  if (options.rows.length === 0) throw new RangeError('no rows to replay');
  const maxInFlight = options.maxInFlight ?? 1000;
  const intervalMs = (1000 * perRequest) / options.rate;
  const total = options.durationMs === undefined ? options.rows.length : Math.max(0, Math.floor((options.durationMs * options.rate) / 1000));

  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  const inFlight = new Set<Promise<void>>();
  const labels = new LabelPoster(options.target, options.labelDelayMs);
  let sent = 0;
  let answered = 0;
  let failed = 0;
  let requests = 0;
  let maxLag = 0;
  let lastLag = 0;
  let lastProgress = 0;
  const started = performance.now();

  const send = (batch: readonly ReplayRow[]) => {
    const sentAt = performance.now();
    const request = options.target.predict(batch.map((row) => row.instance)).then((answer) => {
      const answeredAt = performance.now();
      latencies.push(answeredAt - sentAt);
      if (answer.status === 200 && answer.predictionIds?.length === batch.length) {
        answered += batch.length;
        batch.forEach((row, i) => {
          if (row.actual !== undefined) labels.add(answer.predictionIds?.[i] as string, row.actual, answeredAt);
        });
      } else {
        failed += batch.length;
        const key =
          answer.status === 200 ? '200 without a prediction id per row' : answer.status === 0 ? `no answer: ${answer.error ?? ''}` : `${answer.status}: ${answer.error ?? ''}`;
        failures[key] = (failures[key] ?? 0) + batch.length;
      }
    });
    const tracked = request.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    requests++;
    sent += batch.length;
  };

  for (let k = 0; sent < total && !options.signal?.aborted; k++) {
    const due = started + k * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    else if (k % 64 === 0) await new Promise((resolve) => setImmediate(resolve)); // let answers in while catching up
    while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    lastLag = Math.max(0, performance.now() - due);
    maxLag = Math.max(maxLag, lastLag);
    const batch: ReplayRow[] = [];
    for (let i = 0; i < perRequest && sent + batch.length < total; i++) batch.push(options.rows[(sent + batch.length) % options.rows.length] as ReplayRow);
    send(batch);
    const now = performance.now();
    if (options.onProgress && now - lastProgress >= 1000) {
      lastProgress = now;
      options.onProgress({ elapsedMs: now - started, sent, answered, failed, lagMs: lastLag });
    }
  }
  const sendingMs = Math.max(1, performance.now() - started);
  while (inFlight.size > 0) await Promise.all(inFlight);
  const labelReport = await labels.finish();
  const achievedRate = requests <= 1 ? options.rate : ((sent - perRequest) * 1000) / sendingMs;
  const sorted = latencies.sort((a, b) => a - b);
  return {
    rate: options.rate,
    achievedRate,
    elapsedMs: performance.now() - started,
    sent,
    requests,
    answered,
    failed,
    failures,
    latencyMs: sorted.length === 0 ? null : { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] as number },
    lag: { maxMs: maxLag, behind: maxLag > LAG_TOLERANCE_MS || achievedRate < 0.95 * options.rate },
    bad: { count: options.bad?.length ?? 0, examples: (options.bad ?? []).slice(0, BAD_EXAMPLES) },
    ...(options.labelDelayMs !== undefined ? { labels: labelReport } : {}),
  };
}

/**
 * Labels wait for their time (answer + delay), then go out in batches of up to 1000 per feedback request: a
 * flush waits LABEL_BATCHING_MS past the first label's time and takes every label due by then, so at a high
 * rate labels share requests, and none goes out before its delay.
 */
class LabelPoster {
  private readonly due: { predictionId: string; actual: string | number; at: number }[] = [];
  private readonly posting = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private readonly counts = { posted: 0, accepted: 0, rejected: 0, failed: 0 };

  constructor(
    private readonly target: ReplayTarget,
    private readonly delayMs: number | undefined,
  ) {}

  add(predictionId: string, actual: string | number, answeredAt: number): void {
    if (this.delayMs === undefined) return;
    this.due.push({ predictionId, actual, at: answeredAt + this.delayMs });
    this.schedule();
  }

  async finish(): Promise<{ posted: number; accepted: number; rejected: number; failed: number }> {
    while (this.due.length > 0 || this.posting.size > 0 || this.timer) {
      await (this.posting.size > 0 ? Promise.all(this.posting) : sleep(Math.max(1, (this.due[0]?.at ?? 0) + LABEL_BATCHING_MS - performance.now())));
      this.flush();
    }
    return { ...this.counts };
  }

  private schedule(): void {
    if (this.timer || this.due.length === 0) return;
    this.timer = setTimeout(() => this.flush(), Math.max(0, (this.due[0]?.at ?? 0) + LABEL_BATCHING_MS - performance.now()));
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = performance.now();
    // Answers arrive out of order by up to a request's latency: rows are due in answer order, nearly sorted.
    let ready = 0;
    while (ready < this.due.length && (this.due[ready]?.at ?? Infinity) <= now) ready++;
    for (const batch of chunks(this.due.splice(0, ready), FEEDBACK_BATCH)) {
      const items = batch.map(({ predictionId, actual }) => ({ predictionId, actual }));
      const request = this.target.feedback(items).then((answer) => {
        this.counts.posted += items.length;
        if (answer.error) this.counts.failed += items.length;
        this.counts.accepted += answer.accepted;
        this.counts.rejected += answer.rejected;
      });
      const tracked = request.finally(() => this.posting.delete(tracked));
      this.posting.add(tracked);
    }
    this.schedule();
  }
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Nearest rank, as the metric store and CloudWatch compute percentiles. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
