// Reading a bundle folder (docs/bundle.md) as `validate` and `push` take it.
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelTooLargeError } from '../lambdas/core/errors';
import { MANIFEST_FILE } from '../lambdas/core/pipeline/candidate';
import type { BundleSource } from '../lambdas/use-cases/validate-candidate';
import { UsageError } from './usage-error';

/**
 * The one bundle folder a command names. A folder without manifest.json is not a bundle: bad input whose
 * next step is `modelgate package`, which builds one. Light (no read), so it runs before a command loads.
 */
export function oneBundleFolder(command: string, positionals: readonly string[], example: string): string {
  const [dir, ...extra] = positionals;
  if (dir === undefined || extra.length > 0)
    throw new UsageError(`${command} takes one bundle folder${extra.length > 0 ? `, got: ${positionals.join(' ')}` : ''}`, `e.g. \`${example}\``);
  requireBundleFolder(dir);
  return dir;
}

export function requireBundleFolder(dir: string, what = 'the bundle folder'): void {
  if (!existsSync(join(dir, MANIFEST_FILE))) {
    throw new UsageError(
      `${what} ${dir} has no ${MANIFEST_FILE}, so it is not a bundle`,
      'build one with `modelgate package --onnx <model.onnx> --train <train.csv> --target <column> --name <model> --version <v> --out <dir>` (docs/cli.md)',
    );
  }
}

/** The text of the folder's manifest.json. */
export async function readBundleManifest(dir: string, what = 'the bundle folder'): Promise<string> {
  requireBundleFolder(dir, what);
  try {
    return await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${join(dir, MANIFEST_FILE)}: ${(error as Error).message}`, 'check the folder and its permissions');
  }
}

/** The folder's files as the validation reads a bundle: a file above `maxBytes` is refused from its size, unread. */
export function bundleFolderSource(dir: string): BundleSource {
  return {
    read: async (file, options) => {
      const path = join(dir, file);
      const size = await stat(path).then(
        (s) => s.size,
        () => undefined,
      );
      if (size === undefined) return undefined;
      if (options?.maxBytes !== undefined && size > options.maxBytes) throw new ModelTooLargeError(path, size, options.maxBytes);
      try {
        return { bytes: new Uint8Array(await readFile(path)) };
      } catch {
        return undefined;
      }
    },
  };
}
