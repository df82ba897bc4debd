import { describe, expect, it } from 'vitest';
import { FaultRuleError, LocalFaults, type FaultCall, type FaultRule } from '../../local/faults';

const put: FaultCall = { service: 'dynamodb', actions: ['PutItem'], caller: 'modelgate-dev-model-churn' };

describe('LocalFaults', () => {
  it.each<[string, FaultRule, FaultCall, boolean]>([
    ['every call of the service', { service: 'dynamodb', kind: 'throttle' }, put, true],
    ['another service', { service: 's3', kind: 'throttle' }, put, false],
    ['one of its actions', { service: 'dynamodb', kind: 'throttle', actions: ['BatchWriteItem', 'PutItem'] }, put, true],
    ['another action', { service: 'dynamodb', kind: 'throttle', actions: ['Query'] }, put, false],
    [
      'any action of a call authorized as several (a copy)',
      { service: 's3', kind: 'server-error', actions: ['GetObject'] },
      { service: 's3', actions: ['PutObject', 'GetObject'] },
      true,
    ],
    ['its caller', { service: 'dynamodb', kind: 'throttle', caller: 'modelgate-dev-model-churn' }, put, true],
    ['another caller', { service: 'dynamodb', kind: 'throttle', caller: 'modelgate-dev-aggregator' }, put, false],
    [
      'a call with no function behind it (the operator)',
      { service: 'dynamodb', kind: 'throttle', caller: 'modelgate-dev-model-churn' },
      { service: 'dynamodb', actions: ['PutItem'] },
      false,
    ],
    ['the function invoked', { service: 'lambda', kind: 'throttle', functionName: 'f' }, { service: 'lambda', actions: ['InvokeFunction'], functionName: 'f' }, true],
    ['another function invoked', { service: 'lambda', kind: 'throttle', functionName: 'f' }, { service: 'lambda', actions: ['InvokeFunction'], functionName: 'g' }, false],
  ])('a rule on %s', (_what, rule, call, meets) => {
    const faults = new LocalFaults();
    faults.inject(rule);
    expect(faults.meet(call)).toBe(meets ? rule.kind : undefined);
  });

  it('fails `times` calls, then lets them through; counts its hits', () => {
    const faults = new LocalFaults();
    const injected = faults.inject({ service: 'dynamodb', kind: 'server-error', times: 2 });
    expect([faults.meet(put), faults.meet(put), faults.meet(put)]).toEqual(['server-error', 'server-error', undefined]);
    expect(injected.hits).toBe(2);
  });

  it('the first rule injected decides; a cleared rule fails nothing more', () => {
    const faults = new LocalFaults();
    const first = faults.inject({ service: 'dynamodb', kind: 'unreachable' });
    faults.inject({ service: 'dynamodb', kind: 'throttle' });
    expect(faults.meet(put)).toBe('unreachable');
    first.clear();
    expect(faults.meet(put)).toBe('throttle');
    faults.clear();
    expect(faults.meet(put)).toBeUndefined();
  });

  it('refuses a rule the service has no answer for, naming every problem', () => {
    const faults = new LocalFaults();
    expect(() => faults.inject({ service: 'lambda', kind: 'unreachable', times: 0, caller: 'f' })).toThrow(FaultRuleError);
    expect(() => faults.inject({ service: 'lambda', kind: 'unreachable', times: 0, caller: 'f' })).toThrow(
      'invalid fault rule: kind must be one of throttle for lambda, got: unreachable; times must be a positive integer, got: 0; caller applies to S3 and DynamoDB calls; for Lambda name the function invoked (functionName)',
    );
    expect(() => faults.inject({ service: 's3', kind: 'throttle', functionName: 'f' })).toThrow('functionName applies to Lambda invocations');
    expect(faults.meet({ service: 'lambda', actions: ['InvokeFunction'], functionName: 'f' })).toBeUndefined();
  });
});
