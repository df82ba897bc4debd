import * as fs from 'node:fs';
import * as path from 'node:path';
import { MethodLoggingLevel } from 'aws-cdk-lib/aws-apigateway';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_BUNDLE, stageConfig } from '../../lib/config';
import { InvalidPropsError } from '../../lib/prop-validation';
import { thrownBy } from './support';

const exampleGenerated = fs.existsSync(path.join(EXAMPLE_BUNDLE, 'manifest.json'));

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

  // Whether examples/churn/v1 exists depends on the example generator having run; both outcomes are defined.
  it.runIf(exampleGenerated)('dev deploys the generated example bundle', () => {
    expect(stageConfig('dev').models).toEqual([{ name: 'churn', version: '1', alarms: expect.anything(), bundlePath: EXAMPLE_BUNDLE }]);
  });

  it.runIf(!exampleGenerated)('dev fails with the way out when the example has not been generated', () => {
    expect(thrownBy(() => stageConfig('dev')).message).toContain('synth without it (-c deployExample=false)');
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
