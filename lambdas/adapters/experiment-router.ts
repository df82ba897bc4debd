// Unit-level (sticky) routing inside the inference function. A Lambda alias picks a version per invocation at
// random, so it cannot keep a unit on one version; the version the alias picked can. For a running unit-mode
// experiment of this model, a request carrying a unit id is hashed (core/experiments/assignment.ts): if the
// unit belongs to the other arm, this function invokes that arm's Lambda version (qualified ARN) with the same
// event and returns its answer; otherwise it serves the request itself. Requests without a unit id, and every
// request while no unit-mode experiment runs, go straight through: the router costs them one property check.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { assignArm, ROUTED_MARKER, unitIdOf, wasRouted } from '../core/experiments/assignment';
import type { ExperimentDefinition } from '../core/experiments/definition';
import type { ExperimentStore } from './experiment-store';
import type { FunctionInvoker } from './function-invoker';

/** How often a function instance re-reads the running experiments of its model (definitions' start delay covers it). */
export const ROUTER_REFRESH_SECONDS = 10;

/** What serving does with a request: answer with another version's response, or serve it (noting its unit). */
export type RouteDecision = { readonly response: APIGatewayProxyResult; readonly routedTo: string } | { readonly unitId?: string };

export interface RequestRouter {
  route(event: APIGatewayProxyEvent): Promise<RouteDecision>;
}

export interface ExperimentRouterOptions {
  readonly store: Pick<ExperimentStore, 'list'>;
  readonly lambda: FunctionInvoker;
  /** This function's name: the other arm is a version of the same function. */
  readonly functionName: string;
  readonly logger: Pick<Logger, 'warn'>;
  readonly refreshMs?: number;
  readonly now?: () => number;
}

export class ExperimentRouter implements RequestRouter {
  /** The model and version this function version serves: set by `start`, once the bundle is loaded. */
  private identity: { readonly model: string; readonly version: string } | undefined;
  private experiment: ExperimentDefinition | undefined;
  private loadedAt = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<void> | undefined;
  private readonly refreshMs: number;
  private readonly now: () => number;

  constructor(private readonly options: ExperimentRouterOptions) {
    this.refreshMs = options.refreshMs ?? ROUTER_REFRESH_SECONDS * 1000;
    this.now = options.now ?? Date.now;
  }

  /**
   * Starts routing for the model version this function serves (at init, after the bundle is loaded). A first
   * read that fails is logged, not fatal: requests are served here until a refresh succeeds.
   */
  async start(model: string, version: string): Promise<void> {
    this.identity = { model, version };
    await this.load().catch((error: unknown) => {
      this.loadedAt = this.now();
      this.options.logger.warn('could not read the running experiments; routing nothing until a refresh succeeds', { error: (error as Error).message });
    });
  }

  /** Reads the running unit-mode experiment of the model, if one of its arms is this version. */
  private async load(): Promise<void> {
    const { model, version } = this.identity!;
    const running = await this.options.store.list('running', model);
    this.experiment = running.find((e) => e.assignment === 'unit' && (e.control.version === version || e.treatment.version === version));
    this.loadedAt = this.now();
  }

  async route(event: APIGatewayProxyEvent): Promise<RouteDecision> {
    if (!this.identity) return {};
    this.refreshIfStale();
    const experiment = this.experiment;
    if (!experiment) return {};
    const unitId = unitIdOf(event.headers, event.body);
    if (unitId === undefined || wasRouted(event)) return unitId === undefined ? {} : { unitId };
    const arm = assignArm(experiment.id, unitId, experiment.split);
    const target = experiment[arm];
    if (target.version === this.identity.version) return { unitId };
    if (!target.lambdaVersion) {
      this.options.logger.warn('unit belongs to the other arm, whose Lambda version is unknown: served here', { experiment: experiment.id, arm });
      return { unitId };
    }
    try {
      const forwarded = { ...event, [ROUTED_MARKER]: this.identity.version };
      const answer = await this.options.lambda.invoke({
        FunctionName: this.options.functionName,
        Qualifier: target.lambdaVersion,
        Payload: new TextEncoder().encode(JSON.stringify(forwarded)),
      });
      if (answer.FunctionError) throw new Error(`${answer.FunctionError}: ${new TextDecoder().decode(answer.Payload)}`);
      return { response: JSON.parse(new TextDecoder().decode(answer.Payload)) as APIGatewayProxyResult, routedTo: target.version };
    } catch (error) {
      // Availability first: the request is answered here; the unit's prediction is then a crossover, which the
      // experiment counts and reports.
      this.options.logger.warn('routing to the other arm failed: served here', { experiment: experiment.id, arm, error: (error as Error).message });
      return { unitId };
    }
  }

  private refreshIfStale(): void {
    if (this.refreshing || this.now() - this.loadedAt < this.refreshMs) return;
    this.refreshing = this.load()
      .catch((error: unknown) => {
        this.loadedAt = this.now();
        this.options.logger.warn('could not refresh the running experiments; keeping the last view', { error: (error as Error).message });
      })
      .finally(() => {
        this.refreshing = undefined;
      });
  }
}
