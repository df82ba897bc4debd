// The inference image's Dockerfile (no Docker engine here: its content, and the build context the base stack
// stages for it): Lambda's Node.js 22 base image, the zip function's handler, onnxruntime's binary copied.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUNDLE_HANDLER } from '../../lib/functions/bundling';
import { INFERENCE_DOCKERFILE, stageInferenceImageContext } from '../../lib/serving/inference-image';

const BINARY = path.join('node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'arm64', 'onnxruntime_binding.node');
const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'inference-image-test-'));
afterAll(() => fs.rmSync(temp, { recursive: true, force: true }));

/** The Dockerfile's instructions (continuation lines joined, comments dropped), as [instruction, arguments]. */
function instructions(): [string, string][] {
  const text = fs.readFileSync(INFERENCE_DOCKERFILE, 'utf8').replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [instruction, ...rest] = line.split(/\s+/);
      return [(instruction as string).toUpperCase(), rest.join(' ')];
    });
}

/** A bundle as the zip asset holds it: the code, its chunks, onnxruntime-node with the linux/arm64 binary. */
function fakeBundle(): string {
  const bundle = path.join(temp, 'bundle');
  for (const [file, content] of [
    ['index.mjs', 'export const handler = 1;'],
    [path.join('chunks', 'routing-abc.mjs'), 'export {};'],
    [BINARY, 'binary'],
  ] as const) {
    fs.mkdirSync(path.dirname(path.join(bundle, file)), { recursive: true });
    fs.writeFileSync(path.join(bundle, file), content);
  }
  return bundle;
}

describe('the inference image Dockerfile', () => {
  it("starts from Lambda's Node.js 22 base image, the zip functions' runtime", () => {
    const from = instructions().filter(([instruction]) => instruction === 'FROM');
    expect(from).toEqual([['FROM', 'public.ecr.aws/lambda/nodejs:22']]);
  });

  it("runs the zip function's handler", () => {
    const cmd = instructions().filter(([instruction]) => instruction === 'CMD');
    expect(cmd).toHaveLength(1);
    expect(JSON.parse(cmd[0]?.[1] as string)).toEqual([BUNDLE_HANDLER]);
  });

  it("copies the staged bundle into the task root so the handler file and onnxruntime's linux/arm64 binary land where the zip has them", () => {
    const context = path.join(temp, 'context');
    stageInferenceImageContext(context, fakeBundle());
    const copies = instructions()
      .filter(([instruction]) => instruction === 'COPY')
      .map(([, args]) => args.split(/\s+/) as [string, string]);
    // Where each file of the context ends up in the image, per the COPY instructions (directory sources).
    const image = new Set<string>();
    for (const [source, destination] of copies) {
      expect(fs.statSync(path.join(context, source)).isDirectory(), source).toBe(true);
      const root = destination.replace('${LAMBDA_TASK_ROOT}', '/var/task');
      for (const file of fs.readdirSync(path.join(context, source), { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile())) {
        image.add(path.posix.join(root, path.relative(path.join(context, source), path.join(file.parentPath, file.name)).split(path.sep).join('/')));
      }
    }
    expect([...image].sort()).toEqual(['/var/task/chunks/routing-abc.mjs', '/var/task/index.mjs', `/var/task/${BINARY.split(path.sep).join('/')}`].sort());
  });

  it('has a context of the Dockerfile alone when nothing is bundled (synth for the local runtime)', () => {
    const context = path.join(temp, 'unbundled');
    stageInferenceImageContext(context, undefined);
    expect(fs.readdirSync(context)).toEqual(['Dockerfile']);
  });
});
