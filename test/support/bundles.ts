import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A copy of the bundle in `from` as `<work>/<name>`, its manifest changed by `change` (and written last, as push does). */
export function changedBundle(work: string, name: string, from: string, change: (manifest: Record<string, unknown>, dir: string) => void): string {
  const dir = join(work, name);
  cpSync(from, dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  change(manifest, dir);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}
