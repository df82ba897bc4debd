// The registry writes the promotion state machine makes (register, lock, status changes, routing records,
// retirement) and the notices it sends on. The rules are in core/pipeline and core/promotion; the DynamoDB
// access in adapters/registry.ts; the entry is lambdas/handlers/registry.ts.
import { modelAlarmPrefix, versionAlarmPrefix } from '../core/naming';
import { admission, type DeploymentDeclarations } from '../core/pipeline/declarations';
import type { LockResult, Registry } from '../adapters/registry';
import { parseCandidateKey, type ObjectCreatedEvent } from '../core/pipeline/candidate';
import { ControlError, planControl, type ControlPlan } from '../core/pipeline/control';
import { notification, type Notification } from '../core/pipeline/notification';
import type { ReasonCode, RoutingState, VersionRecord } from '../core/pipeline/registry-types';
import type { ExecutableStep } from '../core/pipeline/rollout';
import type { ModelStatus } from '../core/promotion/status';
import type { CandidateRef, PipelineState, PlannedRollout, Published, ValidationOutput } from '../contracts/pipeline-state';

export type RegistryRequest =
  | { readonly action: 'register'; readonly event: ObjectCreatedEvent; readonly executionId: string }
  | { readonly action: 'acquire-lock'; readonly model: string; readonly executionId: string; readonly preempt?: boolean }
  /** `from` holds the lock but its execution has ended (stopped, timed out): it will never free it. */
  | { readonly action: 'take-over-lock'; readonly model: string; readonly executionId: string; readonly from: string }
  | { readonly action: 'release-lock'; readonly model: string; readonly executionId: string }
  | { readonly action: 'mark-validating'; readonly model: string; readonly version: string; readonly executionId: string }
  | { readonly action: 'record-validation'; readonly model: string; readonly version: string; readonly executionId: string; readonly validation: ValidationOutput }
  | {
      readonly action: 'record-step';
      readonly model: string;
      readonly version: string;
      readonly executionId: string;
      readonly rollout: PlannedRollout;
      readonly step: ExecutableStep;
      readonly published: Published;
    }
  | { readonly action: 'bake-tick'; readonly model: string; readonly executionId: string; readonly bake: ExecutableStep['bake'] }
  | {
      readonly action: 'record-rollback';
      readonly model: string;
      readonly version: string;
      readonly executionId: string;
      readonly alarms: readonly string[];
      readonly rollout: PlannedRollout;
    }
  | { readonly action: 'record-failure'; readonly executionId: string; readonly state: PipelineState }
  | { readonly action: 'plan-control'; readonly request: ControlRequest }
  | { readonly action: 'record-control'; readonly model: string; readonly executionId: string; readonly control: ControlPlan }
  | { readonly action: 'plan-retire'; readonly model: string }
  | { readonly action: 'record-retire'; readonly model: string; readonly executionId: string };

/** What an operator asks of the state machine (`modelgate promote` / `modelgate rollback`). */
export interface ControlRequest {
  readonly operation: 'promote' | 'rollback';
  readonly model: string;
  readonly version?: string;
  readonly to?: string;
}

export interface RegistrySettings {
  readonly lockTtlSeconds: number;
  /** The deployment's name: the alarms of retired versions are found by their prefix (core/naming.ts). */
  readonly deployment: string;
  /** What the deployment declares (config/models.json): whether a model may be served at all. */
  readonly declarations: () => Promise<DeploymentDeclarations>;
}

/** Runs one registry action; `now` is the time every write of the action records. */
export async function registryAction(registry: Registry, settings: RegistrySettings, request: RegistryRequest, now = new Date()): Promise<unknown> {
  switch (request.action) {
    case 'register': {
      const { detail } = request.event;
      const location = parseCandidateKey(detail.bucket.name, detail.object.key);
      const ref: CandidateRef = {
        model: location.model,
        version: location.version,
        bucket: location.bucket,
        candidatePrefix: location.candidatePrefix,
        modelPrefix: location.modelPrefix,
      };
      const result = await registry.register(
        location.model,
        location.version,
        {
          bucket: location.bucket,
          candidatePrefix: location.candidatePrefix,
          executionId: request.executionId,
          registeredAt: now.toISOString(),
          ...(detail.object['version-id'] ? { manifestObjectVersion: detail.object['version-id'] } : {}),
          ...(detail.object.etag ? { etag: detail.object.etag } : {}),
          ...(request.event.time ? { uploadedAt: request.event.time } : {}),
        },
        now,
        refusedUndeclared,
      );
      if (!result.duplicate) {
        const admitted = admission(await settings.declarations(), ref.model);
        if (admitted.admitted) return { ...ref, duplicate: false, admitted: true, declared: admitted.declared };
        await registry.transition(ref.model, ref.version, 'validating', { executionId: request.executionId }, now);
        await registry.transition(ref.model, ref.version, 'rejected', { executionId: request.executionId, reason: 'MODEL_NOT_DECLARED', detail: admitted.reason }, now, {
          reasons: ['MODEL_NOT_DECLARED'],
          reasonText: admitted.reason,
        });
        const notice = notification({
          event: 'rejected',
          model: ref.model,
          version: ref.version,
          reasons: ['MODEL_NOT_DECLARED'],
          summary: admitted.reason,
          executionId: request.executionId,
        });
        return { ...ref, duplicate: false, admitted: false, notice };
      }
      const notice = notification({
        event: 'duplicate',
        model: ref.model,
        version: ref.version,
        reasons: ['DUPLICATE_VERSION'],
        summary: `${ref.model} version ${ref.version} is registered already (status ${result.existing.status}, registered ${result.existing.lineage.registeredAt}); upload a new version instead`,
        executionId: request.executionId,
      });
      return { ...ref, duplicate: true, existingStatus: result.existing.status, notice };
    }
    case 'acquire-lock':
      return lockAnswer(await registry.acquireLock(request.model, request.executionId, now, settings.lockTtlSeconds, request.preempt ?? false));
    case 'take-over-lock':
      return lockAnswer(await registry.takeOverLock(request.model, request.from, request.executionId, now, settings.lockTtlSeconds));
    case 'release-lock':
      return { released: await registry.releaseLock(request.model, request.executionId) };
    case 'mark-validating':
      await registry.transition(request.model, request.version, 'validating', { executionId: request.executionId }, now);
      return {};
    case 'record-validation': {
      const { validation } = request;
      const update = {
        metrics: validation.metrics,
        gates: validation.gates,
        reasons: validation.reasons,
        ...(validation.rollout ? { strategy: validation.rollout.strategy } : {}),
        lineage: {
          ...(validation.sha256 ? { sha256: validation.sha256 } : {}),
          ...(validation.modelObjectVersion ? { modelObjectVersion: validation.modelObjectVersion } : {}),
          ...(validation.mlflow ? { mlflow: validation.mlflow } : {}),
        },
      };
      if (validation.verdict === 'accepted') {
        await registry.annotate(request.model, request.version, now, update);
        return { accepted: true };
      }
      const reason = validation.reasons[0] ?? 'PIPELINE_ERROR';
      await registry.transition(request.model, request.version, 'rejected', { executionId: request.executionId, reason, detail: validation.summary }, now, {
        ...update,
        reasonText: firstLine(validation.summary),
      });
      const notice = notification({
        event: 'rejected',
        model: request.model,
        version: request.version,
        reasons: validation.reasons,
        summary: validation.summary,
        executionId: request.executionId,
        details: { champion: validation.champion?.version ?? null },
      });
      return { accepted: false, notice };
    }
    case 'record-step':
      return withRetiredAlarms(settings, request.model, await recordStep(registry, request, now));
    case 'bake-tick': {
      const lock = await registry.renewLock(request.model, request.executionId, now, settings.lockTtlSeconds);
      return {
        checks: Math.max(0, request.bake.checks - 1),
        checkSeconds: request.bake.checkSeconds,
        preempted: !lock.held || lock.preemptRequestedBy !== undefined,
      };
    }
    case 'record-rollback': {
      const alarms = request.alarms.join(', ');
      const detail = `version-scoped alarm(s) in ALARM during the bake: ${alarms}; all traffic back to ${request.rollout.champion?.version ?? 'the champion'}`;
      await registry.transition(request.model, request.version, 'rolled-back', { executionId: request.executionId, reason: 'ALARM', detail }, now, {
        reasons: ['ALARM'],
        reasonText: detail,
      });
      if (request.rollout.rollback) await registry.setRouting(request.model, routingState(request.rollout.rollback.routing, request.executionId, now));
      return withRetiredAlarms(settings, request.model, {
        retiredVersions: [request.version],
        notice: notification({
          event: 'rolled-back',
          model: request.model,
          version: request.version,
          reasons: ['ALARM'],
          summary: detail,
          executionId: request.executionId,
          details: { alarms: request.alarms },
        }),
      });
    }
    case 'record-failure':
      return recordFailure(registry, request.executionId, request.state, now);
    case 'plan-control': {
      const { request: control } = request;
      if (control.operation !== 'promote' && control.operation !== 'rollback')
        throw new ControlError(`operation must be promote or rollback, got: ${JSON.stringify(control.operation)}`);
      const record = await registry.getModel(control.model);
      const versions = await registry.listVersions(control.model);
      const operation =
        control.operation === 'promote' ? { kind: 'promote' as const, version: control.version ?? '' } : { kind: 'rollback' as const, ...(control.to ? { to: control.to } : {}) };
      if (operation.kind === 'promote' && !operation.version) throw new ControlError('promote needs a version');
      return planControl(operation, record?.routing, versions);
    }
    case 'record-control': {
      const { control } = request;
      for (const change of control.changes) {
        await registry.transition(request.model, change.version, change.to, { executionId: request.executionId, reason: change.reason, detail: change.detail }, now, {
          ...(change.to === 'rolled-back' ? { reasons: [change.reason], reasonText: change.detail } : {}),
        });
      }
      await registry.setRouting(request.model, routingState({ primary: control.target }, request.executionId, now));
      return withRetiredAlarms(settings, request.model, {
        retiredVersions: control.changes.filter((change) => change.to === 'retired' || change.to === 'rolled-back').map((change) => change.version),
        notice: notification({ event: 'operator', model: request.model, version: control.target.version, summary: control.summary, executionId: request.executionId }),
      });
    }
    case 'plan-retire': {
      const versions = await registry.listVersions(request.model);
      if (versions.length === 0) throw new ControlError(`model "${request.model}" has no registered versions: there is nothing to retire`);
      const serving = versions.filter((v) => ['live', 'canary', 'experiment', 'shadow'].includes(v.status)).map((v) => v.version);
      return { model: request.model, serving, alarmPrefix: modelAlarmPrefix(settings.deployment, request.model) };
    }
    case 'record-retire': {
      const versions = await registry.listVersions(request.model);
      for (const record of versions) {
        await retire(
          registry,
          request.model,
          record.version,
          'MODEL_RETIRED',
          'the model was retired (modelgate retire): its serving stack, routes and alarms are gone',
          request.executionId,
          now,
        );
      }
      await registry.retireModel(request.model, request.executionId, now);
      return {
        notice: notification({
          event: 'retired',
          model: request.model,
          version: versions[0]?.version ?? 'none',
          summary: `${request.model} retired: its stack, routes and alarms are removed; its ${versions.length} registered version(s), their history and the prediction log are kept`,
          executionId: request.executionId,
        }),
      };
    }
  }
}

/** Adds the alarm prefixes of the versions an action took out of traffic: the state machine deletes their alarms. */
function withRetiredAlarms<T extends { retiredVersions?: readonly string[] }>(settings: RegistrySettings, model: string, result: T): T & { retiredAlarmPrefixes: string[] } {
  return { ...result, retiredAlarmPrefixes: (result.retiredVersions ?? []).map((version) => versionAlarmPrefix(settings.deployment, model, version)) };
}

async function recordStep(
  registry: Registry,
  request: Extract<RegistryRequest, { action: 'record-step' }>,
  now: Date,
): Promise<{ notice?: Notification; retiredVersions: string[] }> {
  const { model, version, executionId, rollout, step, published } = request;
  const candidate = await registry.getVersion(model, version);
  if (!candidate) throw new Error(`${model} version ${version} is not registered`);
  const lineage = {
    lambdaVersion: published.lambdaVersion,
    functionName: published.functionName,
    modelPrefix: published.modelPrefix,
    ...(published.memoryMb ? { memoryMb: published.memoryMb } : {}),
    ...(published.memoryReason ? { memoryReason: published.memoryReason } : {}),
  };
  const entry = { executionId, detail: describeStep(step) };
  if (candidate.status !== step.status) await registry.transition(model, version, step.status, entry, now, { lineage, strategy: rollout.strategy });
  else await registry.annotate(model, version, now, { lineage });

  const previous = (await registry.getModel(model))?.routing;
  await registry.setRouting(model, routingState(step.routing, executionId, now));
  // Challengers the new routing drops (a newer candidate replaced an experiment or a shadow) leave traffic.
  const kept = new Set([step.routing.primary.version, step.routing.additional?.version, step.routing.shadow?.version, version]);
  const retiredVersions: string[] = [];
  for (const dropped of [previous?.additional?.version, previous?.shadow?.version]) {
    if (dropped === undefined || kept.has(dropped)) continue;
    if (await retire(registry, model, dropped, 'SUPERSEDED', `replaced by ${version}`, executionId, now)) retiredVersions.push(dropped);
  }
  if (!step.last) return { retiredVersions };
  if (step.status === 'live') {
    const champion = rollout.champion?.version ?? previous?.primary.version;
    if (champion !== undefined && champion !== version && (await retire(registry, model, champion, undefined, `replaced by ${version}`, executionId, now)))
      retiredVersions.push(champion);
  }
  const event = step.status === 'live' ? 'promoted' : step.status === 'experiment' ? 'experiment' : 'shadow';
  return { retiredVersions, notice: notification({ event, model, version, summary: `${model} version ${version}: ${describeStep(step)}`, executionId }) };
}

/** Takes a version out of traffic: a canary is rolled back, anything else that served is retired. True when it served. */
async function retire(registry: Registry, model: string, version: string, reason: ReasonCode | undefined, detail: string, executionId: string, now: Date): Promise<boolean> {
  const record = await registry.getVersion(model, version);
  if (!record) return false;
  const to: ModelStatus | undefined = record.status === 'canary' ? 'rolled-back' : ['live', 'experiment', 'shadow'].includes(record.status) ? 'retired' : undefined;
  if (to) await registry.transition(model, version, to, { executionId, detail, ...(reason ? { reason } : {}) }, now);
  return to !== undefined;
}

async function recordFailure(registry: Registry, executionId: string, state: PipelineState, now: Date): Promise<{ notice: Notification }> {
  const model = state.candidate?.model ?? state.model ?? 'unknown';
  const version = state.candidate?.version ?? state.control?.target.version ?? state.version ?? 'unknown';
  const cause = [state.error?.Error, state.error?.Cause].filter(Boolean).join(': ') || 'unknown error';
  // The model's stack could not be brought up to date: CloudFormation's reason is in the cause.
  const reason: ReasonCode = state.error?.Error === 'ProvisioningError' ? 'PROVISIONING_FAILED' : 'PIPELINE_ERROR';
  const detail = `the pipeline failed: ${cause.slice(0, 1000)}`;
  const record: VersionRecord | undefined = state.candidate && !state.candidate.duplicate ? await registry.getVersion(model, version) : undefined;
  if (record && record.lineage.executionId === executionId) {
    const entry = { executionId, reason, detail };
    const update = { reasons: [reason], reasonText: detail };
    if (record.status === 'candidate') {
      await registry.transition(model, version, 'validating', { executionId }, now);
      await registry.transition(model, version, 'rejected', entry, now, update);
    } else if (record.status === 'validating') {
      await registry.transition(model, version, 'rejected', entry, now, update);
    } else if (['canary', 'experiment', 'shadow'].includes(record.status)) {
      await registry.transition(model, version, 'rolled-back', entry, now, update);
      if (state.rollout?.rollback) await registry.setRouting(model, routingState(state.rollout.rollback.routing, executionId, now));
    }
  }
  return { notice: notification({ event: 'failed', model, version, reasons: [reason], summary: detail, executionId }) };
}

function routingState(routing: Omit<RoutingState, 'updatedAt' | 'executionId'>, executionId: string, now: Date): RoutingState {
  return { ...routing, updatedAt: now.toISOString(), executionId };
}

function describeStep(step: ExecutableStep): string {
  const weight = `${Number((step.candidateWeight * 100).toFixed(2))}% of traffic`;
  if (step.routing.shadow) return `shadowing (${Number((step.routing.shadow.sampleRate * 100).toFixed(2))}% of requests mirrored, no answers returned)`;
  const bake = step.bake.checks > 0 ? `, baking ${step.bake.checks * step.bake.checkSeconds} s with alarms watched` : '';
  return `${step.status} at ${weight}${bake}`;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

/**
 * A version refused because the stage did not admit its model (MODEL_NOT_DECLARED) was never validated or
 * served: once the model is declared, the same upload is registered again rather than a DUPLICATE_VERSION.
 */
function refusedUndeclared(existing: VersionRecord): boolean {
  return existing.status === 'rejected' && existing.reasons?.length === 1 && existing.reasons[0] === 'MODEL_NOT_DECLARED';
}

/** What the state machine reads of a lock attempt (`$.lock`): taken, or who holds it until when. */
function lockAnswer(result: LockResult): { acquired: true } | { acquired: false; holder: string; expiresAt: string } {
  return result.acquired ? { acquired: true } : { acquired: false, holder: result.holder, expiresAt: result.expiresAt };
}
