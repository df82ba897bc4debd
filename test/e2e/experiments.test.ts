// An A/B experiment end to end in the local runtime (clean state, port 0, time scaled x600 so the hourly
// analysis runs every 6 s): churn v2 rolled out through the pipeline with the ab-test strategy (50/50 on the
// live alias), an experiment started on it with the CLI, traffic from the churn holdout over HTTP, outcome
// events with a KNOWN effect (a seeded simulation: a prediction served by v2 converts with probability 0.35,
// one served by v1 with 0.20) and ground truth from the holdout's Churn column through POST /v1/feedback.
// The report must find the lift in the right direction with no sample ratio mismatch; stopping the experiment
// promotes v2 through the pipeline, and v2 serves all traffic.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main';
import { clientOfRoute, type ApiClient } from '../../lambdas/core/api-clients';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import type { ExperimentDefinition } from '../../lambdas/core/experiments/definition';
import type { AnalysisSnapshot, ExperimentReport } from '../../lambdas/core/experiments/report';
import { parseManifestJson } from '../../lambdas/core/manifest';
import { modelFunctionName } from '../../lambdas/core/naming';
import type { VersionView } from '../../lambdas/core/pipeline/model-view';
import { startRuntime, type Runtime } from '../../local/runtime';
import { mulberry32 as seeded } from '../../lambdas/core/random';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples', 'churn');
const manifest = parseManifestJson(readFileSync(join(EXAMPLES, 'v1', 'manifest.json'), 'utf8'));
const holdoutCsv = parseCsv(readFileSync(join(EXAMPLES, 'v1', 'holdout.csv'), 'utf8'));
const holdout = csvInstances(manifest, holdoutCsv);
const churned = holdoutCsv.rows.map((row) => row[holdoutCsv.header.indexOf('Churn')] as string);

/** The simulated truth: the chance that a customer shown a prediction of this version converts. */
const CONVERSION = { '1': 0.2, '2': 0.35 } as const;
const REQUESTS = 400;

let runtime: Runtime;
let stateDir: string;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'modelgate-experiments-e2e-'));
  runtime = await startRuntime({ stateDir, clean: true, port: 0, echoLogs: false, timeScale: 600, alarmTickMs: 3_600_000, print: () => undefined, random: seeded(7) });
});

afterAll(async () => {
  await runtime?.close();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

/** The CLI in-process, as users run it; its exit code and what it printed. */
async function cli(...args: string[]): Promise<{ code: number; out: string; json: <T>() => T }> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void lines.push(parts.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => void lines.push(parts.join(' ')));
  try {
    const code = await main([...args, '--state-dir', stateDir]);
    return { code, out: lines.join('\n'), json: <T>() => JSON.parse(lines[0] as string) as T };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

async function post(path: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${runtime.apiUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': runtime.apiKeys[clientOfRoute('POST', path) as ApiClient] },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/**
 * `count` requests of two holdout rows, one after the other so that the seeded alias and the seeded outcomes
 * give the same experiment on every run. The alias picks a version per request (the randomised unit: the
 * sample ratio check counts requests); each prediction is a unit of the analysis.
 */
async function traffic(from: number, count: number): Promise<{ predictionId: string; version: string; row: number }[]> {
  const served: { predictionId: string; version: string; row: number }[] = [];
  for (let request = from; request < from + count; request++) {
    const rows = [(2 * request) % holdout.length, (2 * request + 1) % holdout.length];
    const answer = await post('/v1/models/churn/predict', { instances: rows.map((row) => holdout[row]) });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    answer.body.predictions.forEach((p: { predictionId: string }, i: number) => {
      served.push({ predictionId: p.predictionId, version: answer.body.model.version, row: rows[i] as number });
    });
  }
  return served;
}

/** Conversions drawn with the known probabilities, sent in batches of 100 with event ids (idempotent). */
async function outcomes(served: readonly { predictionId: string; version: string }[], random: () => number): Promise<{ predictionId: string; name: string; eventId: string }[]> {
  const events = served
    .filter((s) => random() < CONVERSION[s.version as '1' | '2'])
    .map((s) => ({ predictionId: s.predictionId, name: 'conversion', eventId: `conversion-${s.predictionId}` }));
  for (let i = 0; i < events.length; i += 100) {
    const answer = await post('/v1/events', events.slice(i, i + 100));
    expect(answer.status).toBe(200);
    expect(answer.body.summary.accepted).toBe(events.slice(i, i + 100).length);
  }
  return events;
}

const liveAlias = () => runtime.lambda.getFunction(modelFunctionName(runtime.stack.stackName, 'churn')).aliases.find((a) => a.name === 'live');

describe('an A/B experiment between churn v1 and v2 in the local runtime', () => {
  let id: string;
  let served: { predictionId: string; version: string; row: number }[] = [];
  const random = seeded(2025);

  it('v2 is rolled out with the ab-test strategy: experiment status, half of the traffic', async () => {
    const push = await cli('push', join(EXAMPLES, 'v2'), '--strategy', 'ab-test');
    expect(push.code, push.out).toBe(0);
    const versions = (await cli('models', 'churn', '--json')).json<VersionView[]>();
    expect(versions.find((v) => v.version === '2')).toMatchObject({ status: 'experiment', weight: 0.5 });
    expect(versions.find((v) => v.version === '1')).toMatchObject({ status: 'live', weight: 0.5 });
  });

  it('starts the experiment from the live routing; refuses a split the alias does not have', async () => {
    const mismatch = await cli('experiment', 'start', '--model', 'churn', '--control', '1', '--treatment', '2', '--metric', 'conversion', '--split', '0.3');
    expect(mismatch.code).toBe(1);
    expect(mismatch.out).toContain('--split 0.3 does not match the alias, which gives v2 0.5');
    const started = await cli(
      'experiment',
      'start',
      '--model',
      'churn',
      '--control',
      '1',
      '--treatment',
      '2',
      '--metric',
      'conversion',
      '--guardrail',
      'accuracy',
      '--baseline',
      '0.2',
      '--mde',
      '0.5',
      '--start-delay',
      '0',
      '--json',
    );
    expect(started.code, started.out).toBe(0);
    const { experiment } = started.json<{ experiment: ExperimentDefinition }>();
    expect(experiment).toMatchObject({
      model: 'churn',
      control: { version: '1' },
      treatment: { version: '2' },
      split: 0.5,
      assignment: 'request',
      requiredSampleSizePerArm: 294,
      status: 'running',
    });
    expect(experiment.control.lambdaVersion).toBeDefined();
    id = experiment.id;
    const again = await cli('experiment', 'start', '--model', 'churn', '--control', '1', '--treatment', '2', '--metric', 'conversion');
    expect(again.code).toBe(1);
    expect(again.out).toContain(`model churn already has a running experiment: ${id}`);
  });

  it('counts traffic and outcome events per arm; events are idempotent by event id', async () => {
    served = await traffic(0, REQUESTS / 2);
    const sent = await outcomes(served, random);
    const resent = await post('/v1/events', sent.slice(0, 50));
    expect(resent.body.summary).toMatchObject({ accepted: 0, duplicate: 50 });
    const unknown = await post('/v1/events', [
      { predictionId: 'no-such-prediction', name: 'conversion' },
      { predictionId: served[0]!.predictionId, name: 'conversion', value: 3 },
    ]);
    expect(unknown.body.results.map((r: { status: string }) => r.status)).toEqual(['not_found', 'invalid']);
    const malformed = await fetch(`${runtime.apiUrl}/v1/events`, { method: 'POST', headers: { 'x-api-key': runtime.apiKeys.events }, body: '[{"name": 5}]' });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { issues: { field: string }[] }).issues.map((i) => i.field)).toEqual(['events[0].predictionId', 'events[0].name']);
    await runtime.streams.idle();
    const early = await cli('experiment', 'status', id, '--snapshot', '--json');
    const { analysis } = early.json<{ analysis: ExperimentReport }>();
    expect(analysis.arms.control.units + analysis.arms.treatment.units).toBe(served.length);
    expect(analysis.arms.control.requests + analysis.arms.treatment.requests).toBe(REQUESTS / 2);
    expect(analysis.decision).toBe('keep-running');
  });

  it('reads a significant lift of v2 in the right direction, with no sample ratio mismatch', async () => {
    const more = await traffic(REQUESTS / 2, REQUESTS / 2);
    served = [...served, ...more];
    await outcomes(more, random);
    // Ground truth for a quarter of the predictions, through the monitoring engineer's feedback join.
    const labels = served.filter((_, i) => i % 4 === 0).map((s) => ({ predictionId: s.predictionId, actual: churned[s.row] as string }));
    const feedback = await post('/v1/feedback', { feedback: labels });
    expect(feedback.status, JSON.stringify(feedback.body)).toBe(200);
    await runtime.streams.idle();

    const status = await cli('experiment', 'status', id, '--snapshot', '--json');
    expect(status.code).toBe(0);
    const { analysis } = status.json<{ analysis: ExperimentReport }>();
    const perArm = { control: served.filter((s) => s.version === '1').length, treatment: served.filter((s) => s.version === '2').length };
    expect([analysis.arms.control.units, analysis.arms.treatment.units]).toEqual([perArm.control, perArm.treatment]);
    expect([analysis.arms.control.requests, analysis.arms.treatment.requests]).toEqual([perArm.control / 2, perArm.treatment / 2]);
    expect(analysis.srm).toMatchObject({ of: 'requests', mismatch: false });
    expect(analysis.srm!.pValue).toBeGreaterThan(0.001);
    const conversion = analysis.metrics.find((m) => m.name === 'conversion')!;
    expect(conversion.status).toBe('analysed');
    // The true relative lift is (0.35 - 0.20) / 0.20 = 0.75; these seeds draw +55% [+20%, +90%], p 0.002.
    expect(conversion.lift!).toBeGreaterThan(0.3);
    expect(conversion.ci![0]).toBeGreaterThan(0);
    expect(conversion.ci![1]).toBeGreaterThan(0.75);
    expect(conversion.pValue!).toBeLessThan(0.01);
    expect(conversion.verdict).toBe('better');
    const accuracy = analysis.metrics.find((m) => m.name === 'accuracy')!;
    expect(accuracy.control.n + accuracy.treatment.n).toBe(labels.length);
    expect(analysis.decision).toBe('ship-treatment');
    expect(analysis.reasons[0]?.text).toMatch(/^Primary metric "conversion" improved significantly/);

    const text = await cli('experiment', 'status', id);
    expect(text.out).toContain('decision: Ship the treatment.');
    expect(text.out).toMatch(/sample ratio +ok/);
  });

  it('serves the experiment with its analysis and CIs over time (API and dashboard)', async () => {
    const response = await fetch(`${runtime.apiUrl}/v1/experiments/${id}`, { headers: { 'x-api-key': runtime.apiKeys.events } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { experiment: ExperimentDefinition; analysis: ExperimentReport; snapshots: AnalysisSnapshot[] };
    expect(body.analysis.decision).toBe('ship-treatment');
    expect(body.snapshots.length).toBeGreaterThanOrEqual(2);
    // The schedule (every 6 s at this time scale) and `status --snapshot` both add snapshots; the first ones
    // with an interval came after half of the traffic, the last after all of it: the interval narrowed.
    const withInterval = body.snapshots.filter((s) => s.metrics.conversion?.ci !== undefined);
    expect(withInterval.length).toBeGreaterThanOrEqual(2);
    const [first, last] = [withInterval[0]!, withInterval.at(-1)!];
    expect(first.decision).toBe('keep-running');
    expect(last.decision).toBe('ship-treatment');
    const width = (s: AnalysisSnapshot) => s.metrics.conversion!.ci![1] - s.metrics.conversion!.ci![0];
    expect(width(last)).toBeLessThan(width(first));
    const dashboard = (await (await fetch(`${runtime.apiUrl}/dashboard/api/experiments`)).json()) as { experiments: { id: string; snapshots: unknown[] }[] };
    expect(dashboard.experiments.find((e) => e.id === id)?.snapshots.length).toBeGreaterThanOrEqual(2);
  });

  it('concludes through the pipeline: v2 promoted and live, the experiment closed', async () => {
    const stop = await cli('experiment', 'stop', id, '--json');
    expect(stop.code, stop.out).toBe(0);
    const { experiment } = stop.json<{ experiment: ExperimentDefinition }>();
    expect(experiment).toMatchObject({ status: 'concluded', conclusion: { outcome: 'ship-treatment', decision: 'ship-treatment' } });
    const versions = (await cli('models', 'churn', '--json')).json<VersionView[]>();
    expect(versions.find((v) => v.version === '2')).toMatchObject({ status: 'live', weight: 1 });
    expect(versions.find((v) => v.version === '1')?.status).toBe('retired');
    const alias = liveAlias();
    expect(alias?.functionVersion).toBe(experiment.treatment.lambdaVersion);
    expect(alias?.additionalVersionWeights).toEqual({});
    const answer = await post('/v1/models/churn/predict', { instances: [holdout[0]] });
    expect(answer.body.model.version).toBe('2');
    const late = await post('/v1/events', [{ predictionId: served[0]!.predictionId, name: 'conversion', eventId: 'after-the-end' }]);
    expect(late.body.results[0].status).toBe('not_in_experiment');
    expect((await cli('experiment', 'stop', id)).code).toBe(1);
  });
});
