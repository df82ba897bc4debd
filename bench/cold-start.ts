// Cold start as Lambda sees it, in fresh Node processes (bench/cold-start-probe.mjs), three ways on the same model
// bytes and the same row:
// - baseline: the least any function serving the model does (import onnxruntime-node, create the session, one
//   warm-up run, the first answer);
// - floor: the baseline plus the AWS calls the inference function makes, through the same SDK clients, and
//   nothing else (bench/cold-start-floor.mjs) — the bound for a function that fetches its model and logs;
// - asset: the inference function as synthesized (lib/functions/bundling.ts): import, init, one /v1 predict.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../lambdas/core/manifest';
import { prepareModel } from '../lambdas/core/onnx-graph';
import { validateRows } from '../lambdas/core/request';
import { encodeFeeds } from '../lambdas/core/tensors';
import { HANDLERS_DIR, bundleFunction, type OnnxPlatform } from '../lib/functions/bundling';
import { proxyEvent } from '../local/api-gateway-event';

const PROBE = join(import.meta.dirname, 'cold-start-probe.mjs');
const FLOOR = join(import.meta.dirname, 'cold-start-floor.mjs');

export interface ColdStartOptions {
  readonly manifest: Manifest;
  readonly modelBytes: Uint8Array;
  /** The row of the first answer, as a client sends it. */
  readonly instance: Readonly<Record<string, unknown>>;
  /** The function's environment: the variables a published model version gets, pointing at local services. */
  readonly environment: Readonly<Record<string, string>>;
  /** Where the functions and the probes' inputs are written. */
  readonly directory: string;
  /** Rounds, each one cold start of every contender, in rotating order. */
  readonly rounds: number;
}

/** One cold start, as the probe reports it (milliseconds from the moment the function starts loading). */
export interface ColdStartSample {
  readonly importMs: number;
  readonly initMs: number;
  readonly firstAnswerMs: number;
  readonly totalMs: number;
  /** CPU time of the process over the same span (every thread): steadier than wall time on a loaded machine. */
  readonly cpuMs: number;
  /** Waiting on S3 and DynamoDB during init (the bundle fetch, the registry and experiment reads). */
  readonly initServicesMs: number;
  /** Waiting on DynamoDB during the first answer (the prediction log write). */
  readonly answerServicesMs: number;
  readonly requests: readonly { readonly request: string; readonly startMs: number; readonly ms: number }[];
}

export type ColdStartPhases = Omit<ColdStartSample, 'requests'>;

export interface ColdStartResult {
  readonly platform: OnnxPlatform;
  readonly rounds: number;
  /** Per-phase medians over the rounds. */
  readonly baseline: ColdStartPhases;
  readonly floor: ColdStartPhases;
  readonly asset: ColdStartPhases;
  /** Medians over rounds of the per-round ratios of total (wall) times. */
  readonly ratio: number;
  readonly floorRatio: number;
  readonly assetOverFloor: number;
  /** The asset against the baseline with its waiting on S3 and DynamoDB taken out. */
  readonly ratioWithoutServices: number;
  /** CPU time, asset against baseline. */
  readonly cpuRatio: number;
  /** The asset's requests in its median round: what the waiting was. */
  readonly assetRequests: ColdStartSample['requests'];
}

/** The onnxruntime-node binary folder of this machine: the benchmark runs the asset here, not on Lambda's arm64. */
export function hostPlatform(): OnnxPlatform {
  if (process.arch === 'x64' || process.arch === 'arm64') return process.arch;
  throw new Error(`no onnxruntime-node binary for linux/${process.arch}`);
}

export async function measureColdStart(options: ColdStartOptions): Promise<ColdStartResult> {
  if (!Number.isSafeInteger(options.rounds) || options.rounds < 1) throw new Error(`cold-start rounds must be a positive integer, got: ${options.rounds}`);
  const platform = hostPlatform();
  const assetDir = join(options.directory, 'asset');
  const floorDir = join(options.directory, 'floor');
  mkdirSync(options.directory, { recursive: true });
  bundleFunction(assetDir, { entry: join(HANDLERS_DIR, 'inference.ts'), onnxPlatform: platform });
  bundleFunction(floorDir, { entry: FLOOR, onnxPlatform: platform });

  // The model as the function serves it (ZipMap removed) and the feeds of the same row, for baseline and floor.
  const { manifest } = options;
  const modelFile = join(options.directory, 'model.onnx');
  writeFileSync(modelFile, prepareModel(options.modelBytes).bytes);
  const [chunk] = encodeFeeds(manifest, validateRows(manifest, [options.instance]));
  const feeds = Object.fromEntries(
    Object.entries(chunk!.feeds).map(([name, t]) => [
      name,
      { dtype: t.dtype, dims: t.dims, data: Array.from(t.data as ArrayLike<unknown>, (v) => (typeof v === 'bigint' ? Number(v) : v)) },
    ]),
  );
  const feedsFile = join(options.directory, 'feeds.json');
  writeFileSync(feedsFile, JSON.stringify({ feeds, fetches: Object.values(manifest.outputs) }));
  const eventFile = join(options.directory, 'event.json');
  writeFileSync(eventFile, JSON.stringify(proxyEvent({ method: 'POST', path: `/v1/models/${manifest.name}/predict`, body: JSON.stringify({ instances: [options.instance] }) })));

  // Nothing inherited: not the benchmark's NODE_OPTIONS or tsx loader, only what a function process has.
  const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' };
  const contenders = {
    baseline: () => probe(['baseline', join(assetDir, 'node_modules', 'onnxruntime-node'), modelFile, feedsFile], base),
    floor: () =>
      probe(['function', join(floorDir, 'index.mjs'), eventFile], { ...base, ...options.environment, COLD_START_MODEL_FILE: modelFile, COLD_START_FEEDS_FILE: feedsFile }),
    asset: () => probe(['function', join(assetDir, 'index.mjs'), eventFile], { ...base, ...options.environment }),
  };
  const order = Object.keys(contenders) as (keyof typeof contenders)[];

  // A first start of each, not counted: it reads the files into the page cache.
  for (const name of order) await contenders[name]();
  const rounds: Record<keyof typeof contenders, ColdStartSample>[] = [];
  for (let i = 0; i < options.rounds; i++) {
    const round: Partial<Record<keyof typeof contenders, ColdStartSample>> = {};
    for (let j = 0; j < order.length; j++) {
      const name = order[(i + j) % order.length] as keyof typeof contenders;
      round[name] = await contenders[name]();
    }
    rounds.push(round as Record<keyof typeof contenders, ColdStartSample>);
  }
  const ratioOf = (f: (round: (typeof rounds)[number]) => number) => middle(rounds.map(f));
  const ratios = rounds.map((r) => r.asset.totalMs / r.baseline.totalMs);
  const ratio = middle(ratios);
  return {
    platform,
    rounds: rounds.length,
    baseline: medians(rounds.map((r) => r.baseline)),
    floor: medians(rounds.map((r) => r.floor)),
    asset: medians(rounds.map((r) => r.asset)),
    ratio,
    floorRatio: ratioOf((r) => r.floor.totalMs / r.baseline.totalMs),
    assetOverFloor: ratioOf((r) => r.asset.totalMs / r.floor.totalMs),
    ratioWithoutServices: ratioOf((r) => (r.asset.totalMs - r.asset.initServicesMs - r.asset.answerServicesMs) / r.baseline.totalMs),
    cpuRatio: ratioOf((r) => r.asset.cpuMs / r.baseline.cpuMs),
    assetRequests: (rounds[ratios.indexOf(ratio)] as (typeof rounds)[number]).asset.requests,
  };
}

function probe(args: string[], env: Record<string, string>): Promise<ColdStartSample> {
  const child = spawn(process.execPath, [PROBE, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (data: string) => (stdout += data));
  child.stderr.setEncoding('utf8').on('data', (data: string) => (stderr += data));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith('cold-start '));
      if (code !== 0 || !line) reject(new Error(`cold-start probe ${args.slice(0, 2).join(' ')} exited with ${code}:\n${stderr || stdout}`));
      else resolve(JSON.parse(line.slice('cold-start '.length)) as ColdStartSample);
    });
  });
}

const PHASES = ['importMs', 'initMs', 'firstAnswerMs', 'totalMs', 'cpuMs', 'initServicesMs', 'answerServicesMs'] as const;

function medians(samples: readonly ColdStartSample[]): ColdStartPhases {
  return Object.fromEntries(PHASES.map((phase) => [phase, middle(samples.map((s) => s[phase]))])) as unknown as ColdStartPhases;
}

function middle(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}
