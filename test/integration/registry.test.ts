// The registry adapter against dynalite, with the table exactly as the construct synthesizes it: duplicates,
// the per-model lock under concurrency, checked status transitions, newest-first listing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry, RegistryConflictError } from '../../lambdas/adapters/registry';
import type { DeploymentDeclarations } from '../../lambdas/core/pipeline/declarations';
import { modelView } from '../../lambdas/core/pipeline/model-view';
import { StatusTransitionError } from '../../lambdas/core/promotion/status';
import { registryAction } from '../../lambdas/use-cases/registry-actions';
import { localDynamoClient } from '../../local/aws-clients';
import { startDynamoDb, type LocalService } from '../../local/aws-services';
import { createTableInput, ensureTable } from '../../local/dynamodb-tables';
import { registryTableProperties } from '../../local/template-tables';

let dynamo: LocalService;
let registry: Registry;
const lineage = (executionId: string) => ({ bucket: 'b', candidatePrefix: 'candidates/churn/x/', executionId, registeredAt: new Date().toISOString() });

beforeAll(async () => {
  dynamo = await startDynamoDb();
  const client = localDynamoClient(dynamo.endpoint);
  await ensureTable(client, createTableInput('registry', registryTableProperties()));
  registry = new Registry(client, 'registry');
});
afterAll(async () => dynamo?.close());

describe('Registry (dynalite)', () => {
  it('registers each version once: concurrent uploads of the same version give one registration and duplicates', async () => {
    const results = await Promise.all(['e1', 'e2', 'e3'].map((id) => registry.register('churn', '1', lineage(id), new Date())));
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(results.filter((r) => r.duplicate)).toHaveLength(2);
  });

  it('hands the model lock to one execution at a time; the holder renews and releases it; an expired lock is free', async () => {
    const now = new Date();
    const attempts = await Promise.all(['a', 'b', 'c'].map((id) => registry.acquireLock('churn', id, now, 60)));
    const winners = attempts.filter((a) => a.acquired);
    expect(winners).toHaveLength(1);
    const holder = (await registry.getLock('churn'))?.holder as string;
    const other = ['a', 'b', 'c'].find((id) => id !== holder) as string;
    expect(await registry.acquireLock('churn', other, now, 60)).toMatchObject({ acquired: false, holder });
    expect(await registry.renewLock('churn', holder, now, 60)).toEqual({ held: true });
    expect(await registry.releaseLock('churn', other)).toBe(false);
    expect(await registry.releaseLock('churn', holder)).toBe(true);
    expect(await registry.acquireLock('churn', other, now, 1)).toMatchObject({ acquired: true });
    expect(await registry.acquireLock('churn', holder, new Date(now.getTime() + 2000), 60)).toMatchObject({ acquired: true });
    await registry.releaseLock('churn', holder);
  });

  it('records a preemption request the holder sees at its next renewal', async () => {
    const now = new Date();
    await registry.acquireLock('fraud', 'pipeline', now, 60);
    expect(await registry.acquireLock('fraud', 'operator', now, 60, true)).toMatchObject({ acquired: false });
    expect(await registry.renewLock('fraud', 'pipeline', now, 60)).toEqual({ held: true, preemptRequestedBy: 'operator' });
    await registry.releaseLock('fraud', 'pipeline');
    expect(await registry.acquireLock('fraud', 'operator', now, 60)).toMatchObject({ acquired: true });
    expect((await registry.getLock('fraud'))?.preemptRequestedBy).toBeUndefined();
  });

  it('checks transitions against the status model and lists versions newest first', async () => {
    const now = new Date();
    await registry.register('churn', '2', lineage('e4'), now);
    await expect(registry.transition('churn', '2', 'live', { executionId: 'e4' }, now)).rejects.toThrow(StatusTransitionError);
    await registry.transition('churn', '2', 'validating', { executionId: 'e4' }, now);
    const rejected = await registry.transition('churn', '2', 'rejected', { executionId: 'e4', reason: 'CHECKSUM_MISMATCH', detail: 'sha differs' }, now, {
      reasons: ['CHECKSUM_MISMATCH'],
    });
    expect(rejected.history.map((h) => h.status)).toEqual(['candidate', 'validating', 'rejected']);
    expect((await registry.listVersions('churn')).map((v) => v.version)).toEqual(['2', '1']);
    expect((await registry.listVersions('churn', 1)).map((v) => v.version)).toEqual(['2']);
  });

  it('keeps the MLflow run and model a validated bundle came from in its lineage, which the model view shows', async () => {
    const now = new Date();
    const mlflow = { runId: '8ede7df408dd42ed9fc39019ef7df309', modelUuid: '0123456789', createdAt: '2026-11-30 09:12:44.123456', mlflowVersion: '2.19.0' };
    await registry.register('iris', '1', lineage('e7'), now);
    await registry.transition('iris', '1', 'validating', { executionId: 'e7' }, now);
    const validation = { verdict: 'accepted' as const, reasons: [], summary: 'accepted', gates: [], metrics: {}, sha256: 'ab'.repeat(32), objectVersions: {}, files: [], mlflow };
    const settings = { lockTtlSeconds: 60, deployment: 'modelgate-dev', declarations: async () => ({ deployment: 'modelgate-dev', allowUndeclaredModels: true, models: {} }) };
    await registryAction(registry, settings, { action: 'record-validation', model: 'iris', version: '1', executionId: 'e7', validation }, now);
    const versions = await registry.listVersions('iris');
    expect(versions[0]?.lineage).toMatchObject({ sha256: 'ab'.repeat(32), mlflow });
    expect(modelView('iris', await registry.getModel('iris'), versions).versions[0]?.mlflow).toEqual(mlflow);
  });

  it('refuses a write based on a stale read (optimistic condition)', async () => {
    const now = new Date();
    await registry.register('churn', '3', lineage('e5'), now);
    await Promise.allSettled([
      registry.transition('churn', '3', 'validating', { executionId: 'e5' }, now),
      registry.transition('churn', '3', 'validating', { executionId: 'e6' }, now),
    ]).then((results) => {
      const failures = results.filter((r) => r.status === 'rejected');
      // One wins; the other either lost the race (conflict) or read 'validating' already (invalid transition).
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const f of failures) expect((f as PromiseRejectedResult).reason).toSatisfy((e: Error) => e instanceof RegistryConflictError || e instanceof StatusTransitionError);
    });
  });

  it('registers a version refused with MODEL_NOT_DECLARED again once the model is declared; any other rejection stays a duplicate', async () => {
    let declarations: DeploymentDeclarations = { deployment: 'modelgate-prod', allowUndeclaredModels: false, models: {} };
    const settings = { lockTtlSeconds: 60, deployment: 'modelgate-prod', declarations: async () => declarations };
    const upload = (executionId: string) =>
      registryAction(registry, settings, {
        action: 'register',
        executionId,
        event: { detail: { bucket: { name: 'models' }, object: { key: 'candidates/fraud/3/manifest.json' } } },
      }) as Promise<{ duplicate: boolean; admitted?: boolean }>;

    expect(await upload('refused')).toMatchObject({ duplicate: false, admitted: false });
    expect(await registry.getVersion('fraud', '3')).toMatchObject({ status: 'rejected', reasons: ['MODEL_NOT_DECLARED'] });
    expect(await upload('refused-again')).toMatchObject({ duplicate: false, admitted: false });

    declarations = { ...declarations, models: { fraud: {} } };
    expect(await upload('declared')).toMatchObject({ duplicate: false, admitted: true });
    const registered = await registry.getVersion('fraud', '3');
    expect(registered).toMatchObject({ status: 'candidate', lineage: { executionId: 'declared' } });
    expect(registered?.reasons).toBeUndefined();
    expect(await upload('twice')).toMatchObject({ duplicate: true });

    // Refused for any other reason (it ran): the version is spent.
    await registry.transition('fraud', '3', 'validating', { executionId: 'declared' }, new Date());
    await registry.transition('fraud', '3', 'rejected', { executionId: 'declared', reason: 'MODEL_LOAD_FAILED' }, new Date(), { reasons: ['MODEL_LOAD_FAILED'] });
    expect(await upload('after-gates')).toMatchObject({ duplicate: true });
  });
});
