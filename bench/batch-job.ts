// `npm run bench:batch-job`: a batch job end to end on the local runtime, as a user runs it — the built CLI's
// `modelgate batch churn --input <local file> --output <folder>` against a fresh `npm start` — for each of
// `--rows` (100,000 and 1,000,000 by default). The input is the churn example's rows cycled, each with a unique
// customerID, streamed to a temp file. Reports rows/s (from the CLI's start to its exit, and the job's own
// durationSeconds) and the peak resident memory of every process involved, sampled every `--sample-ms` (250) from
// /proc: the runtime (its Lambda execution environments are worker threads: they share its memory), any process
// it started, and the CLI. Passes when each job's summary adds up (scored + rejected = rows, nothing unprocessed)
// and, for the smallest and largest run, every role's peak is within 1.3x: a job's memory is bounded by chunk size
// x concurrency, not by the input's size.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildCli, cliBuildIsCurrent } from '../cli/build';
import type { BatchSummary } from '../lambdas/core/batch/summary';
import { processTree, startRuntimeChild, stopChild } from './child-process';
import { residentMb } from './load-driver';

const { values: options } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000,1000000' },
    'sample-ms': { type: 'string', default: '250' },
    json: { type: 'boolean', default: false },
  },
});
const sizes = (options.rows as string).split(',').map(Number);
const sampleMs = Number(options['sample-ms']);
if (sizes.some((n) => !(Number.isSafeInteger(n) && n >= 1_000 && n <= 100_000_000)) || !(sampleMs >= 50 && sampleMs <= 10_000)) {
  console.error('usage: npm run bench:batch-job -- [--rows 100000,1000000] [--sample-ms 50..10000] [--json]');
  process.exit(2);
}
/** The most a role's peak resident memory may grow from the smallest job to the largest. */
const GROWTH_LIMIT = 1.3;
const SOURCE = fileURLToPath(new URL('../examples/churn/data/telco-customer-churn.csv', import.meta.url));
const CLI = fileURLToPath(new URL('../cli/modelgate.mjs', import.meta.url));
const ID_COLUMN = 'customerID';

/** Writes `rows` data rows of the churn example, cycled, each with a unique id, through a stream (never the whole file in memory). */
async function writeChurnInput(path: string, rows: number): Promise<number> {
  const [header = '', ...lines] = readFileSync(SOURCE, 'utf8')
    .split(/\r?\n/)
    .filter((line) => line !== '');
  const idAt = header.split(',').indexOf(ID_COLUMN);
  const cells = lines.map((line) => line.split(','));
  const out = createWriteStream(path);
  const write = (text: string) => (out.write(text) ? Promise.resolve() : new Promise<void>((resolve) => out.once('drain', () => resolve())));
  await write(`${header}\n`);
  let block: string[] = [];
  for (let i = 0; i < rows; i++) {
    const row = [...(cells[i % cells.length] as string[])];
    row[idAt] = `c${i + 1}`;
    block.push(row.join(','));
    if (block.length === 10_000 || i === rows - 1) {
      await write(`${block.join('\n')}\n`);
      block = [];
    }
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return statSync(path).size;
}

/** The role a process plays, from its place in the trees: the runtime's root, a process it started, the CLI (and any it started). */
type Role = 'runtime' | 'runtime children' | 'cli';

interface JobRun {
  readonly rows: number;
  readonly inputBytes: number;
  readonly exitCode: number | null;
  readonly cliSeconds: number;
  readonly summary?: BatchSummary;
  readonly rowsPerSecondEndToEnd: number;
  readonly rowsPerSecondJob?: number;
  /** Peak resident MB by role: a role with several processes is the highest sample of their sum. */
  readonly peakMb: Record<Role, number>;
  /** Peak resident MB of each process, named `<command> <pid>`. */
  readonly peakByProcessMb: Record<string, number>;
  /** The runtime's resident MB before the job started (its model loaded, idle). */
  readonly runtimeIdleMb: number;
  readonly samples: number;
  readonly problems: string[];
}

async function runJob(rows: number): Promise<JobRun> {
  const work = mkdtempSync(join(tmpdir(), 'modelgate-bench-batch-job-'));
  let runtime: ChildProcess | undefined;
  try {
    const input = join(work, 'customers.csv');
    process.stderr.write(`${rows.toLocaleString('en')} rows: writing ${input}...\n`);
    const inputBytes = await writeChurnInput(input, rows);
    const stateDir = join(work, 'state');
    process.stderr.write(`  starting the local runtime (state in ${stateDir})...\n`);
    runtime = (await startRuntimeChild(stateDir)).child;
    const runtimePid = runtime.pid as number;
    const runtimeIdleMb = residentMb(runtimePid) ?? 0;

    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('MODELGATE_')));
    const started = performance.now();
    const cli = spawn(process.execPath, [CLI, 'batch', 'churn', '--input', input, '--output', join(work, 'out'), '--id-column', ID_COLUMN, '--state-dir', stateDir, '--json'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    cli.stdout.on('data', (data: Buffer) => stdout.push(data));
    cli.stderr.on('data', (data: Buffer) => stderr.push(data));
    const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));

    const peakByProcess = new Map<string, number>();
    const peakMb: Record<Role, number> = { runtime: 0, 'runtime children': 0, cli: 0 };
    let samples = 0;
    const sample = () => {
      const roles: [Role, Map<number, string>][] = [
        ['runtime', new Map([[runtimePid, `runtime ${runtimePid}`]])],
        ['runtime children', new Map([...processTree(runtimePid, 'runtime')].filter(([pid]) => pid !== runtimePid))],
        ['cli', cli.pid === undefined ? new Map() : processTree(cli.pid, 'cli')],
      ];
      for (const [role, tree] of roles) {
        let sum = 0;
        for (const [pid, name] of tree) {
          const mb = residentMb(pid);
          if (mb === undefined) continue;
          sum += mb;
          peakByProcess.set(name, Math.max(peakByProcess.get(name) ?? 0, mb));
        }
        peakMb[role] = Math.max(peakMb[role], sum);
      }
      samples++;
    };
    sample();
    const sampler = setInterval(sample, sampleMs);
    const progress = setInterval(() => process.stderr.write(`  ${((performance.now() - started) / 1000).toFixed(0)} s: peak ${formatPeaks(peakMb)}\n`), 30_000);
    const exitCode = await exited;
    const cliSeconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    clearInterval(progress);

    const problems: string[] = [];
    const printed = Buffer.concat(stdout).toString('utf8');
    let summary: BatchSummary | undefined;
    try {
      const parsed = JSON.parse(printed) as Partial<BatchSummary>;
      if (parsed.rows !== undefined) summary = parsed as BatchSummary;
    } catch {
      // not JSON: reported below
    }
    if (!summary) problems.push(`${rows} rows: the CLI printed no summary (exit ${exitCode}): ${printed.slice(-2000)} ${Buffer.concat(stderr).toString('utf8').slice(-2000)}`);
    if (exitCode !== 0) problems.push(`${rows} rows: the CLI exited with ${exitCode}`);
    if (summary) {
      const counts = summary.rows;
      if (counts.input !== rows || counts.scored + counts.rejected !== rows || counts.unprocessed !== 0) {
        problems.push(`${rows} rows: the summary does not add up: ${JSON.stringify(counts)}`);
      }
    }
    if (runtime.exitCode !== null) problems.push(`${rows} rows: the runtime exited with ${runtime.exitCode}`);
    return {
      rows,
      inputBytes,
      exitCode,
      cliSeconds,
      ...(summary ? { summary, rowsPerSecondJob: rows / summary.durationSeconds } : {}),
      rowsPerSecondEndToEnd: rows / cliSeconds,
      peakMb,
      peakByProcessMb: Object.fromEntries(peakByProcess),
      runtimeIdleMb,
      samples,
      problems,
    };
  } finally {
    if (runtime) await stopChild(runtime, 'SIGINT');
    rmSync(work, { recursive: true, force: true });
  }
}

function formatPeaks(peaks: Record<Role, number>): string {
  return Object.entries(peaks)
    .map(([role, mb]) => `${role} ${mb.toFixed(0)} MB`)
    .join(', ');
}

if (!cliBuildIsCurrent()) await buildCli();
const runs: JobRun[] = [];
for (const rows of [...sizes].sort((a, b) => a - b)) runs.push(await runJob(rows));
const smallest = runs[0] as JobRun;
const largest = runs.at(-1) as JobRun;
const ratios = Object.fromEntries(
  (Object.keys(smallest.peakMb) as Role[]).map((role) => [role, smallest.peakMb[role] === 0 ? undefined : largest.peakMb[role] / smallest.peakMb[role]]),
) as Record<Role, number | undefined>;
const failures = [
  ...runs.flatMap((run) => run.problems),
  ...(runs.length > 1
    ? Object.entries(ratios).flatMap(([role, ratio]) =>
        ratio !== undefined && ratio > GROWTH_LIMIT
          ? [
              `${role}: peak resident memory ${largest.peakMb[role as Role].toFixed(0)} MB at ${largest.rows} rows, ${ratio.toFixed(2)}x its ${smallest.peakMb[role as Role].toFixed(0)} MB at ${smallest.rows} rows (limit ${GROWTH_LIMIT}x)`,
            ]
          : [],
      )
    : []),
];
const report = { runs, peakRatio: { from: smallest.rows, to: largest.rows, byRole: ratios }, growthLimit: GROWTH_LIMIT, loadAverage: loadavg(), cpus: cpus().length, failures };
if (options.json) console.log(JSON.stringify(report, null, 2));
else {
  const f = (n: number | undefined, d = 0) => (n === undefined ? '?' : n.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d }));
  console.log(`modelgate batch job — churn (live version), local runtime, the built CLI, local input and output folder
${runs
  .map(
    (
      run,
    ) => `  ${f(run.rows)} rows (${f(run.inputBytes / 1024 / 1024, 1)} MiB, ${run.summary?.parts ?? '?'} parts): ${f(run.rowsPerSecondEndToEnd)} rows/s end to end (CLI ${f(run.cliSeconds, 1)} s: upload, job, download), ${f(run.rowsPerSecondJob)} rows/s in the job (${f(run.summary?.durationSeconds, 1)} s); ${f(run.summary?.rows.scored)} scored, ${f(run.summary?.rows.rejected)} rejected
    peak resident memory   ${formatPeaks(run.peakMb)} (runtime idle ${f(run.runtimeIdleMb)} MB; ${run.samples} samples)
    by process             ${Object.entries(run.peakByProcessMb)
      .map(([name, mb]) => `${name} ${f(mb)} MB`)
      .join(', ')}`,
  )
  .join('\n')}
${
  runs.length > 1
    ? `  peak ${f(largest.rows)} / ${f(smallest.rows)} rows  ${Object.entries(ratios)
        .map(([role, ratio]) => `${role} ${ratio === undefined ? '(no process)' : `${f(ratio, 2)}x`}`)
        .join(', ')} (limit ${GROWTH_LIMIT}x)\n`
    : ''
}  load average after      ${report.loadAverage.map((n) => f(n, 2)).join(' ')} (${cpus().length} cores; other work on the machine skews every figure)
${failures.length === 0 ? `  every summary adds up${runs.length > 1 ? `; every role's peak within ${GROWTH_LIMIT}x` : ''}` : failures.map((line) => `  FAIL: ${line}`).join('\n')}`);
}
process.exitCode = failures.length === 0 ? 0 : 1;
