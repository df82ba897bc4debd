// The API's Lambda authorizer: which kind of client an API key belongs to (the usage plan it is in), answered
// with the routes that kind may call (core/api-clients.ts). API Gateway caches the answer per key value for
// the authorizer's TTL, so this runs once per key and TTL, not per request.
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { API_CLIENTS, API_KEY_HEADER, clientPolicy, type ApiClient, type AuthorizerPolicy, type ClientKey } from '../core/api-clients';

export interface PlanKeySource {
  keys(): Promise<Record<ApiClient, readonly { readonly id: string; readonly value: string }[]>>;
}

export interface KeyDirectoryOptions {
  /** How long the plans' keys are trusted before they are read again. @default 60 s */
  readonly maxAgeMs?: number;
  /** A key found in no plan reads the plans again, at most this often (a key just added to a plan). @default 10 s */
  readonly unknownKeyRecheckMs?: number;
  readonly now?: () => number;
  /** A failed read while earlier keys are at hand: they go on answering (the API Gateway API is a control plane). */
  readonly onStale?: (error: Error) => void;
}

/** The keys of the deployment's usage plans by value, read through `source` and kept for `maxAgeMs`. */
export class KeyDirectory {
  private byValue: Map<string, ClientKey> | undefined;
  private checkedAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | undefined;
  private readonly maxAgeMs: number;
  private readonly unknownKeyRecheckMs: number;
  private readonly now: () => number;

  constructor(
    private readonly source: PlanKeySource,
    private readonly options: KeyDirectoryOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? 60_000;
    this.unknownKeyRecheckMs = options.unknownKeyRecheckMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** The key of this value, or undefined when it is in none of the plans. */
  async lookup(value: string): Promise<ClientKey | undefined> {
    if (!this.byValue || this.now() - this.checkedAt >= this.maxAgeMs) await this.read();
    const known = this.byValue?.get(value);
    if (known || this.now() - this.checkedAt < this.unknownKeyRecheckMs) return known;
    await this.read();
    return this.byValue?.get(value);
  }

  private read(): Promise<void> {
    this.reading ??= this.source
      .keys()
      .then((plans) => {
        const byValue = new Map<string, ClientKey>();
        for (const client of API_CLIENTS) for (const key of plans[client]) byValue.set(key.value, { id: key.id, client });
        this.byValue = byValue;
      })
      .catch((error: Error) => {
        if (!this.byValue) throw error;
        this.options.onStale?.(error);
      })
      .finally(() => {
        this.checkedAt = this.now();
        this.reading = undefined;
      });
    return this.reading;
  }
}

/**
 * The authorizer's answer to one request. A request without a key never reaches it (the key header is the
 * authorizer's identity source: API Gateway answers 401 itself); were it invoked without one, the thrown
 * "Unauthorized" is API Gateway's contract for a 401.
 */
export async function authorizeApiKey(directory: KeyDirectory, event: Pick<APIGatewayRequestAuthorizerEvent, 'methodArn' | 'headers'>): Promise<AuthorizerPolicy> {
  const value = Object.entries(event.headers ?? {}).find(([name]) => name.toLowerCase() === API_KEY_HEADER)?.[1];
  if (!value) throw new Error('Unauthorized');
  return clientPolicy(event.methodArn, await directory.lookup(value));
}
