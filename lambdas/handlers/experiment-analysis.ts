// The scheduled analysis: every running experiment analysed, one snapshot each (CIs over time). Invoked by its
// schedule rule; `{"experimentId": "..."}` analyses that experiment only (on demand).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { ExperimentStore } from '../adapters/experiment-store';
import { analyzeRunning, recordAnalysis } from '../use-cases/experiments/analyze-experiments';
import { experimentConfigFromEnv } from '../contracts/experiment-environment';

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'experiment-analyze' });
const store = new ExperimentStore(new DynamoDBClient({}), experimentConfigFromEnv(process.env, ['experimentTable']).experimentTable);

export const handler = async (event: { experimentId?: unknown } | undefined): Promise<unknown> => {
  const now = new Date();
  if (typeof event?.experimentId === 'string') {
    const stored = await store.get(event.experimentId);
    if (!stored) throw new Error(`no experiment "${event.experimentId}"`);
    const report = await recordAnalysis(store, stored.definition, now);
    return { analysed: [{ id: report.experimentId, decision: report.decision }], failed: [] };
  }
  const result = await analyzeRunning(store, now);
  logger.info('experiments analysed', result);
  // A failed experiment fails the run, so the schedule's retries and dead-letter queue see it.
  if (result.failed.length > 0) throw new Error(`analysis failed for ${result.failed.map((f) => `${f.id}: ${f.error}`).join('; ')}`);
  return result;
};
