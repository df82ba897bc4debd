import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MethodLoggingLevel } from 'aws-cdk-lib/aws-apigateway';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_BUNDLE, stageConfig } from '../../lib/app/stage-config';
import { InvalidPropsError } from '../../lib/validation/prop-validation';
import { thrownBy } from './support';

describe('stageConfig', () => {
  it('prod serves churn without uploading local files, logging errors only', () => {
    const prod = stageConfig('prod');
    expect(prod.stage).toBe('prod');
    expect(prod.models).toEqual([{ name: 'churn', version: '1', alarms: expect.objectContaining({ featureDrift: expect.anything() }) }]);
    expect(prod.executionLogLevel).toBe(MethodLoggingLevel.ERROR);
  });

  it('dev can leave the example out (-c deployExample=false arrives as a string)', () => {
    const dev = stageConfig('dev', { deployExample: 'false' });
    expect(dev.models).toEqual([{ name: 'churn', version: '1', alarms: expect.anything() }]);
    expect(dev.executionLogLevel).toBe(MethodLoggingLevel.INFO);
  });

  it('dev deploys the example bundle', () => {
    expect(stageConfig('dev').models).toEqual([{ name: 'churn', version: '1', alarms: expect.anything(), bundlePath: EXAMPLE_BUNDLE }]);
  });

  it('dev fails with the way out when the example bundle has not been generated', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-no-example-'));
    try {
      expect(thrownBy(() => stageConfig('dev', { exampleBundle: empty })).message).toContain('synth without it (-c deployExample=false)');
    } finally {
      fs.rmSync(empty, { recursive: true });
    }
  });

  describe('fails when', () => {
    it('the stage is unknown, or the example flag is not a boolean, reporting both', () => {
      const error = thrownBy(() => stageConfig('staging', { deployExample: 'yes' })) as InvalidPropsError;
      expect(error).toBeInstanceOf(InvalidPropsError);
      expect(error.problems).toEqual([
        'stage must be one of dev, prod, got: "staging"',
        'deployExample must be true or false, got: "yes"',
      ]);
    });
  });
});
