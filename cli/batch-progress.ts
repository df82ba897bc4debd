// The figures of a running batch job as `modelgate batch` shows them: rows done and rejected from the job's
// `_progress/` files (each read once), rows/s over a sliding window, the ETA, when a log gets a line, and the
// --max-rejected limit. Plain data in and out: cli/commands/batch-follow.ts does the reading and the printing.
import type { BatchProgress } from '../lambdas/contracts/batch-job';
import { duration } from './live-line';
import { UsageError } from './usage-error';

/**
 * Rows done, scored and rejected so far, from the `_progress/` files of a job, each counted once. Batches end
 * out of input order but near it (the Distributed Map starts them in order, MaxConcurrency at a time), so
 * the files are listed from after the last one of the unbroken run of batches from row 1 (`listAfter`): a
 * poll lists the batches that ended out of order and the new ones, not every file of the job again. A batch
 * that failed leaves a gap the run stops at; listing then starts there for the rest of the job.
 */
export class ProgressTally {
  rowsDone = 0;
  scored = 0;
  rejected = 0;
  private nextRow = 1;
  private lastOfRun: string | undefined;
  /** Batches read that are not part of the run yet, by first row; their keys are in `readKeys`. */
  private readonly pending = new Map<number, { readonly key: string; readonly rows: number }>();
  private readonly readKeys = new Set<string>();

  /** The key to list after (S3's StartAfter): the last file of the unbroken run from row 1; undefined to list from the start. */
  get listAfter(): string | undefined {
    return this.lastOfRun;
  }

  /** Whether a listed key was counted already (only keys after `listAfter` are ever listed again). */
  has(key: string): boolean {
    return this.readKeys.has(key);
  }

  add(key: string, progress: BatchProgress): void {
    if (this.readKeys.has(key) || (this.lastOfRun !== undefined && key <= this.lastOfRun)) return;
    this.readKeys.add(key);
    this.rowsDone += progress.rows;
    this.scored += progress.scored;
    this.rejected += progress.rejected;
    this.pending.set(progress.firstRow, { key, rows: progress.rows });
    for (let next = this.pending.get(this.nextRow); next !== undefined; next = this.pending.get(this.nextRow)) {
      this.pending.delete(this.nextRow);
      this.readKeys.delete(next.key);
      this.lastOfRun = next.key;
      this.nextRow += next.rows;
    }
  }
}

/** Rows per second over the last `windowMs` (30 s by default): recent speed, so the ETA follows a job that speeds up or slows down. */
export class RateWindow {
  private readonly samples: { readonly at: number; readonly rows: number }[] = [];

  constructor(private readonly windowMs = 30_000) {}

  add(at: number, rows: number): void {
    this.samples.push({ at, rows });
    // Keep one sample at or before the window's start, so the rate spans the whole window once there is history.
    while (this.samples.length > 2 && (this.samples[1] as { at: number }).at <= at - this.windowMs) this.samples.shift();
  }

  /** Undefined until two samples at least a second apart. */
  rowsPerSecond(): number | undefined {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (first === undefined || last === undefined || last.at - first.at < 1000) return undefined;
    return ((last.rows - first.rows) * 1000) / (last.at - first.at);
  }
}

export type BatchPhase = 'preparing' | 'scoring' | 'summarizing';

export interface ProgressFigures {
  readonly elapsedMs: number;
  /** The input's data rows (`_job.json`'s `rows`); undefined while the job is being prepared. */
  readonly total?: number;
  readonly done: number;
  readonly rejected: number;
  readonly rowsPerSecond?: number;
}

export function phaseOf(figures: Pick<ProgressFigures, 'total' | 'done'>): BatchPhase {
  if (figures.total === undefined) return 'preparing';
  return figures.done >= figures.total ? 'summarizing' : 'scoring';
}

/** `4 min 20 s: 12,345 of 100,000 rows (12%), 4,321 rows/s, ETA 20 s, 12 rejected`. */
export function describeProgress(figures: ProgressFigures, limit?: RejectedLimit): string {
  const when = `${duration(figures.elapsedMs)}: `;
  const { total, done, rejected, rowsPerSecond } = figures;
  if (total === undefined) return `${when}preparing (counting the input's rows, checking its header)`;
  const share = total === 0 ? 100 : Math.floor((Math.min(done, total) * 100) / total);
  // Against the rows done so far: a job heading over the limit says so early, not at its end.
  const over = limit !== undefined && rejectedOverLimit(limit, rejected, done) ? ` (over --max-rejected ${describeLimit(limit)} so far)` : '';
  const rows = `${count(done)} of ${count(total)} rows (${share}%)`;
  if (phaseOf(figures) === 'summarizing') return `${when}${rows}, ${count(rejected)} rejected${over}; writing the summary`;
  let speed = '';
  if (rowsPerSecond !== undefined)
    speed = rowsPerSecond > 0 ? `, ${count(Math.round(rowsPerSecond))} rows/s, ETA ${duration(((total - done) * 1000) / rowsPerSecond)}` : ', 0 rows/s';
  return `${when}${rows}${speed}, ${count(rejected)} rejected${over}`;
}

/**
 * When a log (stderr not a terminal) gets a progress line: when the phase changes, when the rows done reach
 * another tenth of the input, and at least once a minute, so a CI log of a three-hour job has some 190
 * lines, not one per poll, and never goes quiet long enough to look hung.
 */
export class LogPace {
  private last: { readonly at: number; readonly phase: BatchPhase; readonly tenth: number } | undefined;

  constructor(private readonly heartbeatMs = 60_000) {}

  /** Whether a line is due now; if so, it counts as printed. */
  due(at: number, figures: Pick<ProgressFigures, 'total' | 'done'>): boolean {
    const phase = phaseOf(figures);
    const tenth = figures.total ? Math.floor((Math.min(figures.done, figures.total) * 10) / figures.total) : 0;
    const last = this.last;
    if (last !== undefined && last.phase === phase && tenth <= last.tenth && at - last.at < this.heartbeatMs) return false;
    this.last = { at, phase, tenth };
    return true;
  }
}

/** --max-rejected: a number of rows, or a share of the input's rows. */
export type RejectedLimit = { readonly rows: number } | { readonly percent: number };

/**
 * The default --max-rejected: a nightly job over a customer base loses a few rows to nulls and new categories;
 * a share above 1% means the upstream data changed, and the job's consumers should hear of it.
 */
export const DEFAULT_MAX_REJECTED = '1%';

/** `250` (rows) or `0.5%` (of the input's rows); anything else is bad usage naming the flag. */
export function parseMaxRejected(text: string): RejectedLimit {
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (percent) {
    const value = Number(percent[1]);
    if (value <= 100) return { percent: value };
  } else if (/^\d+$/.test(text) && Number.isSafeInteger(Number(text))) return { rows: Number(text) };
  throw new UsageError(`--max-rejected must be a number of rows (e.g. 250) or a share of the input rows from 0% to 100% (e.g. 1%), got "${text}"`);
}

export function describeLimit(limit: RejectedLimit): string {
  return 'rows' in limit ? `${count(limit.rows)} ${limit.rows === 1 ? 'row' : 'rows'}` : `${limit.percent}%`;
}

export function rejectedOverLimit(limit: RejectedLimit, rejected: number, inputRows: number): boolean {
  return 'rows' in limit ? rejected > limit.rows : rejected * 100 > limit.percent * inputRows;
}

/** Why a job that succeeded exits 1: how many rows were rejected, against which limit, and where they are. */
export function describeOverLimit(rows: { readonly input: number; readonly rejected: number }, limit: RejectedLimit, rejectedAt: string): string {
  const share = rows.input === 0 ? 0 : (rows.rejected * 100) / rows.input;
  return `too many rejected rows: ${count(rows.rejected)} of ${count(rows.input)} (${share.toFixed(share < 10 ? 2 : 1)}%), over --max-rejected ${describeLimit(limit)}; each with its field and reason in ${rejectedAt}`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}
