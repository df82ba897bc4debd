// Object versioning of the local S3, through @aws-sdk/client-s3 as the functions use it: a versioned bucket keeps
// every version, names it in x-amz-version-id, serves and copies any version by id, keeps versions behind a
// delete marker, puts the version a write creates into its object event, and keeps all of it across a restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localS3Client } from '../../local/aws-clients';
import { startS3, type LocalS3 } from '../../local/aws-services';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-s3-versions-'));
let s3: LocalS3;
let client: S3Client;
/** The version each object event named, by key, as the write was under way. */
const eventVersions: { key: string; version: string | undefined }[] = [];

const text = async (command: GetObjectCommand) => {
  const answer = await client.send(command);
  return { body: await answer.Body?.transformToString(), versionId: answer.VersionId, metadata: answer.Metadata };
};

beforeAll(async () => {
  s3 = await startS3({ directory: join(dir, 's3'), buckets: [] });
  client = localS3Client(s3.endpoint);
  s3.server.on('event', (notification: { Records: { s3: { bucket: { name: string }; object: { key: string } } }[] }) => {
    for (const record of notification.Records)
      eventVersions.push({ key: record.s3.object.key, version: s3.versioning.versionBeingWritten(record.s3.bucket.name, decodeURIComponent(record.s3.object.key)) });
  });
  await client.send(new CreateBucketCommand({ Bucket: 'plain' }));
  await client.send(new CreateBucketCommand({ Bucket: 'models' }));
});

afterAll(async () => {
  await s3?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('local S3 versioning', () => {
  it('gives no version to objects of a bucket whose versioning was never enabled', async () => {
    expect((await client.send(new GetBucketVersioningCommand({ Bucket: 'plain' }))).Status).toBeUndefined();
    expect((await client.send(new PutObjectCommand({ Bucket: 'plain', Key: 'a', Body: 'one' }))).VersionId).toBeUndefined();
    expect((await text(new GetObjectCommand({ Bucket: 'plain', Key: 'a' }))).versionId).toBeUndefined();
  });

  it('keeps every version of a versioned bucket, serves each by id and names the current one', async () => {
    await client.send(new PutBucketVersioningCommand({ Bucket: 'models', VersioningConfiguration: { Status: 'Enabled' } }));
    expect((await client.send(new GetBucketVersioningCommand({ Bucket: 'models' }))).Status).toBe('Enabled');
    const first = await client.send(new PutObjectCommand({ Bucket: 'models', Key: 'candidates/churn/3/model.onnx', Body: 'validated bytes', Metadata: { stage: 'first' } }));
    const second = await client.send(new PutObjectCommand({ Bucket: 'models', Key: 'candidates/churn/3/model.onnx', Body: 'replaced after validation' }));
    expect(first.VersionId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(second.VersionId).not.toBe(first.VersionId);
    expect(await text(new GetObjectCommand({ Bucket: 'models', Key: 'candidates/churn/3/model.onnx' }))).toMatchObject({
      body: 'replaced after validation',
      versionId: second.VersionId,
    });
    expect(await text(new GetObjectCommand({ Bucket: 'models', Key: 'candidates/churn/3/model.onnx', VersionId: first.VersionId }))).toEqual({
      body: 'validated bytes',
      versionId: first.VersionId,
      metadata: { stage: 'first' },
    });
    const head = await client.send(new HeadObjectCommand({ Bucket: 'models', Key: 'candidates/churn/3/model.onnx', VersionId: first.VersionId }));
    expect({ length: head.ContentLength, versionId: head.VersionId }).toEqual({ length: 'validated bytes'.length, versionId: first.VersionId });
    // Each write's event named the version it created.
    expect(eventVersions.filter((e) => e.key.includes('churn')).map((e) => e.version)).toEqual([first.VersionId, second.VersionId]);
  });

  it('copies the version named in the copy source, not the current one', async () => {
    const key = 'candidates/churn/3/model.onnx';
    const [older] = [await client.send(new HeadObjectCommand({ Bucket: 'models', Key: key }))];
    const { VersionId: first } = await client.send(new PutObjectCommand({ Bucket: 'models', Key: 'x', Body: 'x1' }));
    await client.send(new PutObjectCommand({ Bucket: 'models', Key: 'x', Body: 'x2' }));
    const copied = await client.send(new CopyObjectCommand({ Bucket: 'models', Key: 'models/x', CopySource: `models/x?versionId=${first}`, MetadataDirective: 'COPY' }));
    expect(copied.CopySourceVersionId).toBe(first);
    expect(await text(new GetObjectCommand({ Bucket: 'models', Key: 'models/x' }))).toMatchObject({ body: 'x1', versionId: copied.VersionId });
    // The current version, named, is copied the same way.
    const current = await client.send(new CopyObjectCommand({ Bucket: 'models', Key: 'models/y', CopySource: `models/${key}?versionId=${older.VersionId}` }));
    expect(current.CopySourceVersionId).toBe(older.VersionId);
    expect((await text(new GetObjectCommand({ Bucket: 'models', Key: 'models/y' }))).body).toBe('replaced after validation');
  });

  it('answers 404 NoSuchVersion for a version the key never had', async () => {
    await expect(client.send(new GetObjectCommand({ Bucket: 'models', Key: 'x', VersionId: 'A'.repeat(32) }))).rejects.toMatchObject({
      name: 'NoSuchVersion',
      $metadata: { httpStatusCode: 404 },
    });
    await expect(client.send(new CopyObjectCommand({ Bucket: 'models', Key: 'z', CopySource: `models/x?versionId=${'B'.repeat(32)}` }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('keeps the versions behind a delete marker, and removing the marker brings the last version back', async () => {
    const { VersionId: kept } = await client.send(new PutObjectCommand({ Bucket: 'models', Key: 'gone', Body: 'still here' }));
    const deleted = await client.send(new DeleteObjectCommand({ Bucket: 'models', Key: 'gone' }));
    expect(deleted.DeleteMarker).toBe(true);
    await expect(client.send(new GetObjectCommand({ Bucket: 'models', Key: 'gone' }))).rejects.toMatchObject({ name: 'NoSuchKey' });
    expect((await text(new GetObjectCommand({ Bucket: 'models', Key: 'gone', VersionId: kept }))).body).toBe('still here');
    await client.send(new DeleteObjectCommand({ Bucket: 'models', Key: 'gone', VersionId: deleted.VersionId }));
    expect(await text(new GetObjectCommand({ Bucket: 'models', Key: 'gone' }))).toMatchObject({ body: 'still here', versionId: kept });
  });

  it('keeps versions and the bucket setting across a restart', async () => {
    const { VersionId: version } = await client.send(new PutObjectCommand({ Bucket: 'models', Key: 'durable', Body: 'v1' }));
    await client.send(new PutObjectCommand({ Bucket: 'models', Key: 'durable', Body: 'v2' }));
    await s3.close();
    s3 = await startS3({ directory: join(dir, 's3'), buckets: [] });
    client = localS3Client(s3.endpoint);
    expect((await text(new GetObjectCommand({ Bucket: 'models', Key: 'durable', VersionId: version }))).body).toBe('v1');
    expect((await client.send(new PutObjectCommand({ Bucket: 'models', Key: 'durable', Body: 'v3' }))).VersionId).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });
});
