// S3's aws-chunked body, as the AWS SDK really sends it for a streamed PutObject (captured on a loopback server):
// the local S3 gateway passes on the object's own bytes with their length, and refuses a body whose trailing
// checksum or framing is wrong as S3 does (the CLI's streamed upload of a batch input runs through it end to
// end in test/e2e/local-runtime.test.ts).
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsChunkedDecoder, ChunkedBodyError, decodedHeaders, isAwsChunked } from '../../local/iam/aws-chunked';
import { listenLocally } from '../../local/ports';

let captured: { headers: IncomingHttpHeaders; body: Buffer } | undefined;
const server = createServer((request, response) => {
  const parts: Buffer[] = [];
  request.on('data', (part: Buffer) => parts.push(part));
  request.on('end', () => {
    captured = { headers: request.headers, body: Buffer.concat(parts) };
    response.writeHead(200, { etag: '"x"' }).end();
  });
});
let endpoint: string;
beforeAll(async () => {
  const service = await listenLocally(server, { host: '127.0.0.1' }, () => undefined);
  endpoint = service.endpoint;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function sdkUpload(content: Buffer): Promise<{ headers: IncomingHttpHeaders; body: Buffer }> {
  const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'k', secretAccessKey: 's' } });
  await s3.send(
    new PutObjectCommand({ Bucket: 'bucket', Key: 'key', Body: Readable.from([content.subarray(0, 70_000), content.subarray(70_000)]), ContentLength: content.length }),
  );
  return captured as { headers: IncomingHttpHeaders; body: Buffer };
}

async function decode(body: Buffer, trailer: string | undefined): Promise<Buffer> {
  const parts: Buffer[] = [];
  const decoder = awsChunkedDecoder(trailer);
  decoder.on('data', (part: Buffer) => parts.push(part));
  const done = new Promise<void>((resolve, reject) => {
    decoder.on('end', resolve);
    decoder.on('error', reject);
  });
  // Fed in odd pieces, as a socket delivers them.
  for (let i = 0; i < body.length; i += 4093) decoder.write(body.subarray(i, i + 4093));
  decoder.end();
  await done;
  return Buffer.concat(parts);
}

describe('aws-chunked bodies', () => {
  it('decode to the object the SDK streamed, with its length and no chunk headers passed on', async () => {
    const content = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `row ${i},${i * 3}\n`).join(''));
    const { headers, body } = await sdkUpload(content);
    expect(isAwsChunked(headers)).toBe(true);
    expect(body.length).toBeGreaterThan(content.length);
    expect(await decode(body, headers['x-amz-trailer'] as string)).toEqual(content);
    const passed = decodedHeaders(headers);
    expect(passed['content-length']).toBe(String(content.length));
    expect(passed['content-encoding']).toBeUndefined();
    expect(passed['x-amz-trailer']).toBeUndefined();
    expect(passed['transfer-encoding']).toBeUndefined();
  });

  it('refuse a body whose trailing checksum does not match, or that ends before its last chunk', async () => {
    const content = Buffer.from('a,b\n1,2\n');
    const { headers, body } = await sdkUpload(content);
    const trailer = headers['x-amz-trailer'] as string;
    expect(trailer).toBe('x-amz-checksum-crc32');
    const tampered = Buffer.from(body.toString('latin1').replace('1,2', '1,3'), 'latin1');
    await expect(decode(tampered, trailer)).rejects.toEqual(new ChunkedBodyError('BadDigest', 'The CRC32 you specified did not match the calculated checksum.'));
    await expect(decode(body.subarray(0, 10), trailer)).rejects.toBeInstanceOf(ChunkedBodyError);
  });
});
