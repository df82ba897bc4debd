// Recent requests a model version answered, read back from the prediction log's byModelVersion index
// (newest first, one Query per shard) for replay against a candidate.
import { QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { PredictionRecord } from '../core/prediction-record';

export const BY_MODEL_VERSION_INDEX = 'byModelVersion';

/**
 * Up to `limit` of the most recent records of `model` version `version` that kept their inputs (records
 * whose inputs were sampled out cannot be replayed), newest first.
 */
export async function recentRequests(client: DynamoDBClient, table: string, model: string, version: string, shards: number, limit: number): Promise<PredictionRecord[]> {
  const perShard = Math.ceil(limit / shards);
  const pages = await Promise.all(
    Array.from({ length: shards }, (_, shard) =>
      client.send(
        new QueryCommand({
          TableName: table,
          IndexName: BY_MODEL_VERSION_INDEX,
          KeyConditionExpression: 'modelVersionShard = :p',
          ExpressionAttributeValues: { ':p': { S: `${model}#${version}#${shard}` } },
          ScanIndexForward: false,
          Limit: perShard,
        }),
      ),
    ),
  );
  return pages
    .flatMap((page) => (page.Items ?? []).map((item) => unmarshall(item) as PredictionRecord))
    .filter((record) => record.inputs !== undefined)
    .sort((a, b) => (a.ts < b.ts ? 1 : -1))
    .slice(0, limit);
}
