// `npm run bench:cli`: how long `modelgate` takes to start, as a ratio to `node -e 0` measured in the same run.
// Rounds alternate between the cases (each round in a rotated order) so they all see the same background load;
// each figure is the median of its rounds. Budgets (docs/cli.md): top-level help within 4x, a command's fixed
// start-up (its help, or reaching its first action and failing fast) within 6x.
//   npm run bench:cli -- [--rounds 21] [--bin <modelgate.mjs>]   (--bin measures another build, e.g. an old checkout)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildCli, cliBuildIsCurrent } from '../cli/build';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '21' }, bin: { type: 'string' } } });
const rounds = Number(values.rounds);
const bin = values.bin ?? fileURLToPath(new URL('../cli/modelgate.mjs', import.meta.url));
if (values.bin === undefined && !cliBuildIsCurrent()) await buildCli();

/** A state folder with no runtime in it: `drift churn` resolves its target there and fails (exit 2). */
const emptyState = mkdtempSync(join(tmpdir(), 'modelgate-bench-cli-'));

interface Case {
  readonly name: string;
  readonly args: readonly string[];
  readonly exitCode: number;
  /** Allowed ratio to `node -e 0`; none for the baseline itself. */
  readonly budget?: number;
}

const cases: readonly Case[] = [
  { name: 'node -e 0', args: ['-e', '0'], exitCode: 0 },
  { name: 'modelgate --help', args: [bin, '--help'], exitCode: 0, budget: 4 },
  { name: 'modelgate models --help', args: [bin, 'models', '--help'], exitCode: 0, budget: 6 },
  { name: 'modelgate drift churn (no runtime: fails fast)', args: [bin, 'drift', 'churn', '--state-dir', emptyState], exitCode: 2, budget: 6 },
  { name: 'modelgate abtest (a whole command)', args: [bin, 'abtest', '--control', '{"n":28,"conversions":14}', '--treatment', '{"n":30,"conversions":16}'], exitCode: 0 },
];

function timeOnce(c: Case): number {
  const started = performance.now();
  const run = spawnSync(process.execPath, c.args, { encoding: 'utf8' });
  const elapsed = performance.now() - started;
  if (run.status !== c.exitCode) throw new Error(`${c.name}: exit ${run.status}, expected ${c.exitCode}: ${run.stderr}`);
  return elapsed;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

// One untimed round first: the OS file cache and Node's compile cache are warm for every timed one, as for a
// user running the CLI a second time.
for (const c of cases) timeOnce(c);
const times = new Map<Case, number[]>(cases.map((c) => [c, []]));
for (let round = 0; round < rounds; round++) {
  for (let i = 0; i < cases.length; i++) {
    const c = cases[(round + i) % cases.length] as Case;
    times.get(c)?.push(timeOnce(c));
  }
}
rmSync(emptyState, { recursive: true, force: true });

const baseline = median(times.get(cases[0] as Case) ?? []);
let missed = 0;
console.log(`modelgate CLI start-up, Node ${process.version}, ${rounds} alternating rounds, medians (${bin})\n`);
console.log(`${'case'.padEnd(50)}${'ms'.padStart(8)}${'ratio'.padStart(8)}  budget`);
for (const c of cases) {
  const ms = median(times.get(c) ?? []);
  const ratio = ms / baseline;
  const verdict = c.budget === undefined ? '' : `${c.budget}x ${ratio <= c.budget ? 'ok' : 'MISSED'}`;
  if (c.budget !== undefined && ratio > c.budget) missed++;
  console.log(`${c.name.padEnd(50)}${ms.toFixed(0).padStart(8)}${`${ratio.toFixed(2)}x`.padStart(8)}  ${verdict}`);
}
process.exitCode = missed > 0 ? 1 : 0;
