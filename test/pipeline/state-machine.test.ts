// The promotion state machine exactly as CDK synthesizes it, executed by aws-local-stepfunctions branch by
// branch. The routing function is the real one (real rollout plans, a recording alias); the registry,
// validation, provision and publish functions are scripted per scenario, so each test says what the pipeline
// was told and checks what it did: the states it went through, the alias writes, the stack operations, the
// alarms created and deleted, the API deployments, the notices and the lock.
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LambdaControl } from '../../lambdas/adapters/lambda-control';
import { notification } from '../../lambdas/core/pipeline/notification';
import type { RoutedVersion } from '../../lambdas/core/pipeline/registry-types';
import type { ExecutableStep } from '../../lambdas/core/pipeline/rollout';
import type { RolloutSpec } from '../../lambdas/core/manifest';
import type { AliasRouting } from '../../lambdas/core/promotion/rollout-plan';
import { REJECTION_REASONS } from '../../lambdas/core/promotion/gates';
import { routingAction, type RoutingRequest } from '../../lambdas/use-cases/routing-actions';
import type { RegistryRequest } from '../../lambdas/use-cases/registry-actions';
import type { ProvisionRequest } from '../../lambdas/use-cases/provision-model';
import { placeholderContext, stateMachinesFromTemplate } from '../../local/state-machine-definitions';
import { startExecution, type ExecutionOutcome, type StateMachineDefinition } from '../../local/state-machine-runner';
import type { CfnTemplate } from '../../local/template';
import { fastDeployment } from '../infra/support';

let definition: StateMachineDefinition;

beforeAll(() => {
  const stack = fastDeployment();
  const template = Template.fromStack(stack).toJSON() as CfnTemplate;
  const [machine] = stateMachinesFromTemplate(template, placeholderContext(template));
  definition = (machine as { definition: StateMachineDefinition }).definition;
});

const CHAMPION: RoutedVersion = { version: '1', lambdaVersion: '3' };
const ENDED_HOLDER = 'arn:aws:states:us-east-1:000000000000:execution:Pipeline:stopped-by-hand';
const LAMBDA_VERSION = '7';

const uploadEvent = (version = '2') => ({
  version: '0',
  id: 'event-1',
  'detail-type': 'Object Created',
  source: 'aws.s3',
  time: '2025-06-01T00:00:00Z',
  detail: { bucket: { name: 'models-bucket' }, object: { key: `candidates/churn/${version}/manifest.json`, size: 100, etag: 'abc' } },
});

interface Scenario {
  readonly duplicate?: boolean;
  /** The deployment does not admit the model (MODEL_NOT_DECLARED). */
  readonly notDeclared?: boolean;
  /** The model's stack: none yet (created), current (nothing to do, the default), or settings changed (updated). */
  readonly stack?: 'absent' | 'current' | 'changed';
  /** DescribeStacks answers "in progress" this many times before done. */
  readonly stackPolls?: number;
  /** CloudFormation fails the stack operation. */
  readonly stackFails?: boolean;
  /** Every SNS publish fails. */
  readonly snsDown?: boolean;
  /** The apply-step call moves the alias, then fails before answering. */
  readonly applyStepFailsAfterMove?: boolean;
  /** record-step answers that these versions left traffic. */
  readonly retiredByStep?: readonly string[];
  /** acquire-lock answers, in order (then acquired), for a holder that is running. */
  readonly lockBusy?: number;
  /** The lock is held by an execution that has ended without freeing it (stopped by hand), or that Step Functions no longer knows. */
  readonly lockHeldByEnded?: 'ABORTED' | 'gone';
  readonly verdict?: 'accepted' | 'rejected';
  readonly reasons?: readonly string[];
  readonly rollout?: RolloutSpec;
  readonly champion?: RoutedVersion | null;
  /** The CheckAlarms call (1-based) at which an alarm is in ALARM. */
  readonly alarmAtCheck?: number;
  /** The bake tick (1-based) at which an operator asked to take over. */
  readonly preemptAtTick?: number;
  readonly publishFails?: boolean;
  readonly controlFails?: boolean;
  /** Lambda refuses this many task invocations (the account's concurrency used up) before it runs them. */
  readonly throttledInvocations?: number;
}

interface Run {
  readonly outcome: ExecutionOutcome;
  readonly states: string[];
  readonly aliasWrites: AliasRouting[];
  readonly notices: { subject: string; message: string }[];
  readonly registryActions: string[];
  readonly alarmsCreated: string[];
  readonly alarmsDeleted: string[];
  readonly provisions: string[];
  /** What the publish function was asked to copy: the files and the object versions validation read. */
  readonly publishRequests: { files: string[]; objectVersions: Record<string, string> }[];
  readonly apiDeployments: number;
  readonly lockHeld: () => boolean;
}

async function run(input: unknown, scenario: Scenario = {}): Promise<Run> {
  const aliasWrites: AliasRouting[] = [];
  const notices: { subject: string; message: string }[] = [];
  const registryActions: string[] = [];
  const alarmsCreated: string[] = [];
  const alarmsDeleted: string[] = [];
  const provisions: string[] = [];
  const publishRequests: Run['publishRequests'] = [];
  const existingAlarms = new Set(['modelgate-dev/churn/v1/error-rate-critical', 'modelgate-dev/churn/v1/drift-share-warning', 'modelgate-dev/churn-v1/vx/error-rate-critical']);
  let apiDeployments = 0;
  let polls = 0;
  let lockBusy = scenario.lockBusy ?? 0;
  let lockHolder: string | undefined = scenario.lockHeldByEnded ? ENDED_HOLDER : undefined;
  let checks = 0;
  let ticks = 0;
  let throttled = scenario.throttledInvocations ?? 0;
  const lambda = {
    setRouting: async (fn: string, routing: AliasRouting) => {
      expect(fn).toBe('modelgate-dev-model-churn');
      aliasWrites.push(routing);
      if (scenario.applyStepFailsAfterMove && aliasWrites.length === 1) throw Object.assign(new Error('the task timed out after UpdateAlias'), { name: 'States.Timeout' });
    },
  } as unknown as LambdaControl;

  const provision = async (request: ProvisionRequest): Promise<unknown> => {
    provisions.push(request.action === 'progress' ? `progress:${request.expect}` : request.action);
    const stackName = 'modelgate-dev-model-churn';
    switch (request.action) {
      case 'ensure': {
        const state = scenario.stack ?? 'current';
        if (state === 'current') return { stackName, pending: false, again: false, memoryMb: 256, memoryReason: 'sized' };
        return { stackName, pending: true, expect: state === 'absent' ? 'create' : 'update', again: false, memoryMb: 256, memoryReason: 'sized' };
      }
      case 'progress':
        if (polls++ < (scenario.stackPolls ?? 0)) return { done: false };
        if (scenario.stackFails)
          throw Object.assign(new Error(`${stackName}: ROLLBACK_COMPLETE: InferenceFunction (AWS::Lambda::Function): memory above the account limit`), {
            name: 'ProvisioningError',
          });
        return { done: true };
      case 'unserve':
        return { stackName, pending: true, expect: 'update', again: false };
      case 'delete':
        return { stackName, pending: true, expect: 'delete', again: false };
    }
  };

  const registry = async (request: RegistryRequest): Promise<unknown> => {
    registryActions.push(request.action);
    switch (request.action) {
      case 'register':
        return {
          model: 'churn',
          version: '2',
          bucket: 'models-bucket',
          candidatePrefix: 'candidates/churn/2/',
          modelPrefix: 'models/churn/2/',
          duplicate: scenario.duplicate ?? false,
          ...(scenario.duplicate
            ? { notice: notification({ event: 'duplicate', model: 'churn', version: '2', reasons: ['DUPLICATE_VERSION'], summary: 'registered already' }) }
            : {}),
          ...(scenario.duplicate ? {} : { admitted: !scenario.notDeclared }),
          ...(scenario.notDeclared ? { notice: notification({ event: 'rejected', model: 'churn', version: '2', reasons: ['MODEL_NOT_DECLARED'], summary: 'not declared' }) } : {}),
        };
      case 'acquire-lock':
        if (lockBusy > 0) {
          lockBusy--;
          return { acquired: false, holder: 'other' };
        }
        if (lockHolder !== undefined && lockHolder !== request.executionId) return { acquired: false, holder: lockHolder };
        lockHolder = request.executionId;
        return { acquired: true };
      case 'take-over-lock':
        if (lockHolder !== request.from) return { acquired: false, holder: lockHolder };
        lockHolder = request.executionId;
        return { acquired: true };
      case 'release-lock':
        if (lockHolder === request.executionId) lockHolder = undefined;
        return { released: true };
      case 'mark-validating':
        return {};
      case 'record-validation':
        return request.validation.verdict === 'accepted'
          ? { accepted: true }
          : { accepted: false, notice: notification({ event: 'rejected', model: 'churn', version: '2', reasons: request.validation.reasons, summary: 'rejected' }) };
      case 'record-step': {
        const retiredAlarmPrefixes = request.step.last ? (scenario.retiredByStep ?? []).map((v) => `modelgate-dev/churn/v${v}/`) : [];
        return request.step.last
          ? { retiredAlarmPrefixes, notice: notification({ event: 'promoted', model: 'churn', version: '2', summary: request.step.status }) }
          : { retiredAlarmPrefixes };
      }
      case 'bake-tick':
        ticks++;
        return { checks: request.bake.checks - 1, checkSeconds: request.bake.checkSeconds, preempted: ticks === scenario.preemptAtTick };
      case 'record-rollback':
        return {
          retiredAlarmPrefixes: ['modelgate-dev/churn/v2/'],
          notice: notification({ event: 'rolled-back', model: 'churn', version: '2', reasons: ['ALARM'], summary: request.alarms.join(', ') }),
        };
      case 'record-failure': {
        const reason = request.state.error?.Error === 'ProvisioningError' ? 'PROVISIONING_FAILED' : 'PIPELINE_ERROR';
        return { notice: notification({ event: 'failed', model: 'churn', version: '2', reasons: [reason], summary: String(request.state.error?.Cause) }) };
      }
      case 'plan-control': {
        if (scenario.controlFails) {
          const error = new Error('version "9" is not registered');
          error.name = 'ControlError';
          throw error;
        }
        return { target: { version: request.request.version, lambdaVersion: '5' }, changes: [], summary: 'promoted' };
      }
      case 'record-control':
        return { retiredAlarmPrefixes: [], notice: notification({ event: 'operator', model: 'churn', version: request.control.target.version, summary: request.control.summary }) };
      case 'plan-retire':
        return { model: 'churn', serving: ['1'], alarmPrefix: 'modelgate-dev/churn/' };
      case 'record-retire':
        return { notice: notification({ event: 'retired', model: 'churn', version: '1', summary: 'churn retired' }) };
    }
  };

  const execution = startExecution(
    definition,
    input,
    {
      async lambda(arn, payload) {
        if (throttled-- > 0) throw Object.assign(new Error('Rate Exceeded.'), { name: 'Lambda.TooManyRequestsException' });
        if (arn.includes('RegistryFunction')) return registry(payload as RegistryRequest);
        if (arn.includes('RoutingFunction'))
          return routingAction({ lambda, deployment: 'modelgate-dev', bakeCheckSeconds: 60, alarmThresholds: async () => undefined }, payload as RoutingRequest);
        if (arn.includes('ProvisionFunction')) return provision(payload as ProvisionRequest);
        if (arn.includes('ValidateFunction')) {
          return {
            verdict: scenario.verdict ?? 'accepted',
            reasons: scenario.reasons ?? [],
            summary: 'report',
            gates: [],
            metrics: {},
            files: ['model.onnx', 'manifest.json'],
            objectVersions: { 'model.onnx': 'model-version-validated', 'manifest.json': 'manifest-version-validated' },
            rollout: scenario.rollout ?? { strategy: 'canary', canary: { weight: 0.1, bakeMinutes: 3 } },
            champion: scenario.champion === undefined ? CHAMPION : scenario.champion,
            memory: { footprintMb: 12, initMs: 80, p99Ms: 0.2, initBudgetMs: 10_000, latencyBudgetMs: 50 },
            alarms: { estimatedQualityDegradation: {} },
          };
        }
        if (arn.includes('PublishFunction')) {
          const { files, objectVersions } = payload as { files: string[]; objectVersions: Record<string, string> };
          publishRequests.push({ files, objectVersions });
          if (scenario.publishFails) {
            const error = new Error('UpdateFunctionConfiguration failed');
            error.name = 'FunctionUpdateError';
            throw error;
          }
          return { lambdaVersion: LAMBDA_VERSION, functionName: 'modelgate-dev-model-churn', modelPrefix: 'models/churn/2/' };
        }
        throw new Error(`unexpected function ${arn}`);
      },
      async snsPublish(parameters) {
        if (scenario.snsDown) throw Object.assign(new Error('KMS.AccessDeniedException: the topic key denies the publisher'), { name: 'SNS.KMSAccessDeniedException' });
        notices.push({ subject: String(parameters.Subject), message: String(parameters.Message) });
        return { MessageId: `m-${notices.length}` };
      },
      async awsSdk(service, action, parameters) {
        if (service === 'apigateway' && action === 'createDeployment') {
          apiDeployments++;
          return { id: `d${apiDeployments}` };
        }
        if (service === 'sfn' && action === 'describeExecution') {
          if (parameters.ExecutionArn !== ENDED_HOLDER) return { Status: 'RUNNING' };
          if (scenario.lockHeldByEnded === 'gone') throw Object.assign(new Error(`Execution Does Not Exist: '${ENDED_HOLDER}'`), { name: 'Sfn.ExecutionDoesNotExistException' });
          return { Status: scenario.lockHeldByEnded };
        }
        if (action === 'putMetricAlarm') {
          alarmsCreated.push(String(parameters.AlarmName));
          existingAlarms.add(String(parameters.AlarmName));
          return {};
        }
        if (action === 'deleteAlarms') {
          for (const name of parameters.AlarmNames as string[]) {
            alarmsDeleted.push(name);
            existingAlarms.delete(name);
          }
          return {};
        }
        expect(`${service}:${action}`).toBe('cloudwatch:describeAlarms');
        if (parameters.StateValue === undefined) {
          const prefix = String(parameters.AlarmNamePrefix);
          return { MetricAlarms: [...existingAlarms].filter((name) => name.startsWith(prefix)).map((AlarmName) => ({ AlarmName })), CompositeAlarms: [] };
        }
        expect(parameters.StateValue).toBe('ALARM');
        expect(parameters.AlarmNames).toContain('modelgate-dev/churn/v2/error-rate-critical');
        expect((parameters.AlarmNames as string[]).every((name) => name.startsWith('modelgate-dev/churn/v2/') && name.endsWith('-critical'))).toBe(true);
        checks++;
        return { MetricAlarms: checks === scenario.alarmAtCheck ? [{ AlarmName: 'modelgate-dev/churn/v2/error-rate-critical', StateValue: 'ALARM' }] : [], CompositeAlarms: [] };
      },
    },
    {
      waitOverridesMs: { Bake: 0, WaitForLock: 0, WaitForControlLock: 0, StackWait: 0, UnserveWait: 0, DeleteWait: 0 },
      // Retries still happen, as many as the definition allows; only their pauses (2 s doubling) are skipped.
      retryPauseMs: 0,
      execution: { id: 'arn:aws:states:us-east-1:000000000000:execution:Pipeline:test', name: 'test', startTime: new Date().toISOString() },
    },
  );
  const outcome = await execution.done;
  const states = outcome.events.filter((e) => e.type === 'StateEntered').map((e) => e.stateName as string);
  return {
    outcome,
    states,
    aliasWrites,
    notices,
    registryActions,
    alarmsCreated,
    alarmsDeleted,
    provisions,
    publishRequests,
    apiDeployments,
    lockHeld: () => lockHolder !== undefined,
  };
}

const subjects = (r: Run) => r.notices.map((n) => n.subject);

describe('the promotion state machine (synthesized definition, aws-local-stepfunctions)', () => {
  it('canary: validated, 10% for the bake with alarms checked each minute, then all traffic; lock released', async () => {
    const r = await run(uploadEvent());
    expect(r.outcome.status, JSON.stringify(r.outcome)).toBe('SUCCEEDED');
    expect(r.aliasWrites).toEqual([{ version: '3', additionalVersion: '7', additionalWeight: 0.1 }, { version: '7' }]);
    expect(r.states.filter((s) => s === 'CheckAlarms')).toHaveLength(3);
    expect(r.states).toEqual(
      expect.arrayContaining([
        'Register',
        'AcquireLock',
        'MarkValidating',
        'Validate',
        'RecordValidation',
        'Publish',
        'PlanRollout',
        'Bake',
        'NotifyOutcome',
        'ReleaseLock',
        'RolledOut',
      ]),
    );
    expect(r.registryActions.filter((a) => a === 'record-step')).toHaveLength(2);
    expect(subjects(r)).toEqual(['modelgate churn v2 is live']);
    expect(r.lockHeld()).toBe(false);
    // The new version's alarms exist before it takes traffic (the monitoring convention's names), and the model's
    // batch alarms are put again beside them.
    expect(r.alarmsCreated).toContain('modelgate-dev/churn/v2/error-rate-critical');
    expect(r.alarmsCreated.filter((name) => !name.startsWith('modelgate-dev/churn/v2/')).sort()).toEqual([
      'modelgate-dev/churn/batch/drift-share-critical',
      'modelgate-dev/churn/batch/drift-share-warning',
      'modelgate-dev/churn/batch/prediction-drift-warning',
    ]);
    expect(r.states.indexOf('CreateAlarms')).toBeLessThan(r.states.indexOf('ApplyStep'));
    // Publish copies the object versions validation read, not whatever is under candidates/ by then.
    expect(r.publishRequests).toEqual([
      { files: ['model.onnx', 'manifest.json'], objectVersions: { 'model.onnx': 'model-version-validated', 'manifest.json': 'manifest-version-validated' } },
    ]);
  });

  it('canary rolled back when a version-scoped alarm fires during the bake', async () => {
    const r = await run(uploadEvent(), { alarmAtCheck: 2 });
    expect(r.outcome.status).toBe('FAILED');
    expect(r.outcome.error, JSON.stringify(r.outcome.cause)).toBe('RolledBack');
    expect(r.aliasWrites).toEqual([{ version: '3', additionalVersion: '7', additionalWeight: 0.1 }, { version: '3' }]);
    expect(r.states).toEqual(expect.arrayContaining(['AlarmFiring?', 'RollBack', 'RecordRollback', 'NotifyRollback', 'ReleaseLockAfterRollback', 'RolledBack']));
    expect(subjects(r)).toEqual(['modelgate churn v2 rolled back (ALARM)']);
    expect(r.lockHeld()).toBe(false);
  });

  it.each([...REJECTION_REASONS, 'BUNDLE_INCOMPLETE'])('rejects with %s: nothing published, the alias untouched, notified, lock released', async (reason) => {
    const r = await run(uploadEvent(), { verdict: 'rejected', reasons: [reason] });
    expect(r.outcome.status).toBe('FAILED');
    expect(r.outcome.error).toBe('Rejected');
    expect(r.outcome.cause).toBe(`modelgate churn v2 rejected (${reason})`);
    expect(r.states).not.toContain('Publish');
    expect(r.aliasWrites).toEqual([]);
    expect(subjects(r)).toEqual([`modelgate churn v2 rejected (${reason})`]);
    expect(r.lockHeld()).toBe(false);
  });

  it('a duplicate upload is rejected before taking the lock', async () => {
    const r = await run(uploadEvent(), { duplicate: true });
    expect(r.outcome.status).toBe('FAILED');
    expect(r.outcome.error).toBe('DUPLICATE_VERSION');
    expect(r.registryActions).toEqual(['register']);
    expect(subjects(r)).toEqual(['modelgate churn v2 rejected as a duplicate (DUPLICATE_VERSION)']);
  });

  it('ab-test: a fixed split, no bake, the experiment stays', async () => {
    const r = await run(uploadEvent(), { rollout: { strategy: 'ab-test', abTest: { weight: 0.5 } } });
    expect(r.outcome.status).toBe('SUCCEEDED');
    expect(r.aliasWrites).toEqual([{ version: '3', additionalVersion: '7', additionalWeight: 0.5 }]);
    expect(r.states).not.toContain('Bake');
    const [step] = r.outcome.events.filter((e) => e.type === 'StateExited' && e.stateName === 'ApplyStep').map((e) => (e.output as { step: ExecutableStep }).step);
    expect(step?.status).toBe('experiment');
  });

  it('shadow: the champion keeps all traffic; the step records the mirror', async () => {
    const r = await run(uploadEvent(), { rollout: { strategy: 'shadow', shadow: { sampleRate: 0.5 } } });
    expect(r.outcome.status).toBe('SUCCEEDED');
    expect(r.aliasWrites).toEqual([{ version: '3' }]);
    const [step] = r.outcome.events.filter((e) => e.type === 'StateExited' && e.stateName === 'ApplyStep').map((e) => (e.output as { step: ExecutableStep }).step);
    expect(step?.status).toBe('shadow');
    expect(step?.routing.shadow).toEqual({ version: '2', lambdaVersion: '7', sampleRate: 0.5 });
  });

  it('linear: equal increments, each baked with alarms checked, then all traffic', async () => {
    const r = await run(uploadEvent(), { rollout: { strategy: 'linear', linear: { steps: 4, intervalMinutes: 2 } } });
    expect(r.outcome.status).toBe('SUCCEEDED');
    expect(r.aliasWrites).toEqual([
      { version: '3', additionalVersion: '7', additionalWeight: 0.25 },
      { version: '3', additionalVersion: '7', additionalWeight: 0.5 },
      { version: '3', additionalVersion: '7', additionalWeight: 0.75 },
      { version: '7' },
    ]);
    expect(r.states.filter((s) => s === 'CheckAlarms')).toHaveLength(6);
  });

  it('all-at-once: one alias write, no bake', async () => {
    const r = await run(uploadEvent(), { rollout: { strategy: 'all-at-once' } });
    expect(r.outcome.status).toBe('SUCCEEDED');
    expect(r.aliasWrites).toEqual([{ version: '7' }]);
    expect(r.states).not.toContain('Bake');
  });

  it('a first version (no champion) goes all at once whatever its strategy', async () => {
    const r = await run(uploadEvent('1'), { champion: null });
    expect(r.outcome.status).toBe('SUCCEEDED');
    expect(r.aliasWrites).toEqual([{ version: '7' }]);
  });

  it('waits for the model lock while another upload holds it', async () => {
    const r = await run(uploadEvent(), { lockBusy: 2, rollout: { strategy: 'all-at-once' } });
    expect(r.outcome.status).toBe('SUCCEEDED');
    expect(r.states.filter((s) => s === 'WaitForLock')).toHaveLength(2);
    expect(r.states.filter((s) => s === 'AcquireLock')).toHaveLength(3);
  });

  it('a task failure restores routing, records, notifies and releases the lock', async () => {
    const r = await run(uploadEvent(), { publishFails: true });
    expect(r.outcome.status).toBe('FAILED');
    expect(r.outcome.error).toBe('FunctionUpdateError');
    expect(r.states).toEqual(expect.arrayContaining(['RestoreRouting', 'RecordFailure', 'NotifyFailure', 'ReleaseLockAfterFailure', 'PipelineFailed']));
    expect(r.aliasWrites).toEqual([]);
    expect(subjects(r)).toEqual(['modelgate churn v2 pipeline failed (PIPELINE_ERROR)']);
    expect(r.lockHeld()).toBe(false);
  });

  it('a bake yields to an operator who asked for the model (promote/rollback)', async () => {
    const r = await run(uploadEvent(), { preemptAtTick: 1 });
    expect(r.outcome.status).toBe('SUCCEEDED');
    expect(r.states.slice(-2)).toEqual(['YieldToOperator', 'Yielded']);
    expect(r.aliasWrites).toEqual([{ version: '3', additionalVersion: '7', additionalWeight: 0.1 }]);
    expect(r.lockHeld()).toBe(false);
  });

  it('operator promote: lock (preempting), plan, one alias write, record, notify', async () => {
    const r = await run({ operation: 'promote', model: 'churn', version: '2' });
    expect(r.outcome.status).toBe('SUCCEEDED');
    expect(r.aliasWrites).toEqual([{ version: '5' }]);
    expect(r.registryActions).toEqual(['acquire-lock', 'plan-control', 'record-control', 'release-lock']);
    expect(subjects(r)).toEqual(['modelgate churn v2 routing changed by an operator']);
  });

  it('an impossible operator request fails with its reason and releases the lock', async () => {
    const r = await run({ operation: 'promote', model: 'churn', version: '9' }, { controlFails: true });
    expect(r.outcome.status).toBe('FAILED');
    expect(r.outcome.error).toBe('ControlError');
    expect(r.outcome.cause).toContain('version "9" is not registered');
    expect(r.aliasWrites).toEqual([]);
    expect(r.lockHeld()).toBe(false);
  });

  describe('a model of its own stack', () => {
    it('a new model: its stack is created (polled until done) before publishing; its routes go live after the first step', async () => {
      const r = await run(uploadEvent('1'), { champion: null, stack: 'absent', stackPolls: 2 });
      expect(r.outcome.status, JSON.stringify(r.outcome.cause)).toBe('SUCCEEDED');
      expect(r.provisions).toEqual(['ensure', 'progress:create', 'progress:create', 'progress:create']);
      expect(r.states.indexOf('StackProgress')).toBeLessThan(r.states.indexOf('Publish'));
      expect(r.states.indexOf('ApplyStep')).toBeLessThan(r.states.indexOf('DeployRoutes'));
      expect(r.states.indexOf('DeployRoutes')).toBeLessThan(r.states.indexOf('RecordStep'));
      expect(r.apiDeployments).toBe(1);
      expect(r.aliasWrites).toEqual([{ version: '7' }]);
    });

    it('a model whose settings changed: its stack is updated before publishing', async () => {
      const r = await run(uploadEvent(), { stack: 'changed', rollout: { strategy: 'all-at-once' } });
      expect(r.outcome.status).toBe('SUCCEEDED');
      expect(r.provisions).toEqual(['ensure', 'progress:update']);
    });

    it('a stack CloudFormation cannot create fails the upload as PROVISIONING_FAILED: nothing published, lock released, on-call told why', async () => {
      const r = await run(uploadEvent('1'), { champion: null, stack: 'absent', stackFails: true });
      expect(r.outcome.status).toBe('FAILED');
      expect(r.outcome.error).toBe('ProvisioningError');
      expect(r.states).not.toContain('Publish');
      expect(r.aliasWrites).toEqual([]);
      expect(subjects(r)).toEqual(['modelgate churn v2 pipeline failed (PROVISIONING_FAILED)']);
      expect(r.notices[0]?.message).toContain('memory above the account limit');
      expect(r.lockHeld()).toBe(false);
    });

    it('a model the deployment does not declare is rejected at registration (MODEL_NOT_DECLARED), before any lock or stack', async () => {
      const r = await run(uploadEvent(), { notDeclared: true });
      expect(r.outcome.status).toBe('FAILED');
      expect(r.outcome.error).toBe('MODEL_NOT_DECLARED');
      expect(r.registryActions).toEqual(['register']);
      expect(r.provisions).toEqual([]);
      expect(subjects(r)).toEqual(['modelgate churn v2 rejected (MODEL_NOT_DECLARED)']);
    });

    it("retire: routes out of the stage first, then the stack, then every alarm of the model (no other model's); history kept", async () => {
      const r = await run({ operation: 'retire', model: 'churn' });
      expect(r.outcome.status, JSON.stringify(r.outcome.cause)).toBe('SUCCEEDED');
      expect(r.provisions).toEqual(['unserve', 'progress:update', 'delete', 'progress:delete']);
      expect(r.states.indexOf('WithdrawRoutes')).toBeGreaterThan(r.states.indexOf('UnserveProgress'));
      expect(r.states.indexOf('WithdrawRoutes')).toBeLessThan(r.states.indexOf('DeleteStack'));
      expect(r.apiDeployments).toBe(1);
      expect(r.alarmsDeleted.sort()).toEqual(['modelgate-dev/churn/v1/drift-share-warning', 'modelgate-dev/churn/v1/error-rate-critical']);
      expect(r.registryActions).toEqual(['acquire-lock', 'plan-retire', 'record-retire', 'release-lock']);
      expect(subjects(r)).toEqual(['modelgate churn v1 retired with its model: serving removed, history kept']);
      expect(r.lockHeld()).toBe(false);
    });
  });

  describe('faults', () => {
    it('a promotion deletes the alarms of the version it retired', async () => {
      const r = await run(uploadEvent(), { rollout: { strategy: 'all-at-once' }, retiredByStep: ['1'] });
      expect(r.outcome.status).toBe('SUCCEEDED');
      expect(r.alarmsDeleted.sort()).toEqual(['modelgate-dev/churn/v1/drift-share-warning', 'modelgate-dev/churn/v1/error-rate-critical']);
    });

    it('on-call unreachable (every SNS publish denied): the rollout still ends and the lock is released', async () => {
      const r = await run(uploadEvent(), { snsDown: true, rollout: { strategy: 'all-at-once' } });
      expect(r.outcome.status).toBe('SUCCEEDED');
      expect(r.states.filter((s) => s === 'NotifyOutcome')).toHaveLength(1);
      expect(r.lockHeld()).toBe(false);
      // The notice that could not be sent is recorded in the execution's output, with the reason.
      expect((r.outcome.output as { notifyErrors?: Record<string, { Error?: string }> }).notifyErrors?.NotifyOutcome?.Error).toBe('SNS.KMSAccessDeniedException');
    });

    it('on-call unreachable during a failure: the lock is still released', async () => {
      const r = await run(uploadEvent(), { snsDown: true, publishFails: true });
      expect(r.outcome.status).toBe('FAILED');
      expect(r.states).toEqual(expect.arrayContaining(['NotifyFailure', 'ReleaseLockAfterFailure']));
      expect(r.lockHeld()).toBe(false);
    });

    it('an upload finds the lock held by an execution stopped by hand (no Catch ran): it takes the lock over at once and rolls out', async () => {
      const r = await run(uploadEvent(), { lockHeldByEnded: 'ABORTED', rollout: { strategy: 'all-at-once' } });
      expect(r.outcome.status, JSON.stringify(r.outcome.cause)).toBe('SUCCEEDED');
      expect(r.registryActions.slice(0, 3)).toEqual(['register', 'acquire-lock', 'take-over-lock']);
      expect(r.states).not.toContain('WaitForLock');
      expect(r.aliasWrites).toEqual([{ version: '7' }]);
      expect(r.lockHeld()).toBe(false);
    });

    it('an operator rollback takes over the lock of an execution Step Functions no longer knows', async () => {
      const r = await run({ operation: 'rollback', model: 'churn' }, { lockHeldByEnded: 'gone' });
      expect(r.outcome.status, JSON.stringify(r.outcome.cause)).toBe('SUCCEEDED');
      expect(r.registryActions).toEqual(['acquire-lock', 'take-over-lock', 'plan-control', 'record-control', 'release-lock']);
      expect(r.lockHeld()).toBe(false);
    });

    it('a running holder is waited for, never taken over', async () => {
      const r = await run({ operation: 'promote', model: 'churn', version: '2' }, { lockBusy: 2 });
      expect(r.outcome.status).toBe('SUCCEEDED');
      expect(r.states.filter((state) => state === 'ControlLockHolderStatus')).toHaveLength(2);
      expect(r.states.filter((state) => state === 'WaitForControlLock')).toHaveLength(2);
      expect(r.registryActions).not.toContain('take-over-lock');
    });

    it('Lambda throttling a pipeline function: the task waits for capacity and the rollout goes on', async () => {
      const r = await run(uploadEvent(), { throttledInvocations: 2, rollout: { strategy: 'all-at-once' } });
      expect(r.outcome.status, JSON.stringify(r.outcome.cause)).toBe('SUCCEEDED');
      expect(r.registryActions[0]).toBe('register');
      expect(r.aliasWrites).toEqual([{ version: '7' }]);
      expect(r.lockHeld()).toBe(false);
    });

    it("a first step that moved the alias and then failed: the champion's routing is restored", async () => {
      const r = await run(uploadEvent(), { applyStepFailsAfterMove: true });
      expect(r.outcome.status).toBe('FAILED');
      expect(r.aliasWrites).toEqual([{ version: '3', additionalVersion: '7', additionalWeight: 0.1 }, { version: '3' }]);
      expect(r.states).toEqual(expect.arrayContaining(['RestoreRouting', 'RecordFailure', 'ReleaseLockAfterFailure']));
      expect(r.lockHeld()).toBe(false);
    });
  });
});
