import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import type { FromWorker, SerializedError, ToWorker, WorkerSetup } from './lambda-worker';

/** A function as the template defines it: its source and its $LATEST configuration. */
export interface FunctionDefinition {
  readonly logicalId: string;
  readonly name: string;
  /** Absolute path of the handler's TypeScript source. */
  readonly entry: string;
  readonly handlerExport: string;
  readonly environment: Record<string, string>;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
}

export interface PublishedVersion {
  readonly version: string;
  /** The configuration frozen at publish time: a version is immutable. */
  readonly environment: Record<string, string>;
  readonly description: string;
  readonly publishedAt: string;
}

export interface AliasState {
  readonly name: string;
  readonly functionVersion: string;
  /** At most one additional version with a weight in [0, 1), as Lambda allows. */
  readonly additionalVersionWeights: Readonly<Record<string, number>>;
}

interface FunctionState {
  readonly definition: FunctionDefinition;
  /** $LATEST's environment: the template's, changed by UpdateFunctionConfiguration. */
  environment: Record<string, string>;
  readonly versions: Map<string, PublishedVersion>;
  readonly aliases: Map<string, AliasState>;
}

/** A request Lambda itself would refuse (unknown function, version or alias; bad routing). */
export class LambdaApiError extends Error {
  constructor(
    readonly code: 'ResourceNotFoundException' | 'InvalidParameterValueException' | 'ResourceConflictException',
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

/** The function ran and failed (or timed out, or failed init): what Lambda reports as a function error. */
export class FunctionError extends Error {
  constructor(readonly error: SerializedError, readonly kind: 'Unhandled' | 'InitError' | 'Timeout') {
    super(`${error.name}: ${error.message}`);
    this.name = 'FunctionError';
  }
}

export interface InvocationResult {
  readonly result: unknown;
  /** The version that ran: what Lambda reports as ExecutedVersion. */
  readonly executedVersion: string;
}

export interface LambdaServiceOptions {
  readonly region: string;
  readonly accountId: string;
  /** Where versions and alias routing persist across restarts. */
  readonly stateFile: string;
  /** Environment every function gets on top of its own (local endpoints, credentials). */
  readonly baseEnvironment: Record<string, string>;
  /** Each line a function writes to stdout or stderr (EMF metrics, structured logs). */
  readonly onLogLine: (functionName: string, version: string, line: string) => void;
  /** Uniform [0, 1) source for weighted alias routing (seeded in tests). */
  readonly random?: () => number;
  /**
   * The credentials a function's code runs with (its execution role's session, local/iam), over those of
   * `baseEnvironment`. @default baseEnvironment's
   */
  readonly credentials?: (functionName: string) => { readonly accessKeyId: string; readonly secretAccessKey: string };
}

interface Environment {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  readonly pending: Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>;
}

/**
 * Lambda's function, version and alias semantics on one machine: publish immutable versions, route an
 * alias to one primary and at most one additional weighted version per invocation, run each version in
 * its own worker thread (its own process.env, init once, kept warm), report the executed version.
 */
export class LocalLambdaService {
  private readonly functions = new Map<string, FunctionState>();
  private readonly environments = new Map<string, Environment>();
  private nextInvocation = 1;
  private readonly random: () => number;

  constructor(private readonly options: LambdaServiceOptions) {
    this.random = options.random ?? Math.random;
  }

  /** Registers the template's functions, restoring versions and aliases saved by an earlier run. */
  define(definitions: readonly FunctionDefinition[]): void {
    const saved = existsSync(this.options.stateFile)
      ? (JSON.parse(readFileSync(this.options.stateFile, 'utf8')) as Record<string, { versions: PublishedVersion[]; aliases: AliasState[]; environment?: Record<string, string> }>)
      : {};
    for (const definition of definitions) {
      const state = saved[definition.name];
      this.functions.set(definition.name, {
        definition,
        environment: { ...definition.environment },
        versions: new Map((state?.versions ?? []).map((v) => [v.version, v])),
        aliases: new Map((state?.aliases ?? []).map((a) => [a.name, a])),
      });
    }
  }

  functionArn(name: string, qualifier?: string): string {
    return `arn:aws:lambda:${this.options.region}:${this.options.accountId}:function:${name}${qualifier ? `:${qualifier}` : ''}`;
  }

  listFunctions(): FunctionDefinition[] {
    return [...this.functions.values()].map((f) => f.definition);
  }

  getFunction(name: string): { environment: Record<string, string>; versions: PublishedVersion[]; aliases: AliasState[]; definition: FunctionDefinition } {
    const state = this.state(name);
    return { definition: state.definition, environment: { ...state.environment }, versions: [...state.versions.values()], aliases: [...state.aliases.values()] };
  }

  updateFunctionConfiguration(name: string, environment: Record<string, string>): void {
    this.state(name).environment = { ...environment };
    this.save();
  }

  /** Publishes $LATEST's current configuration as the next version number. */
  publishVersion(name: string, description = ''): PublishedVersion {
    const state = this.state(name);
    const numbers = [...state.versions.keys()].map(Number);
    const version: PublishedVersion = {
      version: String(numbers.length === 0 ? 1 : Math.max(...numbers) + 1),
      environment: { ...state.environment },
      description,
      publishedAt: new Date().toISOString(),
    };
    state.versions.set(version.version, version);
    this.save();
    return version;
  }

  getAlias(name: string, alias: string): AliasState {
    const found = this.state(name).aliases.get(alias);
    if (!found) throw new LambdaApiError('ResourceNotFoundException', `Alias not found: ${this.functionArn(name, alias)}`);
    return found;
  }

  /** Creates or updates an alias; the weights follow Lambda's rules (one additional version, weight in [0, 1)). */
  putAlias(name: string, alias: AliasState): AliasState {
    const state = this.state(name);
    this.requireVersion(state, alias.functionVersion);
    const additional = Object.entries(alias.additionalVersionWeights);
    if (additional.length > 1) {
      throw new LambdaApiError('InvalidParameterValueException', `an alias routes to at most one additional version, got ${additional.length}`);
    }
    for (const [version, weight] of additional) {
      this.requireVersion(state, version);
      if (version === alias.functionVersion) {
        throw new LambdaApiError('InvalidParameterValueException', `additional version ${version} is the alias's primary version`);
      }
      if (!(weight >= 0 && weight < 1)) {
        throw new LambdaApiError('InvalidParameterValueException', `additional version weight must be in [0, 1), got: ${weight}`);
      }
    }
    state.aliases.set(alias.name, alias);
    this.save();
    return alias;
  }

  /**
   * Invokes a function: `qualifier` is an alias (weighted choice per invocation), a version number, or
   * undefined / $LATEST. Resolves with the handler's result and the executed version; rejects with a
   * FunctionError when the handler fails, as Lambda reports X-Amz-Function-Error.
   */
  async invoke(name: string, qualifier: string | undefined, event: unknown): Promise<InvocationResult> {
    const state = this.state(name);
    const version = this.pickVersion(state, qualifier);
    const environment = this.environmentFor(state, version);
    await environment.ready;
    const id = this.nextInvocation++;
    const timeoutMs = state.definition.timeoutSeconds * 1000;
    const result = await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        environment.pending.delete(id);
        // Lambda ends the sandbox of a timed-out invocation; the next one starts fresh.
        this.retire(name, version);
        reject(new FunctionError({ name: 'TimeoutError', message: `Task timed out after ${state.definition.timeoutSeconds} seconds` }, 'Timeout'));
      }, timeoutMs);
      environment.pending.set(id, { resolve, reject, timer });
      environment.worker.postMessage({
        type: 'invoke',
        id,
        event,
        invokedArn: this.functionArn(name, qualifier),
        deadline: Date.now() + timeoutMs,
      } satisfies ToWorker);
    });
    return { result, executedVersion: version };
  }

  /** Starts the execution environment of a version ahead of traffic (what provisioned concurrency does). */
  async warm(name: string, qualifier: string): Promise<void> {
    const state = this.state(name);
    const version = this.pickVersion(state, qualifier);
    await this.environmentFor(state, version).ready;
  }

  async close(): Promise<void> {
    await Promise.all([...this.environments.values()].map((e) => e.worker.terminate()));
    this.environments.clear();
  }

  private state(name: string): FunctionState {
    const state = this.functions.get(name);
    if (!state) throw new LambdaApiError('ResourceNotFoundException', `Function not found: ${this.functionArn(name)}`);
    return state;
  }

  private requireVersion(state: FunctionState, version: string): void {
    if (version !== '$LATEST' && !state.versions.has(version)) {
      throw new LambdaApiError('ResourceNotFoundException', `Function not found: ${this.functionArn(state.definition.name, version)}`);
    }
  }

  private pickVersion(state: FunctionState, qualifier: string | undefined): string {
    if (qualifier === undefined || qualifier === '$LATEST') return '$LATEST';
    if (/^\d+$/.test(qualifier)) {
      this.requireVersion(state, qualifier);
      return qualifier;
    }
    const alias = state.aliases.get(qualifier);
    if (!alias) throw new LambdaApiError('ResourceNotFoundException', `Function not found: ${this.functionArn(state.definition.name, qualifier)}`);
    let draw = this.random();
    for (const [version, weight] of Object.entries(alias.additionalVersionWeights)) {
      if (draw < weight) return version;
      draw -= weight;
    }
    return alias.functionVersion;
  }

  private environmentFor(state: FunctionState, version: string): Environment {
    const key = `${state.definition.name}:${version}`;
    const existing = this.environments.get(key);
    if (existing) return existing;
    const variables = version === '$LATEST' ? state.environment : (state.versions.get(version) as PublishedVersion).environment;
    const { definition } = state;
    const credentials = this.options.credentials?.(definition.name);
    const worker = new Worker(new URL('./lambda-worker.ts', import.meta.url), {
      // Handlers are TypeScript with extensionless imports: the worker needs tsx's loader, inherited from
      // `tsx local/start.ts`, added when the parent runs without it (vitest, plain node).
      execArgv: process.execArgv.some((arg) => arg.includes('tsx')) ? process.execArgv : [...process.execArgv, '--import', 'tsx'],
      workerData: {
        entry: definition.entry,
        handlerExport: definition.handlerExport,
        functionName: definition.name,
        functionVersion: version,
        memoryMb: definition.memoryMb,
      } satisfies WorkerSetup,
      env: {
        ...this.options.baseEnvironment,
        ...variables,
        ...(credentials ? { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey } : {}),
        AWS_LAMBDA_FUNCTION_NAME: definition.name,
        AWS_LAMBDA_FUNCTION_VERSION: version,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(definition.memoryMb),
        AWS_REGION: this.options.region,
        AWS_DEFAULT_REGION: this.options.region,
      },
      stdout: true,
      stderr: true,
    });
    for (const stream of [worker.stdout, worker.stderr]) {
      createInterface({ input: stream }).on('line', (line) => this.options.onLogLine(definition.name, version, line));
    }
    const pending: Environment['pending'] = new Map();
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready') resolve();
        else if (message.type === 'init-error') {
          this.environments.delete(key);
          reject(new FunctionError(message.error, 'InitError'));
        } else {
          const waiting = pending.get(message.id);
          if (!waiting) return;
          pending.delete(message.id);
          clearTimeout(waiting.timer);
          if (message.type === 'result') waiting.resolve(message.result);
          else waiting.reject(new FunctionError(message.error, 'Unhandled'));
        }
      });
      worker.on('error', (error) => {
        this.environments.delete(key);
        const failure = new FunctionError({ name: error.name, message: error.message }, 'Unhandled');
        reject(failure);
        for (const waiting of pending.values()) {
          clearTimeout(waiting.timer);
          waiting.reject(failure);
        }
        pending.clear();
      });
    });
    ready.catch(() => undefined);
    const environment = { worker, ready, pending };
    this.environments.set(key, environment);
    return environment;
  }

  private retire(name: string, version: string): void {
    const key = `${name}:${version}`;
    void this.environments.get(key)?.worker.terminate();
    this.environments.delete(key);
  }

  private save(): void {
    const state = Object.fromEntries(
      [...this.functions.entries()].map(([name, f]) => [name, { versions: [...f.versions.values()], aliases: [...f.aliases.values()] }]),
    );
    writeFileSync(this.options.stateFile, `${JSON.stringify(state, null, 2)}\n`);
  }
}
