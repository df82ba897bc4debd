// Step Functions on one machine: the template's state machines run by aws-local-stepfunctions
// (local/state-machine-runner.ts), executions kept with their status, output and history in the state
// folder, and the subset of the Step Functions API (AWS JSON 1.0) the CLI uses, on loopback, so
// `modelgate push` follows a local execution with the same @aws-sdk/client-sfn code as a deployed one.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { startExecution, type HistoryEvent, type RunningExecution, type StateMachineDefinition, type TaskBindings } from './state-machine-runner';
import { listenLocally } from './ports';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';

export interface ExecutionRecord {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  status: ExecutionStatus;
  readonly startDate: string;
  stopDate?: string;
  readonly input: unknown;
  output?: unknown;
  error?: string;
  cause?: string;
  events: HistoryEvent[];
}

export interface LocalStateMachine {
  readonly arn: string;
  readonly name: string;
  readonly definition: StateMachineDefinition;
}

export interface LocalStepFunctionsOptions {
  readonly machines: readonly LocalStateMachine[];
  readonly bindings: TaskBindings;
  /** The bindings an execution of this machine runs with (local/iam: each Task call checked against the machine's role). @default bindings */
  readonly bindingsFor?: (stateMachineArn: string, bindings: TaskBindings) => TaskBindings;
  /** Executions persist here, one JSON file each. */
  readonly directory: string;
  readonly timeScale?: number;
  readonly print?: (text: string) => void;
}

export class ExecutionNotFound extends Error {
  override readonly name = 'ExecutionDoesNotExist';
}

export class LocalStepFunctions {
  private readonly machines: Map<string, LocalStateMachine>;
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly running = new Map<string, { execution: RunningExecution; done: Promise<ExecutionRecord> }>();
  private readonly print: (text: string) => void;

  constructor(private readonly options: LocalStepFunctionsOptions) {
    this.machines = new Map(options.machines.map((m) => [m.arn, m]));
    this.print = options.print ?? ((text) => console.log(text));
    mkdirSync(options.directory, { recursive: true });
    for (const file of readdirSync(options.directory).filter((f) => f.endsWith('.json'))) {
      try {
        const record = JSON.parse(readFileSync(join(options.directory, file), 'utf8')) as ExecutionRecord;
        this.executions.set(record.executionArn, record);
      } catch {
        // a file torn by a crash: the execution is lost, like its process
      }
    }
  }

  /** CreateStateMachine / UpdateStateMachine: executions started from now on run this definition. */
  putMachine(machine: LocalStateMachine): void {
    this.machines.set(machine.arn, machine);
  }

  deleteMachine(arn: string): void {
    this.machines.delete(arn);
  }

  listStateMachines(): LocalStateMachine[] {
    return [...this.machines.values()];
  }

  /**
   * Executions a previous run of the runtime left RUNNING: their process is gone, so they are marked
   * ABORTED (a deployed execution would have gone on). Returned so the caller can undo what they held.
   */
  abortInterrupted(): ExecutionRecord[] {
    const interrupted = [...this.executions.values()].filter((e) => e.status === 'RUNNING' && !this.running.has(e.executionArn));
    for (const record of interrupted) {
      record.status = 'ABORTED';
      record.stopDate = new Date().toISOString();
      record.cause = 'the local runtime stopped while the execution ran';
      this.save(record);
    }
    return interrupted;
  }

  start(stateMachineArn: string, input: unknown, name: string = randomUUID()): ExecutionRecord {
    const machine = this.machines.get(stateMachineArn);
    if (!machine) throw Object.assign(new Error(`State Machine Does Not Exist: '${stateMachineArn}'`), { name: 'StateMachineDoesNotExist' });
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    if (this.executions.has(executionArn)) throw Object.assign(new Error(`Execution Already Exists: '${executionArn}'`), { name: 'ExecutionAlreadyExists' });
    const startDate = new Date().toISOString();
    const record: ExecutionRecord = { executionArn, stateMachineArn, name, status: 'RUNNING', startDate, input, events: [] };
    this.executions.set(executionArn, record);
    this.save(record);
    const bindings = this.options.bindingsFor ? this.options.bindingsFor(stateMachineArn, this.options.bindings) : this.options.bindings;
    const execution = startExecution(machine.definition, input, bindings, {
      timeScale: this.options.timeScale ?? 1,
      execution: { id: executionArn, name, startTime: startDate },
      onEvent: (event) => {
        record.events.push(event);
        if (event.type === 'StateEntered' || event.type.startsWith('Execution')) this.save(record);
      },
    });
    const done = execution.done.then((outcome) => {
      record.status = outcome.status;
      record.stopDate = new Date().toISOString();
      record.events = [...outcome.events];
      if (outcome.output !== undefined) record.output = outcome.output;
      if (outcome.error !== undefined) record.error = outcome.error;
      if (outcome.cause !== undefined) record.cause = outcome.cause;
      this.save(record);
      this.running.delete(executionArn);
      this.print(`[states] ${machine.name} ${name}: ${outcome.status}${outcome.error ? ` (${outcome.error}${outcome.cause ? `: ${outcome.cause}` : ''})` : ''}`);
      return record;
    });
    this.running.set(executionArn, { execution, done });
    return record;
  }

  describe(executionArn: string): ExecutionRecord {
    const record = this.executions.get(executionArn);
    if (!record) throw new ExecutionNotFound(`Execution Does Not Exist: '${executionArn}'`);
    return record;
  }

  /** Newest first, optionally of one state machine and one status. */
  list(stateMachineArn?: string, status?: ExecutionStatus): ExecutionRecord[] {
    return [...this.executions.values()]
      .filter((e) => (stateMachineArn === undefined || e.stateMachineArn === stateMachineArn) && (status === undefined || e.status === status))
      .sort((a, b) => (a.startDate < b.startDate ? 1 : a.startDate > b.startDate ? -1 : 0));
  }

  stop(executionArn: string, error?: string, cause?: string): ExecutionRecord {
    const record = this.describe(executionArn);
    const running = this.running.get(executionArn);
    if (running) {
      running.execution.abort();
      record.status = 'ABORTED';
      if (error) record.error = error;
      if (cause) record.cause = cause;
    }
    return record;
  }

  /** Resolves when the execution has ended. */
  async wait(executionArn: string): Promise<ExecutionRecord> {
    const running = this.running.get(executionArn);
    return running ? running.done : this.describe(executionArn);
  }

  /** Resolves when no execution is running (new ones started meanwhile included). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  async close(): Promise<void> {
    for (const { execution } of this.running.values()) execution.abort();
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  private save(record: ExecutionRecord): void {
    writeFileSync(join(this.options.directory, `${record.name.replace(/[^A-Za-z0-9._-]/g, '_')}.json`), JSON.stringify(record));
  }
}

export interface StepFunctionsApiServer {
  readonly endpoint: string;
  readonly server: Server;
  close(): Promise<void>;
}

const epoch = (iso: string | undefined) => (iso === undefined ? undefined : new Date(iso).getTime() / 1000);

/** The Step Functions API subset the CLI calls, AWS JSON 1.0 (`X-Amz-Target: AWSStepFunctions.<Operation>`). */
export async function startStepFunctionsApi(options: { stepFunctions: LocalStepFunctions; host: string; port?: number }): Promise<StepFunctionsApiServer> {
  const sfn = options.stepFunctions;
  const describe = (e: ExecutionRecord) => ({
    executionArn: e.executionArn,
    stateMachineArn: e.stateMachineArn,
    name: e.name,
    status: e.status,
    startDate: epoch(e.startDate),
    ...(e.stopDate ? { stopDate: epoch(e.stopDate) } : {}),
    input: JSON.stringify(e.input),
    ...(e.output !== undefined ? { output: JSON.stringify(e.output) } : {}),
    ...(e.error !== undefined ? { error: e.error } : {}),
    ...(e.cause !== undefined ? { cause: e.cause } : {}),
  });
  const operations: Record<string, (body: Record<string, unknown>) => unknown> = {
    StartExecution: (body) => {
      const record = sfn.start(
        String(body.stateMachineArn),
        body.input === undefined ? {} : JSON.parse(String(body.input)),
        body.name === undefined ? undefined : String(body.name),
      );
      return { executionArn: record.executionArn, startDate: epoch(record.startDate) };
    },
    DescribeExecution: (body) => describe(sfn.describe(String(body.executionArn))),
    StopExecution: (body) => ({
      stopDate: epoch(sfn.stop(String(body.executionArn), body.error as string | undefined, body.cause as string | undefined).stopDate ?? new Date().toISOString()),
    }),
    ListExecutions: (body) => ({
      executions: sfn
        .list(body.stateMachineArn as string | undefined, body.statusFilter as ExecutionStatus | undefined)
        .slice(0, Number(body.maxResults ?? 100) || 100)
        .map((e) => ({
          executionArn: e.executionArn,
          stateMachineArn: e.stateMachineArn,
          name: e.name,
          status: e.status,
          startDate: epoch(e.startDate),
          ...(e.stopDate ? { stopDate: epoch(e.stopDate) } : {}),
        })),
    }),
    GetExecutionHistory: (body) => {
      const events = sfn.describe(String(body.executionArn)).events.map(historyEvent);
      return { events: body.reverseOrder ? events.reverse() : events };
    },
    ListStateMachines: () => ({ stateMachines: sfn.listStateMachines().map((m) => ({ stateMachineArn: m.arn, name: m.name, type: 'STANDARD', creationDate: 0 })) }),
  };
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const operation = String(request.headers['x-amz-target'] ?? '').replace(/^AWSStepFunctions\./, '');
    const send = (status: number, body: unknown, type?: string) => {
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', ...(type ? { 'x-amzn-errortype': type } : {}) });
      response.end(JSON.stringify(body));
    };
    const handler = operations[operation];
    if (!handler) return send(400, { __type: 'UnknownOperationException', message: `${operation} is not part of the local Step Functions API` }, 'UnknownOperationException');
    try {
      const body = chunks.length === 0 ? {} : (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
      send(200, handler(body));
    } catch (error) {
      const name = (error as Error).name;
      send(400, { __type: name, message: (error as Error).message }, name);
    }
  });
  return listenLocally(server, options);
}

/** A history event in GetExecutionHistory's shape. */
function historyEvent(event: HistoryEvent) {
  const base = { id: event.id, previousEventId: Math.max(0, event.id - 1), timestamp: epoch(event.timestamp) };
  const json = (value: unknown) => JSON.stringify(value ?? null);
  switch (event.type) {
    case 'ExecutionStarted':
      return { ...base, type: 'ExecutionStarted', executionStartedEventDetails: { input: json(event.input) } };
    case 'ExecutionSucceeded':
      return { ...base, type: 'ExecutionSucceeded', executionSucceededEventDetails: { output: json(event.output) } };
    case 'ExecutionFailed':
      return { ...base, type: 'ExecutionFailed', executionFailedEventDetails: { error: event.error, cause: event.cause } };
    case 'ExecutionAborted':
      return { ...base, type: 'ExecutionAborted', executionAbortedEventDetails: {} };
    case 'StateEntered':
      return { ...base, type: `${event.stateType ?? 'Task'}StateEntered`, stateEnteredEventDetails: { name: event.stateName, input: json(event.input) } };
    case 'StateExited':
      return { ...base, type: `${event.stateType ?? 'Task'}StateExited`, stateExitedEventDetails: { name: event.stateName, output: json(event.output) } };
    case 'StateFailed':
      return { ...base, type: 'TaskFailed', taskFailedEventDetails: { resourceType: 'lambda', resource: event.stateName, error: event.error, cause: event.cause } };
    default:
      return { ...base, type: event.type };
  }
}
