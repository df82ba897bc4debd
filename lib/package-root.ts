import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The folder of the modelgate package: this checkout, or `node_modules/modelgate` in a team's project. Found
 * by its package.json rather than by a fixed number of `..`, because the construct runs from its sources here
 * and from one built file (`dist/cdk/index.mjs`) in the installed package. Handler sources and the
 * models-as-data file are read from there.
 */
export const PACKAGE_ROOT = findPackageRoot(import.meta.dirname);

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file) && (JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: unknown }).name === 'modelgate') return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json of modelgate above ${from}`);
  }
}
