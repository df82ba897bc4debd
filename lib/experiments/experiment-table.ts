import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { PropErrors, show } from '../validation/prop-validation';

export interface ExperimentTableProps {
  /**
   * What happens to the table when the stack or construct is deleted: definitions, their revisions and the
   * snapshots are the record of what was decided and why, so they outlive stacks by default.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /** Refuse DeleteTable. Must be false when `removalPolicy` is DESTROY. @default true */
  readonly deletionProtection?: boolean;
}

/**
 * The experiment table: definitions (versioned), per-arm counters, per-unit outcome and assignment items,
 * analysis snapshots (lambdas/adapters/experiment-store.ts has the key design).
 *
 * Access patterns:
 * - GetItem `pk = EXP#<id>, sk = DEFINITION` — the definition with its revisions.
 * - Query `pk = EXP#<id> AND begins_with(sk, 'ARM#')` — the counters of both arms (16 small items, whatever
 *   the traffic): what every analysis reads.
 * - Query `pk = EXP#<id> AND begins_with(sk, 'SNAP#')` — analyses over time.
 * - Query `byStatus`: `status = running [AND begins_with(modelStarted, '<model>#')]` — the running
 *   experiments (of a model): only definition items carry these attributes, so the index stays small.
 * - UpdateItem with ADD on counters; conditional writes on unit items (idempotency by event id, first exposure).
 *
 * Per-unit items expire through TTL on `expiresAt` (90 days after the maximum duration).
 */
export class ExperimentTable extends Construct {
  /** The names lambdas/adapters/experiment-store.ts uses (EXPERIMENT_KEYS; the construct test checks they agree). */
  static readonly PARTITION_KEY = 'pk';
  static readonly SORT_KEY = 'sk';
  static readonly BY_STATUS_INDEX = 'byStatus';
  static readonly BY_STATUS_PARTITION_KEY = 'status';
  static readonly BY_STATUS_SORT_KEY = 'modelStarted';
  static readonly TTL_ATTRIBUTE = 'expiresAt';

  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: ExperimentTableProps = {}) {
    super(scope, id);
    const deletionProtection = props.deletionProtection ?? true;
    const errors = new PropErrors('ExperimentTable');
    errors.require(
      !(props.removalPolicy === RemovalPolicy.DESTROY && deletionProtection),
      `removalPolicy DESTROY needs deletionProtection: false (CloudFormation cannot delete a protected table), got: deletionProtection=${show(props.deletionProtection)}`,
    );
    errors.throwIfAny();

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: ExperimentTable.PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      sortKey: { name: ExperimentTable.SORT_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: ExperimentTable.TTL_ATTRIBUTE,
      deletionProtection,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: ExperimentTable.BY_STATUS_INDEX,
      partitionKey: { name: ExperimentTable.BY_STATUS_PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      sortKey: { name: ExperimentTable.BY_STATUS_SORT_KEY, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: ['definition'],
    });
  }
}
