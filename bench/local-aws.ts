// `npm run bench`'s local AWS: dynalite and s3rver in a process of their own, so their work runs beside the
// measured handler, as DynamoDB and S3 would, not on its thread. Prints one line with the endpoints.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startDynamoDb, startS3 } from '../local/aws-services';

const { values } = parseArgs({ options: { directory: { type: 'string' }, bucket: { type: 'string', multiple: true, default: [] } } });
if (!values.directory) {
  console.error('usage: tsx bench/local-aws.ts --directory <dir> [--bucket <name>]...');
  process.exit(2);
}
const dynamo = await startDynamoDb();
const s3 = await startS3({ directory: join(values.directory, 's3'), buckets: values.bucket });
console.log(`ready dynamodb=${dynamo.endpoint} s3=${s3.endpoint}`);
process.on('SIGTERM', () => {
  void Promise.all([dynamo.close(), s3.close()]).finally(() => process.exit(0));
});
