// How a stream consumer answers Lambda for a batch it could not finish (the event source mapping has
// FunctionResponseTypes ReportBatchItemFailures and BisectBatchOnFunctionError; docs/reliability.md). The
// consumer processes every record it can and names the first one it could not: Lambda checkpoints before it
// and delivers the batch again from there, and the consumers' exactly-once marks skip what was done already.
//
// A partial response only restarts the batch at the named record; it is an invocation that fails which
// Lambda halves. A record failing at the head of its batch, named, would take every record after it along to
// the on-failure destination when its retries run out. So a failure at the head of a batch of several
// records is thrown instead: Lambda halves the batch until the record is alone, and only it is discarded.

/** The answer Lambda reads with ReportBatchItemFailures: empty when the whole batch is done. */
export interface BatchItemFailures {
  readonly batchItemFailures: readonly { readonly itemIdentifier: string }[];
}

/** The first record of a batch that could not be processed, and why. */
export interface FailedRecord {
  /** Position in the event's Records. */
  readonly index: number;
  readonly sequenceNumber: string;
  readonly reason: string;
}

/** Thrown for a failure at the head of a batch of several records: the invocation fails and Lambda halves the batch. */
export class BatchHeadError extends Error {
  override readonly name = 'BatchHeadError';
}

/** Keeps the earlier of two failures (stream order). */
export function firstFailure(a: FailedRecord | undefined, b: FailedRecord | undefined): FailedRecord | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b.index < a.index ? b : a;
}

/** The partial response for a batch of `records` records whose first failure is `failed` (none: done). */
export function batchItemFailures(records: number, failed: FailedRecord | undefined): BatchItemFailures {
  if (failed === undefined) return { batchItemFailures: [] };
  if (failed.index === 0 && records > 1) {
    throw new BatchHeadError(`record ${failed.sequenceNumber}, the first of ${records}, failed: ${failed.reason}`);
  }
  return { batchItemFailures: [{ itemIdentifier: failed.sequenceNumber }] };
}
