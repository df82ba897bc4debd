// The stages and the models they declare (modelgate.config.json, models as data): the repository's own file,
// the context flags, and every problem a config file can have, from temporary files.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MethodLoggingLevel } from 'aws-cdk-lib/aws-apigateway';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE, readStageModels } from '../../lib/app/model-declarations';
import { DEFAULT_CONFIG_FILE, stageConfig } from '../../lib/app/stage-config';
import { InvalidPropsError } from '../../lib/validation/prop-validation';
import { FIXTURE_BUNDLE, thrownBy } from './support';

const REPO_ROOT = path.join(import.meta.dirname, '..', '..');
const EXAMPLE_BUNDLE = path.join(REPO_ROOT, 'examples', 'churn', 'v1');

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) fs.rmSync(folder, { recursive: true, force: true });
});

/** A config file with `content` in a folder of its own (bundle paths are relative to it). */
function configFile(content: unknown): string {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-config-'));
  folders.push(folder);
  const file = path.join(folder, CONFIG_FILE);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe("the repository's stages", () => {
  it("read modelgate.config.json at the repository's root", () => {
    expect(DEFAULT_CONFIG_FILE).toBe(path.join(REPO_ROOT, CONFIG_FILE));
  });

  it('dev declares churn with its example bundle and admits models nobody declared', () => {
    const { models, problems } = readStageModels(DEFAULT_CONFIG_FILE, 'dev');
    expect(problems).toEqual([]);
    expect(models.allowUndeclaredModels).toBe(true);
    expect(Object.keys(models.models)).toEqual(['churn']);
    expect(models.models.churn).toMatchObject({ bundlePath: EXAMPLE_BUNDLE, alarms: { featureDrift: { features: expect.arrayContaining(['Contract']), severity: 'warning' } } });

    const dev = stageConfig('dev');
    expect(dev).toMatchObject({
      stage: 'dev',
      apiStageName: 'dev',
      allowUndeclaredModels: true,
      logLevel: 'DEBUG',
      executionLogLevel: MethodLoggingLevel.INFO,
      logRetention: RetentionDays.ONE_MONTH,
    });
    expect(dev.models?.churn?.bundlePath).toBe(EXAMPLE_BUNDLE);
  });

  it('prod declares no model, admits only declared ones, logs errors only and keeps logs a year', () => {
    expect(stageConfig('prod')).toEqual({
      stage: 'prod',
      apiStageName: 'prod',
      models: {},
      allowUndeclaredModels: false,
      notificationEmails: [],
      logLevel: 'INFO',
      executionLogLevel: MethodLoggingLevel.ERROR,
      logRetention: RetentionDays.ONE_YEAR,
      throttle: { rateLimit: 100, burstLimit: 200 },
      stageThrottle: { rateLimit: 1000, burstLimit: 2000 },
    });
  });

  it('-c deployExample=false (a string, as context arrives) keeps the declaration and uploads no bundle', () => {
    const dev = stageConfig('dev', { deployExample: 'false' });
    expect(Object.keys(dev.models ?? {})).toEqual(['churn']);
    expect(dev.models?.churn).not.toHaveProperty('bundlePath');
    expect(dev.models?.churn?.alarms).toBeDefined();
  });

  it('-c config=<file> reads another models-as-data file, relative to the working folder; a non-path is refused', () => {
    const file = configFile({ stages: { prod: { allowUndeclaredModels: true, models: { fraud: {} } } } });
    const relative = path.relative(process.cwd(), file);
    expect(stageConfig('prod', { configFile: relative })).toMatchObject({ models: { fraud: {} }, allowUndeclaredModels: true });
    expect((thrownBy(() => stageConfig('prod', { configFile: true })) as InvalidPropsError).problems).toEqual(['config must be the path of a models-as-data file, got: true']);
  });

  it('-c notificationEmails subscribes each comma-separated address', () => {
    expect(stageConfig('prod', { notificationEmails: 'oncall@example.com, ml@example.com' }).notificationEmails).toEqual(['oncall@example.com', 'ml@example.com']);
  });
});

describe('a config file', () => {
  it('resolves bundle paths against its own folder', () => {
    const file = configFile({});
    const relative = path.relative(path.dirname(file), FIXTURE_BUNDLE);
    fs.writeFileSync(
      file,
      JSON.stringify({ stages: { dev: { models: { churn: { bundle: relative, memorySize: 1024, reservedConcurrency: 5, rollout: { strategy: 'canary' } } } } } }),
    );
    expect(stageConfig('dev', { configFile: file }).models).toEqual({
      churn: { bundlePath: FIXTURE_BUNDLE, memorySize: 1024, reservedConcurrency: 5, rollout: { strategy: 'canary' } },
    });
  });

  it('may leave a stage out: it declares nothing and admits only declared models', () => {
    const file = configFile({ stages: { dev: { allowUndeclaredModels: true } } });
    expect(stageConfig('prod', { configFile: file })).toMatchObject({ models: {}, allowUndeclaredModels: false });
  });
});

describe('stage config fails when', () => {
  it('the stage is unknown, or the flags are not what they must be, reporting all', () => {
    const error = thrownBy(() => stageConfig('staging', { deployExample: 'yes', notificationEmails: 'oncall' })) as InvalidPropsError;
    expect(error).toBeInstanceOf(InvalidPropsError);
    expect(error.problems).toEqual([
      'stage must be one of dev, prod, got: "staging"',
      'deployExample must be true or false, got: "yes"',
      'notificationEmails must be email addresses, got: "oncall"',
    ]);
  });

  it('the file lists problems: every one, with its path in the file and the bad value', () => {
    const file = configFile({
      stages: {
        dev: {
          allowUndeclaredModels: 'yes',
          retention: 30,
          models: {
            churn: { memorySize: 64, strategy: 'canary', rollout: { strategy: 'big-bang' }, alarms: { driftShare: { warning: 1.5 } }, packaging: 'docker' },
            Bad_Name: {},
            fraud: { bundle: 7 },
            lost: { bundle: 'no/such/folder' },
          },
        },
      },
    });
    const error = thrownBy(() => stageConfig('dev', { configFile: file })) as InvalidPropsError;
    expect(error).toBeInstanceOf(InvalidPropsError);
    expect(error.problems).toEqual([
      'modelgate.config.json: stages.dev.retention is not a stage setting (known: allowUndeclaredModels, models)',
      'modelgate.config.json: stages.dev.allowUndeclaredModels must be true or false, got: "yes"',
      'modelgate.config.json: stages.dev.models.churn.memorySize must be an integer between 128 and 10240, got: 64',
      'modelgate.config.json: stages.dev.models.churn.alarms.driftShare.warning must be a number in [0, 1], got: 1.5',
      'modelgate.config.json: stages.dev.models.churn.rollout.strategy must be one of canary, linear, ab-test, shadow, all-at-once, got: "big-bang"',
      'modelgate.config.json: stages.dev.models.churn.packaging must be one of zip, image, got: "docker"',
      'modelgate.config.json: stages.dev.models.churn.strategy is not a model setting (known: memorySize, reservedConcurrency, alarms, rollout, packaging, bundle)',
      'modelgate.config.json: stages.dev.models.Bad_Name: model name must be 1-40 lower-case letters, digits and single dashes, got: "Bad_Name"',
      'modelgate.config.json: stages.dev.models.fraud.bundle must be a folder path, got: 7',
      'modelgate.config.json: stages.dev.models.lost.bundle must be a bundle folder holding manifest.json and the model file, got: "no/such/folder" (not found): ' +
        'build the bundle there (modelgate package; npm run train:churn for the example), or leave "bundle" out and push the model with modelgate push',
    ]);
  });

  it('a bundle folder has no manifest, naming the way out', () => {
    const file = configFile({ stages: { dev: { models: { churn: { bundle: 'churn-v1' } } } } });
    fs.mkdirSync(path.join(path.dirname(file), 'churn-v1'));
    expect((thrownBy(() => stageConfig('dev', { configFile: file })) as InvalidPropsError).problems).toEqual([
      'modelgate.config.json: stages.dev.models.churn.bundle must be a bundle folder holding manifest.json and the model file, got: "churn-v1" (no manifest.json in it): ' +
        'build the bundle there (modelgate package; npm run train:churn for the example), or leave "bundle" out and push the model with modelgate push',
    ]);
    // Without uploads the bundle is not needed.
    expect(stageConfig('dev', { configFile: file, deployExample: false }).models).toEqual({ churn: {} });
  });

  it('the file is missing, is not JSON, or has no stages object', () => {
    expect((thrownBy(() => stageConfig('prod', { configFile: '/nonexistent/modelgate.config.json' })) as InvalidPropsError).problems).toEqual([
      '"/nonexistent/modelgate.config.json" not found: declare the stages\' models there (docs/infrastructure.md, "Models as data")',
    ]);
    expect((thrownBy(() => stageConfig('prod', { configFile: configFile('{ "stages": ') })) as InvalidPropsError).problems).toEqual([
      expect.stringMatching(/^modelgate\.config\.json must be JSON: /),
    ]);
    expect((thrownBy(() => stageConfig('prod', { configFile: configFile({ stages: ['dev'] }) })) as InvalidPropsError).problems).toEqual([
      'modelgate.config.json: stages must be an object of stages, got: ["dev"]',
    ]);
    expect((thrownBy(() => stageConfig('prod', { configFile: configFile({ stages: { prod: { models: [] } } }) })) as InvalidPropsError).problems).toEqual([
      'modelgate.config.json: stages.prod.models must be an object of models by name, got: []',
    ]);
  });
});
