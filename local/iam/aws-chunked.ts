// S3's `aws-chunked` content encoding, undone as S3 undoes it: the SDK streams a body of known length as chunks
// (`<hex size>[;chunk-signature=…]\r\n<bytes>\r\n`…, then `0\r\n`, trailers such as `x-amz-checksum-crc32:…`
// and an empty line) whenever it computes a checksum as it sends (every PutObject of a stream). s3rver stores
// the framing as the object's bytes; the S3 gateway passes the decoded body on instead and checks the trailing
// checksum, as S3 does (docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html).
import { createHash, type Hash } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';

/** Whether a request's body is aws-chunked (S3 reads the content encoding, or the streaming payload hash). */
export function isAwsChunked(headers: OutgoingHttpHeaders): boolean {
  const encoding = String(headers['content-encoding'] ?? '');
  return encoding.split(',').some((e) => e.trim() === 'aws-chunked') || String(headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-');
}

/** The headers the decoded body goes on with: its own length, no chunk encoding, no trailer announced. */
export function decodedHeaders(headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const decoded: OutgoingHttpHeaders = { ...headers };
  const encodings = String(headers['content-encoding'] ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '' && e !== 'aws-chunked');
  if (encodings.length > 0) decoded['content-encoding'] = encodings.join(',');
  else delete decoded['content-encoding'];
  delete decoded['transfer-encoding'];
  delete decoded['x-amz-trailer'];
  delete decoded['x-amz-decoded-content-length'];
  if (headers['x-amz-decoded-content-length'] !== undefined) decoded['content-length'] = String(headers['x-amz-decoded-content-length']);
  decoded['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  return decoded;
}

/** A trailer checksum S3 checks, by trailer name (crc32c and crc64nvme have no Node implementation: taken as sent). */
type Digest = { update(bytes: Buffer): void; digest(): string };
const CHECKSUMS: Readonly<Record<string, () => Digest>> = {
  'x-amz-checksum-crc32': () => {
    let value = 0;
    return {
      update: (bytes) => {
        value = crc32(bytes, value);
      },
      digest: () => {
        const out = Buffer.alloc(4);
        out.writeUInt32BE(value >>> 0);
        return out.toString('base64');
      },
    };
  },
  'x-amz-checksum-sha1': () => hashDigest(createHash('sha1')),
  'x-amz-checksum-sha256': () => hashDigest(createHash('sha256')),
};

function hashDigest(hash: Hash): Digest {
  return { update: (bytes) => hash.update(bytes), digest: () => hash.digest('base64') };
}

/** The error S3 answers for a body that is not what its framing or its checksum says (400). */
export class ChunkedBodyError extends Error {
  constructor(
    readonly code: 'IncompleteBody' | 'BadDigest' | 'InvalidChunkSizeError',
    message: string,
  ) {
    super(message);
  }
}

/** Streams the chunks' bytes out of an aws-chunked body; fails on broken framing or a checksum that does not match. */
export function awsChunkedDecoder(trailer: string | undefined): Transform {
  const digest = trailer !== undefined && Object.hasOwn(CHECKSUMS, trailer.toLowerCase()) ? (CHECKSUMS[trailer.toLowerCase()] as () => Digest)() : undefined;
  let pending: Buffer = Buffer.alloc(0);
  /** Bytes of the current chunk still to pass on; -1 while a chunk header is awaited, -2 in the trailers. */
  let remaining = -1;
  let afterData = false;
  const trailers = new Map<string, string>();
  let done = false;
  return new Transform({
    transform(piece: Buffer, _encoding, callback: TransformCallback) {
      pending = pending.length === 0 ? piece : Buffer.concat([pending, piece]);
      try {
        for (;;) {
          if (remaining > 0) {
            const take = Math.min(remaining, pending.length);
            if (take === 0) break;
            const bytes = pending.subarray(0, take);
            digest?.update(bytes);
            this.push(bytes);
            pending = pending.subarray(take);
            remaining -= take;
            if (remaining === 0) {
              remaining = -1;
              afterData = true;
            }
            continue;
          }
          const lineEnd = pending.indexOf('\r\n');
          if (lineEnd === -1) break;
          const line = pending.subarray(0, lineEnd).toString('latin1');
          pending = pending.subarray(lineEnd + 2);
          if (afterData) {
            if (line !== '') throw new ChunkedBodyError('IncompleteBody', 'a chunk is longer than its declared size');
            afterData = false;
            continue;
          }
          if (remaining === -2) {
            if (line === '') {
              done = true;
              continue;
            }
            const colon = line.indexOf(':');
            if (colon > 0) trailers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
            continue;
          }
          const size = Number.parseInt(line.split(';')[0] as string, 16);
          if (!Number.isSafeInteger(size) || size < 0) throw new ChunkedBodyError('InvalidChunkSizeError', `chunk size "${line}" is not a hexadecimal size`);
          remaining = size === 0 ? -2 : size;
        }
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    flush(callback: TransformCallback) {
      if (remaining !== -2 || (!done && trailers.size === 0 && pending.length > 0)) return callback(new ChunkedBodyError('IncompleteBody', 'the body ended before its last chunk'));
      const sent = trailer === undefined ? undefined : trailers.get(trailer.toLowerCase());
      if (digest && sent !== undefined && sent !== digest.digest()) {
        return callback(
          new ChunkedBodyError('BadDigest', `The ${(trailer as string).replace(/^x-amz-checksum-/i, '').toUpperCase()} you specified did not match the calculated checksum.`),
        );
      }
      callback();
    },
  });
}
