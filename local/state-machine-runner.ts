// Runs an Amazon States Language definition from the synthesized template on this machine with
// aws-local-stepfunctions, every Task state bound to a local service by its Resource: Lambda function ARNs
// to the local Lambda service, `arn:aws:states:::sns:publish` to the local SNS, the CloudWatch aws-sdk
// integrations to the local alarms. Used by the local runtime (local/step-functions.ts) and by the tests
// that run the pipeline's definition branch by branch.
import { type ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { runDistributedMap, type DistributedMapState, type MapObjectStore } from './distributed-map';

type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What a Task state's Resource is bound to. Each receives the state's effective input (after Parameters). */
export interface TaskBindings {
  /** A Lambda function ARN (payloadResponseOnly LambdaInvoke): the function's result, or a thrown error whose `name` is the function's error type. */
  lambda(functionArn: string, payload: unknown): Promise<unknown>;
  /** `arn:aws:states:::sns:publish` */
  snsPublish?(parameters: { TopicArn: string; Message: unknown; Subject?: string }): Promise<unknown>;
  /** `arn:aws:states:::aws-sdk:<service>:<action>`, e.g. cloudwatch describeAlarms. */
  awsSdk?(service: string, action: string, parameters: Record<string, unknown>): Promise<unknown>;
  /** The objects a Distributed Map's ItemReader reads and its ResultWriter writes (local/distributed-map.ts). */
  s3?: MapObjectStore;
}

export interface RunOptions {
  /** Wait states last their time divided by this (2 = twice as fast); default 1. */
  readonly timeScale?: number;
  /** Per-Wait-state duration in milliseconds, overriding the definition and the time scale (tests). */
  readonly waitOverridesMs?: Readonly<Record<string, number>>;
  /** Every Retry's pause in milliseconds, instead of IntervalSeconds growing by BackoffRate (tests); default: as defined. */
  readonly retryPauseMs?: number;
  /** Called with each history event as it happens. */
  readonly onEvent?: (event: HistoryEvent) => void;
  /** The context object's Execution.Id / Name / StartTime. */
  readonly execution?: { readonly id: string; readonly name: string; readonly startTime: string };
}

/** A history event, shaped after GetExecutionHistory (type, timestamp, the state and its input/output). */
export interface HistoryEvent {
  readonly id: number;
  readonly type: string;
  readonly timestamp: string;
  readonly stateName?: string;
  /** Task, Choice, Wait... for state events. */
  readonly stateType?: string;
  readonly input?: unknown;
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
}

export interface ExecutionOutcome {
  readonly status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
  readonly events: readonly HistoryEvent[];
}

export interface RunningExecution {
  readonly done: Promise<ExecutionOutcome>;
  abort(): void;
}

interface AslState {
  Type: string;
  Resource?: string;
  Seconds?: number;
  SecondsPath?: string;
  Parameters?: unknown;
  ResultPath?: string | null;
  Iterator?: { States: Record<string, AslState> };
  ItemProcessor?: { States: Record<string, AslState> };
  Branches?: { States: Record<string, AslState> }[];
  Retry?: { IntervalSeconds?: number }[];
  [key: string]: unknown;
}

const SNS_PUBLISH = 'arn:aws:states:::sns:publish';
const AWS_SDK = /^arn:aws:states:::aws-sdk:([^:]+):([^:.]+)$/;

/** Every state of a definition, nested Map and Parallel states included, by name. */
function allStates(states: Record<string, AslState>): [string, AslState][] {
  return Object.entries(states).flatMap(([name, state]) => [
    [name, state] as [string, AslState],
    ...allStates(state.Iterator?.States ?? state.ItemProcessor?.States ?? {}),
    ...(state.Branches ?? []).flatMap((branch) => allStates(branch.States)),
  ]);
}

/** Local handlers for every Task state of the definition, keyed by state name as aws-local-stepfunctions wants. */
function taskHandlers(definition: StateMachineDefinition, bindings: TaskBindings): Record<string, (input: JsonValue) => Promise<JsonValue>> {
  const handlers: Record<string, (input: JsonValue) => Promise<JsonValue>> = {};
  for (const [name, state] of allStates(definition.States as unknown as Record<string, AslState>)) {
    if (state.Type !== 'Task' || typeof state.Resource !== 'string') continue;
    const resource = state.Resource;
    if (/^arn:aws:lambda:[^:]+:[^:]+:function:[^:]+(?::[^:]+)?$/.test(resource)) {
      handlers[name] = async (input) => toJson(await bindings.lambda(resource, input));
    } else if (resource === SNS_PUBLISH) {
      handlers[name] = async (input) => {
        if (!bindings.snsPublish) throw unsupported(name, resource);
        return toJson(await bindings.snsPublish(input as { TopicArn: string; Message: unknown; Subject?: string }));
      };
    } else if (AWS_SDK.test(resource)) {
      const [, service, action] = AWS_SDK.exec(resource) as unknown as [string, string, string];
      handlers[name] = async (input) => {
        if (!bindings.awsSdk) throw unsupported(name, resource);
        return toJson(await bindings.awsSdk(service, action, (input ?? {}) as Record<string, unknown>));
      };
    } else {
      handlers[name] = async () => {
        throw unsupported(name, resource);
      };
    }
  }
  return handlers;
}

function unsupported(state: string, resource: string): Error {
  const error = new Error(`the local runtime has no binding for ${resource} (Task state ${state})`);
  error.name = 'States.TaskFailed';
  return error;
}

const LOCAL_WAIT = 'arn:aws:states:::modelgate-local:wait';
const LOCAL_DISTRIBUTED_MAP = 'arn:aws:states:::modelgate-local:distributed-map';
/**
 * The TimeoutSeconds of the Tasks that stand in for a Wait or a Distributed Map, which have no timeout of their own:
 * aws-local-stepfunctions gives a Task without one 60 s (Step Functions' default is none), which would end a long
 * wait or a large batch job with States.Timeout. 24 days: the longest a Node timer runs (2^31 - 1 ms; a longer
 * one fires at once), far beyond any local execution.
 */
const NO_TASK_TIMEOUT_SECONDS = 24 * 24 * 3600;

/** What a Distributed Map keeps when it becomes a local Task: the fields that shape its data flow and errors. */
const MAP_TASK_FIELDS = ['Next', 'End', 'Comment', 'InputPath', 'OutputPath', 'ResultPath', 'ResultSelector', 'Retry', 'Catch'];

/**
 * The definition as the local runtime runs it. Wait states with a fixed `Seconds` stay Wait states (their
 * time is scaled through aws-local-stepfunctions' waitTimeOverrides). A Wait whose time comes from its input
 * (`SecondsPath`) cannot be scaled that way — the override is read before the input is known — so it becomes
 * a Task state of the same name that reads the seconds through Parameters, sleeps the scaled time and passes
 * its input on unchanged (ResultPath null): the same data flow, a different state type in the history.
 * A Map with an ItemReader (Distributed Map) becomes a Task of the same name that local/distributed-map.ts runs.
 */
export function localDefinition(definition: StateMachineDefinition): StateMachineDefinition {
  const rewrite = (states: Record<string, AslState>): Record<string, AslState> =>
    Object.fromEntries(
      Object.entries(states).map(([name, state]) => {
        let next: AslState = { ...state };
        if (state.Type === 'Wait' && state.SecondsPath) {
          const { SecondsPath, Type: _type, ...rest } = state;
          next = { ...rest, Type: 'Task', Resource: LOCAL_WAIT, Parameters: { 'seconds.$': SecondsPath }, ResultPath: null, TimeoutSeconds: NO_TASK_TIMEOUT_SECONDS };
        }
        if (state.Type === 'Map' && state.ItemReader) {
          next = {
            ...Object.fromEntries(MAP_TASK_FIELDS.filter((field) => field in state).map((field) => [field, state[field]])),
            Type: 'Task',
            Resource: LOCAL_DISTRIBUTED_MAP,
            TimeoutSeconds: NO_TASK_TIMEOUT_SECONDS,
          };
          return [name, next];
        }
        if (state.Iterator) next.Iterator = { ...state.Iterator, States: rewrite(state.Iterator.States) };
        if (state.ItemProcessor) next.ItemProcessor = { ...state.ItemProcessor, States: rewrite(state.ItemProcessor.States) };
        if (state.Branches) next.Branches = state.Branches.map((branch) => ({ ...branch, States: rewrite(branch.States) }));
        return [name, next];
      }),
    );
  return { ...definition, States: rewrite(definition.States as unknown as Record<string, AslState>) as unknown as StateMachineDefinition['States'] };
}

/**
 * Definitions already validated: aws-local-stepfunctions validates with asl-validator at every construction, which
 * compiles its schemas again (about a second of CPU), and an execution does not change its definition.
 */
const validated = new WeakSet<StateMachineDefinition>();

/** Starts an execution; `done` settles with its outcome and full history. */
export function startExecution(original: StateMachineDefinition, input: unknown, bindings: TaskBindings, options: RunOptions = {}): RunningExecution {
  const scale = options.timeScale ?? 1;
  const definition = localDefinition(original);
  const timers = new Set<NodeJS.Timeout>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });
  // Every state, nested ones included, walked once for all the overrides and local handlers below.
  const states = allStates(definition.States as unknown as Record<string, AslState>);
  const waitTimeOverrides: Record<string, number> = {};
  for (const [name, state] of states) {
    if (state.Type === 'Wait') waitTimeOverrides[name] = options.waitOverridesMs?.[name] ?? Math.max(0, ((state.Seconds ?? 0) * 1000) / scale);
  }
  // Retries wait scaled too. aws-local-stepfunctions takes one fixed wait per retrier, so under a time scale a
  // retrier waits its first interval, scaled, every time: no backoff and no jitter (docs/local-runtime.md).
  // Tests may drop the pause altogether (retryPauseMs).
  const retryIntervalOverrides: Record<string, number | number[]> = {};
  if (options.retryPauseMs !== undefined || scale !== 1) {
    for (const [name, state] of states) {
      if (state.Retry) retryIntervalOverrides[name] = options.retryPauseMs ?? state.Retry.map((retrier) => ((retrier.IntervalSeconds ?? 1) * 1000) / scale);
    }
  }
  const handlers = taskHandlers(definition, bindings);
  const scaledWaits = new Set<string>();
  for (const [name, state] of states) {
    if (state.Type === 'Task' && state.Resource === LOCAL_WAIT) {
      scaledWaits.add(name);
      handlers[name] = async (input) => {
        const seconds = Number((input as { seconds?: unknown } | null)?.seconds ?? 0);
        await sleep(options.waitOverridesMs?.[name] ?? Math.max(0, (seconds * 1000) / scale));
        return null;
      };
    }
  }
  const originals = new Map(allStates(original.States as unknown as Record<string, AslState>));
  for (const [name, state] of states) {
    if (state.Type !== 'Task' || state.Resource !== LOCAL_DISTRIBUTED_MAP) continue;
    let child: StateMachineDefinition | undefined;
    handlers[name] = async (input) => {
      if (!bindings.s3) throw unsupported(name, 'a Distributed Map ItemReader');
      return toJson(
        await runDistributedMap({
          state: originals.get(name) as unknown as DistributedMapState,
          stateName: name,
          input,
          executionArn: options.execution?.id ?? `arn:aws:states:local:000000000000:execution:local:${name}`,
          store: bindings.s3,
          runChild: async (processor, childInput) => {
            // One definition object for every batch: it is validated once (validated, above), not per batch.
            child ??= { StartAt: processor.StartAt, States: processor.States } as unknown as StateMachineDefinition;
            const outcome = await startExecution(child, childInput, bindings, { timeScale: scale }).done;
            return outcome.status === 'SUCCEEDED'
              ? { status: 'SUCCEEDED', output: outcome.output }
              : { status: 'FAILED', ...(outcome.error ? { error: outcome.error } : {}), ...(outcome.cause ? { cause: outcome.cause } : {}) };
          },
        }),
      );
    };
  }
  const machine = new StateMachine(definition, { validationOptions: validated.has(original) ? { noValidate: true } : { checkArn: false, checkPaths: false } });
  validated.add(original);
  const events: HistoryEvent[] = [];
  const record = (event: Omit<HistoryEvent, 'id'>) => {
    const full = { id: events.length + 1, ...event };
    events.push(full);
    options.onEvent?.(full);
  };
  const execution = machine.run(toJson(input), {
    overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides, retryIntervalOverrides },
    noThrowOnAbort: true,
    ...(options.execution
      ? { context: { Execution: { Id: options.execution.id, Name: options.execution.name, StartTime: options.execution.startTime, Input: toJson(input) } } }
      : {}),
  });
  const logging = (async () => {
    for await (const log of execution.eventLogs) {
      const timestamp = new Date(log.timestamp).toISOString();
      const failure = 'Error' in log ? { error: String(log.Error), cause: typeof log.Cause === 'string' ? log.Cause : JSON.stringify(log.Cause) } : {};
      if ('state' in log) {
        record({
          type: log.type,
          timestamp,
          stateName: log.state.name,
          // A Wait run as a scaled-sleep Task (localDefinition) is still a Wait in the history.
          stateType: scaledWaits.has(log.state.name) ? 'Wait' : log.state.type,
          ...(log.type === 'StateEntered' ? { input: log.state.input } : {}),
          ...(log.type === 'StateExited' ? { output: log.state.output } : {}),
          ...failure,
        });
      } else {
        record({ type: log.type, timestamp, ...('input' in log ? { input: log.input } : {}), ...('output' in log ? { output: log.output } : {}), ...failure });
      }
    }
  })();
  const done = (async (): Promise<ExecutionOutcome> => {
    try {
      const output = await execution.result;
      await logging;
      if (output === null && events.some((e) => e.type === 'ExecutionAborted')) return { status: 'ABORTED', events };
      return { status: 'SUCCEEDED', output, events };
    } catch (error) {
      await logging.catch(() => undefined);
      const failure = events.findLast((e) => e.type === 'ExecutionFailed');
      const cause = (error as ExecutionError & { cause?: { name?: string; message?: string } }).cause;
      return {
        status: 'FAILED',
        error: failure?.error ?? cause?.name ?? (error as Error).name,
        cause: failure?.cause ?? cause?.message ?? (error as Error).message,
        events,
      };
    } finally {
      for (const timer of timers) clearTimeout(timer);
    }
  })();
  return {
    done,
    abort: () => {
      for (const timer of timers) clearTimeout(timer);
      execution.abort();
    },
  };
}

function toJson(value: unknown): JsonValue {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as JsonValue);
}

export type { StateMachineDefinition };
