// The batch job function: the steps around the Distributed Map — prepare (check the job and its input before
// any scoring) and summarize (merge the parts' results into the summary under the output prefix, emit its drift).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { emitBatchMetrics } from '../adapters/monitor-metrics';
import { Registry } from '../adapters/registry';
import { batchConfigFromEnv, type BatchJobInput, type PreparedJob, type SummarizeEvent } from '../contracts/batch-job';
import type { BatchSummary } from '../core/batch/summary';
import { prepareJob, summarizeJob, type SummarizeDependencies } from '../use-cases/batch-jobs';

export type BatchJobRequest = { readonly step: 'prepare'; readonly job: BatchJobInput } | ({ readonly step: 'summarize' } & SummarizeEvent);

const config = batchConfigFromEnv(process.env);
const s3 = new S3Client({});
const registry = new Registry(new DynamoDBClient({}), config.registryTable);
const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'batch-job' });
const emitMetrics: SummarizeDependencies['emitMetrics'] = (model, version, data, at) => emitBatchMetrics(model, version, data, at, config.metricsNamespace);

export const handler = async (request: BatchJobRequest): Promise<PreparedJob | BatchSummary> =>
  request.step === 'prepare'
    ? prepareJob({ s3, bucket: config.bucket, registry }, request.job, new Date())
    : summarizeJob({ s3, bucket: config.bucket, emitMetrics, logger }, request, () => new Date());
