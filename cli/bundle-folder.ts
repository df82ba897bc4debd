// Reading a bundle folder (docs/bundle.md) as `validate` and `push` take it.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_FILE } from '../lambdas/core/pipeline/candidate';
import { UsageError } from './usage-error';

/**
 * The text of the folder's manifest.json. A folder without one is not a bundle: bad input whose next step
 * is `modelgate package`, which builds one.
 */
export async function readBundleManifest(dir: string, what = 'the bundle folder'): Promise<string> {
  try {
    return await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new UsageError(
        `${what} ${dir} has no ${MANIFEST_FILE}, so it is not a bundle`,
        'build one with `modelgate package --onnx <model.onnx> --train <train.csv> --target <column> --name <model> --version <v> --out <dir>` (docs/cli.md)',
      );
    }
    throw new UsageError(`cannot read ${join(dir, MANIFEST_FILE)}: ${(error as Error).message}`, 'check the folder and its permissions');
  }
}
