// An upload of candidates/<model>/<version>/manifest.json: register the version (a duplicate, or a model the
// deployment does not serve, ends here), take the model's lock, validate, and either reject or give the model
// its serving stack (created on its first accepted version, updated when its settings changed), publish a
// Lambda version and roll it out.
import type { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { OnFailure } from './failure-path';
import { provisioningLoop } from './provisioning-path';
import { rolloutPath } from './rollout-path';
import { executionId, type PipelineTasks } from './tasks';

export interface UploadPathSettings {
  readonly lockRetryInterval: Duration;
  readonly stackPollInterval: Duration;
}

const candidate = { model: sfn.JsonPath.stringAt('$.candidate.model'), version: sfn.JsonPath.stringAt('$.candidate.version') };
const location = {
  bucket: sfn.JsonPath.stringAt('$.candidate.bucket'),
  candidatePrefix: sfn.JsonPath.stringAt('$.candidate.candidatePrefix'),
  modelPrefix: sfn.JsonPath.stringAt('$.candidate.modelPrefix'),
};

export function uploadPath(scope: Construct, tasks: PipelineTasks, onFailure: OnFailure, settings: UploadPathSettings): sfn.IChainable {
  const register = tasks.registry('Register', { action: 'register', event: sfn.JsonPath.objectAt('$'), executionId }, '$.candidate');
  const duplicate = tasks.notify(
    'NotifyDuplicate',
    '$.candidate.notice',
    new sfn.Fail(scope, 'Duplicate', { error: 'DUPLICATE_VERSION', cause: 'this model version is registered already; upload it as a new version' }),
  );
  const notDeclared = tasks.notify(
    'NotifyNotDeclared',
    '$.candidate.notice',
    new sfn.Fail(scope, 'NotDeclared', { error: 'MODEL_NOT_DECLARED', causePath: '$.candidate.notice.subject' }),
  );

  const acquireLock = onFailure(tasks.registry('AcquireLock', { action: 'acquire-lock', model: candidate.model, executionId }, '$.lock'));
  const waitForLock = new sfn.Wait(scope, 'WaitForLock', { time: sfn.WaitTime.duration(settings.lockRetryInterval) });
  const markValidating = onFailure(tasks.registry('MarkValidating', { action: 'mark-validating', ...candidate, executionId }));
  const validate = onFailure(tasks.validate('Validate', { ...candidate, ...location, executionId }, '$.validation'));
  const recordValidation = onFailure(
    tasks.registry('RecordValidation', { action: 'record-validation', ...candidate, executionId, validation: sfn.JsonPath.objectAt('$.validation') }, '$.recorded'),
  );
  const releaseAfterRejection = tasks.release('ReleaseLockAfterRejection', '$.candidate.model');
  releaseAfterRejection.next(new sfn.Fail(scope, 'Rejected', { error: 'Rejected', causePath: '$.recorded.notice.subject' }));
  const rejected = tasks.notify('NotifyRejection', '$.recorded.notice', releaseAfterRejection);

  const publish = onFailure(
    tasks.publish(
      'Publish',
      {
        ...candidate,
        ...location,
        files: sfn.JsonPath.listAt('$.validation.files'),
        objectVersions: sfn.JsonPath.objectAt('$.validation.objectVersions'),
        executionId,
        memory: sfn.JsonPath.objectAt('$.provisioned'),
      },
      '$.published',
    ),
  );
  const provision = tasks.provision('Provision', { action: 'ensure', model: candidate.model, memory: sfn.JsonPath.objectAt('$.validation.memory') }, '$.provisioned');
  const provisioned = provisioningLoop(
    scope,
    'Stack',
    tasks,
    onFailure,
    { start: provision, resultPath: '$.provisioned' },
    '$.candidate.model',
    settings.stackPollInterval,
    publish,
  );
  publish.next(rolloutPath(scope, tasks, onFailure));

  const accepted = new sfn.Choice(scope, 'Accepted?').when(sfn.Condition.booleanEquals('$.recorded.accepted', true), provisioned).otherwise(rejected);
  waitForLock.next(acquireLock);
  const locked = new sfn.Choice(scope, 'LockAcquired?').when(
    sfn.Condition.booleanEquals('$.lock.acquired', true),
    markValidating.next(validate).next(recordValidation).next(accepted),
  );
  locked.otherwise(tasks.lockHolder('', '$.candidate.model', onFailure, waitForLock, locked));
  return register.next(
    new sfn.Choice(scope, 'Registered?')
      .when(sfn.Condition.booleanEquals('$.candidate.duplicate', true), duplicate)
      .when(sfn.Condition.booleanEquals('$.candidate.admitted', false), notDeclared)
      .otherwise(acquireLock.next(locked)),
  );
}
