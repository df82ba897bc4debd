import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { PropErrors, show } from '../validation/prop-validation';

export interface ModelRegistryTableProps {
  /**
   * The registry is the audit trail of every model version (status history, metrics, lineage): it outlives
   * stacks by default.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /** @default true */
  readonly deletionProtection?: boolean;
}

/**
 * The model registry: every model version with its status history, validation metrics, reasons and lineage;
 * per model the routing the pipeline last wrote and the lock that serialises changes to it.
 *
 * Keys (partition `model`, sort `item`):
 * - `VERSION#<version>`: one model version (status, history, metrics, gates, reasons, lineage: bucket,
 *   S3 object versions, sha256, Lambda version, execution id, timestamps). `sequenceKey` holds its
 *   zero-padded registration number.
 * - `MODEL`: the registration counter (`sequence`, incremented atomically by each registration) and the
 *   `routing` of the `live` alias (primary, additional version and weight, shadow).
 * - `LOCK`: the execution that may change this model's routing (`holder`, `expiresAt`,
 *   `preemptRequestedBy`), taken and released with conditional writes.
 *
 * Access patterns:
 * - one version: GetItem `model = <m>, item = VERSION#<v>`;
 * - a model's versions newest first: Query the `bySequence` local index, `model = <m>`, descending (sparse:
 *   only version items have `sequenceKey`);
 * - routing and lock: GetItem `MODEL` / `LOCK`; registration: UpdateItem `MODEL` ADD sequence, then a PutItem
 *   conditioned on the version not existing (a duplicate upload fails the condition).
 */
export class ModelRegistryTable extends Construct {
  static readonly PARTITION_KEY = 'model';
  static readonly SORT_KEY = 'item';
  static readonly BY_SEQUENCE_INDEX = 'bySequence';
  static readonly SEQUENCE_KEY = 'sequenceKey';

  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: ModelRegistryTableProps = {}) {
    super(scope, id);
    const errors = new PropErrors('ModelRegistryTable');
    const deletionProtection = props.deletionProtection ?? true;
    errors.require(
      !(props.removalPolicy === RemovalPolicy.DESTROY && deletionProtection),
      `removalPolicy DESTROY needs deletionProtection: false (CloudFormation cannot delete a protected table), got: deletionProtection=${show(props.deletionProtection)}`,
    );
    errors.throwIfAny();

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: ModelRegistryTable.PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      sortKey: { name: ModelRegistryTable.SORT_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.table.addLocalSecondaryIndex({
      indexName: ModelRegistryTable.BY_SEQUENCE_INDEX,
      sortKey: { name: ModelRegistryTable.SEQUENCE_KEY, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
}
