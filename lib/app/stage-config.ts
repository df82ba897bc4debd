import * as path from 'node:path';
import type { StackProps } from 'aws-cdk-lib';
import { MethodLoggingLevel } from 'aws-cdk-lib/aws-apigateway';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ModelgateStackProps } from '../modelgate-stack';
import { PACKAGE_ROOT } from '../package-root';
import { InvalidPropsError, show } from '../validation/prop-validation';
import { bundleProblems, CONFIG_FILE, readStageModels, type DeclaredModel } from './model-declarations';

export const STAGES = ['dev', 'prod'] as const;
export type StageName = (typeof STAGES)[number];

/** The models each stage declares (models as data): modelgate.config.json at the repository's root. */
export const DEFAULT_CONFIG_FILE = path.join(PACKAGE_ROOT, CONFIG_FILE);

export interface StageOptions {
  /**
   * Upload the declared models' local bundles on deploy (`bundle` in the config file). Context values arrive as
   * strings (`-c deployExample=false`), so "true" / "false" are accepted too.
   *
   * @default true
   */
  readonly deployExample?: unknown;
  /**
   * On-call email addresses subscribed to the notification topic (pipeline verdicts, alarms), comma-separated
   * when given as context (`-c notificationEmails=oncall@example.com,ml@example.com`).
   *
   * @default - none
   */
  readonly notificationEmails?: unknown;
  /**
   * The models-as-data file (stages -> allowUndeclaredModels, models): a path, relative to the working folder
   * (context values arrive as strings: `-c config=models.json`).
   *
   * @default DEFAULT_CONFIG_FILE
   */
  readonly configFile?: unknown;
}

export type StageConfig = Omit<ModelgateStackProps, keyof StackProps> & {
  readonly stage: StageName;
};

/**
 * The settings of one deployment stage: its infrastructure settings here, its models from the config file (dev
 * declares the example churn model and uploads its bundle; prod declares none and admits only declared models).
 */
export function stageConfig(stage: unknown, options: StageOptions = {}): StageConfig {
  const problems: string[] = [];
  if (!STAGES.includes(stage as StageName)) {
    problems.push(`stage must be one of ${STAGES.join(', ')}, got: ${show(stage)}`);
  }
  const deployExample = parseFlag(options.deployExample ?? true);
  if (deployExample === undefined) {
    problems.push(`deployExample must be true or false, got: ${show(options.deployExample)}`);
  }
  let configFile = DEFAULT_CONFIG_FILE;
  if (typeof options.configFile === 'string' && options.configFile !== '') configFile = path.resolve(options.configFile);
  else if (options.configFile !== undefined) problems.push(`config must be the path of a models-as-data file, got: ${show(options.configFile)}`);
  const declared = STAGES.includes(stage as StageName) ? readStageModels(configFile, stage as StageName) : { models: { allowUndeclaredModels: false, models: {} }, problems: [] };
  problems.push(...declared.problems);
  const models: Record<string, DeclaredModel> = {};
  for (const [name, model] of Object.entries(declared.models.models)) {
    const { bundlePath, ...settings } = model;
    const upload = deployExample === true && bundlePath !== undefined;
    if (upload) {
      const where = `${path.basename(configFile)}: stages.${stage as StageName}.models.${name}.bundle`;
      const shown = path.relative(path.dirname(configFile), bundlePath);
      problems.push(
        ...bundleProblems(where, name, bundlePath, shown).map(
          (problem) => `${problem}: build the bundle there (modelgate package; npm run train:churn for the example), or leave "bundle" out and push the model with modelgate push`,
        ),
      );
    }
    models[name] = upload ? { ...settings, bundlePath } : settings;
  }
  const notificationEmails = parseEmails(options.notificationEmails);
  for (const email of notificationEmails) {
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) problems.push(`notificationEmails must be email addresses, got: ${show(email)}`);
  }
  if (problems.length > 0) throw new InvalidPropsError('stage config', problems);

  const { allowUndeclaredModels } = declared.models;
  if (stage === 'prod') {
    return {
      stage,
      apiStageName: 'prod',
      models,
      allowUndeclaredModels,
      notificationEmails,
      logLevel: 'INFO',
      executionLogLevel: MethodLoggingLevel.ERROR,
      logRetention: RetentionDays.ONE_YEAR,
      throttle: { rateLimit: 100, burstLimit: 200 },
      stageThrottle: { rateLimit: 1000, burstLimit: 2000 },
    };
  }
  return {
    stage: 'dev',
    apiStageName: 'dev',
    notificationEmails,
    models,
    allowUndeclaredModels,
    logLevel: 'DEBUG',
    executionLogLevel: MethodLoggingLevel.INFO,
    logRetention: RetentionDays.ONE_MONTH,
    throttle: { rateLimit: 10, burstLimit: 20 },
    stageThrottle: { rateLimit: 50, burstLimit: 100 },
  };
}

function parseEmails(value: unknown): string[] {
  if (value === undefined || value === '') return [];
  const list = Array.isArray(value) ? value.map(String) : String(value).split(',');
  return list.map((email) => email.trim()).filter(Boolean);
}

function parseFlag(value: unknown): boolean | undefined {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  return undefined;
}
