import type { App } from 'aws-cdk-lib';
import { stageConfig } from './stage-config';
import { ModelgateStack } from '../modelgate-stack';

/**
 * Defines the stack of the stage named by the app's context (`-c stage=dev|prod`, default dev;
 * `-c deployExample=false` leaves the declared bundles out; `-c config=<file>` reads the models from another
 * file than modelgate.config.json). Shared by `bin/app.ts` (cdk synth / deploy) and the local runtime, so both
 * run the same definition.
 */
export function defineApp(app: App): ModelgateStack {
  const { stage, ...config } = stageConfig(app.node.tryGetContext('stage') ?? 'dev', {
    deployExample: app.node.tryGetContext('deployExample'),
    notificationEmails: app.node.tryGetContext('notificationEmails'),
    configFile: app.node.tryGetContext('config'),
  });
  return new ModelgateStack(app, `modelgate-${stage}`, {
    ...config,
    description: `modelgate (${stage}): ONNX model serving`,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
}
