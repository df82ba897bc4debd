// The manifest's `validation` and `rollout` sections: what the schema accepts and what parseManifest checks
// against the rest of the manifest. The complete example in docs/bundle.md must parse.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ManifestError, type Issue } from '../../lambdas/core/errors';
import { parseManifest } from '../../lambdas/core/manifest';
import { metricProblem, primaryMetric } from '../../lambdas/core/promotion/defaults';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Draft = Record<string, any>;

const binary = (extra: Draft = {}): Draft => ({
  schemaVersion: '1',
  name: 'churn',
  version: '3',
  task: 'binary-classification',
  features: [
    { name: 'x', type: 'number' },
    { name: 'plan', type: 'string', categories: ['basic', 'pro'] },
  ],
  inputs: [
    { name: 'x', dtype: 'float32', features: ['x'] },
    { name: 'plan', dtype: 'string', features: ['plan'] },
  ],
  outputs: { label: 'label', probabilities: 'probabilities' },
  classLabels: [0, 1],
  model: { file: 'model.onnx', sha256: 'ab'.repeat(32) },
  ...extra,
});

function issuesOf(draft: Draft): Issue[] {
  try {
    parseManifest(draft);
  } catch (error) {
    if (error instanceof ManifestError) return [...error.issues];
    throw error;
  }
  return [];
}

describe('manifest validation and rollout sections', () => {
  it.each<Draft>([
    { validation: {} },
    { validation: { gates: { rocAuc: { min: 0.8 }, logLoss: { max: 0.5 }, accuracy: { min: 0.7, max: 1 } } } },
    { validation: { primaryMetric: 'f1', nonInferiorityMargin: 0, latency: { p99Ms: 20, initMs: 5000 }, replay: { minAgreement: 0.9, maxErrorRate: 0.001, valueTolerance: 0.1 } } },
    { validation: { allowBreakingChanges: true, holdout: { target: 'churned' } } },
    { validation: { holdout: { file: 'eval.csv', target: 'churned' } } },
    { rollout: { strategy: 'canary' } },
    { rollout: { strategy: 'canary', canary: { weight: 0.05, bakeMinutes: 60 } } },
    { rollout: { strategy: 'linear', linear: { steps: 10, intervalMinutes: 1 } } },
    { rollout: { strategy: 'ab-test', abTest: { weight: 0.5 }, canary: { weight: 0.2 } } },
    { rollout: { strategy: 'shadow', shadow: { sampleRate: 1 } } },
    { rollout: { strategy: 'all-at-once' } },
  ])('accepts %j', (extra) => {
    expect(issuesOf(binary(extra))).toEqual([]);
  });

  it.each<[Draft, Issue[]]>([
    [{ validation: { gates: { auc: { min: 0.8 } } } }, [{ field: 'validation.gates.auc', reason: 'is not a known field' }]],
    [{ validation: { gates: { rocAuc: {} } } }, [{ field: 'validation.gates.rocAuc', reason: 'must NOT have fewer than 1 properties' }]],
    [{ validation: { gates: { rocAuc: { minimum: 0.8 } } } }, [{ field: 'validation.gates.rocAuc.minimum', reason: 'is not a known field' }]],
    [{ validation: { nonInferiorityMargin: -0.01 } }, [{ field: 'validation.nonInferiorityMargin', reason: 'must be >= 0' }]],
    [{ validation: { latency: { p99Ms: 0 } } }, [{ field: 'validation.latency.p99Ms', reason: 'must be > 0' }]],
    [{ validation: { replay: { minAgreement: 1.5 } } }, [{ field: 'validation.replay.minAgreement', reason: 'must be <= 1' }]],
    [{ validation: { holdout: {} } }, [{ field: 'validation.holdout.target', reason: 'is required' }]],
    [{ validation: { holdout: { file: '../h.csv', target: 'y' } } }, [{ field: 'validation.holdout.file', reason: 'must match pattern "^[^/\\\\]+\\.csv$"' }]],
    [{ validation: { primaryMetric: 'auc' } }, [{ field: 'validation.primaryMetric', reason: expect.stringMatching(/^must be one of "accuracy"/) as unknown as string }]],
    [{ rollout: {} }, [{ field: 'rollout.strategy', reason: 'is required' }]],
    [{ rollout: { strategy: 'blue-green' } }, [{ field: 'rollout.strategy', reason: expect.stringMatching(/^must be one of "canary", "linear"/) as unknown as string }]],
    // A Lambda alias's additional version takes a weight below 1; all traffic is a switch of the primary version.
    [{ rollout: { strategy: 'canary', canary: { weight: 1 } } }, [{ field: 'rollout.canary.weight', reason: 'must be < 1' }]],
    [{ rollout: { strategy: 'ab-test', abTest: { weight: 0 } } }, [{ field: 'rollout.abTest.weight', reason: 'must be > 0' }]],
    [{ rollout: { strategy: 'linear', linear: { steps: 0 } } }, [{ field: 'rollout.linear.steps', reason: 'must be >= 1' }]],
    [{ rollout: { strategy: 'linear', linear: { steps: 2.5 } } }, [{ field: 'rollout.linear.steps', reason: 'must be integer' }]],
    [{ rollout: { strategy: 'shadow', shadow: { sampleRate: 0 } } }, [{ field: 'rollout.shadow.sampleRate', reason: 'must be > 0' }]],
  ])('rejects %j', (extra, issues) => {
    expect(issuesOf(binary(extra))).toEqual(issues);
  });

  it.each<[Draft, Issue[]]>([
    [
      { validation: { gates: { mae: { max: 2 } } } },
      [
        {
          field: 'validation.gates.mae',
          reason: expect.stringMatching(
            /^is not a binary-classification metric \(binary-classification: accuracy, precision, recall, f1, rocAuc, logLoss, calibrationError\)$/,
          ) as unknown as string,
        },
      ],
    ],
    [{ validation: { gates: { rocAuc: { min: 0.9, max: 0.8 } } } }, [{ field: 'validation.gates.rocAuc.min', reason: 'min 0.9 is greater than max 0.8' }]],
    [{ outputs: { label: 'label' }, validation: { gates: { logLoss: { max: 0.5 } } } }, [{ field: 'validation.gates.logLoss', reason: 'needs a probabilities output' }]],
    [{ outputs: { label: 'label' }, validation: { gates: { rocAuc: { min: 0.5 } } } }, [{ field: 'validation.gates.rocAuc', reason: 'needs a probabilities or scores output' }]],
    [
      { validation: { primaryMetric: 'r2' } },
      [{ field: 'validation.primaryMetric', reason: expect.stringMatching(/^r2 is not a binary-classification metric/) as unknown as string }],
    ],
    [{ validation: { holdout: { target: 'plan' } } }, [{ field: 'validation.holdout.target', reason: '"plan" is a feature; the target must be another column' }]],
  ])('checks %j against the rest of the manifest', (extra, issues) => {
    expect(issuesOf(binary(extra))).toEqual(issues);
  });

  it('allows calibrationError for binary only, and rocAuc from scores', () => {
    const multiclass = binary({ task: 'multiclass-classification', classLabels: [0, 1, 2] });
    expect(metricProblem(multiclass as never, 'calibrationError')).toMatch(/is not a multiclass-classification metric/);
    expect(metricProblem(binary({ outputs: { label: 'l', scores: 's' } }) as never, 'rocAuc')).toBeUndefined();
  });

  it.each([
    ['a binary classifier with probabilities', binary(), 'rocAuc'],
    ['a binary classifier with labels only', binary({ outputs: { label: 'label' } }), 'accuracy'],
    ['a multiclass classifier', binary({ task: 'multiclass-classification', classLabels: [0, 1, 2] }), 'accuracy'],
    ['a regression', binary({ task: 'regression', outputs: { value: 'v' } }), 'rmse'],
    ['a manifest that names it', binary({ validation: { primaryMetric: 'f1' } }), 'f1'],
  ])('the primary metric of %s is %s', (_, draft, metric) => {
    expect(primaryMetric(draft as never)).toBe(metric);
  });
});

describe('docs/bundle.md', () => {
  it('has a complete example that parses', () => {
    const doc = readFileSync(new URL('../../docs/bundle.md', import.meta.url), 'utf8');
    const example = /## A complete example[\s\S]*?```json\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(example).toBeDefined();
    const manifest = parseManifest(JSON.parse(example as string));
    expect(manifest.validation?.gates).toBeDefined();
    expect(manifest.rollout?.strategy).toBeDefined();
    expect(manifest.baseline).toBeDefined();
  });
});
