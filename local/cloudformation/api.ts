// The CloudFormation API (2010-05-15) subset the promotion pipeline and the CLI call, served on loopback over
// the AWS query protocol @aws-sdk/client-cloudformation speaks (form-encoded requests, XML answers, errors as
// <ErrorResponse>). Functions get its address as AWS_ENDPOINT_URL_CLOUDFORMATION.
//
//   CreateStack (TemplateBody, Parameters, Capabilities, RoleARN, Tags)   UpdateStack (+ UsePreviousTemplate,
//   UsePreviousValue)   DeleteStack   DescribeStacks   DescribeStackEvents   ListStacks   GetTemplate
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import { accessKeyIdOf } from '../iam/identities';
import { CloudFormationError, type CloudFormationErrorCode } from './errors';
import { MAX_TEMPLATE_BODY_BYTES, type LocalCloudFormation, type StackState } from './stacks';
import { listenLocally } from '../ports';

const NAMESPACE = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

export interface CloudFormationApiServer {
  readonly endpoint: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** What an API call acts on, as IAM authorizes it. */
export interface CloudFormationCall {
  readonly action: string;
  /** The stack's ARN (`stack/<name>/*` for one that does not exist yet), or `*` for calls on every stack. */
  readonly stackArn: string;
  /** The service role the call passes (RoleARN). */
  readonly roleArn?: string;
}

/** A call refused before it acts (unknown credentials, a denied action, a role that cannot be passed or assumed). */
export interface CloudFormationRefusal {
  readonly status: number;
  readonly code: CloudFormationErrorCode;
  readonly message: string;
}

/** `cloudFormation` is read on each request: the server can start before the service it fronts (whose functions need its address). */
export async function startCloudFormationApi(options: {
  cloudFormation: () => LocalCloudFormation;
  host: string;
  port?: number;
  /** Checked before each call (local/iam): the caller, from the request's signature, may make it. */
  authorize?: (headers: IncomingHttpHeaders, call: CloudFormationCall) => Promise<CloudFormationRefusal | undefined>;
}): Promise<CloudFormationApiServer> {
  const handle = async (action: string, params: URLSearchParams, headers: IncomingHttpHeaders): Promise<string> => {
    const cloudFormation = options.cloudFormation();
    const requestedBy = accessKeyIdOf(headers);
    if (options.authorize) {
      const name = params.get('StackName');
      const stackArn = name === null ? '*' : cloudFormation.stackArn(name);
      const roleArn = params.get('RoleARN');
      const refusal = await options.authorize(headers, { action, stackArn, ...(roleArn ? { roleArn } : {}) });
      if (refusal) throw new CloudFormationError(refusal.code, refusal.message, refusal.status);
    }
    const required = (name: string) => {
      const value = params.get(name);
      if (value === null)
        throw new CloudFormationError(
          'ValidationError',
          `1 validation error detected: Value null at '${name.charAt(0).toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must not be null`,
        );
      return value;
    };
    const stackRequest = () => {
      const templateBody = params.get('TemplateBody') ?? undefined;
      if (templateBody !== undefined && Buffer.byteLength(templateBody) > MAX_TEMPLATE_BODY_BYTES) {
        throw new CloudFormationError(
          'ValidationError',
          `1 validation error detected: Value at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to ${MAX_TEMPLATE_BODY_BYTES}`,
        );
      }
      if (params.get('TemplateURL') !== null) throw new CloudFormationError('ValidationError', 'TemplateURL is not served by the local runtime: pass the template as TemplateBody');
      return {
        stackName: required('StackName'),
        ...(templateBody !== undefined ? { templateBody } : {}),
        usePreviousTemplate: params.get('UsePreviousTemplate') === 'true',
        parameters: members(params, 'Parameters').map((p) => ({
          ParameterKey: p.ParameterKey ?? '',
          ...(p.ParameterValue !== undefined ? { ParameterValue: p.ParameterValue } : {}),
          ...(p.UsePreviousValue === 'true' ? { UsePreviousValue: true } : {}),
        })),
        capabilities: scalarMembers(params, 'Capabilities'),
        ...(params.get('RoleARN') ? { roleArn: params.get('RoleARN') as string } : {}),
        ...(params.has('Tags.member.1.Key') || params.get('Tags') === '' ? { tags: members(params, 'Tags').map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' })) } : {}),
        ...(requestedBy !== undefined ? { requestedBy } : {}),
      };
    };
    switch (action) {
      case 'CreateStack':
        return result(action, leaf('StackId', cloudFormation.createStack(stackRequest())));
      case 'UpdateStack':
        return result(action, leaf('StackId', cloudFormation.updateStack(stackRequest())));
      case 'DeleteStack':
        cloudFormation.deleteStack(required('StackName'), {
          ...(params.get('RoleARN') ? { roleArn: params.get('RoleARN') as string } : {}),
          ...(requestedBy !== undefined ? { requestedBy } : {}),
        });
        return result(action, '');
      case 'DescribeStacks': {
        const name = params.get('StackName');
        const stacks = name ? [cloudFormation.describeStack(name)] : cloudFormation.listStacks();
        return result(action, element('Stacks', stacks.map((s) => element('member', describeStack(s))).join('')));
      }
      case 'DescribeStackEvents': {
        const stack = cloudFormation.describeStack(required('StackName'));
        const events = [...stack.events].reverse().map((e) => element('member', fields(e)));
        return result(action, element('StackEvents', events.join('')));
      }
      case 'ListStacks': {
        const filter = scalarMembers(params, 'StackStatusFilter');
        const stacks = cloudFormation.listStacks(true).filter((s) => filter.length === 0 || filter.includes(s.status));
        const summaries = stacks.map((s) =>
          element(
            'member',
            fields({
              StackId: s.stackId,
              StackName: s.stackName,
              TemplateDescription: s.description,
              CreationTime: s.creationTime,
              LastUpdatedTime: s.lastUpdatedTime,
              DeletionTime: s.deletionTime,
              StackStatus: s.status,
              StackStatusReason: s.statusReason,
            }),
          ),
        );
        return result(action, element('StackSummaries', summaries.join('')));
      }
      case 'GetTemplate': {
        const stack = cloudFormation.describeStack(required('StackName'));
        return result(action, leaf('TemplateBody', stack.templateBody) + element('StagesAvailable', leaf('member', 'Original') + leaf('member', 'Processed')));
      }
      default:
        throw new CloudFormationError(
          'InvalidAction',
          `The action ${action} is not valid for this web service (the local runtime serves CreateStack, UpdateStack, DeleteStack, DescribeStacks, DescribeStackEvents, ListStacks, GetTemplate).`,
        );
    }
  };

  const server = createServer(async (request, response) => {
    const requestId = randomUUID();
    let body: string;
    try {
      const params = new URLSearchParams(await readText(request));
      for (const [key, value] of new URL(request.url ?? '/', 'http://local').searchParams) if (!params.has(key)) params.set(key, value);
      const action = params.get('Action') ?? '';
      body = `<${action}Response xmlns="${NAMESPACE}">${await handle(action, params, request.headers)}${element('ResponseMetadata', leaf('RequestId', requestId))}</${action}Response>`;
      response.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
    } catch (error) {
      const known = error instanceof CloudFormationError;
      if (!known) console.error('local CloudFormation API:', error);
      const code = known ? error.code : 'InternalFailure';
      body = `<ErrorResponse xmlns="${NAMESPACE}">${element('Error', leaf('Type', known ? 'Sender' : 'Receiver') + leaf('Code', code) + leaf('Message', (error as Error).message))}${leaf('RequestId', requestId)}</ErrorResponse>`;
      response.writeHead(known ? error.status : 500, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
    }
    response.end(body);
  });
  return listenLocally(server, options);
}

function describeStack(stack: StackState): string {
  const parameters = Object.entries(stack.parameters).map(([key, value]) =>
    element('member', fields({ ParameterKey: key, ParameterValue: stack.noEcho.includes(key) ? '****' : value })),
  );
  return (
    fields({
      StackId: stack.stackId,
      StackName: stack.stackName,
      Description: stack.description,
      CreationTime: stack.creationTime,
      LastUpdatedTime: stack.lastUpdatedTime,
      DeletionTime: stack.deletionTime,
      StackStatus: stack.status,
      StackStatusReason: stack.statusReason,
      RoleARN: stack.roleArn,
      DisableRollback: 'false',
    }) +
    element('Parameters', parameters.join('')) +
    element('Outputs', stack.outputs.map((o) => element('member', fields(o))).join('')) +
    element('Capabilities', stack.capabilities.map((c) => leaf('member', c)).join('')) +
    element('Tags', stack.tags.map((t) => element('member', fields(t))).join(''))
  );
}

/** `Name.member.N.Field` entries as a list of objects. */
function members(params: URLSearchParams, name: string): Record<string, string>[] {
  const items: Record<string, string>[] = [];
  for (const [key, value] of params) {
    const match = new RegExp(`^${name}\\.member\\.(\\d+)\\.(\\w+)$`).exec(key);
    if (match) (items[Number(match[1]) - 1] ??= {})[match[2] as string] = value;
  }
  return items.filter(Boolean);
}

/** `Name.member.N` entries as a list. */
function scalarMembers(params: URLSearchParams, name: string): string[] {
  const items: string[] = [];
  for (const [key, value] of params) {
    const match = new RegExp(`^${name}\\.member\\.(\\d+)$`).exec(key);
    if (match) items[Number(match[1]) - 1] = value;
  }
  return items.filter((item) => item !== undefined);
}

function result(action: string, content: string): string {
  return element(`${action}Result`, content);
}

function fields(record: object): string {
  return Object.entries(record)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => leaf(key, String(value)))
    .join('');
}

/** An element around XML content. */
function element(name: string, xml: string): string {
  return `<${name}>${xml}</${name}>`;
}

/** An element around text. */
function leaf(name: string, text: string): string {
  return element(name, escapeXml(text));
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

async function readText(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
