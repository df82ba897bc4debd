// The IAM gateway in front of the local DynamoDB (the streams proxy, then dynalite): the operation comes from
// X-Amz-Target, the tables and indexes from the body; a denial is DynamoDB's 400 AccessDeniedException JSON.
import { randomUUID } from 'node:crypto';
import type { LocalService } from '../aws-services';
import type { FaultKind, LocalFaults } from '../faults';
import { AccessDeniedError, type AccessRequest, type Authorizer } from './authorizer';
import { accessKeyIdOf, sessionNameOf, type LocalIdentities } from './identities';
import { passHeaders, startGateway, type Refusal } from './gateway';

type Check = Omit<AccessRequest, 'caller'>;

export interface DynamoDbGatewayOptions {
  readonly target: string;
  readonly host: string;
  readonly port?: number;
  readonly region: string;
  readonly accountId: string;
  readonly identities: LocalIdentities;
  readonly authorizer: Authorizer;
  /** Faults to inject into the calls IAM allows (local/faults.ts). */
  readonly faults?: LocalFaults;
}

const TRANSACT_WRITE_ACTIONS: Readonly<Record<string, string>> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem' };
/** Operations that name no table: IAM authorizes them on `*`. */
const ACCOUNT_OPERATIONS = new Set(['ListTables', 'DescribeEndpoints', 'DescribeLimits', 'ListBackups', 'ListGlobalTables', 'ListExports', 'ListImports']);

/** The IAM checks DynamoDB makes for one request: one per table (or index) it touches. */
export function dynamoDbChecks(operation: string, input: Record<string, unknown>, region: string, accountId: string): Check[] {
  const table = (name: unknown) => `arn:aws:dynamodb:${region}:${accountId}:table/${String(name)}`;
  const action = `dynamodb:${operation}`;
  if (ACCOUNT_OPERATIONS.has(operation)) return [{ action, resource: '*' }];
  if (operation === 'BatchGetItem' || operation === 'BatchWriteItem') {
    return Object.keys((input.RequestItems ?? {}) as Record<string, unknown>).map((name) => ({ action, resource: table(name) }));
  }
  if (operation === 'TransactWriteItems') {
    return ((input.TransactItems ?? []) as Record<string, { TableName?: string }>[]).flatMap((item) =>
      Object.entries(item).map(([kind, request]) => ({ action: `dynamodb:${TRANSACT_WRITE_ACTIONS[kind] ?? kind}`, resource: table(request.TableName) })),
    );
  }
  if (operation === 'TransactGetItems') {
    return ((input.TransactItems ?? []) as { Get?: { TableName?: string } }[]).map((item) => ({ action: 'dynamodb:GetItem', resource: table(item.Get?.TableName) }));
  }
  const base = table(input.TableName ?? String(input.TableArn ?? '').split('/')[1]);
  const index = (operation === 'Query' || operation === 'Scan') && typeof input.IndexName === 'string' ? `${base}/index/${input.IndexName}` : base;
  return [{ action, resource: index }];
}

export async function startDynamoDbGateway(options: DynamoDbGatewayOptions): Promise<LocalService> {
  const { identities, authorizer } = options;
  return startGateway({
    target: options.target,
    host: options.host,
    ...(options.port !== undefined ? { port: options.port } : {}),
    bufferBody: true,
    async decide(request, body) {
      const caller = ((id) => (id === undefined ? undefined : identities.callerOf(id)))(accessKeyIdOf(request.headers));
      if (!caller) return { forward: false, refusal: dynamoError('UnrecognizedClientException', 'The security token included in the request is invalid.') };
      const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      let input: Record<string, unknown> = {};
      try {
        const parsed: unknown = JSON.parse((body ?? Buffer.alloc(0)).toString('utf8') || '{}');
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) input = parsed as Record<string, unknown>;
      } catch {
        // not JSON: the service behind answers with its own SerializationException
      }
      const checks = operation === '' ? [] : dynamoDbChecks(operation, input, options.region, options.accountId);
      const denial = await authorizer.firstDenial(checks.map((c) => ({ ...c, caller })));
      if (denial) return { forward: false, refusal: dynamoError('AccessDeniedException', new AccessDeniedError(denial).message) };
      const fault = operation === '' ? undefined : options.faults?.meet({ service: 'dynamodb', actions: [operation], caller: sessionNameOf(caller) });
      if (fault) return { forward: false, refusal: fault === 'unreachable' ? 'connection-reset' : dynamoFault(fault) };
      return { forward: true, headers: passHeaders(request.headers) };
    },
  });
}

/** DynamoDB's answers when it sheds load (an on-demand table's message) or fails. */
function dynamoFault(kind: Exclude<FaultKind, 'unreachable'>): Refusal {
  return kind === 'throttle'
    ? dynamoError(
        'ProvisionedThroughputExceededException',
        'Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly. If exceptions persist, check if you have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html',
      )
    : dynamoError('InternalServerError', 'Internal server error', 500);
}

function dynamoError(type: string, message: string, status = 400): Refusal {
  return {
    status,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID(), 'x-amzn-errortype': type },
    body: JSON.stringify({ __type: `com.amazon.coral.service#${type}`, message }),
  };
}
