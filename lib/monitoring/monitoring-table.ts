import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';

export interface MonitoringTableProps {
  /**
   * The windows are derived from the prediction log and can be rebuilt from it while the log keeps the
   * predictions (its TTL), so losing them costs history, not data.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The monitoring table: per model version and time window, the mergeable drift aggregates and quality
 * statistics the aggregator builds from the prediction log's stream (docs/monitoring.md).
 *
 * Items:
 * - `pk = V#<model>#<version>`, `sk = W#<windowStart ISO-8601>`: one window. The monitor reads a period
 *   with one Query (`sk BETWEEN W#<from> AND W#<to>`).
 * - `pk = VERSIONS`, `sk = <model>#<version>`: the model versions that have windows, and when last seen.
 *
 * Window items expire through TTL on `expiresAt`.
 */
export class MonitoringTable extends Construct {
  static readonly PARTITION_KEY = 'pk';
  static readonly SORT_KEY = 'sk';
  static readonly TTL_ATTRIBUTE = 'expiresAt';

  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: MonitoringTableProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: MonitoringTable.PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      sortKey: { name: MonitoringTable.SORT_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: MonitoringTable.TTL_ATTRIBUTE,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }
}
