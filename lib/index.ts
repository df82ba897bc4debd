// `modelgate/cdk`: what a team's own CDK app imports — the deployment as one construct, and the models-as-data
// declarations it takes, inline or read from a modelgate.config.json (docs/infrastructure.md, "Models as data").
export { ModelgateStack, type ModelgateStackProps } from './modelgate-stack';
export { CONFIG_FILE, readStageModels, type DeclaredModel, type StageModels } from './app/model-declarations';
export { InvalidPropsError } from './validation/prop-validation';
export type { ModelDeclaration } from '../lambdas/core/pipeline/declarations';
export type { AlarmThresholds, SeverityThresholds } from '../lambdas/core/monitoring/alarms';
export type { RolloutSpec, RolloutStrategy } from '../lambdas/core/manifest-types';
export type { QuotaSettings, ThrottleSettings } from './api/model-api';
export type { ModelBucketEncryption } from './storage/model-bucket';
export type { LogLevel } from './functions/modelgate-function';
