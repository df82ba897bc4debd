// Which dependencies may run install scripts (package.json `allowScripts`, read by npm 11.16+): every package
// of the lockfile that has one is decided, and onnxruntime-node's, which downloads GPU binaries from outside
// the npm registry, is denied. docs/platform-notes.md ("Installing") has the measurements behind it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { allowScripts?: Record<string, boolean> };
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };

describe('install scripts', () => {
  it('are decided for every locked package that has one, by name', () => {
    const withScripts = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && entry.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(Object.keys(manifest.allowScripts ?? {}).sort()).toEqual([...new Set(withScripts)].sort());
  });

  it("deny onnxruntime-node's download and allow the rest", () => {
    expect(manifest.allowScripts).toEqual({ 'classic-level': true, esbuild: true, node: true, 'onnxruntime-node': false, protobufjs: true });
  });

  it('keep the .npmrc key npm 10 needs, which knows no allowScripts', () => {
    expect(readFileSync(new URL('.npmrc', root), 'utf8')).toMatch(/^onnxruntime-node-install=skip$/m);
  });
});
