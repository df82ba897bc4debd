import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { PREDICTION_LOG_KEYS } from '../../lambdas/contracts/prediction-log';
import { PropErrors, show } from '../validation/prop-validation';

export interface PredictionLogTableProps {
  /**
   * What happens to the table when the stack or construct is deleted. The log is the ground-truth join
   * target and the monitoring source, so it outlives stacks by default.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Refuse DeleteTable, whoever asks (CloudFormation included). Must be false when `removalPolicy` is
   * DESTROY, or stack deletion fails on the table.
   *
   * @default true
   */
  readonly deletionProtection?: boolean;
  /**
   * Days back a point-in-time restore can reach (DynamoDB allows 1 to 35).
   *
   * @default 35
   */
  readonly recoveryPeriodDays?: number;
}

/**
 * The prediction log: one item per prediction.
 *
 * Access patterns:
 * - GetItem by `predictionId` — joins ground truth / outcome events to the prediction they are about.
 * - Query `byModelVersion`: `modelVersionShard = '<model>#<version>#<shard>' AND ts BETWEEN :from AND :to`,
 *   once per shard (shards spread one hot model version over several partitions) — a monitoring window.
 *   `ts` is `<ISO-8601 UTC timestamp>#<predictionId>`, so bounds given as bare timestamps select [from, to).
 * - Query `byJoinKey`: `joinKey = '<model>#<field>#<value>' AND ts < :next`, newest first, one item — the
 *   latest prediction of one entity (the manifest's pass-through join key, e.g. a customerID) at or before a
 *   label's time, for feedback that names the entity instead of a predictionId. Sparse (only predictions
 *   that carry the key are in it) and KEYS_ONLY: one more write unit per such prediction, none per label.
 *
 * Items expire through TTL on `expiresAt` (epoch seconds); the NEW_IMAGE stream feeds consumers
 * (drift windows, archives) without reading the table.
 */
export class PredictionLogTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: PredictionLogTableProps = {}) {
    super(scope, id);
    const errors = new PropErrors('PredictionLogTable');
    const deletionProtection = props.deletionProtection ?? true;
    errors.require(
      !(props.removalPolicy === RemovalPolicy.DESTROY && deletionProtection),
      `removalPolicy DESTROY needs deletionProtection: false (CloudFormation cannot delete a protected table), got: deletionProtection=${show(props.deletionProtection)}`,
    );
    errors.integer('recoveryPeriodDays', props.recoveryPeriodDays, 1, 35);
    errors.throwIfAny();

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: PREDICTION_LOG_KEYS.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: {
        pointInTimeRecoveryEnabled: true,
        recoveryPeriodInDays: props.recoveryPeriodDays ?? 35,
      },
      timeToLiveAttribute: PREDICTION_LOG_KEYS.ttl,
      stream: dynamodb.StreamViewType.NEW_IMAGE,
      deletionProtection,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: PREDICTION_LOG_KEYS.byModelVersion.index,
      partitionKey: { name: PREDICTION_LOG_KEYS.byModelVersion.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: PREDICTION_LOG_KEYS.byModelVersion.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    // KEYS_ONLY: the join needs the predictionId only (the table's key, always projected), and a label written
    // onto the item changes no attribute of this index, so labels cost it nothing.
    this.table.addGlobalSecondaryIndex({
      indexName: PREDICTION_LOG_KEYS.byJoinKey.index,
      partitionKey: { name: PREDICTION_LOG_KEYS.byJoinKey.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: PREDICTION_LOG_KEYS.byJoinKey.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
  }
}

/**
 * The prediction log's stream as its consumers read it (monitoring aggregation, experiment tallies): new
 * predictions and labels, whole-batch retries, failures to a dead-letter queue.
 */
export function predictionStreamSource(
  table: dynamodb.ITable,
  options: { readonly batchSize: number; readonly maxBatchingWindow: Duration; readonly deadLetters: sqs.IQueue },
): DynamoEventSource {
  return new DynamoEventSource(table, {
    startingPosition: lambda.StartingPosition.TRIM_HORIZON,
    batchSize: options.batchSize,
    maxBatchingWindow: options.maxBatchingWindow,
    // Only with a tumbling window does the event name its shard, which consumers keep their exactly-once
    // marks per; its length does not matter otherwise (the state it carries is not used).
    tumblingWindow: Duration.minutes(1),
    // One poison record must not block the shard: the consumers report the first record they could not
    // process (the records before it are done), and a batch whose invocation fails is halved until the bad
    // record is alone; after its retries it goes to the dead-letter queue, the rest are counted once.
    reportBatchItemFailures: true,
    bisectBatchOnError: true,
    parallelizationFactor: 1,
    retryAttempts: 10,
    maxRecordAge: Duration.days(1),
    onFailure: new SqsDlq(options.deadLetters),
    // New predictions, and labels. `exists` matches leaves only, so the label's attribute type is named.
    filters: [
      lambda.FilterCriteria.filter({ eventName: lambda.FilterRule.isEqual('INSERT') }),
      ...['S', 'N'].map((type) =>
        lambda.FilterCriteria.filter({ eventName: lambda.FilterRule.isEqual('MODIFY'), dynamodb: { NewImage: { actual: { [type]: lambda.FilterRule.exists() } } } }),
      ),
    ],
  });
}
