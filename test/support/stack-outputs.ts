// A deployed stack's CloudFormation outputs on loopback, for the CLI's `--aws` path in tests: no AWS account is
// reachable here, and the local runtime's CloudFormation only knows the stacks it deployed itself. It answers
// DescribeStacks as the service does (query protocol, XML) for one stack name, and the service's error for any
// other; point AWS_ENDPOINT_URL_CLOUDFORMATION at `endpoint`.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StackOutputsServer {
  readonly endpoint: string;
  close(): Promise<void>;
}

export async function startStackOutputs(stackName: string, outputs: Readonly<Record<string, string>>): Promise<StackOutputsServer> {
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const name = new URLSearchParams(body).get('StackName');
      const members = Object.entries(outputs)
        .map(([key, value]) => `<member><OutputKey>${key}</OutputKey><OutputValue>${value}</OutputValue></member>`)
        .join('');
      response.writeHead(name === stackName ? 200 : 400, { 'content-type': 'text/xml' });
      response.end(
        name === stackName
          ? `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>${name}</StackName><StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-01-01T00:00:00Z</CreationTime><Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeStacksResponse>`
          : `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id ${name} does not exist</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
