// Known answers from AWS's event-pattern documentation (eb-event-patterns, eb-create-pattern-operators).
import { describe, expect, it } from 'vitest';
import { EventPatternError, matchesPattern } from '../../local/event-pattern';

const s3Event = {
  version: '0',
  id: '17793124-05d4-b198-2fde-7ededc63b103',
  'detail-type': 'Object Created',
  source: 'aws.s3',
  account: '123456789012',
  time: '2021-11-12T00:00:00Z',
  region: 'ca-central-1',
  resources: ['arn:aws:s3:::example-bucket'],
  detail: {
    version: '0',
    bucket: { name: 'example-bucket' },
    object: { key: 'candidates/churn/2/manifest.json', size: 5, etag: 'b1946ac92492d2347c6235b4d2611184', sequencer: '00617F08299329D189' },
    'request-id': 'N4N7GDK58NMKJ12R',
    requester: '123456789012',
    'source-ip-address': '1.2.3.4',
    reason: 'PutObject',
  },
};

describe('matchesPattern', () => {
  it.each([
    ['exact values, nested', { source: ['aws.s3'], detail: { bucket: { name: ['example-bucket'] } } }, true],
    ['any of a list', { 'detail-type': ['Object Deleted', 'Object Created'] }, true],
    ['a value not in the list', { source: ['aws.ec2'] }, false],
    ['wildcard across slashes', { detail: { object: { key: [{ wildcard: 'candidates/churn/*/manifest.json' }] } } }, true],
    ['wildcard of another model', { detail: { object: { key: [{ wildcard: 'candidates/fraud/*/manifest.json' }] } } }, false],
    ['prefix', { detail: { object: { key: [{ prefix: 'candidates/' }] } } }, true],
    ['suffix', { detail: { object: { key: [{ suffix: '.onnx' }] } } }, false],
    ['prefix ignoring case', { region: [{ prefix: { 'equals-ignore-case': 'CA-' } }] }, true],
    ['anything-but a value', { region: [{ 'anything-but': 'us-east-1' }] }, true],
    ['anything-but a list', { region: [{ 'anything-but': ['ca-central-1', 'us-east-1'] }] }, false],
    ['anything-but a prefix', { region: [{ 'anything-but': { prefix: 'ca-' } }] }, false],
    ['exists', { detail: { reason: [{ exists: true }] } }, true],
    ['does not exist', { detail: { 'version-id': [{ exists: false }] } }, true],
    ['numeric range', { detail: { object: { size: [{ numeric: ['>', 0, '<=', 5] }] } } }, true],
    ['numeric out of range', { detail: { object: { size: [{ numeric: ['>=', 10] }] } } }, false],
    ['an array value matches when any element does', { resources: ['arn:aws:s3:::example-bucket'] }, true],
    ['$or', { $or: [{ source: ['aws.ec2'] }, { detail: { reason: ['PutObject'] } }] }, true],
    ['a missing field never matches a value', { detail: { missing: ['x'] } }, false],
  ])('%s', (_name, pattern, expected) => {
    expect(matchesPattern(pattern, s3Event)).toBe(expected);
  });

  it('refuses matchers it does not know instead of missing silently', () => {
    expect(() => matchesPattern({ source: [{ cidr: '10.0.0.0/24' }] }, s3Event)).toThrow(EventPatternError);
  });
});
