import * as fs from 'node:fs';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../package-root';

/** The Dockerfile of the inference image, shipped with the package. */
export const INFERENCE_DOCKERFILE = path.join(PACKAGE_ROOT, 'lib', 'serving', 'inference-image', 'Dockerfile');

/**
 * Writes the Docker build context of the inference image to `context` (emptied first): the Dockerfile, and the zip bundle of the
 * inference function (`bundleDir`, as bundled for the zip asset) split into what the Dockerfile copies in two
 * layers — `node_modules/` (onnxruntime-node and its binary) and `code/` (everything else). Without a bundle
 * (synth with bundling skipped: the local runtime runs the sources) the context holds the Dockerfile only.
 */
export function stageInferenceImageContext(context: string, bundleDir: string | undefined): void {
  fs.rmSync(context, { recursive: true, force: true });
  fs.mkdirSync(context, { recursive: true });
  fs.copyFileSync(INFERENCE_DOCKERFILE, path.join(context, 'Dockerfile'));
  if (bundleDir === undefined) return;
  for (const entry of fs.readdirSync(bundleDir)) {
    const target = entry === 'node_modules' ? path.join(context, 'node_modules') : path.join(context, 'code', entry);
    fs.cpSync(path.join(bundleDir, entry), target, { recursive: true });
  }
}
