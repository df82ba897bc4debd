// Shadow rollouts: the champion answers every request; a share of them is mirrored to the shadow version
// (an asynchronous Lambda invoke of that version of this same function), which predicts, logs its own
// predictions and the agreement with the champion's answers. The champion never waits for the shadow: the
// invoke is an Event (queued by Lambda, ~10 ms) sent while the prediction log write is under way, and any
// failure of it is logged and counted, never returned to the client.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { FunctionInvoker } from './function-invoker';
import type { Registry } from './registry';
import type { RoutingState } from '../core/pipeline/registry-types';
import type { Row } from '../core/request';
import type { RowPrediction } from '../core/tensors';

/** The event a champion sends to its shadow. */
export interface ShadowEvent {
  readonly modelgateShadow: {
    readonly model: string;
    readonly championVersion: string;
    readonly requestId: string;
    readonly rows: readonly Row[];
    readonly championPredictions: readonly RowPrediction[];
    readonly championPredictionIds: readonly string[];
  };
}

export function isShadowEvent(event: unknown): event is ShadowEvent {
  return typeof event === 'object' && event !== null && 'modelgateShadow' in event;
}

/** Lambda's asynchronous invocation payload limit (256 KB); bigger requests are not mirrored. */
const MAX_EVENT_BYTES = 256 * 1024;

export interface ShadowMirrorOptions {
  readonly registry: Pick<Registry, 'getModel'>;
  readonly lambda: FunctionInvoker;
  readonly functionName: string;
  readonly model: string;
  readonly logger: Logger;
  /** How long a read of the shadow setting is used before it is read again (in the background). @default 15000 */
  readonly refreshMs?: number;
  readonly random?: () => number;
}

export class ShadowMirror {
  private shadow: RoutingState['shadow'];
  private readAt = 0;
  private refreshing: Promise<void> | undefined;

  constructor(private readonly options: ShadowMirrorOptions) {}

  /** Reads the shadow setting once (init); a failure leaves mirroring off until the next refresh. */
  async start(): Promise<void> {
    await this.refresh();
  }

  /** Mirrors one answered request to the shadow version, if there is one and this request is sampled. */
  async mirror(event: ShadowEvent['modelgateShadow']): Promise<void> {
    if (Date.now() - this.readAt > (this.options.refreshMs ?? 15_000)) this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
    const shadow = this.shadow;
    if (!shadow || shadow.version === event.championVersion || (this.options.random ?? Math.random)() >= shadow.sampleRate) return;
    const payload = new TextEncoder().encode(JSON.stringify({ modelgateShadow: event } satisfies ShadowEvent));
    if (payload.length > MAX_EVENT_BYTES) return this.options.logger.debug('shadow: request too large to mirror', { bytes: payload.length });
    try {
      await this.options.lambda.invoke({ FunctionName: this.options.functionName, Qualifier: shadow.lambdaVersion, InvocationType: 'Event', Payload: payload });
    } catch (error) {
      this.options.logger.warn('shadow: mirroring failed', { shadowVersion: shadow.version, error: (error as Error).message });
    }
  }

  private async refresh(): Promise<void> {
    try {
      this.shadow = (await this.options.registry.getModel(this.options.model))?.routing?.shadow;
      this.readAt = Date.now();
    } catch (error) {
      this.options.logger.warn('shadow: cannot read the shadow setting', { error: (error as Error).message });
      this.readAt = Date.now();
    }
  }
}

/** Share of the mirrored rows the shadow labelled (or valued, within 5%) like the champion. */
export function agreement(shadow: readonly RowPrediction[], champion: readonly RowPrediction[]): { compared: number; agreed: number } {
  let agreed = 0;
  const compared = Math.min(shadow.length, champion.length);
  for (let i = 0; i < compared; i++) {
    const a = shadow[i] as RowPrediction;
    const b = champion[i] as RowPrediction;
    if (
      a.label !== undefined || b.label !== undefined
        ? String(a.label) === String(b.label)
        : typeof a.value === 'number' && typeof b.value === 'number' && Math.abs(a.value - b.value) <= 0.05 * Math.max(1, Math.abs(b.value))
    )
      agreed++;
  }
  return { compared, agreed };
}
