// `modelgate models [<name>]`: the registry's view of every model (what serves it, what it costs), or of one
// model: every version with its status, reason, metrics and share of traffic.
import { modelView } from '../../lambdas/core/pipeline/model-view';
import { oneModel, type CommandRun } from '../command';
import type { Registry } from '../../lambdas/adapters/registry';
import { registryOf, requireRegistered } from '../registry';
import type { modelsOptions } from '../specs/models';
import { resolveTarget } from '../target';
import { columns } from '../columns';

export const runModels: CommandRun<typeof modelsOptions> = async ({ values, positionals }) => {
  const registry = registryOf(await resolveTarget(values));
  if (positionals.length === 0) return listModels(registry, values.json === true);
  const name = oneModel('models', positionals, 'modelgate models churn');
  const [record, versions] = await Promise.all([registry.getModel(name), requireRegistered(registry, name)]);
  const view = modelView(name, record, versions);
  if (values.json) {
    console.log(JSON.stringify(view.versions, null, 2));
    return 0;
  }
  const live =
    view.live.map((l) => `v${l.version} ${Math.round(l.weight * 100)}%`).join(', ') ||
    (record?.retired ? `none (retired ${record.retired.at.slice(0, 19).replace('T', ' ')} UTC)` : 'none');
  console.log(`${name}: live ${live}${view.shadow ? `; shadow v${view.shadow.version} (${Math.round(view.shadow.sampleRate * 100)}% mirrored)` : ''}`);
  // What the version that answers most traffic runs on, and what it costs (docs/cost.md).
  const serving = servingMemory(view);
  if (serving) {
    const cost = serving.costPerMillion;
    console.log(`memory ${serving.memoryMb} MB${serving.reason ? ` (${serving.reason.replace(/^\d+ MB: /, '').replace(/^\d+ MB, /, '')})` : ''}`);
    if (cost)
      console.log(
        `cost per million predictions: $${cost.total.toFixed(2)} (Lambda $${(cost.lambdaRequests + cost.lambdaCompute).toFixed(2)} at ${cost.billedMs} ms billed, prediction log $${cost.predictionLog.toFixed(2)}, logs $${cost.logs.toFixed(2)}, X-Ray $${cost.traces.toFixed(2)}) + API Gateway $3.50`,
      );
  }
  console.log('');
  // Where versions came from MLflow, the run (or, saved outside a run, the model uuid) that made each.
  const fromMlflow = view.versions.some((v) => v.mlflow);
  const rows = view.versions.map((v) => [
    v.version,
    v.status,
    v.weight > 0 ? `${Math.round(v.weight * 100)}%` : v.shadow ? 'shadow' : '',
    v.lambdaVersion ?? '',
    metric(v.metrics, 'rocAuc') ?? metric(v.metrics, 'accuracy') ?? metric(v.metrics, 'rmse') ?? '',
    v.updatedAt.slice(0, 19).replace('T', ' '),
    ...(fromMlflow ? [v.mlflow ? (v.mlflow.runId ?? `model ${v.mlflow.modelUuid}`) : ''] : []),
    v.reason ? `${v.reason}${v.reasonText ? `: ${v.reasonText}` : ''}` : '',
  ]);
  const header = ['VERSION', 'STATUS', 'WEIGHT', 'LAMBDA', 'METRIC', 'UPDATED (UTC)', ...(fromMlflow ? ['MLFLOW RUN'] : []), 'REASON'];
  console.log(columns([header, ...rows]));
  return 0;
};

/** Every registered model, one line each: what serves it, the newest version's status, memory and cost. */
async function listModels(registry: Registry, json: boolean): Promise<number> {
  const names = (await registry.listModels()).sort();
  const summaries = await Promise.all(
    names.map(async (model) => {
      const [record, versions] = await Promise.all([registry.getModel(model), registry.listVersions(model)]);
      const view = modelView(model, record, versions);
      const serving = servingMemory(view);
      const newest = view.versions[0];
      return {
        model,
        live: view.live.map((l) => ({ version: l.version, weight: l.weight })),
        newest: newest ? { version: newest.version, status: newest.status } : null,
        retired: record?.retired?.at ?? null,
        memoryMb: serving?.memoryMb ?? null,
        costPerMillion: serving?.costPerMillion?.total ?? null,
      };
    }),
  );
  if (json) {
    console.log(JSON.stringify(summaries, null, 2));
    return 0;
  }
  if (summaries.length === 0) {
    console.log('no models registered yet; push one with `modelgate push <bundle folder>` (README: "Serve your own model")');
    return 0;
  }
  const rows = summaries.map((s) => [
    s.model,
    s.live.map((l) => `v${l.version} ${Math.round(l.weight * 100)}%`).join(', ') || (s.retired ? 'retired' : 'none'),
    s.newest ? `v${s.newest.version} ${s.newest.status}` : '',
    s.memoryMb === null ? '' : `${s.memoryMb} MB`,
    s.costPerMillion === null ? '' : `$${s.costPerMillion.toFixed(2)}`,
  ]);
  console.log(columns([['MODEL', 'LIVE', 'NEWEST', 'MEMORY', 'COST/M (+ API GATEWAY)'], ...rows]));
  return 0;
}

/** What the version answering most of the live traffic runs on, and what it costs (docs/cost.md). */
function servingMemory(view: ReturnType<typeof modelView>) {
  return view.versions.find((v) => v.version === view.live[0]?.version)?.memory;
}

function metric(metrics: Readonly<Record<string, number>> | null, name: string): string | undefined {
  const value = metrics?.[name];
  return value === undefined ? undefined : `${name} ${value.toFixed(4)}`;
}
