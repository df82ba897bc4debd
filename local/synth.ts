import { App } from 'aws-cdk-lib';
import { defineApp } from '../lib/app/modelgate-app';
import type { CfnTemplate } from './template';

export interface SynthesizedStack {
  readonly stackName: string;
  readonly template: CfnTemplate;
  /** The cloud assembly folder: asset folders (bucket deployment sources) live here. */
  readonly assemblyDir: string;
}

/**
 * Synthesizes the app's dev stage in-process, as `cdk synth` would, but without bundling the Lambda code:
 * the local runtime runs handlers from source, so an esbuild bundle and an npm install of
 * onnxruntime-node per synth would only cost time. `configFile` replaces modelgate.config.json (`-c config`).
 * Bad configuration throws InvalidPropsError, every problem in it.
 */
export function synthesizeLocal(outdir: string, configFile?: string): SynthesizedStack {
  const app = new App({ outdir, context: { stage: 'dev', 'aws:cdk:bundling-stacks': [], ...(configFile !== undefined ? { config: configFile } : {}) } });
  const stack = defineApp(app);
  const assembly = app.synth();
  const artifact = assembly.getStackByName(stack.stackName);
  return { stackName: stack.stackName, template: artifact.template as CfnTemplate, assemblyDir: assembly.directory };
}
