// The CDK app: `npx cdk synth|deploy -c stage=dev|prod [-c deployExample=false]`.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { defineApp } from '../lib/app/modelgate-app';
import { InvalidPropsError } from '../lib/validation/prop-validation';

try {
  const app = new App();
  defineApp(app);
  // cdk-nag 3 packs are CDK policy-validation plugins, not Aspects: they run after synthesis and
  // an unacknowledged error fails it.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
} catch (error) {
  // Bad configuration: the message lists every problem; a stack trace would only bury it.
  if (!(error instanceof InvalidPropsError)) throw error;
  console.error(error.message);
  process.exitCode = 1;
}
