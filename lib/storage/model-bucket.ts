import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeBucketNotificationsHandler } from '../validation/nag-acknowledgements';
import { PropErrors } from '../validation/prop-validation';

/** How model objects are encrypted at rest. */
export type ModelBucketEncryption = 'kms' | 's3-managed';

export interface ModelBucketProps {
  /**
   * `kms`: a customer-managed key with yearly rotation (bucket keys on, so few KMS calls);
   * `s3-managed`: SSE-S3, no key to manage or pay for.
   *
   * @default 'kms'
   */
  readonly encryption?: ModelBucketEncryption;
  /**
   * Days a replaced or deleted model object is kept as a noncurrent version before it expires.
   * Published Lambda versions read their bundle by key, so keep this longer than a rollback window.
   *
   * @default 90
   */
  readonly noncurrentVersionExpirationDays?: number;
  /**
   * Days server access logs are kept.
   *
   * @default 365
   */
  readonly accessLogRetentionDays?: number;
  /**
   * What happens to both buckets (and the key) when the stack or construct is deleted.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The bucket that holds model bundles: `candidates/<model>/<version>/` (uploads that start validation,
 * delivered to EventBridge) and `models/<model>/<version>/` (validated bundles the endpoints load).
 * Versioned, private, TLS only, with server access logs in a bucket of their own.
 */
export class ModelBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  /** The customer-managed key, when `encryption` is `kms`. */
  readonly encryptionKey?: kms.IKey;

  constructor(scope: Construct, id: string, props: ModelBucketProps = {}) {
    super(scope, id);
    const errors = new PropErrors('ModelBucket');
    const encryption = props.encryption ?? 'kms';
    errors.require(encryption === 'kms' || encryption === 's3-managed', `encryption must be 'kms' or 's3-managed', got: ${JSON.stringify(encryption)}`);
    errors.integer('noncurrentVersionExpirationDays', props.noncurrentVersionExpirationDays, 1, 3650);
    errors.integer('accessLogRetentionDays', props.accessLogRetentionDays, 1, 3650);
    errors.throwIfAny();

    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    // Without this flag (absent from cdk.json) CDK grants log delivery with the LogDeliveryWrite ACL,
    // which fails on buckets with ACLs disabled (the S3 default since 2023); a bucket policy works everywhere.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);

    // S3 can deliver server access logs only to an SSE-S3 bucket, whatever the source bucket uses.
    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(props.accessLogRetentionDays ?? 365) }],
      removalPolicy,
    });

    if (encryption === 'kms') {
      this.encryptionKey = new kms.Key(this, 'Key', {
        description: 'modelgate model bundles',
        enableKeyRotation: true,
        removalPolicy,
      });
    }

    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...(this.encryptionKey ? { encryption: s3.BucketEncryption.KMS, encryptionKey: this.encryptionKey, bucketKeyEnabled: true } : { encryption: s3.BucketEncryption.S3_MANAGED }),
      enforceSSL: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      eventBridgeEnabled: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'model-bucket/',
      lifecycleRules: [
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: Duration.days(props.noncurrentVersionExpirationDays ?? 90),
          expiredObjectDeleteMarker: true,
        },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
      removalPolicy,
    });
    acknowledgeBucketNotificationsHandler(this.bucket);
  }
}
