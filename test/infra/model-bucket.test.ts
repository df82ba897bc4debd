import { RemovalPolicy } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ModelBucket, type ModelBucketEncryption } from '../../lib/storage/model-bucket';
import { InvalidPropsError } from '../../lib/validation/prop-validation';
import { fastStack, thrownBy } from './support';

function synth(props: ConstructorParameters<typeof ModelBucket>[2] = {}): Template {
  const stack = fastStack();
  new ModelBucket(stack, 'Models', props);
  return Template.fromStack(stack);
}

const modelBucket = { VersioningConfiguration: { Status: 'Enabled' } };

describe('ModelBucket', () => {
  const template = synth();

  it('encrypts with a rotating customer-managed key by default, bucket keys on', () => {
    const key = new Capture();
    template.hasResourceProperties('AWS::S3::Bucket', {
      ...modelBucket,
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [key, 'Arn'] } },
          },
        ],
      },
    });
    expect(template.toJSON().Resources[key.asString()].Type).toBe('AWS::KMS::Key');
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('uses SSE-S3 and creates no key when encryption is s3-managed', () => {
    const s3Managed = synth({ encryption: 's3-managed' });
    s3Managed.resourceCountIs('AWS::KMS::Key', 0);
    s3Managed.hasResourceProperties('AWS::S3::Bucket', {
      ...modelBucket,
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    });
  });

  it('is versioned, private and delivers events to EventBridge', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      ...modelBucket,
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: { EventBridgeConfiguration: {} },
    });
  });

  it('refuses plain HTTP on both buckets', () => {
    const denyInsecure = {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    };
    expect(Object.keys(template.findResources('AWS::S3::BucketPolicy', { Properties: denyInsecure }))).toHaveLength(2);
  });

  it('writes server access logs to an SSE-S3 bucket that admits S3 log delivery by policy, not ACL', () => {
    const logBucket = new Capture();
    template.hasResourceProperties('AWS::S3::Bucket', {
      ...modelBucket,
      LoggingConfiguration: { DestinationBucketName: { Ref: logBucket }, LogFilePrefix: 'model-bucket/' },
    });
    const logs = template.toJSON().Resources[logBucket.asString()];
    expect(logs.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault).toEqual({
      SSEAlgorithm: 'AES256',
    });
    expect(logs.Properties.AccessControl).toBeUndefined();
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logBucket.asString() },
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Allow', Principal: { Service: 'logging.s3.amazonaws.com' }, Action: 's3:PutObject' })]),
      },
    });
  });

  it('expires noncurrent versions and abandoned multipart uploads', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      ...modelBucket,
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 90 }, Status: 'Enabled' }),
          Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }),
        ]),
      },
    });
    synth({ noncurrentVersionExpirationDays: 30 }).hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 30 } })]) },
    });
  });

  it('retains buckets and key by default and honours removalPolicy', () => {
    for (const type of ['AWS::S3::Bucket', 'AWS::KMS::Key']) {
      for (const resource of Object.values(template.findResources(type))) expect(resource.DeletionPolicy).toBe('Retain');
    }
    const destroyed = synth({ removalPolicy: RemovalPolicy.DESTROY });
    for (const resource of Object.values(destroyed.findResources('AWS::S3::Bucket'))) expect(resource.DeletionPolicy).toBe('Delete');
  });

  describe('fails when', () => {
    it('encryption is unknown, showing the value', () => {
      const error = thrownBy(() => synth({ encryption: 'sse-c' as ModelBucketEncryption }));
      expect(error).toBeInstanceOf(InvalidPropsError);
      expect(error.message).toContain(`encryption must be 'kms' or 's3-managed', got: "sse-c"`);
    });

    it('retention days are not whole days in range', () => {
      expect(thrownBy(() => synth({ noncurrentVersionExpirationDays: 0 })).message).toContain('noncurrentVersionExpirationDays must be an integer between 1 and 3650, got: 0');
      expect(thrownBy(() => synth({ accessLogRetentionDays: 1.5 })).message).toContain('accessLogRetentionDays must be an integer between 1 and 3650, got: 1.5');
    });

    it('several props are wrong, reporting them all at once', () => {
      const error = thrownBy(() => synth({ encryption: 'none' as ModelBucketEncryption, noncurrentVersionExpirationDays: -1, accessLogRetentionDays: 5000 })) as InvalidPropsError;
      expect(error.problems).toHaveLength(3);
      expect(error.message).toContain('(3 problems)');
      expect(error.message).toMatch(/got: "none"[\s\S]*got: -1[\s\S]*got: 5000/);
    });
  });
});
