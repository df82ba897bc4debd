// Every name modelgate gives a deployed resource derives from the deployment's name — the base stack's,
// `modelgate-<stage>` — so two stages in one account and region collide on nothing (functions, stacks,
// alarms, log groups, metrics), and the pipeline, the CLI and the local runtime find resources by
// convention. Pure string functions: lib/, the functions and the local runtime all import them.

/** The base stack of a stage. */
export function deploymentName(stage: string): string {
  return `modelgate-${stage}`;
}

/** A deployed function of the base stack: `lambdas/handlers/<handler>.ts` deployed as `<deployment>-<handler>`. */
export function functionName(deployment: string, handler: string): string {
  return `${deployment}-${handler}`;
}

/** The CloudFormation stack that serves one model (its inference function, `live` alias, routes). */
export function modelStackName(deployment: string, model: string): string {
  return `${deployment}-model-${model}`;
}

/** The inference function of one model; named like its stack. */
export function modelFunctionName(deployment: string, model: string): string {
  return `${deployment}-model-${model}`;
}

/** The CloudWatch namespace of every metric a deployment emits (serving, monitor). */
export function metricsNamespace(deployment: string): string {
  return deployment;
}

/**
 * Alarm names are `<deployment>/<model>/v<version>/<metric>-<severity>`. '/' occurs in no model name or
 * version, so a prefix selects exactly one deployment, model or version (with '-' as the separator the
 * prefix of churn v1 would also select model `churn-v1`).
 */
export function alarmName(deployment: string, model: string, version: string, metricKey: string, severity: string): string {
  return `${versionAlarmPrefix(deployment, model, version)}${metricKey}-${severity}`;
}

/**
 * An alarm of one model's batch jobs, whatever version they score: `<deployment>/<model>/batch/<metric>-<severity>`
 * (under the model's prefix, so retiring the model deletes it; no version prefix `v<n>/` holds it).
 */
export function batchAlarmName(deployment: string, model: string, metricKey: string, severity: string): string {
  return `${modelAlarmPrefix(deployment, model)}batch/${metricKey}-${severity}`;
}

/** Every alarm of one model version. */
export function versionAlarmPrefix(deployment: string, model: string, version: string): string {
  return `${modelAlarmPrefix(deployment, model)}v${version}/`;
}

/** Every alarm of one model, all versions. */
export function modelAlarmPrefix(deployment: string, model: string): string {
  return `${deploymentAlarmPrefix(deployment)}${model}/`;
}

/** Every alarm of a deployment (the IAM resource of the pipeline's alarm grants). */
export function deploymentAlarmPrefix(deployment: string): string {
  return `${deployment}/`;
}

/** The alias of every inference function that API Gateway calls and the pipeline moves between versions. */
export const LIVE_ALIAS_NAME = 'live';

/** The usage plan of one kind of API client (core/api-clients.ts); the authorizer finds the plans by these names. */
export function usagePlanName(deployment: string, client: string): string {
  return `${deployment}-${client}`;
}
