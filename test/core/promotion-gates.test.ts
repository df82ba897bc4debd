import { describe, expect, it } from 'vitest';
import type { Manifest, QualityMetric } from '../../lambdas/core/manifest';
import { compareSchemas } from '../../lambdas/core/promotion/compatibility';
import { describeReport, describeResult, REASON_TEXT } from '../../lambdas/core/promotion/gate-text';
import {
  checksumRule,
  compatibilityRule,
  contractRule,
  initTimeRule,
  latencyRule,
  manifestRule,
  metricGateRules,
  modelLoadRule,
  nonInferiorityRule,
  REJECTION_REASONS,
  replayAgreementRule,
  replayErrorRule,
  validationReport,
  type ValidationEvidence,
} from '../../lambdas/core/promotion/gates';
import type { ReplaySummary } from '../../lambdas/core/promotion/evaluation';

describe('metricGateRules', () => {
  it.each([
    // higher is better: a min gate
    { metric: 'rocAuc', gate: { min: 0.8 }, observed: 0.81, passed: true },
    { metric: 'rocAuc', gate: { min: 0.8 }, observed: 0.8, passed: true },
    { metric: 'rocAuc', gate: { min: 0.8 }, observed: 0.7999, passed: false, reason: 'METRIC_BELOW_GATE' },
    { metric: 'accuracy', gate: { min: 0.7 }, observed: 0.1 + 0.6, passed: true },
    { metric: 'r2', gate: { min: 0 }, observed: -0.2, passed: false, reason: 'METRIC_BELOW_GATE' },
    // lower is better: a max gate
    { metric: 'logLoss', gate: { max: 0.5 }, observed: 0.49, passed: true },
    { metric: 'logLoss', gate: { max: 0.5 }, observed: 0.5, passed: true },
    { metric: 'logLoss', gate: { max: 0.5 }, observed: 0.5001, passed: false, reason: 'METRIC_ABOVE_GATE' },
    { metric: 'rmse', gate: { max: 12 }, observed: 12.5, passed: false, reason: 'METRIC_ABOVE_GATE' },
    { metric: 'mae', gate: { max: 3 }, observed: 2, passed: true },
    { metric: 'calibrationError', gate: { max: 0.05 }, observed: 0.06, passed: false, reason: 'METRIC_ABOVE_GATE' },
  ] as const)('$metric $gate with $observed: passed $passed', ({ metric, gate, observed, passed, ...rest }) => {
    const [result] = metricGateRules({ [metric]: gate }, { [metric]: observed });
    const bound = 'min' in gate ? 'min' : 'max';
    expect(result).toEqual({
      rule: 'metric-gate',
      metric,
      passed,
      ...('reason' in rest ? { reason: rest.reason } : {}),
      observed,
      bound,
      threshold: (gate as { min?: number; max?: number })[bound],
    });
  });

  it('checks both bounds of a gate, each as its own result', () => {
    const results = metricGateRules({ precision: { min: 0.5, max: 0.9 } }, { precision: 0.95 });
    expect(results.map((r) => [r.bound, r.passed, r.reason])).toEqual([
      ['min', true, undefined],
      ['max', false, 'METRIC_ABOVE_GATE'],
    ]);
  });

  it('fails a gate whose metric was not computed (no holdout, one class, no probabilities)', () => {
    expect(metricGateRules({ rocAuc: { min: 0.7 } }, { accuracy: 0.9 })).toEqual([
      { rule: 'metric-gate', passed: false, reason: 'METRIC_UNAVAILABLE', metric: 'rocAuc', bound: 'min', threshold: 0.7 },
    ]);
    expect(metricGateRules({ rmse: { max: 1 } }, undefined)[0]?.reason).toBe('METRIC_UNAVAILABLE');
  });
});

describe('nonInferiorityRule', () => {
  it.each([
    // higher is better: candidate >= champion - margin
    { metric: 'rocAuc', candidate: 0.85, champion: 0.8, margin: 0.01, passed: true, threshold: 0.79 },
    { metric: 'rocAuc', candidate: 0.79, champion: 0.8, margin: 0.01, passed: true, threshold: 0.79 },
    { metric: 'rocAuc', candidate: 0.7899, champion: 0.8, margin: 0.01, passed: false, threshold: 0.79 },
    { metric: 'accuracy', candidate: 0.8, champion: 0.8, margin: 0, passed: true, threshold: 0.8 },
    { metric: 'accuracy', candidate: 0.7999999, champion: 0.8, margin: 0, passed: false, threshold: 0.8 },
    { metric: 'r2', candidate: 0.6, champion: 0.7, margin: 0.1, passed: true, threshold: 0.6 },
    // lower is better: candidate <= champion + margin
    { metric: 'rmse', candidate: 9, champion: 10, margin: 0.5, passed: true, threshold: 10.5 },
    { metric: 'rmse', candidate: 10.5, champion: 10, margin: 0.5, passed: true, threshold: 10.5 },
    { metric: 'rmse', candidate: 10.51, champion: 10, margin: 0.5, passed: false, threshold: 10.5 },
    { metric: 'logLoss', candidate: 0.31, champion: 0.3, margin: 0.01, passed: true, threshold: 0.31 },
    { metric: 'logLoss', candidate: 0.3101, champion: 0.3, margin: 0.01, passed: false, threshold: 0.31 },
    { metric: 'mae', candidate: 2.9, champion: 3, margin: 0, passed: true, threshold: 3 },
  ] as const)('$metric $candidate vs champion $champion, margin $margin: passed $passed', ({ metric, candidate, champion, margin, passed, threshold }) => {
    const result = nonInferiorityRule(metric as QualityMetric, candidate, champion, margin);
    expect(result.passed).toBe(passed);
    expect(result.reason).toBe(passed ? undefined : 'WORSE_THAN_CHAMPION');
    expect(result.threshold).toBeCloseTo(threshold, 12);
    expect(result).toMatchObject({ rule: 'non-inferiority', metric, observed: candidate, champion, margin });
    expect(result.bound).toBe(['rmse', 'logLoss', 'mae'].includes(metric) ? 'max' : 'min');
  });

  it('fails when either side lacks the metric', () => {
    expect(nonInferiorityRule('rocAuc', undefined, 0.8, 0.01)).toMatchObject({ passed: false, reason: 'METRIC_UNAVAILABLE' });
    expect(nonInferiorityRule('rmse', 3, undefined, 0.01)).toMatchObject({ passed: false, reason: 'METRIC_UNAVAILABLE', bound: 'max' });
  });
});

describe('budgets and replay', () => {
  it.each([
    { rule: () => latencyRule(50, 50), passed: true },
    { rule: () => latencyRule(50.1, 50), passed: false, reason: 'LATENCY_BUDGET' },
    { rule: () => initTimeRule(9_999, 10_000), passed: true },
    { rule: () => initTimeRule(10_000, 10_000), passed: true },
    { rule: () => initTimeRule(10_001, 10_000), passed: false, reason: 'INIT_BUDGET' },
  ])('$rule', ({ rule, passed, reason }) => {
    const result = rule();
    expect(result.passed).toBe(passed);
    expect(result.reason).toBe(reason);
    expect(result.bound).toBe('max');
  });

  const replay = (errors: number, agreed: number, requests = 100): ReplaySummary & { agreement: number } => ({
    requests,
    errors,
    errorRate: errors / requests,
    compared: requests - errors,
    agreed,
    agreement: agreed / (requests - errors),
  });

  it.each([
    { summary: replay(0, 95), maxErrorRate: 0, errorPassed: true, minAgreement: 0.95, agreementPassed: true },
    { summary: replay(1, 99), maxErrorRate: 0, errorPassed: false, minAgreement: 0.95, agreementPassed: true },
    { summary: replay(1, 90), maxErrorRate: 0.01, errorPassed: true, minAgreement: 0.95, agreementPassed: false },
    { summary: replay(0, 94), maxErrorRate: 0, errorPassed: true, minAgreement: 0.95, agreementPassed: false },
    { summary: replay(0, 0, 10), maxErrorRate: 0, errorPassed: true, minAgreement: 0, agreementPassed: true },
  ])('errors $summary.errors, agreed $summary.agreed', ({ summary, maxErrorRate, errorPassed, minAgreement, agreementPassed }) => {
    const errors = replayErrorRule(summary, maxErrorRate);
    expect(errors).toMatchObject({ rule: 'replay-error-rate', passed: errorPassed, observed: summary.errorRate, threshold: maxErrorRate });
    expect(errors.reason).toBe(errorPassed ? undefined : 'REPLAY_ERROR_RATE');
    const agreement = replayAgreementRule(summary, minAgreement);
    expect(agreement).toMatchObject({ rule: 'replay-agreement', passed: agreementPassed, observed: summary.agreement, threshold: minAgreement, bound: 'min' });
    expect(agreement.reason).toBe(agreementPassed ? undefined : 'REPLAY_DISAGREEMENT');
  });
});

describe('stage rules', () => {
  it('manifest and contract pass with no issue and fail with any, keeping the issues', () => {
    expect(manifestRule([])).toEqual({ rule: 'manifest', passed: true, observed: 0, bound: 'max', threshold: 0 });
    const issues = [{ field: 'features', reason: 'is required' }];
    expect(manifestRule(issues)).toMatchObject({ passed: false, reason: 'MANIFEST_INVALID', issues, observed: 1 });
    expect(contractRule(issues)).toMatchObject({ rule: 'contract', passed: false, reason: 'CONTRACT_MISMATCH', issues });
  });

  it('checksum compares the sha256 of the file with the manifest', () => {
    expect(checksumRule('a'.repeat(64), 'a'.repeat(64)).passed).toBe(true);
    expect(checksumRule('a'.repeat(64), 'b'.repeat(64))).toEqual({
      rule: 'checksum',
      passed: false,
      reason: 'CHECKSUM_MISMATCH',
      observed: 'b'.repeat(64),
      bound: 'equal',
      threshold: 'a'.repeat(64),
    });
  });

  it('model load keeps the runtime message', () => {
    expect(modelLoadRule()).toEqual({ rule: 'model-load', passed: true });
    expect(modelLoadRule('no locale en_US.UTF-8')).toEqual({ rule: 'model-load', passed: false, reason: 'MODEL_LOAD_FAILED', detail: 'no locale en_US.UTF-8' });
  });
});

const sha256 = 'ab'.repeat(32);
const champion: Manifest = {
  schemaVersion: '1',
  name: 'churn',
  version: '1',
  task: 'binary-classification',
  features: [
    { name: 'tenure', type: 'integer' },
    { name: 'plan', type: 'string', categories: ['basic', 'pro'] },
  ],
  inputs: [
    { name: 'tenure', dtype: 'float32', features: ['tenure'] },
    { name: 'plan', dtype: 'string', features: ['plan'] },
  ],
  outputs: { label: 'label', probabilities: 'probabilities' },
  classLabels: ['No', 'Yes'],
  model: { file: 'model.onnx', sha256 },
};
const candidate: Manifest = {
  ...champion,
  version: '2',
  validation: { gates: { rocAuc: { min: 0.75 }, logLoss: { max: 0.5 } } },
};
const goodHoldout = { candidate: { rocAuc: 0.83, logLoss: 0.42, accuracy: 0.8 }, champion: { rocAuc: 0.82, logLoss: 0.44, accuracy: 0.79 } };
const goodReplay: ReplaySummary = { requests: 200, errors: 0, errorRate: 0, compared: 200, agreed: 196, agreement: 0.98 };
const sound: ValidationEvidence = {
  manifestIssues: [],
  candidate,
  modelSize: { bytes: 3_145_728, limit: 268_435_456 },
  checksum: { expected: sha256, actual: sha256 },
  load: {},
  contractIssues: [],
  champion,
  holdout: goodHoldout,
  timing: { initMs: 1200, p99Ms: 4.5 },
  replay: goodReplay,
};

describe('validationReport', () => {
  it('accepts a candidate that passes every rule, listing each', () => {
    const report = validationReport(sound);
    expect(report.verdict).toBe('accepted');
    expect(report.reasons).toEqual([]);
    expect(report.skipped).toEqual([]);
    expect(report.results.map((r) => `${r.rule}${r.metric ? `:${r.metric}:${r.bound}` : ''}`)).toEqual([
      'manifest',
      'model-size',
      'checksum',
      'model-load',
      'contract',
      'schema-compatibility',
      'metric-gate:rocAuc:min',
      'metric-gate:logLoss:max',
      'non-inferiority:rocAuc:min',
      'init-time',
      'latency-p99',
      'replay-error-rate',
      'replay-agreement',
    ]);
    expect(report.results.every((r) => r.passed)).toBe(true);
  });

  it.each<{ name: string; evidence: ValidationEvidence; reasons: string[] }>([
    { name: 'an invalid manifest', evidence: { manifestIssues: [{ field: 'task', reason: 'is required' }] }, reasons: ['MANIFEST_INVALID'] },
    { name: 'no manifest at all', evidence: {}, reasons: ['MANIFEST_INVALID'] },
    { name: 'a model file above its size limit', evidence: { ...sound, modelSize: { bytes: 268_435_457, limit: 268_435_456 } }, reasons: ['MODEL_TOO_LARGE'] },
    { name: 'a checksum mismatch', evidence: { ...sound, checksum: { expected: sha256, actual: 'cd'.repeat(32) } }, reasons: ['CHECKSUM_MISMATCH'] },
    { name: 'a model that does not load', evidence: { ...sound, load: { error: 'bad locale' } }, reasons: ['MODEL_LOAD_FAILED'] },
    { name: 'a contract mismatch', evidence: { ...sound, contractIssues: [{ field: 'outputs.label', reason: 'no output "label"' }] }, reasons: ['CONTRACT_MISMATCH'] },
    {
      name: 'a breaking schema change',
      evidence: { ...sound, candidate: { ...candidate, features: [champion.features[0] as never, { name: 'plan', type: 'string', categories: ['pro'] }] } },
      reasons: ['SCHEMA_INCOMPATIBLE'],
    },
    {
      name: 'a metric below its gate',
      evidence: { ...sound, holdout: { ...goodHoldout, candidate: { ...goodHoldout.candidate, rocAuc: 0.7 } } },
      reasons: ['METRIC_BELOW_GATE', 'WORSE_THAN_CHAMPION'],
    },
    { name: 'a metric above its gate', evidence: { ...sound, holdout: { ...goodHoldout, candidate: { ...goodHoldout.candidate, logLoss: 0.6 } } }, reasons: ['METRIC_ABOVE_GATE'] },
    {
      name: 'worse than the champion beyond the margin',
      evidence: { ...sound, holdout: { ...goodHoldout, candidate: { ...goodHoldout.candidate, rocAuc: 0.8 } } },
      reasons: ['WORSE_THAN_CHAMPION'],
    },
    { name: 'a champion but no holdout', evidence: { ...sound, candidate: champion, holdout: undefined }, reasons: ['METRIC_UNAVAILABLE'] },
    { name: 'slow cold start', evidence: { ...sound, timing: { initMs: 12_000, p99Ms: 4 } }, reasons: ['INIT_BUDGET'] },
    { name: 'slow predictions', evidence: { ...sound, timing: { initMs: 100, p99Ms: 51 } }, reasons: ['LATENCY_BUDGET'] },
    { name: 'replay errors', evidence: { ...sound, replay: { ...goodReplay, errors: 2, errorRate: 0.01 } }, reasons: ['REPLAY_ERROR_RATE'] },
    { name: 'replay disagreement', evidence: { ...sound, replay: { ...goodReplay, agreed: 180, agreement: 0.9 } }, reasons: ['REPLAY_DISAGREEMENT'] },
    {
      name: 'several failures: every reason once, in stage order',
      evidence: { ...sound, timing: { initMs: 20_000, p99Ms: 80 }, holdout: { ...goodHoldout, candidate: { rocAuc: 0.7, logLoss: 0.7 } } },
      reasons: ['METRIC_BELOW_GATE', 'METRIC_ABOVE_GATE', 'WORSE_THAN_CHAMPION', 'INIT_BUDGET', 'LATENCY_BUDGET'],
    },
  ])('rejects $name', ({ evidence, reasons }) => {
    const report = validationReport(evidence);
    expect(report.verdict).toBe('rejected');
    expect(report.reasons).toEqual(reasons);
  });

  it('stops at a failed early stage and lists the rules it skipped', () => {
    const report = validationReport({ ...sound, load: { error: 'bad locale' } });
    expect(report.results.map((r) => [r.rule, r.passed])).toEqual([
      ['manifest', true],
      ['model-size', true],
      ['checksum', true],
      ['model-load', false],
    ]);
    expect(report.skipped.map((s) => s.rule)).toEqual([
      'contract',
      'schema-compatibility',
      'metric-gate',
      'non-inferiority',
      'init-time',
      'latency-p99',
      'replay-error-rate',
      'replay-agreement',
    ]);
    expect(new Set(report.skipped.map((s) => s.because))).toEqual(new Set(['EARLIER_STAGE_FAILED']));
  });

  it('accepts the first version of a model without a champion, skipping what needs one', () => {
    const report = validationReport({ ...sound, champion: undefined, holdout: { candidate: goodHoldout.candidate }, replay: undefined });
    expect(report.verdict).toBe('accepted');
    expect(report.skipped).toEqual([
      { rule: 'schema-compatibility', because: 'NO_CHAMPION' },
      { rule: 'non-inferiority', because: 'NO_CHAMPION' },
      { rule: 'replay-error-rate', because: 'NO_REPLAY_TRAFFIC' },
      { rule: 'replay-agreement', because: 'NO_REPLAY_TRAFFIC' },
    ]);
  });

  it('skips what was not measured, and the champion comparison when the champion could not be evaluated', () => {
    const report = validationReport({ ...sound, candidate: champion, timing: undefined, holdout: { candidate: goodHoldout.candidate } });
    expect(report.verdict).toBe('accepted');
    expect(report.skipped).toEqual([
      { rule: 'metric-gate', because: 'NO_GATES' },
      { rule: 'non-inferiority', because: 'CHAMPION_NOT_EVALUATED' },
      { rule: 'init-time', because: 'NOT_MEASURED' },
      { rule: 'latency-p99', because: 'NOT_MEASURED' },
    ]);
  });

  it('takes thresholds from the candidate manifest: margin, primary metric, budgets, replay', () => {
    const tuned: Manifest = {
      ...candidate,
      validation: {
        primaryMetric: 'logLoss',
        nonInferiorityMargin: 0.05,
        latency: { p99Ms: 100, initMs: 30_000 },
        replay: { minAgreement: 0.8, maxErrorRate: 0.02 },
      },
    };
    const report = validationReport({
      ...sound,
      candidate: tuned,
      holdout: { candidate: { rocAuc: 0.5, logLoss: 0.48 }, champion: { rocAuc: 0.82, logLoss: 0.44 } },
      timing: { initMs: 25_000, p99Ms: 90 },
      replay: { ...goodReplay, errors: 2, errorRate: 0.01, agreed: 170, agreement: 0.85 },
    });
    expect(report.verdict).toBe('accepted');
    const nonInferiority = report.results.find((r) => r.rule === 'non-inferiority');
    expect(nonInferiority).toMatchObject({ metric: 'logLoss', observed: 0.48, champion: 0.44, margin: 0.05, bound: 'max' });
  });

  it('accepts a breaking change the candidate explicitly allows, and says so', () => {
    const breaking: Manifest = {
      ...candidate,
      features: [champion.features[0] as never, { name: 'plan', type: 'string', categories: ['pro'] }],
      validation: { ...candidate.validation, allowBreakingChanges: true },
    };
    const report = validationReport({ ...sound, candidate: breaking });
    expect(report.verdict).toBe('accepted');
    const compatibility = report.results.find((r) => r.rule === 'schema-compatibility');
    expect(compatibility).toMatchObject({ passed: true, observed: 1, allowed: true });
    expect(describeResult(compatibility as never)).toContain('allowed by validation.allowBreakingChanges');
  });

  it('skips replay agreement without a champion but still checks replay errors', () => {
    const report = validationReport({ ...sound, champion: undefined, replay: { requests: 10, errors: 1, errorRate: 0.1, compared: 0, agreed: 0 } });
    expect(report.reasons).toEqual(['REPLAY_ERROR_RATE']);
    expect(report.skipped).toContainEqual({ rule: 'replay-agreement', because: 'NO_CHAMPION' });
  });
});

describe('gate text', () => {
  it('has words for every reason', () => {
    for (const reason of REJECTION_REASONS) expect(REASON_TEXT[reason]).toMatch(/\w/);
  });

  it('describes a report: the verdict with reasons, then one line per rule with the numbers', () => {
    const report = validationReport({ ...sound, timing: { initMs: 100, p99Ms: 61.25 }, holdout: { ...goodHoldout, candidate: { ...goodHoldout.candidate, rocAuc: 0.7 } } });
    const text = describeReport(report);
    expect(text.split('\n')[0]).toBe(
      'rejected: METRIC_BELOW_GATE (a holdout metric is below its gate); WORSE_THAN_CHAMPION (worse than the live champion on the same holdout); LATENCY_BUDGET (p99 latency exceeds its budget)',
    );
    expect(text).toContain('FAIL  holdout gate rocAuc: 0.7 (gate >= 0.75)');
    expect(text).toContain('FAIL  non-inferiority rocAuc: 0.7 against champion 0.82 (must be >= 0.81, margin 0.01)');
    expect(text).toContain('FAIL  p99 latency: 61.25 ms (budget 50 ms)');
    expect(text).toContain('pass  replay agreement: 98% agree with the champion (at least 95%)');
  });

  it('says how large the model is against its limit, and stops there when it is too large', () => {
    const report = validationReport({ ...sound, modelSize: { bytes: 157_286_400, limit: 134_217_728 } });
    expect(describeReport(report).split('\n').slice(0, 3)).toEqual([
      'rejected: MODEL_TOO_LARGE (the model file is larger than its size limit)',
      'pass  manifest: ok',
      'FAIL  model size: 150 MiB (157286400 bytes), above the limit of 128 MiB (134217728 bytes) (model.maxBytes)',
    ]);
    expect(report.skipped.map((s) => s.rule)).toContain('checksum');
    expect(describeResult(validationReport(sound).results[1] as never)).toBe(
      'pass  model size: 3 MiB (3145728 bytes), within the limit of 256 MiB (268435456 bytes) (model.maxBytes)',
    );
  });

  it('lists schema changes under the compatibility rule', () => {
    const broken: Manifest = { ...candidate, features: [champion.features[0] as never] };
    const line = describeResult(compatibilityRule(compareSchemas(champion, broken)));
    expect(line).toBe('FAIL  schema compatibility: 1 breaking, 0 compatible change(s)\n      features.plan: feature removed: clients that send it get a 400 (breaking)');
  });
});
