// The pipeline's pure rules: candidate keys, rollout steps in Lambda versions, operator promote/rollback,
// which alarms roll a baking candidate back.
import { describe, expect, it } from 'vitest';
import { DEFAULT_ALARM_THRESHOLDS } from '../../lambdas/core/monitoring/alarms';
import { rollbackAlarmNames, rollsBack, rolloutAlarmInputs } from '../../lambdas/core/pipeline/alarms';
import { CandidateKeyError, parseCandidateKey } from '../../lambdas/core/pipeline/candidate';
import { ControlError, planControl } from '../../lambdas/core/pipeline/control';
import { modelView } from '../../lambdas/core/pipeline/model-view';
import type { RoutingState, VersionRecord } from '../../lambdas/core/pipeline/registry-types';
import { executableRollout } from '../../lambdas/core/pipeline/rollout';
import type { ModelStatus } from '../../lambdas/core/promotion/status';

describe('parseCandidateKey', () => {
  it('reads model and version from candidates/<model>/<version>/manifest.json', () => {
    expect(parseCandidateKey('b', 'candidates/churn/2.1/manifest.json')).toEqual({
      bucket: 'b',
      model: 'churn',
      version: '2.1',
      candidatePrefix: 'candidates/churn/2.1/',
      modelPrefix: 'models/churn/2.1/',
    });
  });
  it.each([
    'candidates/churn/manifest.json',
    'models/churn/2/manifest.json',
    'candidates/churn/2/model.onnx',
    'candidates/Churn/2/manifest.json',
    'candidates/churn/a/b/manifest.json',
  ])('refuses %s', (key) => expect(() => parseCandidateKey('b', key)).toThrow(CandidateKeyError));
});

describe('executableRollout', () => {
  const candidate = { version: '2', lambdaVersion: '7' };
  const champion = { version: '1', lambdaVersion: '3' };

  it('canary: the split for the bake, checked every interval, then all traffic', () => {
    const rollout = executableRollout({ strategy: 'canary', canary: { weight: 0.2, bakeMinutes: 5 } }, candidate, champion, 60);
    expect(rollout.steps.map((s) => [s.alias, s.status, s.bake])).toEqual([
      [{ version: '3', additionalVersion: '7', additionalWeight: 0.2 }, 'canary', { checks: 5, checkSeconds: 60 }],
      [{ version: '7' }, 'live', { checks: 0, checkSeconds: 0 }],
    ]);
    expect(rollout.rollback).toEqual({ alias: { version: '3' }, routing: { primary: champion } });
  });

  it('splits a hold into checks of equal length no longer than the interval', () => {
    const [step] = executableRollout({ strategy: 'canary', canary: { weight: 0.1, bakeMinutes: 2.5 } }, candidate, champion, 60).steps;
    expect(step?.bake).toEqual({ checks: 3, checkSeconds: 50 });
  });

  it('shadow: the champion alone on the alias, the candidate recorded as the shadow', () => {
    const [step] = executableRollout({ strategy: 'shadow', shadow: { sampleRate: 0.25 } }, candidate, champion).steps;
    expect(step).toMatchObject({ last: true, status: 'shadow', alias: { version: '3' }, routing: { primary: champion, shadow: { ...candidate, sampleRate: 0.25 } } });
  });

  it('a first version goes all at once with nothing to roll back to', () => {
    const rollout = executableRollout({ strategy: 'canary' }, candidate, undefined);
    expect(rollout.steps.map((s) => s.alias)).toEqual([{ version: '7' }]);
    expect(rollout.rollback).toBeUndefined();
  });
});

function record(version: string, status: ModelStatus, sequence: number, lambdaVersion?: string): VersionRecord {
  return {
    model: 'churn',
    version,
    status,
    sequence,
    history: [],
    lineage: {
      bucket: 'b',
      candidatePrefix: `candidates/churn/${version}/`,
      executionId: 'e',
      registeredAt: `2025-01-0${sequence}T00:00:00.000Z`,
      ...(lambdaVersion ? { lambdaVersion } : {}),
    },
    updatedAt: '2025-01-01T00:00:00.000Z',
  };
}

describe('planControl', () => {
  const routing = (extra: Partial<RoutingState> = {}): RoutingState => ({ primary: { version: '2', lambdaVersion: '4' }, updatedAt: 'x', ...extra });
  const versions = [record('1', 'retired', 1, '3'), record('2', 'live', 2, '4'), record('3', 'experiment', 3, '5'), record('4', 'rejected', 4)];
  const withExperiment = routing({ additional: { version: '3', lambdaVersion: '5', weight: 0.5 } });

  it('promote: the target takes all traffic, the live version is retired', () => {
    const plan = planControl({ kind: 'promote', version: '3' }, withExperiment, versions);
    expect(plan.target).toEqual({ version: '3', lambdaVersion: '5' });
    expect(plan.changes.map((c) => [c.version, c.from, c.to, c.reason])).toEqual([
      ['3', 'experiment', 'live', 'OPERATOR_PROMOTE'],
      ['2', 'live', 'retired', 'OPERATOR_PROMOTE'],
    ]);
  });

  it('rollback removes the challenger first, the live version keeps serving', () => {
    const plan = planControl({ kind: 'rollback' }, withExperiment, versions);
    expect(plan.target).toEqual({ version: '2', lambdaVersion: '4' });
    expect(plan.changes.map((c) => [c.version, c.to])).toEqual([['3', 'rolled-back']]);
  });

  it('rollback without a challenger returns to the last retired version', () => {
    const plan = planControl({ kind: 'rollback' }, routing(), versions);
    expect(plan.target).toEqual({ version: '1', lambdaVersion: '3' });
    expect(plan.changes.map((c) => [c.version, c.to])).toEqual([
      ['1', 'live'],
      ['2', 'rolled-back'],
    ]);
  });

  it.each([
    [{ kind: 'promote' as const, version: '4' }, 'is rejected'],
    [{ kind: 'promote' as const, version: '9' }, 'is not registered'],
    [{ kind: 'promote' as const, version: '2' }, 'already live'],
    [{ kind: 'rollback' as const, to: '3' }, 'takes a retired or rolled-back version'],
  ])('refuses %o: %s', (operation, message) => {
    expect(() => planControl(operation, withExperiment, versions)).toThrow(ControlError);
    expect(() => planControl(operation, withExperiment, versions)).toThrow(message);
  });
});

describe('modelView', () => {
  it('gives each version its share of traffic and the reason of its last reasoned transition, newest first', () => {
    const rejected = { ...record('4', 'rejected', 4), history: [{ status: 'rejected' as const, at: 'x', reason: 'CHECKSUM_MISMATCH' as const }] };
    const view = modelView(
      'churn',
      { model: 'churn', sequence: 4, routing: { primary: { version: '2', lambdaVersion: '4' }, additional: { version: '3', lambdaVersion: '5', weight: 0.1 }, updatedAt: 'x' } },
      [record('2', 'live', 2, '4'), record('3', 'canary', 3, '5'), rejected],
    );
    expect(view.live).toEqual([
      { version: '2', lambdaVersion: '4', weight: 0.9, status: 'live' },
      { version: '3', lambdaVersion: '5', weight: 0.1, status: 'canary' },
    ]);
    expect(view.versions.map((v) => [v.version, v.weight, v.reason])).toEqual([
      ['4', 0, 'CHECKSUM_MISMATCH'],
      ['3', 0.1, null],
      ['2', 0.9, null],
    ]);
    expect(view.versions[0]?.reasonText).toBe("the model file's sha256 differs from the manifest's");
    expect(view.versions.map((v) => v.mlflow)).toEqual([null, null, null]);
  });
});

describe('rollback alarms', () => {
  const alarms = rolloutAlarmInputs('modelgate-dev', 'churn', '7', DEFAULT_ALARM_THRESHOLDS, []);

  it("are the candidate version's critical alarms: warnings page, they do not roll back", () => {
    const names = rollbackAlarmNames(alarms, 'modelgate-dev', 'churn', '7');
    expect(names.sort()).toEqual([
      'modelgate-dev/churn/v7/accuracy-drop-critical',
      'modelgate-dev/churn/v7/drift-share-critical',
      'modelgate-dev/churn/v7/error-rate-critical',
      // Estimated quality (CBPE) alarms only once enough predictions back the estimate (docs/monitoring.md).
      'modelgate-dev/churn/v7/estimated-accuracy-drop-critical',
      'modelgate-dev/churn/v7/estimated-roc-auc-drop-critical',
      'modelgate-dev/churn/v7/latency-p99-critical',
      'modelgate-dev/churn/v7/log-fallbacks-critical',
      'modelgate-dev/churn/v7/roc-auc-drop-critical',
    ]);
    expect(alarms.map((a) => a.AlarmName)).toContain('modelgate-dev/churn/v7/log-fallbacks-warning');
  });

  it.each([
    ['modelgate-dev/churn/v7/error-rate-critical', true],
    ['modelgate-dev/churn/v7/log-fallbacks-warning', false],
    ['modelgate-dev/churn/v7/latency-p99-warning', false],
    // Another version, model or stage: never this candidate's.
    ['modelgate-dev/churn/v70/error-rate-critical', false],
    ['modelgate-dev/churn-v7/v7/error-rate-critical', false],
    ['modelgate-prod/churn/v7/error-rate-critical', false],
    ['modelgate-dev/churn/v7/error-rate-critical-copy', false],
  ])('%s rolls churn v7 back: %s', (name, expected) => {
    expect(rollsBack(name, 'modelgate-dev', 'churn', '7')).toBe(expected);
  });

  it('refuse more than one DescribeAlarms call can check, naming the way out', () => {
    const features = Array.from({ length: 100 }, (_, i) => `f${i}`);
    const many = rolloutAlarmInputs('modelgate-dev', 'churn', '7', { ...DEFAULT_ALARM_THRESHOLDS, featureDrift: { features, severity: 'critical' } }, []);
    expect(() => rollbackAlarmNames(many, 'modelgate-dev', 'churn', '7')).toThrow(
      'churn v7 has 108 critical alarms; a bake checks at most 100: give fewer features a critical drift alarm',
    );
  });
});
