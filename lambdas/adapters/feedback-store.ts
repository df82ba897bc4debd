import { BatchGetItemCommand, QueryCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { LabelWrite, LoggedPrediction } from '../core/monitoring/feedback';
import { PREDICTION_LOG_KEYS } from '../contracts/prediction-log';
import { isConditionalCheckFailure } from './monitoring-store';

const BATCH_GET_LIMIT = 100;
const UNPROCESSED_RETRIES = 4;

/**
 * Ground truth in the prediction log: reads the predictions feedback names (BatchGetItem, only the
 * attributes the checks need) and writes each label onto its prediction item, once.
 */
export class FeedbackStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  /**
   * The predictionId of the latest prediction logged under `joinKey` (core/pass-through.ts joinKeyOf) at or
   * before `atOrBefore` (ISO-8601), or undefined: one Query of the sparse byJoinKey index, newest first, one
   * item. Index reads are eventually consistent: a prediction logged a moment ago may not be there yet.
   */
  async latestPrediction(joinKey: string, atOrBefore: string): Promise<string | undefined> {
    // `ts` is `<timestamp>#<predictionId>`: every key of the instant `atOrBefore` sorts before the next millisecond.
    const nextMillisecond = new Date(Date.parse(atOrBefore) + 1).toISOString();
    const response = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: PREDICTION_LOG_KEYS.byJoinKey.index,
        KeyConditionExpression: '#key = :key AND #ts < :before',
        ExpressionAttributeNames: { '#key': PREDICTION_LOG_KEYS.byJoinKey.partitionKey, '#ts': PREDICTION_LOG_KEYS.byJoinKey.sortKey },
        ExpressionAttributeValues: { ':key': { S: joinKey }, ':before': { S: nextMillisecond } },
        ScanIndexForward: false,
        Limit: 1,
      }),
    );
    return response.Items?.[0]?.[PREDICTION_LOG_KEYS.partitionKey]?.S;
  }

  async getPredictions(predictionIds: readonly string[]): Promise<Map<string, LoggedPrediction>> {
    const unique = [...new Set(predictionIds)];
    const found = new Map<string, LoggedPrediction>();
    for (let i = 0; i < unique.length; i += BATCH_GET_LIMIT) {
      let keys: Record<string, AttributeValue>[] = unique.slice(i, i + BATCH_GET_LIMIT).map((id) => ({ predictionId: { S: id } }));
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt > UNPROCESSED_RETRIES) throw new Error(`BatchGetItem left ${keys.length} keys unprocessed after ${UNPROCESSED_RETRIES} retries`);
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt));
        const response = await this.client.send(
          new BatchGetItemCommand({
            RequestItems: {
              [this.table]: {
                Keys: keys,
                ProjectionExpression: 'predictionId, #model, #version, actual',
                ExpressionAttributeNames: { '#model': 'model', '#version': 'version' },
                ConsistentRead: true,
              },
            },
          }),
        );
        for (const item of response.Responses?.[this.table] ?? []) {
          const actual = item.actual?.S ?? (item.actual?.N === undefined ? undefined : Number(item.actual.N));
          found.set(item.predictionId?.S as string, {
            model: item.model?.S ?? '',
            version: item.version?.S ?? '',
            ...(actual === undefined ? {} : { actual }),
          });
        }
        keys = (response.UnprocessedKeys?.[this.table]?.Keys ?? []) as Record<string, AttributeValue>[];
      }
    }
    return found;
  }

  /**
   * Sets the label on the prediction item unless it has one: 'accepted', or 'duplicate' when a label got
   * there first (a concurrent or repeated request). The stream carries the change to the aggregator.
   */
  async writeLabel(write: LabelWrite, labeledAt: string): Promise<'accepted' | 'duplicate'> {
    const values: Record<string, AttributeValue> = {
      ':actual': typeof write.actual === 'number' ? { N: String(write.actual) } : { S: write.actual },
      ':labeledAt': { S: labeledAt },
    };
    const sets = ['actual = :actual', 'labeledAt = :labeledAt'];
    if (write.eventId !== undefined) {
      values[':eventId'] = { S: write.eventId };
      sets.push('feedbackEventId = :eventId');
    }
    if (write.outcomeAt !== undefined) {
      values[':outcomeAt'] = { S: write.outcomeAt };
      sets.push('outcomeAt = :outcomeAt');
    }
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { predictionId: { S: write.predictionId } },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: 'attribute_exists(predictionId) AND attribute_not_exists(actual)',
          ExpressionAttributeValues: values,
        }),
      );
      return 'accepted';
    } catch (error) {
      if (isConditionalCheckFailure(error)) return 'duplicate';
      throw error;
    }
  }
}
