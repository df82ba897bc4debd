// `modelgate models <name>`: the registry's view of a model: every version with its status, reason,
// metrics and share of traffic.
import { parseArgs } from 'node:util';
import { modelView } from '../../lambdas/core/pipeline/model-view';
import type { Command } from '../command';
import { registryOf } from '../pipeline-client';
import { resolveTarget, targetOptions, targetUsage } from '../target';
import { UsageError } from '../usage-error';

const usage = `usage: modelgate models <name> [--json] [target options]

Lists the registered versions of a model, newest first: status, share of live traffic, the reason of the
last transition that had one (rejections, rollbacks), holdout metrics. --json prints an array of
{"version", "status", "reason", "reasons", "metrics", "weight", "shadow", "lambdaVersion", ...}.
Exit 1 when the model has no registered version.

${targetUsage}`;

export const modelsCommand: Command = {
  name: 'models',
  summary: 'Show the registered versions of a model: status, weight, reason, metrics',
  usage,
  async run(args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...targetOptions, json: { type: 'boolean', default: false } } });
    const [name, ...extra] = positionals;
    if (name === undefined || extra.length > 0) throw new UsageError('models takes one model name');
    const registry = registryOf(await resolveTarget(values));
    const [record, versions] = await Promise.all([registry.getModel(name), registry.listVersions(name)]);
    const view = modelView(name, record, versions);
    if (values.json) {
      console.log(JSON.stringify(view.versions, null, 2));
      return view.versions.length > 0 ? 0 : 1;
    }
    if (view.versions.length === 0) {
      console.error(`modelgate models: no registered version of "${name}"`);
      return 1;
    }
    const live = view.live.map((l) => `v${l.version} ${Math.round(l.weight * 100)}%`).join(', ') || 'none';
    console.log(`${name}: live ${live}${view.shadow ? `; shadow v${view.shadow.version} (${Math.round(view.shadow.sampleRate * 100)}% mirrored)` : ''}\n`);
    const rows = view.versions.map((v) => [
      v.version,
      v.status,
      v.weight > 0 ? `${Math.round(v.weight * 100)}%` : v.shadow ? 'shadow' : '',
      v.lambdaVersion ?? '',
      metric(v.metrics, 'rocAuc') ?? metric(v.metrics, 'accuracy') ?? metric(v.metrics, 'rmse') ?? '',
      v.updatedAt.slice(0, 19).replace('T', ' '),
      v.reason ? `${v.reason}${v.reasonText ? `: ${v.reasonText}` : ''}` : '',
    ]);
    const header = ['VERSION', 'STATUS', 'WEIGHT', 'LAMBDA', 'METRIC', 'UPDATED (UTC)', 'REASON'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
    for (const row of [header, ...rows]) console.log(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] as number))).join('  ').trimEnd());
    return 0;
  },
};

function metric(metrics: Readonly<Record<string, number>> | null, name: string): string | undefined {
  const value = metrics?.[name];
  return value === undefined ? undefined : `${name} ${value.toFixed(4)}`;
}
