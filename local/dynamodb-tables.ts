import { CreateTableCommand, ResourceInUseException, type CreateTableCommandInput, type DynamoDBClient } from '@aws-sdk/client-dynamodb';

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

/** Creates the table unless it exists already (a restarted runtime keeps its data). */
export async function ensureTable(client: DynamoDBClient, input: CreateTableCommandInput): Promise<void> {
  try {
    await client.send(new CreateTableCommand(input));
  } catch (error) {
    if (!(error instanceof ResourceInUseException || (error as Error).name === 'ResourceInUseException')) throw error;
  }
}
