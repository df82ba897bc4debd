import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import { LAMBDA_NAMESPACE } from '../lambdas/core/monitoring/alarms';
import type { MetricDatum } from './emf';
import type { LocalFaults } from './faults';
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

/** One statement of a function's resource-based policy (AddPermission). */
export interface PermissionStatement {
  readonly sid: string;
  readonly action: string;
  readonly principal: string;
  readonly sourceArn?: string;
  readonly sourceAccount?: string;
}

/** A request Lambda itself would refuse (unknown function, version or alias; bad routing; throttled). */
export class LambdaApiError extends Error {
  constructor(
    readonly code: 'ResourceNotFoundException' | 'InvalidParameterValueException' | 'ResourceConflictException' | 'TooManyRequestsException',
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

/** The function ran and failed (or timed out, or failed init): what Lambda reports as a function error. */
export class FunctionError extends Error {
  constructor(
    readonly error: SerializedError,
    readonly kind: 'Unhandled' | 'InitError' | 'Timeout',
  ) {
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
  /** Invocations a `lambda` fault rule matches are throttled (local/faults.ts). */
  readonly faults?: LocalFaults;
  /** Where Lambda's own metrics go (`AWS/Lambda`: Invocations, Errors, Throttles, Duration), as Lambda publishes them to CloudWatch. */
  readonly metrics?: { put(datum: MetricDatum): void };
}

interface Environment {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  readonly pending: Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>;
  /** Invocations using it (waiting for init included). */
  inUse: number;
  /** Replaced by a newer configuration: ends once its invocations in flight have answered. */
  draining: boolean;
}

/**
 * Lambda's function, version and alias semantics on one machine: publish immutable versions, route an
 * alias to one primary and at most one additional weighted version per invocation, run each version in
 * its own worker thread (its own process.env, init once, kept warm), report the executed version.
 */
export class LocalLambdaService {
  private readonly functions = new Map<string, FunctionState>();
  private readonly environments = new Map<string, Environment>();
  /** Resource-based policy statements, by qualified function name (`name` or `name:qualifier`). */
  private readonly permissions = new Map<string, PermissionStatement[]>();
  private nextInvocation = 1;
  private readonly random: () => number;

  constructor(private readonly options: LambdaServiceOptions) {
    this.random = options.random ?? Math.random;
  }

  /** AddPermission on the function or one of its versions or aliases. */
  addPermission(name: string, qualifier: string | undefined, statement: PermissionStatement): void {
    this.state(name);
    const key = qualifier ? `${name}:${qualifier}` : name;
    const statements = this.permissions.get(key) ?? [];
    if (statements.some((s) => s.sid === statement.sid))
      throw new LambdaApiError(
        'ResourceConflictException',
        `The statement id (${statement.sid}) provided already exists. Please provide a new statement id, or remove the existing statement.`,
      );
    this.permissions.set(key, [...statements, statement]);
  }

  removePermission(name: string, qualifier: string | undefined, sid: string): void {
    const key = qualifier ? `${name}:${qualifier}` : name;
    this.permissions.set(
      key,
      (this.permissions.get(key) ?? []).filter((s) => s.sid !== sid),
    );
  }

  /** The statements of the resource-based policy of exactly this function, version or alias (GetPolicy). */
  policy(name: string, qualifier: string | undefined): readonly PermissionStatement[] {
    return this.permissions.get(qualifier ? `${name}:${qualifier}` : name) ?? [];
  }

  /** CreateFunction: a new function with no published version. */
  createFunction(definition: FunctionDefinition): void {
    if (this.functions.has(definition.name)) throw new LambdaApiError('ResourceConflictException', `Function already exist: ${definition.name}`);
    this.functions.set(definition.name, { definition, environment: { ...definition.environment }, versions: new Map(), aliases: new Map() });
    this.save();
  }

  /** Brings back a function an earlier run created, with the versions and aliases it saved. */
  restoreFunction(definition: FunctionDefinition): void {
    const state = this.saved()[definition.name];
    this.functions.set(definition.name, {
      definition,
      environment: { ...(state?.environment ?? definition.environment) },
      versions: new Map((state?.versions ?? []).map((v) => [v.version, v])),
      aliases: new Map((state?.aliases ?? []).map((a) => [a.name, a])),
    });
  }

  /**
   * UpdateFunctionCode / UpdateFunctionConfiguration as CloudFormation calls them: $LATEST gets the new
   * definition (source, environment, memory, timeout); published versions and aliases stay as they are.
   */
  updateFunction(definition: FunctionDefinition): void {
    const state = this.state(definition.name);
    this.functions.set(definition.name, { ...state, definition, environment: { ...definition.environment } });
    this.drain(definition.name, '$LATEST');
    this.save();
  }

  /** DeleteFunction: the function, its versions and aliases; running environments end. */
  deleteFunction(name: string): void {
    const state = this.state(name);
    for (const version of ['$LATEST', ...state.versions.keys()]) this.drain(name, version);
    this.functions.delete(name);
    for (const key of [...this.permissions.keys()]) if (key === name || key.startsWith(`${name}:`)) this.permissions.delete(key);
    this.save();
  }

  /** DeleteFunction of one version (refused while an alias routes to it, as Lambda does). */
  deleteVersion(name: string, version: string): void {
    const state = this.state(name);
    const routing = [...state.aliases.values()].find((a) => a.functionVersion === version || version in a.additionalVersionWeights);
    if (routing) throw new LambdaApiError('ResourceConflictException', `Unable to delete version because the following aliases reference it: [${routing.name}]`);
    state.versions.delete(version);
    this.drain(name, version);
    this.save();
  }

  deleteAlias(name: string, alias: string): void {
    this.state(name).aliases.delete(alias);
    this.save();
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
    // New invocations of $LATEST run with the new configuration, as on Lambda.
    this.drain(name, '$LATEST');
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
    // Lambda refuses an invocation beyond the function's concurrency before it runs anything.
    if (this.options.faults?.meet({ service: 'lambda', actions: ['InvokeFunction'], functionName: name })) {
      this.putMetrics(name, qualifier, undefined, { Throttles: 1 });
      throw new LambdaApiError('TooManyRequestsException', 'Rate Exceeded.');
    }
    const environment = this.environmentFor(state, version);
    environment.inUse++;
    const began = performance.now();
    let failed = false;
    try {
      await environment.ready;
      return { result: await this.run(name, qualifier, version, state.definition.timeoutSeconds, environment, event), executedVersion: version };
    } catch (error) {
      failed = error instanceof FunctionError;
      throw error;
    } finally {
      this.putMetrics(name, qualifier, version, { Invocations: 1, Errors: failed ? 1 : 0, Duration: performance.now() - began });
      environment.inUse--;
      if (environment.draining && environment.inUse === 0) void environment.worker.terminate();
    }
  }

  private run(name: string, qualifier: string | undefined, version: string, timeoutSeconds: number, environment: Environment, event: unknown): Promise<unknown> {
    const id = this.nextInvocation++;
    const timeoutMs = timeoutSeconds * 1000;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        environment.pending.delete(id);
        // Lambda ends the sandbox of a timed-out invocation; the next one starts fresh.
        this.retire(name, version);
        reject(new FunctionError({ name: 'TimeoutError', message: `Task timed out after ${timeoutSeconds} seconds` }, 'Timeout'));
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
  }

  /**
   * Lambda's metrics of one invocation, under the dimension sets Lambda uses: the function, the function with the
   * qualifier it was invoked by (`Resource`), and for an alias the version that ran (`ExecutedVersion`).
   */
  private putMetrics(name: string, qualifier: string | undefined, executedVersion: string | undefined, values: Readonly<Record<string, number>>): void {
    const metrics = this.options.metrics;
    if (!metrics) return;
    const resource = qualifier === undefined || qualifier === '$LATEST' ? undefined : `${name}:${qualifier}`;
    const dimensionSets: Record<string, string>[] = [{ FunctionName: name }];
    if (resource) dimensionSets.push({ FunctionName: name, Resource: resource });
    if (resource && executedVersion !== undefined && qualifier !== executedVersion)
      dimensionSets.push({ FunctionName: name, Resource: resource, ExecutedVersion: executedVersion });
    const timestamp = Date.now();
    for (const [metricName, value] of Object.entries(values)) {
      const unit = metricName === 'Duration' ? 'Milliseconds' : 'Count';
      for (const dimensions of dimensionSets) metrics.put({ namespace: LAMBDA_NAMESPACE, metricName, dimensions, timestamp, values: [value], unit });
    }
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
    const environment: Environment = { worker, ready, pending, inUse: 0, draining: false };
    this.environments.set(key, environment);
    return environment;
  }

  /** New invocations get a fresh environment; the current one ends once it has answered those in flight. */
  private drain(name: string, version: string): void {
    const key = `${name}:${version}`;
    const environment = this.environments.get(key);
    if (!environment) return;
    this.environments.delete(key);
    environment.draining = true;
    if (environment.inUse === 0) void environment.worker.terminate();
  }

  private retire(name: string, version: string): void {
    const key = `${name}:${version}`;
    void this.environments.get(key)?.worker.terminate();
    this.environments.delete(key);
  }

  private saved(): Record<string, { versions: PublishedVersion[]; aliases: AliasState[]; environment?: Record<string, string> }> {
    return existsSync(this.options.stateFile) ? (JSON.parse(readFileSync(this.options.stateFile, 'utf8')) as ReturnType<LocalLambdaService['saved']>) : {};
  }

  private save(): void {
    const state = Object.fromEntries(
      [...this.functions.entries()].map(([name, f]) => [name, { versions: [...f.versions.values()], aliases: [...f.aliases.values()], environment: f.environment }]),
    );
    writeFileSync(`${this.options.stateFile}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
    renameSync(`${this.options.stateFile}.tmp`, this.options.stateFile);
  }
}
