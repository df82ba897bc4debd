// Invoking a version of a Lambda function from inside the function: sticky experiments send a request to the
// other arm, shadow rollouts mirror it. @aws-sdk/client-lambda is loaded with the first invocation, not at cold
// start: a function invokes only while such an experiment or shadow runs, and loading the client costs every
// cold start tens of milliseconds of CPU (bench/cold-start.ts).
import type { LambdaClientConfig } from '@aws-sdk/client-lambda';

export interface FunctionInvocation {
  readonly FunctionName: string;
  /** The version (or alias) to invoke. */
  readonly Qualifier: string;
  /** `Event` queues the invocation and returns at once; the default waits for the answer. */
  readonly InvocationType?: 'Event' | 'RequestResponse';
  readonly Payload: Uint8Array;
}

export interface FunctionInvoker {
  invoke(invocation: FunctionInvocation): Promise<{ readonly Payload?: Uint8Array; readonly FunctionError?: string }>;
}

/** Invokes through the AWS SDK, with one client created on the first call. */
export function lambdaInvoker(config: LambdaClientConfig = {}): FunctionInvoker {
  let loading: Promise<FunctionInvoker['invoke']> | undefined;
  return {
    async invoke(invocation) {
      loading ??= import('@aws-sdk/client-lambda').then(({ LambdaClient, InvokeCommand }) => {
        const client = new LambdaClient(config);
        return (request: FunctionInvocation) => client.send(new InvokeCommand(request));
      });
      return (await loading)(invocation);
    },
  };
}
