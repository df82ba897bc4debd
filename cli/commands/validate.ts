// `modelgate validate <dir>`: the pipeline's validation, in-process, on a bundle folder: what CI runs before
// `modelgate push` (the same code as the validation function: lambdas/use-cases/validate-candidate.ts).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseManifestJson, type Manifest } from '../../lambdas/core/manifest';
import { validateCandidate } from '../../lambdas/use-cases/validate-candidate';
import { bundleFolderSource, oneBundleFolder, readBundleManifest } from '../bundle-folder';
import type { CommandRun } from '../command';
import { VALIDATE_EXAMPLE, type validateOptions } from '../specs/validate';
import { UsageError } from '../usage-error';

export const runValidate: CommandRun<typeof validateOptions> = async ({ values, positionals }) => {
  const dir = oneBundleFolder('validate', positionals, VALIDATE_EXAMPLE);
  const raw = await readBundleManifest(dir);
  const identity = safeIdentity(raw);
  let champion;
  if (values.champion) {
    const manifest = parseChampion(await readBundleManifest(values.champion, '--champion'), values.champion);
    const modelFile = join(values.champion, manifest.model.file);
    const modelBytes = await readFile(modelFile).catch(() => {
      throw new UsageError(`--champion ${values.champion}: cannot read ${modelFile}, the model its manifest names`, "give the live version's complete bundle folder");
    });
    champion = { manifest, modelBytes: new Uint8Array(modelBytes) };
  }
  const result = await validateCandidate({ model: identity.name, version: identity.version, candidate: bundleFolderSource(dir), ...(champion ? { champion } : {}) });
  console.log(values.json ? JSON.stringify(result, null, 2) : result.summary);
  if (!values.json && result.verdict !== 'accepted') console.log('\nfix what the FAIL lines name, rebuild the bundle, and validate it again before `modelgate push`');
  return result.verdict === 'accepted' ? 0 : 1;
};

function parseChampion(raw: string, dir: string): Manifest {
  try {
    return parseManifestJson(raw);
  } catch (error) {
    throw new UsageError(`--champion ${dir}: its manifest is invalid: ${(error as Error).message}`, "give the live version's bundle folder");
  }
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
