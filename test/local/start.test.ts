// `npm start` with a model declared in the models-as-data file whose bundle is not there: one line per problem
// naming the model's setting and the missing file, exit 2, no stack trace, and the state folder as it was — no
// folder made, nothing cleaned, and no endpoints file of a runtime that is gone.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ENDPOINTS_FILE } from '../../local/state-files';

const ROOT = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'modelgate-start-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `npm start -- <args>` as npm runs it (tsx local/start.ts), with the Node that runs the tests. */
async function npmStart(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'local/start.ts', '--port', '0', '--quiet', ...args], { cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout: string; stderr: string };
    return { code: failed.code ?? -1, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** A models-as-data file in `folder` declaring churn (the example's bundle) and `fraud` with the given bundle. */
function config(folder: string, fraudBundle: string): string {
  const file = join(folder, 'models.json');
  const models = { churn: { bundle: join(ROOT, 'examples', 'churn', 'v1') }, fraud: { bundle: fraudBundle } };
  writeFileSync(file, JSON.stringify({ stages: { dev: { allowUndeclaredModels: true, models } } }));
  return file;
}

describe('npm start with a declared model whose bundle is missing', () => {
  it('no bundle folder: one line naming the model and the folder, exit 2, and no state folder made', async () => {
    const folder = join(work, 'no-folder');
    mkdirSync(folder);
    const stateDir = join(folder, 'state');
    const run = await npmStart('--state-dir', stateDir, '--config', config(folder, 'fraud/v1'));
    expect(run.code).toBe(2);
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      'modelgate local: cannot start: models.json: stages.dev.models.fraud.bundle must be a bundle folder holding manifest.json and the model file, ' +
        'got: "fraud/v1" (not found): build the bundle there (modelgate package; npm run train:churn for the example), or leave "bundle" out and push the model with modelgate push',
    ]);
    expect(run.stdout).toBe('');
    expect(existsSync(stateDir)).toBe(false);
  });

  it("a manifest without its model file, --clean, and a dead runtime's endpoints file: one line naming the file; the state kept, the endpoints file gone", async () => {
    const folder = join(work, 'no-model-file');
    const bundle = join(folder, 'fraud', 'v1');
    mkdirSync(bundle, { recursive: true });
    writeFileSync(join(bundle, 'manifest.json'), JSON.stringify({ name: 'fraud', version: '1', model: { file: 'model.onnx' } }));
    const stateDir = join(folder, 'state');
    mkdirSync(join(stateDir, 'cloudformation'), { recursive: true });
    copyFileSync(join(ROOT, 'package.json'), join(stateDir, 'kept.json'));
    // The runtime that wrote it was killed: nothing answers at its address any more (port 9 is discard, unbound here).
    writeFileSync(join(stateDir, ENDPOINTS_FILE), JSON.stringify({ apiUrl: 'http://127.0.0.1:9' }));

    const run = await npmStart('--state-dir', stateDir, '--config', config(folder, 'fraud/v1'), '--clean');
    expect(run.code).toBe(2);
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      'modelgate local: cannot start: models.json: stages.dev.models.fraud.bundle must hold the model file its manifest names, got: "fraud/v1/model.onnx" (not found): ' +
        'build the bundle there (modelgate package; npm run train:churn for the example), or leave "bundle" out and push the model with modelgate push',
    ]);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(readdirSync(stateDir).sort()).toEqual(['cloudformation', 'kept.json']);
  });
});

describe('npm start on a state folder another runtime uses', () => {
  it('refuses in one line, naming the address that answers, and leaves its endpoints file alone', async () => {
    const stateDir = join(work, 'in-use');
    mkdirSync(stateDir);
    const other = createServer((socket) => socket.end()).listen(0, '127.0.0.1');
    await once(other, 'listening');
    try {
      const apiUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
      writeFileSync(join(stateDir, ENDPOINTS_FILE), JSON.stringify({ apiUrl }));
      const run = await npmStart('--state-dir', stateDir, '--clean');
      expect(run.code).toBe(1);
      expect(run.stderr.trimEnd().split('\n')).toEqual([
        `modelgate local: cannot start: another local runtime uses ${stateDir} (its API answers at ${apiUrl}): stop it first, or give another --state-dir`,
      ]);
      expect(readdirSync(stateDir)).toEqual([ENDPOINTS_FILE]);
    } finally {
      other.close();
    }
  });
});
