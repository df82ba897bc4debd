// The arithmetic of `modelgate batch`'s progress line (cli/batch-progress.ts) and the durations it shows
// (cli/live-line.ts): which progress files a poll lists, rows/s over a sliding window, the ETA, how often a log
// gets a line, and the --max-rejected limit.
import { describe, expect, it } from 'vitest';
import { partName } from '../../lambdas/contracts/batch-job';
import {
  describeOverLimit,
  describeProgress,
  LogPace,
  parseMaxRejected,
  phaseOf,
  ProgressTally,
  RateWindow,
  rejectedOverLimit,
  type RejectedLimit,
} from '../../cli/batch-progress';
import { duration, liveLine } from '../../cli/live-line';
import { UsageError } from '../../cli/usage-error';

/** The progress file of the batch of `rows` rows from `firstRow`, with `rejected` of them rejected. */
const batch = (firstRow: number, rows: number, rejected = 0) => ({
  key: `out/_progress/${partName(firstRow, 'json')}`,
  progress: { firstRow, rows, scored: rows - rejected, rejected },
});

describe('ProgressTally', () => {
  it('lists from after the unbroken run of batches from row 1, so a poll lists only what ended out of order and what is new', () => {
    const tally = new ProgressTally();
    const [a, b, c, d] = [batch(1, 490, 2), batch(491, 490), batch(981, 490, 1), batch(1471, 100)];
    expect(tally.listAfter).toBeUndefined();
    for (const { key, progress } of [b, d]) tally.add(key, progress);
    expect(tally.listAfter).toBeUndefined(); // row 1's batch has not ended: every file is still listed
    expect([tally.has(b.key), tally.has(d.key), tally.has(a.key)]).toEqual([true, true, false]);
    tally.add(a.key, a.progress);
    expect(tally.listAfter).toBe(b.key); // a and b are the run; d waits for c
    expect(tally.has(d.key)).toBe(true);
    tally.add(c.key, c.progress);
    expect(tally.listAfter).toBe(d.key);
    expect({ rowsDone: tally.rowsDone, scored: tally.scored, rejected: tally.rejected }).toEqual({ rowsDone: 1570, scored: 1567, rejected: 3 });
  });

  it('counts a file listed again once', () => {
    const tally = new ProgressTally();
    const [a, b] = [batch(1, 10, 1), batch(21, 10, 1)];
    tally.add(a.key, a.progress);
    tally.add(b.key, b.progress);
    tally.add(a.key, a.progress); // before listAfter
    tally.add(b.key, b.progress); // after it, beyond a gap
    expect({ rowsDone: tally.rowsDone, rejected: tally.rejected }).toEqual({ rowsDone: 20, rejected: 2 });
    expect(tally.listAfter).toBe(a.key); // rows 11-20 (a failed batch) never end: listing starts at the gap
  });
});

describe('RateWindow', () => {
  it('has no rate until two samples a second apart, then rows/s over the last 30 s', () => {
    const rate = new RateWindow();
    rate.add(0, 0);
    expect(rate.rowsPerSecond()).toBeUndefined();
    rate.add(500, 400);
    expect(rate.rowsPerSecond()).toBeUndefined();
    rate.add(2000, 2000);
    expect(rate.rowsPerSecond()).toBe(1000);
    // 40 s at 1000 rows/s, then 30 s at 100 rows/s: the window forgets the fast start.
    for (let t = 4000; t <= 40_000; t += 2000) rate.add(t, t);
    for (let t = 42_000; t <= 70_000; t += 2000) rate.add(t, 40_000 + (t - 40_000) / 10);
    expect(rate.rowsPerSecond()).toBe(100);
  });
});

describe('describeProgress', () => {
  const limit: RejectedLimit = { percent: 1 };

  it('says the job is being prepared until its total is known', () => {
    expect(describeProgress({ elapsedMs: 1200, done: 0, rejected: 0 })).toBe("1.2 s: preparing (counting the input's rows, checking its header)");
    expect(phaseOf({ done: 0 })).toBe('preparing');
  });

  it('shows rows done of the total, rows/s, the ETA at that rate and the rejected rows', () => {
    expect(describeProgress({ elapsedMs: 260_000, total: 100_000, done: 12_345, rejected: 12, rowsPerSecond: 4321.4 }, limit)).toBe(
      '4 min 20 s: 12,345 of 100,000 rows (12%), 4,321 rows/s, ETA 20 s, 12 rejected',
    );
    expect(describeProgress({ elapsedMs: 3000, total: 100_000_000, done: 0, rejected: 0 })).toBe('3.0 s: 0 of 100,000,000 rows (0%), 0 rejected');
    expect(describeProgress({ elapsedMs: 90_000, total: 1000, done: 500, rejected: 0, rowsPerSecond: 0 })).toBe('1 min 30 s: 500 of 1,000 rows (50%), 0 rows/s, 0 rejected');
  });

  it('flags rejected rows over the limit among the rows done so far', () => {
    expect(describeProgress({ elapsedMs: 10_000, total: 100_000, done: 1000, rejected: 11 }, limit)).toBe(
      '10 s: 1,000 of 100,000 rows (1%), 11 rejected (over --max-rejected 1% so far)',
    );
    expect(describeProgress({ elapsedMs: 10_000, total: 100_000, done: 1000, rejected: 10 }, limit)).not.toMatch(/over/);
  });

  it('says the summary is being written once every row is done', () => {
    expect(describeProgress({ elapsedMs: 10_000, total: 2000, done: 2000, rejected: 3, rowsPerSecond: 500 })).toBe(
      '10 s: 2,000 of 2,000 rows (100%), 3 rejected; writing the summary',
    );
  });
});

describe('LogPace', () => {
  it('prints a line on a phase change, at each tenth of the rows, and at least once a minute', () => {
    const pace = new LogPace();
    expect(pace.due(0, { done: 0 })).toBe(true);
    expect(pace.due(2000, { done: 0 })).toBe(false);
    expect(pace.due(4000, { total: 1000, done: 0 })).toBe(true); // prepared
    expect(pace.due(6000, { total: 1000, done: 99 })).toBe(false);
    expect(pace.due(8000, { total: 1000, done: 100 })).toBe(true);
    expect(pace.due(67_000, { total: 1000, done: 150 })).toBe(false);
    expect(pace.due(68_000, { total: 1000, done: 150 })).toBe(true); // a minute since the last line
    expect(pace.due(70_000, { total: 1000, done: 1000 })).toBe(true); // summarizing
  });

  it('gives a three-hour job polled every 2 s about 190 lines, not 5,400', () => {
    const pace = new LogPace();
    const total = 100_000_000;
    let lines = 0;
    for (let t = 0; t <= 3 * 3_600_000; t += 2000) if (pace.due(t, { total, done: Math.floor((total * t) / (3 * 3_600_000)) })) lines++;
    expect(lines).toBeGreaterThanOrEqual(180);
    expect(lines).toBeLessThanOrEqual(191);
  });
});

describe('--max-rejected', () => {
  it('is a number of rows or a share of the input rows', () => {
    expect(parseMaxRejected('250')).toEqual({ rows: 250 });
    expect(parseMaxRejected('0')).toEqual({ rows: 0 });
    expect(parseMaxRejected('1%')).toEqual({ percent: 1 });
    expect(parseMaxRejected('0.5%')).toEqual({ percent: 0.5 });
    expect(parseMaxRejected('100%')).toEqual({ percent: 100 });
  });

  it.each(['abc', '-1', '1.5', '101%', '%', '', '1 %', '1e3', '10%%'])('refuses %j as bad usage naming the flag', (text) => {
    expect(() => parseMaxRejected(text)).toThrow(UsageError);
    expect(() => parseMaxRejected(text)).toThrow(`got "${text}"`);
    expect(() => parseMaxRejected(text)).toThrow(/^--max-rejected must be a number of rows/);
  });

  it('is exceeded by more rows than it allows, not by as many', () => {
    expect(rejectedOverLimit({ rows: 0 }, 0, 300)).toBe(false);
    expect(rejectedOverLimit({ rows: 0 }, 1, 300)).toBe(true);
    expect(rejectedOverLimit({ percent: 1 }, 3, 300)).toBe(false);
    expect(rejectedOverLimit({ percent: 1 }, 4, 300)).toBe(true);
    expect(rejectedOverLimit({ percent: 100 }, 300, 300)).toBe(false);
  });

  it('says how many rows were rejected, against which limit, and where they are', () => {
    expect(describeOverLimit({ input: 20_000, rejected: 400 }, { percent: 1 }, 'out/rejected/')).toBe(
      'too many rejected rows: 400 of 20,000 (2.00%), over --max-rejected 1%; each with its field and reason in out/rejected/',
    );
    expect(describeOverLimit({ input: 300, rejected: 1 }, { rows: 0 }, 's3://b/batch/x/rejected/')).toBe(
      'too many rejected rows: 1 of 300 (0.33%), over --max-rejected 0 rows; each with its field and reason in s3://b/batch/x/rejected/',
    );
  });
});

describe('live line', () => {
  it('redraws in place and cuts text wider than the terminal', () => {
    const written: string[] = [];
    const line = liveLine({ columns: 12, write: (text: string) => written.push(text) > 0 });
    line.clear();
    line.show('short');
    line.show('a line longer than the terminal');
    line.clear();
    expect(written).toEqual(['\r\x1b[Kshort', '\r\x1b[Ka line lon…', '\r\x1b[K']);
  });

  it.each([
    [400, '0.4 s'],
    [12_400, '12 s'],
    [60_000, '1 min'],
    [260_000, '4 min 20 s'],
    [38 * 60_000 + 12_000, '38 min'],
    [2 * 3_600_000 + 5 * 60_000, '2 h 05 min'],
  ])('shows %d ms as %s', (ms, text) => {
    expect(duration(ms)).toBe(text);
  });
});
