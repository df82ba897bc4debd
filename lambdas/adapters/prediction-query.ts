import { QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { LoggedRecord } from '../core/monitoring/window';

/**
 * The labelled predictions of one model version in [from, to), read from the log's byModelVersion index:
 * one paginated Query per shard (docs/infrastructure.md). For error analysis on demand; the monitor never
 * reads the log.
 */
export async function queryLabelledPredictions(
  client: DynamoDBClient,
  table: string,
  query: { model: string; version: string; from: string; to: string; shards: number },
): Promise<LoggedRecord[]> {
  const perShard = await Promise.all(
    Array.from({ length: query.shards }, async (_, shard) => {
      const records: LoggedRecord[] = [];
      let startKey: Record<string, AttributeValue> | undefined;
      do {
        const page = await client.send(
          new QueryCommand({
            TableName: table,
            IndexName: 'byModelVersion',
            KeyConditionExpression: 'modelVersionShard = :key AND ts BETWEEN :from AND :to',
            FilterExpression: 'attribute_exists(actual)',
            ExpressionAttributeValues: {
              ':key': { S: `${query.model}#${query.version}#${shard}` },
              ':from': { S: query.from },
              ':to': { S: query.to },
            },
            ...(startKey ? { ExclusiveStartKey: startKey } : {}),
          }),
        );
        for (const item of page.Items ?? []) records.push(unmarshall(item) as LoggedRecord);
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return records;
    }),
  );
  return perShard.flat().sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
}
