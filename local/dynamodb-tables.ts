import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  ScanCommand,
  type AttributeValue,
  type CreateTableCommandInput,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';

/** The parts of an `AWS::DynamoDB::Table` resource's Properties that shape the table's data. */
export interface CfnTableProperties {
  readonly KeySchema: CreateTableCommandInput['KeySchema'];
  readonly AttributeDefinitions: CreateTableCommandInput['AttributeDefinitions'];
  readonly GlobalSecondaryIndexes?: { IndexName: string; KeySchema: unknown; Projection: unknown }[];
  readonly LocalSecondaryIndexes?: { IndexName: string; KeySchema: unknown; Projection: unknown }[];
}

/**
 * The CreateTable request for a table of a synthesized template, so the local table has exactly the keys
 * and indexes `cdk deploy` would create. Billing is on-demand like ours; streams, TTL, PITR and deletion
 * protection are not part of dynalite (docs/local-runtime.md says how the runtime stands in for them).
 */
export function createTableInput(tableName: string, properties: CfnTableProperties): CreateTableCommandInput {
  const indexes = (list?: { IndexName: string; KeySchema: unknown; Projection: unknown }[]) =>
    list?.map((index) => ({ IndexName: index.IndexName, KeySchema: index.KeySchema, Projection: index.Projection })) as never;
  return {
    TableName: tableName,
    KeySchema: properties.KeySchema,
    AttributeDefinitions: properties.AttributeDefinitions,
    BillingMode: 'PAY_PER_REQUEST',
    ...(properties.GlobalSecondaryIndexes ? { GlobalSecondaryIndexes: indexes(properties.GlobalSecondaryIndexes) } : {}),
    ...(properties.LocalSecondaryIndexes ? { LocalSecondaryIndexes: indexes(properties.LocalSecondaryIndexes) } : {}),
  };
}

/**
 * Creates the table unless it exists already (a restarted runtime keeps its data). A table that exists with
 * other secondary indexes than the template's — a state directory from before an index was added — gets
 * them as `cdk deploy` would give it (reconcileIndexes).
 */
export async function ensureTable(client: DynamoDBClient, input: CreateTableCommandInput): Promise<void> {
  try {
    await client.send(new CreateTableCommand(input));
  } catch (error) {
    if (!(error instanceof ResourceInUseException || (error as Error).name === 'ResourceInUseException')) throw error;
    await reconcileIndexes(client, input);
  }
}

/**
 * Gives an existing table the template's secondary indexes, keeping its items. On AWS, CloudFormation adds
 * or removes a global secondary index with UpdateTable and DynamoDB backfills it online; dynalite validates
 * such an UpdateTable but does not build the index, so the table is rebuilt instead: its items read, the
 * table created again with the template's indexes, the items written back. The writes go to dynalite
 * itself, not through the streams proxy: no stream record, as DynamoDB's backfill makes none. Returns
 * whether the table was rebuilt.
 */
export async function reconcileIndexes(client: DynamoDBClient, input: CreateTableCommandInput): Promise<boolean> {
  const { Table: table } = await client.send(new DescribeTableCommand({ TableName: input.TableName }));
  const shape = (indexes?: readonly { IndexName?: string; KeySchema?: unknown; Projection?: { ProjectionType?: string; NonKeyAttributes?: readonly string[] } }[]) =>
    JSON.stringify(
      (indexes ?? [])
        .map((index) => ({
          name: index.IndexName,
          keys: index.KeySchema,
          projection: index.Projection?.ProjectionType,
          include: [...(index.Projection?.NonKeyAttributes ?? [])].sort(),
        }))
        .sort((a, b) => String(a.name).localeCompare(String(b.name))),
    );
  const same = shape(table?.GlobalSecondaryIndexes) === shape(input.GlobalSecondaryIndexes) && shape(table?.LocalSecondaryIndexes) === shape(input.LocalSecondaryIndexes);
  if (same) return false;
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: input.TableName, ...(start ? { ExclusiveStartKey: start } : {}) }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  await client.send(new DeleteTableCommand({ TableName: input.TableName }));
  await settled(client, input.TableName as string, 'gone');
  await client.send(new CreateTableCommand(input));
  await settled(client, input.TableName as string, 'ACTIVE');
  for (let i = 0; i < items.length; i += BATCH_WRITE_LIMIT) {
    let pending: WriteRequest[] = items.slice(i, i + BATCH_WRITE_LIMIT).map((Item) => ({ PutRequest: { Item } }));
    while (pending.length > 0) {
      const response = await client.send(new BatchWriteItemCommand({ RequestItems: { [input.TableName as string]: pending } }));
      pending = response.UnprocessedItems?.[input.TableName as string] ?? [];
    }
  }
  return true;
}

/** DynamoDB's limit of items per BatchWriteItem. */
const BATCH_WRITE_LIMIT = 25;

/** Waits until the table is ACTIVE, or gone (dynalite, like DynamoDB, deletes and creates tables asynchronously). */
async function settled(client: DynamoDBClient, tableName: string, state: 'ACTIVE' | 'gone'): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    try {
      const { Table: table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      if (state === 'ACTIVE' && table?.TableStatus === 'ACTIVE') return;
    } catch (error) {
      if ((error as Error).name !== 'ResourceNotFoundException') throw error;
      if (state === 'gone') return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`table ${tableName} did not become ${state} within 5 s`);
}
