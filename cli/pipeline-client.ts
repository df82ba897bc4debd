// What the pipeline commands share: the Step Functions client of the target, and following an execution to its
// end with progress.
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { LOCAL_CREDENTIALS } from '../local/aws-clients';
import type { Target } from './target';
import { UsageError } from './usage-error';

/** The target's Step Functions; a local runtime without one (started without its pipeline) is bad usage, never AWS. */
export function stepFunctionsClient(target: Target): SFNClient {
  if (target.endpoints.stepFunctions) return new SFNClient({ endpoint: target.endpoints.stepFunctions, region: target.region, credentials: LOCAL_CREDENTIALS });
  if (target.kind === 'local')
    throw new UsageError(`the local runtime (${target.description}) runs no promotion pipeline`, 'restart it with `npm start`, which starts the pipeline');
  return new SFNClient({ region: target.region });
}

export interface FollowOptions {
  /** Printed for each state the execution enters (progress); nothing when undefined. */
  readonly progress?: (line: string) => void;
  readonly pollMs?: number;
  /** Give up after this long (the execution goes on). */
  readonly timeoutMs?: number;
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

/**
 * Polls an execution until it ends, printing each state it enters, the last one included: the history is read
 * after the status, so the read that follows a terminal status holds every state.
 */
export async function followExecution(sfn: SFNClient, executionArn: string, options: FollowOptions = {}): Promise<DescribeExecutionCommandOutput> {
  const deadline = Date.now() + (options.timeoutMs ?? 3_600_000);
  let seen = 0;
  const counts = new Map<string, number>();
  for (;;) {
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, ...(nextToken ? { nextToken } : {}) }));
      events.push(...(page.events ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    for (const event of events.slice(seen)) {
      const line = progressLine(event, counts);
      if (line && options.progress) options.progress(`${new Date(event.timestamp ?? Date.now()).toISOString().slice(11, 19)}  ${line}`);
    }
    seen = events.length;
    if (TERMINAL.has(execution.status ?? '')) return execution;
    if (Date.now() > deadline) throw new Error(`gave up following ${executionArn} after ${(options.timeoutMs ?? 0) / 1000} s (it goes on)`);
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
  }
}

/** States worth a progress line: tasks, waits and ends; choices and passes are bookkeeping. Repeated states are numbered. */
function progressLine(event: HistoryEvent, counts: Map<string, number>): string | undefined {
  const name = event.stateEnteredEventDetails?.name;
  if (!name || event.type === 'ChoiceStateEntered' || event.type === 'PassStateEntered' || ['Bake', 'BakeTick', 'PutAlarm'].includes(name)) return undefined;
  const n = (counts.get(name) ?? 0) + 1;
  counts.set(name, n);
  return n === 1 ? name : `${name} (${n})`;
}

/**
 * The execution EventBridge started for an upload: the newest execution of the state machine whose input is
 * the Object Created event of `key`, started at or after `since`.
 */
export async function findUploadExecution(sfn: SFNClient, stateMachineArn: string, bucket: string, key: string, since: Date, timeoutMs = 120_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const checked = new Set<string>();
  for (;;) {
    const { executions } = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 20 }));
    for (const execution of executions ?? []) {
      const arn = execution.executionArn as string;
      if (checked.has(arn) || (execution.startDate && execution.startDate.getTime() < since.getTime() - 5_000)) continue;
      checked.add(arn);
      const described = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      const input = JSON.parse(described.input ?? '{}') as { detail?: { bucket?: { name?: string }; object?: { key?: string } } };
      if (input.detail?.bucket?.name === bucket && input.detail.object?.key === key) return arn;
    }
    if (Date.now() > deadline) throw new Error(`no pipeline execution started for s3://${bucket}/${key} within ${timeoutMs / 1000} s (is the upload rule enabled for this model?)`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

export async function startOperation(sfn: SFNClient, stateMachineArn: string, input: Record<string, unknown>): Promise<string> {
  const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input) }));
  return executionArn as string;
}
