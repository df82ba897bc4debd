// One local Lambda execution environment: a worker thread with the function version's environment as its
// process.env, importing the handler module once (init, top-level await included) and then serving
// invocations. The parent (lambda-service.ts) decides which version runs where, as Lambda does.
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

export interface WorkerSetup {
  /** Absolute path of the handler's source module. */
  readonly entry: string;
  /** Exported handler function name. */
  readonly handlerExport: string;
  readonly functionName: string;
  readonly functionVersion: string;
  readonly memoryMb: number;
}

export type ToWorker = { readonly type: 'invoke'; readonly id: number; readonly event: unknown; readonly invokedArn: string; readonly deadline: number };

export type FromWorker =
  | { readonly type: 'ready'; readonly initMs: number }
  | { readonly type: 'init-error'; readonly error: SerializedError }
  | { readonly type: 'result'; readonly id: number; readonly result: unknown }
  | { readonly type: 'error'; readonly id: number; readonly error: SerializedError };

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

function serialize(error: unknown): SerializedError {
  const e = error instanceof Error ? error : new Error(String(error));
  return { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) };
}

const setup = workerData as WorkerSetup;
const port = parentPort;
if (!port) throw new Error('lambda-worker.ts runs only as a worker thread');

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

const started = performance.now();
let handler: Handler;
try {
  const module = (await import(pathToFileURL(setup.entry).href)) as Record<string, unknown>;
  const exported = module[setup.handlerExport];
  if (typeof exported !== 'function') throw new Error(`${setup.entry} does not export a function "${setup.handlerExport}"`);
  handler = exported as Handler;
  port.postMessage({ type: 'ready', initMs: performance.now() - started } satisfies FromWorker);
} catch (error) {
  port.postMessage({ type: 'init-error', error: serialize(error) } satisfies FromWorker);
  throw error;
}

port.on('message', async (message: ToWorker) => {
  const context = {
    functionName: setup.functionName,
    functionVersion: setup.functionVersion,
    invokedFunctionArn: message.invokedArn,
    memoryLimitInMB: String(setup.memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${setup.functionName}`,
    logStreamName: `local/${setup.functionVersion}`,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, message.deadline - Date.now()),
  };
  try {
    const result = await handler(message.event, context);
    port.postMessage({ type: 'result', id: message.id, result } satisfies FromWorker);
  } catch (error) {
    port.postMessage({ type: 'error', id: message.id, error: serialize(error) } satisfies FromWorker);
  }
});
