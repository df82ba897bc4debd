// A unit-level (sticky) experiment end to end in the local runtime: churn v2 rolled out with the ab-test
// strategy (the alias picks v1 or v2 at random per request), a unit-level experiment started on it, and units
// that each send several requests with x-modelgate-unit-id. Whichever version the alias picks, the router in the
// function keeps every unit on the version its hash says (forwarding through the local Lambda API when needed);
// exposures count each unit once, from the prediction log's stream; events are attributed by unit id.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main';
import { assignArm } from '../../lambdas/core/experiments/assignment';
import type { ExperimentDefinition } from '../../lambdas/core/experiments/definition';
import type { ExperimentReport } from '../../lambdas/core/experiments/report';
import { parseCsv } from '../../lambdas/core/csv';
import { csvInstances } from '../../lambdas/core/csv-instances';
import { parseManifestJson } from '../../lambdas/core/manifest';
import { startRuntime, type Runtime } from '../../local/runtime';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples', 'churn');
const holdout = csvInstances(parseManifestJson(readFileSync(join(EXAMPLES, 'v1', 'manifest.json'), 'utf8')), parseCsv(readFileSync(join(EXAMPLES, 'v1', 'holdout.csv'), 'utf8')));
const UNITS = Array.from({ length: 120 }, (_, i) => `customer-${i}`);
const REQUESTS_PER_UNIT = 3;

let runtime: Runtime;
let stateDir: string;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'modelgate-sticky-e2e-'));
  runtime = await startRuntime({ stateDir, clean: true, port: 0, echoLogs: false, timeScale: 600, alarmTickMs: 3_600_000, print: () => undefined });
});

afterAll(async () => {
  await runtime?.close();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

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

async function predict(unit: string | undefined, row: number): Promise<string> {
  const response = await fetch(`${runtime.apiUrl}/v1/models/churn/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': runtime.apiKeys.predict, ...(unit ? { 'x-modelgate-unit-id': unit } : {}) },
    body: JSON.stringify({ instances: [holdout[row % holdout.length]] }),
  });
  const body = (await response.json()) as { model: { version: string } };
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body.model.version;
}

describe('a unit-level experiment in the local runtime', () => {
  let experiment: ExperimentDefinition;

  it('starts on v1 and v2 (published by the pipeline), with their Lambda versions', async () => {
    expect((await cli('push', join(EXAMPLES, 'v2'), '--strategy', 'ab-test')).code).toBe(0);
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
      '--assignment',
      'unit',
      '--start-delay',
      '0',
      '--json',
    );
    expect(started.code, started.out).toBe(0);
    experiment = started.json<{ experiment: ExperimentDefinition }>().experiment;
    expect(experiment).toMatchObject({ assignment: 'unit', split: 0.5, control: { version: '1' }, treatment: { version: '2' } });
    expect(experiment.treatment.lambdaVersion).toBeDefined();
    // The function versions read running experiments at init and every 10 s: let both see this one.
    await Promise.all([predict(undefined, 0), predict(undefined, 1), predict(undefined, 2)]);
    await new Promise((resolve) => setTimeout(resolve, 10_500));
    for (let i = 0; i < 6; i++) await predict(undefined, i);
    await new Promise((resolve) => setTimeout(resolve, 500));
  });

  it('keeps every unit on the version of its arm, whichever version the alias picked', async () => {
    const seen = new Map<string, Set<string>>();
    let row = 0;
    for (let round = 0; round < REQUESTS_PER_UNIT; round++) {
      await Promise.all(
        [0, 1, 2, 3].map(async (lane) => {
          for (let u = lane; u < UNITS.length; u += 4) {
            const unit = UNITS[u] as string;
            const version = await predict(unit, row++);
            seen.set(unit, (seen.get(unit) ?? new Set()).add(version));
          }
        }),
      );
    }
    for (const unit of UNITS) {
      const arm = assignArm(experiment.id, unit, experiment.split);
      expect([...(seen.get(unit) ?? [])], unit).toEqual([experiment[arm].version]);
    }
  });

  it('counts each unit once, in its arm; no crossovers; the sample ratio check is on units', async () => {
    await runtime.streams.idle();
    const treated = UNITS.filter((u) => assignArm(experiment.id, u, experiment.split) === 'treatment');
    // Outcome events by unit id: every third treated unit converts, every sixth control unit.
    const events = UNITS.filter((u, i) => (treated.includes(u) ? i % 3 === 0 : i % 6 === 0)).map((unitId) => ({ unitId, name: 'conversion', eventId: `conv-${unitId}` }));
    const posted = await fetch(`${runtime.apiUrl}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': runtime.apiKeys.events },
      body: JSON.stringify([...events, { unitId: 'never-seen', name: 'conversion' }]),
    });
    const answer = (await posted.json()) as { results: { status: string }[] };
    expect(answer.results.map((r) => r.status)).toEqual([...events.map(() => 'accepted'), 'not_found']);

    const status = await cli('experiment', 'status', experiment.id, '--json');
    const { analysis } = status.json<{ analysis: ExperimentReport }>();
    expect(analysis.arms.treatment.units).toBe(treated.length);
    expect(analysis.arms.control.units).toBe(UNITS.length - treated.length);
    expect(analysis.arms.treatment.requests).toBe(treated.length * REQUESTS_PER_UNIT);
    expect(analysis.arms.control.crossovers + analysis.arms.treatment.crossovers).toBe(0);
    expect(analysis.srm).toMatchObject({ of: 'units', observed: [UNITS.length - treated.length, treated.length], mismatch: false });
    const conversion = analysis.metrics[0]!;
    expect([conversion.control.n, conversion.treatment.n]).toEqual([UNITS.length - treated.length, treated.length]);
    expect(conversion.control.mean! * conversion.control.n + conversion.treatment.mean! * conversion.treatment.n).toBeCloseTo(events.length, 6);
    expect(analysis.warnings).toEqual([]);
  });

  it('concludes by keeping the control: the pipeline rolls v2 back', async () => {
    const stop = await cli('experiment', 'stop', experiment.id, '--keep-control', '--json');
    expect(stop.code, stop.out).toBe(0);
    expect(stop.json<{ experiment: ExperimentDefinition }>().experiment).toMatchObject({ status: 'concluded', conclusion: { outcome: 'keep-control' } });
    const versions = (await cli('models', 'churn', '--json')).json<{ version: string; status: string; weight: number }[]>();
    expect(versions.find((v) => v.version === '2')?.status).toBe('rolled-back');
    expect(versions.find((v) => v.version === '1')).toMatchObject({ status: 'live', weight: 1 });
  });
});
