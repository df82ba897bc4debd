// The promotion state machine's definition, composed from its named parts: an upload (the EventBridge event
// of a candidate manifest) takes the upload path; an operator's request (`{"operation": ...}`) the operator
// path. Each part lives in its own file next to this one.
import type { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { failurePath } from './failure-path';
import { operatorPath } from './operator-path';
import { PipelineTasks, type PipelineTaskSettings } from './tasks';
import { uploadPath } from './upload-path';

export interface PipelineDefinitionSettings extends PipelineTaskSettings {
  readonly lockRetryInterval: Duration;
  /** How often a CloudFormation operation on a model stack is polled. */
  readonly stackPollInterval: Duration;
}

export function pipelineDefinition(scope: Construct, settings: PipelineDefinitionSettings): sfn.IChainable {
  const tasks = new PipelineTasks(scope, settings);
  const onFailure = failurePath(scope, tasks);
  return new sfn.Choice(scope, 'Operation?')
    .when(sfn.Condition.isPresent('$.operation'), operatorPath(scope, tasks, settings))
    .otherwise(uploadPath(scope, tasks, onFailure, settings));
}
