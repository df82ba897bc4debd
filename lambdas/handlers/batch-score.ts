// The batch-scoring function: one chunk of a batch job's input (a byte range) -> the serving session -> its part in S3.
// Predictions of a batch are not written to the prediction log: the output is their log.
import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { batchConfigFromEnv, type BatchEvent, type BatchPartResult } from '../contracts/batch-job';
import { ModelCache, scoreBatchEvent } from '../use-cases/batch-scoring';

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'batch-score' });
const deps = { s3: new S3Client({}), ...batchConfigFromEnv(process.env) };
const models = new ModelCache(deps);

export const handler = async (event: BatchEvent): Promise<BatchPartResult> => {
  const result = await scoreBatchEvent(deps, models, event);
  logger.info('batch scored', {
    model: event.job.model,
    version: event.job.version,
    firstRow: result.firstRow,
    scored: result.scored,
    rejected: result.rejected,
  });
  return result;
};
