// `modelgate push <dir>`: uploads a bundle to candidates/<model>/<version>/ (the manifest last: its arrival
// starts the promotion pipeline) and follows the pipeline's execution to its end.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { bundlePrefixes, MANIFEST_FILE, UPLOAD_METADATA } from '../../lambdas/core/pipeline/candidate';
import { modelView } from '../../lambdas/core/pipeline/model-view';
import { ROLLOUT_STRATEGIES } from '../../lambdas/core/manifest-types';
import { oneBundleFolder, readBundleManifest } from '../bundle-folder';
import type { CommandRun } from '../command';
import { findUploadExecution, followExecution, stepFunctionsClient } from '../pipeline-client';
import { registryOf } from '../registry';
import type { pushOptions } from '../specs/push';
import { requireOneOf } from '../suggest';
import { requireOutput, resolveTarget } from '../target';
import { UsageError } from '../usage-error';

/** Where the version ends up when the push succeeded. */
const TAKING_TRAFFIC = new Set(['canary', 'experiment', 'shadow', 'live']);

export const runPush: CommandRun<typeof pushOptions> = async ({ values, positionals }) => {
  const dir = oneBundleFolder('push', positionals, 'modelgate push examples/churn/v2');
  const strategy = values.strategy === undefined ? undefined : requireOneOf('--strategy', values.strategy, ROLLOUT_STRATEGIES);
  const { model, version, files } = await readBundle(dir);

  const target = await resolveTarget(values);
  const bucket = requireOutput(target, 'ModelBucketName');
  const stateMachineArn = requireOutput(target, 'PipelineStateMachineArn');

  const { candidatePrefix } = bundlePrefixes(model, version);
  const log = values.json ? () => undefined : (line: string) => console.log(line);
  const since = new Date();
  log(`uploading ${dir} to s3://${bucket}/${candidatePrefix}`);
  for (const file of [...files.filter((f) => f !== MANIFEST_FILE), MANIFEST_FILE]) {
    const metadata = file === MANIFEST_FILE ? uploadMetadata(strategy, values['allow-breaking-changes']) : undefined;
    await target.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: `${candidatePrefix}${file}`, Body: readFileSync(join(dir, file)), ...(metadata ? { Metadata: metadata } : {}) }),
    );
    log(`  ${file}`);
  }
  const sfn = stepFunctionsClient(target);
  const executionArn = await findUploadExecution(sfn, stateMachineArn, bucket, `${candidatePrefix}${MANIFEST_FILE}`, since);
  log(`pipeline execution ${executionArn}`);
  if (values['no-follow']) {
    if (values.json) console.log(JSON.stringify({ model, version, executionArn }));
    else log(`follow it with \`modelgate models ${model}\``);
    return 0;
  }
  const execution = await followExecution(sfn, executionArn, { progress: log });
  const registry = registryOf(target);
  const [record, versions] = await Promise.all([registry.getModel(model), registry.listVersions(model)]);
  const view = modelView(model, record, versions).versions.find((v) => v.version === version);
  const duplicate = execution.error === 'DUPLICATE_VERSION';
  const status = duplicate ? 'rejected' : (view?.status ?? 'unknown');
  const reason = duplicate ? 'DUPLICATE_VERSION' : (view?.reason ?? (execution.status === 'SUCCEEDED' ? null : (execution.error ?? null)));
  const ok = !duplicate && execution.status === 'SUCCEEDED' && TAKING_TRAFFIC.has(status);
  const next = ok ? null : nextStepAfter(model, version, dir, duplicate, status, reason);
  if (values.json) {
    console.log(
      JSON.stringify({
        model,
        version,
        executionArn,
        executionStatus: execution.status,
        status,
        reason,
        reasons: duplicate ? ['DUPLICATE_VERSION'] : (view?.reasons ?? []),
        weight: view?.weight ?? 0,
        metrics: view?.metrics ?? null,
        error: execution.error ?? null,
        cause: execution.cause ?? null,
        nextStep: next,
      }),
    );
  } else if (ok) {
    console.log(`\n${model} v${version}: ${status} (${Math.round((view?.weight ?? 0) * 100)}% of traffic${view?.shadow ? ', shadowing' : ''})`);
  } else {
    console.log(
      `\n${model} v${version}: ${duplicate ? 'rejected as a duplicate (DUPLICATE_VERSION): this version is registered already' : `${status}${reason ? ` (${reason})` : ''}`}`,
    );
    const detail = [...(view?.history ?? [])].reverse().find((h) => h.detail)?.detail ?? execution.cause;
    if (!duplicate && detail) console.log(detail);
    console.log(`next: ${next}`);
  }
  return ok ? 0 : 1;
};

/** What to do after a push that did not reach traffic. */
function nextStepAfter(model: string, version: string, dir: string, duplicate: boolean, status: string, reason: string | null): string {
  if (reason === 'MODEL_NOT_DECLARED') {
    return `declare ${model} for the stage (modelgate.config.json), or allow undeclared models there, then push the same version again: nothing of it ran`;
  }
  if (duplicate) return `a version is pushed once: bump "version" in ${join(dir, MANIFEST_FILE)} (or package again with --version <next>) and push again`;
  if (status === 'rejected') return `fix what the report names (\`modelgate validate ${dir}\` runs the same checks locally), bump the version and push again`;
  if (status === 'rolled-back') return `\`modelgate models ${model}\` shows why v${version} was rolled back; fix it and push a new version`;
  return `\`modelgate models ${model}\` shows where v${version} stands`;
}

async function readBundle(dir: string): Promise<{ model: string; version: string; files: string[] }> {
  const raw = await readBundleManifest(dir);
  // Only the name and version are needed to upload; the pipeline judges the rest of the manifest.
  let manifest: { name?: unknown; version?: unknown };
  try {
    manifest = JSON.parse(raw) as typeof manifest;
  } catch (error) {
    throw new UsageError(`${join(dir, MANIFEST_FILE)} is not JSON: ${(error as Error).message}`, `\`modelgate validate ${dir}\` checks the whole bundle`);
  }
  if (typeof manifest.name !== 'string' || typeof manifest.version !== 'string') {
    throw new UsageError(`${join(dir, MANIFEST_FILE)} must name the model and its version ("name", "version"): they make the upload path`, 'add them to the manifest');
  }
  const files = readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile());
  return { model: manifest.name, version: manifest.version, files };
}

function uploadMetadata(strategy: string | undefined, allowBreaking: boolean | undefined): Record<string, string> | undefined {
  const metadata: Record<string, string> = {
    ...(strategy ? { [UPLOAD_METADATA.strategy]: strategy } : {}),
    ...(allowBreaking ? { [UPLOAD_METADATA.allowBreakingChanges]: 'true' } : {}),
  };
  return Object.keys(metadata).length > 0 ? metadata : undefined;
}
