// The S3 objects of batch jobs: the input read as a stream (checksum, header, rows cut into chunks) or one chunk's bytes, the
// parts, rejected rows and summary written, the Distributed Map's ResultWriter files read back.
import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { BatchFormat } from '../contracts/batch-job';
import { RecordScanner, type Chunk } from '../core/batch/records';

/** An object a job names does not exist, or the job's role may not read it (S3 answers both with 403 without ListBucket). */
export class BatchObjectError extends Error {
  override readonly name = 'BatchObjectError';
}

/** What one pass over the input found: its sha256, its first line, and its data rows cut into chunks. */
export interface InputScan {
  readonly sha256: string;
  readonly firstLine: string;
  readonly rows: number;
  readonly chunks: readonly Chunk[];
}

/** A header line longer than this is not a header a model's features make. */
const FIRST_LINE_LIMIT = 1024 * 1024;

export class BatchStore {
  constructor(private readonly s3: S3Client) {}

  /**
   * Streams the object once: sha256 of its bytes, its first line (at most FIRST_LINE_LIMIT bytes of it), and its
   * rows cut into chunks at record boundaries (lambdas/core/batch/records.ts). Memory stays flat whatever the
   * object's size; a quote left open throws RecordError.
   */
  async scan(bucket: string, key: string, format: BatchFormat, chunkBytes: number): Promise<InputScan> {
    const body = (await this.get(bucket, key)).Body as AsyncIterable<Uint8Array>;
    const hash = createHash('sha256');
    const scanner = new RecordScanner(format, chunkBytes);
    const head: Uint8Array[] = [];
    let headBytes = 0;
    let headDone = false;
    for await (const chunk of body) {
      hash.update(chunk);
      if (!headDone) {
        const end = chunk.indexOf(10);
        const piece = end === -1 ? chunk : chunk.subarray(0, end);
        head.push(piece.subarray(0, Math.max(0, FIRST_LINE_LIMIT - headBytes)));
        headBytes += piece.length;
        headDone = end !== -1 || headBytes >= FIRST_LINE_LIMIT;
      }
      scanner.feed(chunk);
    }
    const { rows, chunks } = scanner.finish();
    return { sha256: hash.digest('hex'), firstLine: Buffer.concat(head).toString('utf8'), rows, chunks };
  }

  /** Bytes [start, end) of an object (one chunk of a job's input). */
  async getRange(bucket: string, key: string, start: number, end: number): Promise<Uint8Array> {
    const response = await this.get(bucket, key, `bytes=${start}-${end - 1}`);
    return (response.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
  }

  async getText(bucket: string, key: string): Promise<string> {
    const response = await this.get(bucket, key);
    return (response.Body as { transformToString(): Promise<string> }).transformToString();
  }

  async putText(bucket: string, key: string, text: string, contentType: string): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: text, ContentType: contentType }));
  }

  private async get(bucket: string, key: string, range?: string) {
    try {
      return await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(range !== undefined ? { Range: range } : {}) }));
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'NoSuchKey') throw new BatchObjectError(`s3://${bucket}/${key} does not exist`);
      if (name === 'AccessDenied') throw new BatchObjectError(`s3://${bucket}/${key} does not exist or may not be read (S3 AccessDenied)`);
      throw error;
    }
  }
}
