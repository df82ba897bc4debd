import { describe, expect, it } from 'vitest';
import { BatchHeadError, batchItemFailures, firstFailure } from '../../lambdas/core/stream-batch';

const failure = (index: number) => ({ index, sequenceNumber: `10${index}`, reason: 'r' });

describe('stream batch answers', () => {
  it('name nothing when every record is done', () => {
    expect(batchItemFailures(5, undefined)).toEqual({ batchItemFailures: [] });
  });

  it('name the first failed record, so Lambda delivers the batch again from it', () => {
    expect(batchItemFailures(5, failure(3))).toEqual({ batchItemFailures: [{ itemIdentifier: '103' }] });
    expect(batchItemFailures(1, failure(0))).toEqual({ batchItemFailures: [{ itemIdentifier: '100' }] });
  });

  // Named, a head record would be retried with every record after it, and all of them discarded with it.
  it('throw for a failure at the head of a batch of several, so Lambda halves the batch', () => {
    expect(() => batchItemFailures(5, failure(0))).toThrow(BatchHeadError);
    expect(() => batchItemFailures(5, failure(0))).toThrow('record 100, the first of 5, failed: r');
  });

  it('keep the earlier of two failures', () => {
    expect(firstFailure(failure(4), failure(2))).toEqual(failure(2));
    expect(firstFailure(failure(1), failure(2))).toEqual(failure(1));
    expect(firstFailure(undefined, failure(2))).toEqual(failure(2));
    expect(firstFailure(failure(2), undefined)).toEqual(failure(2));
  });
});
