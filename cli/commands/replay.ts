// `modelgate replay <model> --input <file> --rate <rows/s>`: the replay engine (cli/replay-engine.ts) aimed at a
// served model of the target stack, with the stack's own API keys, checking rows against the manifest of the
// version that answers most of the model's traffic.
import { readFile } from 'node:fs/promises';
import { ManifestStore } from '../../lambdas/adapters/manifest-store';
import { modelView } from '../../lambdas/core/pipeline/model-view';
import { apiKeyValues } from '../api-keys';
import type { CommandRun } from '../command';
import { liveLine } from '../live-line';
import { registryOf, requireRegistered } from '../registry';
import { httpReplayTarget, readReplayInput, replay, ReplayInputError, type ReplayInput } from '../replay-engine';
import { describePlan, describeProgress, describeReport, replaySucceeded } from '../replay-text';
import { replayRequest, type replayOptions } from '../specs/replay';
import { requireOutput, resolveTarget } from '../target';
import { UsageError } from '../usage-error';

export const runReplay: CommandRun<typeof replayOptions> = async (input) => {
  const request = replayRequest(input);
  const { model, labels } = request;
  const text = await readInput(request.input);
  const target = await resolveTarget(input.values);
  const registry = registryOf(target);
  const [record, versions] = await Promise.all([registry.getModel(model), requireRegistered(registry, model)]);
  const live = [...modelView(model, record, versions).live].sort((a, b) => b.weight - a.weight);
  const serving = live[0];
  if (serving === undefined) {
    const newest = versions[0];
    throw new UsageError(
      `${model} serves no version, so nothing would answer (newest: v${newest?.version} ${newest?.status})`,
      `\`modelgate models ${model}\` shows its versions; promote one with \`modelgate promote ${model} <version>\``,
    );
  }
  const manifest = await new ManifestStore(target.s3, requireOutput(target, 'ModelBucketName'), 0).get(model, serving.version);
  if ('reason' in manifest) throw new UsageError(`the manifest of ${model} v${serving.version} cannot be read: ${manifest.reason}`);
  let rows: ReplayInput;
  try {
    rows = readReplayInput(manifest, text, { format: request.format, source: request.input, ...(labels ? { target: labels.column } : {}) });
  } catch (error) {
    if (!(error instanceof ReplayInputError)) throw error;
    throw new UsageError(error.message, `check the file against the features of ${model} v${serving.version} (its manifest's "features")${labels ? ' and --target' : ''}`);
  }
  if (rows.rows.length === 0) {
    const first = rows.bad[0];
    throw new UsageError(
      `no row of ${request.input} fits ${model} v${serving.version}: ${rows.bad.length} bad rows${first ? `, e.g. line ${first.line}: ${first.reason}` : ''}`,
      'fix the file, or check that it is meant for this model',
    );
  }
  const keys = await apiKeyValues(target, labels ? (['predict', 'feedback'] as const) : (['predict'] as const));
  const json = input.values.json === true;
  if (!json) {
    console.log(
      describePlan({
        model,
        live,
        input: request.input,
        rows: rows.rows.length,
        bad: rows.bad.length,
        rate: request.rate,
        ...(request.durationMs === undefined ? {} : { durationMs: request.durationMs }),
        ...(labels ? { labels } : {}),
        target: target.description,
      }),
    );
  }
  // Ctrl-C stops the schedule; answers and labels still due are awaited and reported. A second one quits.
  const stop = new AbortController();
  process.once('SIGINT', () => {
    console.error('\nstopping: waiting for the answers and labels still due (Ctrl-C again quits without a report)');
    stop.abort();
  });
  const line = process.stderr.isTTY && !json ? liveLine(process.stderr) : undefined;
  const report = await replay({
    rows: rows.rows,
    bad: rows.bad,
    target: httpReplayTarget({ apiUrl: requireOutput(target, 'ApiUrl'), model, apiKeys: keys }),
    rate: request.rate,
    ...(request.durationMs === undefined ? {} : { durationMs: request.durationMs }),
    ...(labels ? { labelDelayMs: labels.delayMs } : {}),
    signal: stop.signal,
    ...(line ? { onProgress: (p) => line.show(describeProgress(p)) } : {}),
  });
  line?.clear();
  if (json) console.log(JSON.stringify({ model, version: serving.version, input: request.input, ...report }, null, 2));
  else console.log(describeReport(report).join('\n'));
  return replaySucceeded(report) ? 0 : 1;
};

async function readInput(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --input ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, 'check the path');
  }
}
