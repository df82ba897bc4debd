// `modelgate validate <dir>`: the pipeline's validation, in-process, on a bundle folder: what CI runs before
// `modelgate push` (the same code as the validation function: lambdas/handlers/pipeline/validation.ts).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseManifestJson } from '../../lambdas/core/manifest';
import { validateCandidate, type BundleSource } from '../../lambdas/use-cases/validate-candidate';
import type { Command } from '../command';
import { UsageError } from '../usage-error';

const usage = `usage: modelgate validate <dir> [--champion <dir>] [--json]

Runs the promotion pipeline's validation on a bundle folder: manifest, checksum, the model loads and
answers its contract, init time and p99 latency, holdout metrics against the manifest's gates and, with
--champion (the live version's bundle), schema compatibility and non-inferiority on the same holdout.
(Replay of logged requests needs the deployed prediction log: the pipeline does it.)
Exit 0 when the bundle would be accepted, 1 when rejected (every failed gate printed), 2 on bad usage.

  --champion <dir>   the bundle it will be compared with
  --json             print the result as JSON`;

export const validateCommand: Command = {
  name: 'validate',
  summary: "Run the pipeline's validation gates on a bundle folder, locally (CI, before push)",
  usage,
  async run(args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { champion: { type: 'string' }, json: { type: 'boolean', default: false } } });
    const [dir, ...extra] = positionals;
    if (dir === undefined || extra.length > 0) throw new UsageError('validate takes one bundle folder');
    const raw = await readFile(join(dir, 'manifest.json'), 'utf8').catch(() => {
      throw new UsageError(`${dir} has no readable manifest.json`);
    });
    const identity = safeIdentity(raw);
    let champion;
    if (values.champion) {
      const manifest = parseManifestJson(await readFile(join(values.champion, 'manifest.json'), 'utf8'));
      champion = { manifest, modelBytes: new Uint8Array(await readFile(join(values.champion, manifest.model.file))) };
    }
    const result = await validateCandidate({ model: identity.name, version: identity.version, candidate: folder(dir), ...(champion ? { champion } : {}) });
    console.log(values.json ? JSON.stringify(result, null, 2) : result.summary);
    return result.verdict === 'accepted' ? 0 : 1;
  },
};

function folder(dir: string): BundleSource {
  return {
    read: async (file) => {
      try {
        return { bytes: new Uint8Array(await readFile(join(dir, file))) };
      } catch {
        return undefined;
      }
    },
  };
}

/** The name and version the bundle says it is (the manifest check reports anything else wrong with it). */
function safeIdentity(raw: string): { name: string; version: string } {
  try {
    const parsed = JSON.parse(raw) as { name?: unknown; version?: unknown };
    return { name: String(parsed.name ?? ''), version: String(parsed.version ?? '') };
  } catch {
    return { name: '', version: '' };
  }
}
