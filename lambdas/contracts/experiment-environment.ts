import { ConfigError } from './environment';

/** Environment of the experiment functions (each reads what it needs; lib/experiment-service.ts sets it). */
export interface ExperimentConfig {
  readonly experimentTable: string;
  readonly predictionTable: string;
}

export function experimentConfigFromEnv<K extends keyof ExperimentConfig>(env: NodeJS.ProcessEnv, needs: readonly K[]): Pick<ExperimentConfig, K> {
  const names: Record<keyof ExperimentConfig, string> = { experimentTable: 'EXPERIMENT_TABLE', predictionTable: 'PREDICTION_TABLE' };
  const missing = needs.filter((need) => !env[names[need]]).map((need) => `${names[need]} is not set`);
  if (missing.length > 0) throw new ConfigError(`invalid function environment: ${missing.join('; ')}`);
  return Object.fromEntries(needs.map((need) => [need, env[names[need]] as string])) as Pick<ExperimentConfig, K>;
}

/** Runs `fn` over `items` with at most `limit` calls in flight, results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  });
  await Promise.all(workers);
  return results;
}
