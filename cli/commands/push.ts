// `modelgate push <dir>`: uploads a bundle to candidates/<model>/<version>/ (the manifest last: its arrival
// starts the promotion pipeline) and follows the pipeline's execution to its end.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { bundlePrefixes, MANIFEST_FILE, UPLOAD_METADATA } from '../../lambdas/core/pipeline/candidate';
import { modelView } from '../../lambdas/core/pipeline/model-view';
import type { Command } from '../command';
import { findUploadExecution, followExecution, registryOf, stepFunctionsClient } from '../pipeline-client';
import { requireOutput, resolveTarget, targetOptions, targetUsage } from '../target';
import { UsageError } from '../usage-error';

const STRATEGIES = ['canary', 'linear', 'ab-test', 'shadow', 'all-at-once'];
/** Where the version ends up when the push succeeded. */
const TAKING_TRAFFIC = new Set(['canary', 'experiment', 'shadow', 'live']);

const usage = `usage: modelgate push <dir> [--strategy <s>] [--allow-breaking-changes] [--json] [target options]

Uploads the bundle in <dir> (every file in it, manifest.json last) to candidates/<model>/<version>/ of the
target's model bucket, then follows the promotion pipeline's execution to its end, printing each step.
Exit 0 when the version reached canary, experiment, shadow or live; 1 when it was rejected (the reason is
printed), rolled back, or the pipeline failed; 2 on bad usage.

  --strategy <s>             rollout for this upload: canary | linear | ab-test | shadow | all-at-once
                             (default: the manifest's rollout)
  --allow-breaking-changes   accept input-schema changes that break the live version's clients
  --no-follow                upload and print the execution, without waiting for it
  --json                     print the outcome as JSON

${targetUsage}`;

export const pushCommand: Command = {
  name: 'push',
  summary: 'Upload a bundle as a candidate and follow the promotion pipeline to its verdict',
  usage,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        ...targetOptions,
        strategy: { type: 'string' },
        'allow-breaking-changes': { type: 'boolean', default: false },
        'no-follow': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    });
    const [dir, ...extra] = positionals;
    if (dir === undefined || extra.length > 0) throw new UsageError('push takes one bundle folder');
    if (values.strategy !== undefined && !STRATEGIES.includes(values.strategy)) throw new UsageError(`--strategy must be one of ${STRATEGIES.join(', ')}, got: ${values.strategy}`);
    const { model, version, files } = readBundle(dir);

    const target = await resolveTarget(values);
    const bucket = requireOutput(target, 'ModelBucketName');
    const stateMachineArn = requireOutput(target, 'PipelineStateMachineArn');
    const served = Object.keys(target.outputs).filter((k) => k.endsWith('FunctionArn')).map((k) => k.slice(0, -'FunctionArn'.length).toLowerCase());
    if (served.length > 0 && !served.includes(model.replace(/-/g, ''))) throw new UsageError(`the ${target.kind} stack does not serve model "${model}"`);

    const { candidatePrefix } = bundlePrefixes(model, version);
    const log = values.json ? () => undefined : (line: string) => console.log(line);
    const since = new Date();
    log(`uploading ${dir} to s3://${bucket}/${candidatePrefix}`);
    for (const file of [...files.filter((f) => f !== MANIFEST_FILE), MANIFEST_FILE]) {
      const metadata = file === MANIFEST_FILE ? uploadMetadata(values.strategy, values['allow-breaking-changes']) : undefined;
      await target.s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${candidatePrefix}${file}`, Body: readFileSync(join(dir, file)), ...(metadata ? { Metadata: metadata } : {}) }));
      log(`  ${file}`);
    }
    const sfn = stepFunctionsClient(target);
    const executionArn = await findUploadExecution(sfn, stateMachineArn, bucket, `${candidatePrefix}${MANIFEST_FILE}`, since);
    log(`pipeline execution ${executionArn}`);
    if (values['no-follow']) {
      if (values.json) console.log(JSON.stringify({ model, version, executionArn }));
      return 0;
    }
    const execution = await followExecution(sfn, executionArn, { progress: log });
    const registry = registryOf(target);
    const [record, versions] = await Promise.all([registry.getModel(model), registry.listVersions(model)]);
    const view = modelView(model, record, versions).versions.find((v) => v.version === version);
    const duplicate = execution.error === 'DUPLICATE_VERSION';
    const status = duplicate ? 'rejected' : (view?.status ?? 'unknown');
    const reason = duplicate ? 'DUPLICATE_VERSION' : view?.reason ?? (execution.status === 'SUCCEEDED' ? null : (execution.error ?? null));
    const ok = !duplicate && execution.status === 'SUCCEEDED' && TAKING_TRAFFIC.has(status);
    if (values.json) {
      console.log(JSON.stringify({ model, version, executionArn, executionStatus: execution.status, status, reason, reasons: duplicate ? ['DUPLICATE_VERSION'] : (view?.reasons ?? []), weight: view?.weight ?? 0, metrics: view?.metrics ?? null, error: execution.error ?? null, cause: execution.cause ?? null }));
    } else if (ok) {
      console.log(`\n${model} v${version}: ${status} (${Math.round((view?.weight ?? 0) * 100)}% of traffic${view?.shadow ? ', shadowing' : ''})`);
    } else {
      console.log(`\n${model} v${version}: ${duplicate ? 'rejected as a duplicate (DUPLICATE_VERSION): this version is registered already' : `${status}${reason ? ` (${reason})` : ''}`}`);
      const detail = [...(view?.history ?? [])].reverse().find((h) => h.detail)?.detail ?? execution.cause;
      if (!duplicate && detail) console.log(detail);
    }
    return ok ? 0 : 1;
  },
};

function readBundle(dir: string): { model: string; version: string; files: string[] } {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile());
  } catch (error) {
    throw new UsageError(`cannot read the bundle folder ${dir}: ${(error as Error).message}`);
  }
  if (!files.includes(MANIFEST_FILE)) throw new UsageError(`${dir} has no ${MANIFEST_FILE}`);
  // Only the name and version are needed to upload; the pipeline judges the rest of the manifest.
  let manifest: { name?: unknown; version?: unknown };
  try {
    manifest = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as typeof manifest;
  } catch (error) {
    throw new UsageError(`${join(dir, MANIFEST_FILE)} is not JSON: ${(error as Error).message}`);
  }
  if (typeof manifest.name !== 'string' || typeof manifest.version !== 'string') {
    throw new UsageError(`${join(dir, MANIFEST_FILE)} must name the model and its version ("name", "version"): they make the upload path`);
  }
  return { model: manifest.name, version: manifest.version, files };
}

function uploadMetadata(strategy: string | undefined, allowBreaking: boolean | undefined): Record<string, string> | undefined {
  const metadata: Record<string, string> = {
    ...(strategy ? { [UPLOAD_METADATA.strategy]: strategy } : {}),
    ...(allowBreaking ? { [UPLOAD_METADATA.allowBreakingChanges]: 'true' } : {}),
  };
  return Object.keys(metadata).length > 0 ? metadata : undefined;
}
