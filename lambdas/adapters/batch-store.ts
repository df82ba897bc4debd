// The S3 objects of batch jobs: the input read as a stream (checksum, rows, header) or its first bytes, the
// parts, rejected rows and summary written, the Distributed Map's ResultWriter files read back.
import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/** An object a job names does not exist, or the job's role may not read it (S3 answers both with 403 without ListBucket). */
export class BatchObjectError extends Error {
  override readonly name = 'BatchObjectError';
}

/** What one pass over the input found: its sha256, its first line and how many non-blank lines it has. */
export interface InputScan {
  readonly sha256: string;
  readonly firstLine: string;
  readonly lines: number;
}

/** A header line longer than this is not a header a model's features make. */
const FIRST_LINE_LIMIT = 1024 * 1024;

export class BatchStore {
  constructor(private readonly s3: S3Client) {}

  /**
   * Streams the object once: sha256 of its bytes, its first line (at most FIRST_LINE_LIMIT bytes of it), and its
   * non-blank lines. Memory stays flat whatever the object's size.
   */
  async scan(bucket: string, key: string): Promise<InputScan> {
    const body = (await this.get(bucket, key)).Body as AsyncIterable<Uint8Array>;
    const hash = createHash('sha256');
    const head: Uint8Array[] = [];
    let headBytes = 0;
    let headDone = false;
    let lines = 0;
    let lineHasText = false;
    for await (const chunk of body) {
      hash.update(chunk);
      if (!headDone) {
        const end = chunk.indexOf(10);
        const piece = end === -1 ? chunk : chunk.subarray(0, end);
        head.push(piece.subarray(0, Math.max(0, FIRST_LINE_LIMIT - headBytes)));
        headBytes += piece.length;
        headDone = end !== -1 || headBytes >= FIRST_LINE_LIMIT;
      }
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i] as number;
        if (byte === 10) {
          if (lineHasText) lines++;
          lineHasText = false;
        } else if (byte !== 13 && byte !== 32 && byte !== 9) lineHasText = true;
      }
    }
    if (lineHasText) lines++;
    return { sha256: hash.digest('hex'), firstLine: Buffer.concat(head).toString('utf8'), lines };
  }

  async getText(bucket: string, key: string): Promise<string> {
    const response = await this.get(bucket, key);
    return (response.Body as { transformToString(): Promise<string> }).transformToString();
  }

  async putText(bucket: string, key: string, text: string, contentType: string): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: text, ContentType: contentType }));
  }

  private async get(bucket: string, key: string) {
    try {
      return await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'NoSuchKey') throw new BatchObjectError(`s3://${bucket}/${key} does not exist`);
      if (name === 'AccessDenied') throw new BatchObjectError(`s3://${bucket}/${key} does not exist or may not be read (S3 AccessDenied)`);
      throw error;
    }
  }
}
