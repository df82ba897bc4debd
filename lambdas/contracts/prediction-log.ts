/**
 * The prediction log's key attributes and indexes: lib/storage/prediction-log-table.ts creates them, the
 * functions that read and write the log use them — one list of names for both sides (docs/infrastructure.md,
 * "Prediction log access patterns").
 */
export const PREDICTION_LOG_KEYS = {
  /** The table's partition key: GetItem / BatchGetItem / UpdateItem by the id the API answered with. */
  partitionKey: 'predictionId',
  /** One model version's predictions in a time window, one Query per shard (projection ALL). */
  byModelVersion: { index: 'byModelVersion', partitionKey: 'modelVersionShard', sortKey: 'ts' },
  /**
   * The latest prediction of one entity of one model (the manifest's pass-through join key): sparse — only
   * items with `joinKey` are in it — and KEYS_ONLY (the feedback join reads the item by its predictionId).
   */
  byJoinKey: { index: 'byJoinKey', partitionKey: 'joinKey', sortKey: 'ts' },
  /** Epoch seconds after which DynamoDB's TTL deletes the item. */
  ttl: 'expiresAt',
} as const;
