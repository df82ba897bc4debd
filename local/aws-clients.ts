import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';

// s3rver checks no signatures and dynalite accepts any key: fixed local credentials keep the SDK from
// looking for real ones, so nothing local can reach an AWS account by accident.
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const region = 'us-east-1';

export function localS3Client(endpoint: string, options: { maxAttempts?: number } = {}): S3Client {
  return new S3Client({ endpoint, region, forcePathStyle: true, credentials: LOCAL_CREDENTIALS, ...options });
}

export function localDynamoClient(endpoint: string, options: { maxAttempts?: number } = {}): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region, credentials: LOCAL_CREDENTIALS, ...options });
}
