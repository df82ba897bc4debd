// dynalite on disk, as the local runtime runs it (local/aws-services.ts): the LevelDB files compaction replaces are
// deleted while the table is queried. Every Query used to leave its LevelDB iterator open, which kept each replaced
// file on disk and mapped in memory: the state folder grew to 25 times its data in a soak, and the runtime's
// resident memory with it.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { localDynamoClient } from '../../local/aws-clients';
import { startDynamoDb } from '../../local/aws-services';

const directory = mkdtempSync(join(tmpdir(), 'modelgate-dynalite-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const folderBytes = () => readdirSync(directory).reduce((sum, file) => sum + statSync(join(directory, file)).size, 0);

describe('dynalite on disk', () => {
  it('keeps its folder near the size of its data while queries run among the writes', async () => {
    const dynamo = await startDynamoDb({ path: directory });
    try {
      const client = localDynamoClient(dynamo.endpoint);
      const TableName = 'items';
      await client.send(
        new CreateTableCommand({
          TableName,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'N' },
          ],
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
        }),
      );
      // 1,500 items of 20 KB that do not compress (30 MB), a Query after every 10 writes: LevelDB compacts several times meanwhile.
      const items = 1_500;
      const writers = 4;
      await Promise.all(
        Array.from({ length: writers }, async (_, writer) => {
          for (let i = writer; i < items; i += writers) {
            await client.send(new PutItemCommand({ TableName, Item: { pk: { S: `p${i % 20}` }, sk: { N: String(i) }, payload: { S: randomBytes(15_000).toString('base64') } } }));
            if (i % 10 === 0)
              await client.send(new QueryCommand({ TableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: `p${i % 20}` } }, Limit: 2 }));
          }
        }),
      );
      // Twice the data covers the write-ahead log and the files of a compaction under way.
      expect(folderBytes()).toBeLessThan(2 * items * 20_000);
    } finally {
      await dynamo.close();
    }
  });
});
