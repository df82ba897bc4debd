// The promotion state machine's definition, composed from its named parts: an upload (the EventBridge event
// of a candidate manifest) takes the upload path; an operator's request (`{"operation": ...}`) the operator
// path; an update of the base stack (`{"operation": "redeploy-routes"}`) redeploys the API's stage. Each part
// lives in its own file next to this one.
import type { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { failurePath } from './failure-path';
import { operatorPath } from './operator-path';
import { PipelineTasks, type PipelineTaskSettings } from './tasks';
import { uploadPath } from './upload-path';

/** The input that redeploys the API's stage with every route its resources hold now. */
export const REDEPLOY_ROUTES = 'redeploy-routes';

export interface PipelineDefinitionSettings extends PipelineTaskSettings {
  readonly lockRetryInterval: Duration;
  /** How often a CloudFormation operation on a model stack is polled. */
  readonly stackPollInterval: Duration;
}

export function pipelineDefinition(scope: Construct, settings: PipelineDefinitionSettings): sfn.IChainable {
  const tasks = new PipelineTasks(scope, settings);
  const onFailure = failurePath(scope, tasks);
  // A base stack update that touches the API's stage points it back at the base stack's own deployment, which
  // lacks the routes model stacks added since: a new deployment puts them back (docs/infrastructure.md).
  const redeploy = tasks.deployApi('RedeployRoutes').next(new sfn.Succeed(scope, 'RoutesRedeployed'));
  const operation = new sfn.Choice(scope, 'Redeploy?').when(sfn.Condition.stringEquals('$.operation', REDEPLOY_ROUTES), redeploy).otherwise(operatorPath(scope, tasks, settings));
  return new sfn.Choice(scope, 'Operation?').when(sfn.Condition.isPresent('$.operation'), operation).otherwise(uploadPath(scope, tasks, onFailure, settings));
}
