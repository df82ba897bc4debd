// What the local dashboard shows of experiments, as JSON-ready data: each experiment with its definition, its
// current analysis and its snapshots over time (lift and confidence interval per metric per analysis run, for
// "CIs over time" charts). Reads the experiment table with the same adapter and core as the API.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ExperimentStore } from '../lambdas/adapters/experiment-store';
import type { ExperimentDefinition } from '../lambdas/core/experiments/definition';
import type { AnalysisSnapshot, ExperimentReport } from '../lambdas/core/experiments/report';
import { currentReport } from '../lambdas/use-cases/experiments/analyze-experiments';

export interface ExperimentView {
  readonly id: string;
  readonly experiment: ExperimentDefinition;
  readonly analysis: ExperimentReport;
  /** Oldest first: one per analysis run (the schedule, or `modelgate experiment status --snapshot`). */
  readonly snapshots: readonly AnalysisSnapshot[];
}

export interface ExperimentViews {
  /** Running experiments first, then the 10 most recently ended. */
  list(): Promise<{ generatedAt: string; experiments: ExperimentView[] }>;
}

const RECENTLY_ENDED = 10;

export function experimentViews(client: DynamoDBClient, tableName: string, now: () => Date = () => new Date()): ExperimentViews {
  const store = new ExperimentStore(client, tableName);
  return {
    async list() {
      const [running, stopped, concluded] = await Promise.all([store.list('running'), store.list('stopped'), store.list('concluded')]);
      const ended = [...stopped, ...concluded].sort((a, b) => (b.endedAt ?? '').localeCompare(a.endedAt ?? '')).slice(0, RECENTLY_ENDED);
      const at = now();
      const experiments = await Promise.all(
        [...running, ...ended].map(async (experiment) => ({
          id: experiment.id,
          experiment,
          analysis: await currentReport(store, experiment, at),
          snapshots: await store.snapshots(experiment.id),
        })),
      );
      return { generatedAt: at.toISOString(), experiments };
    },
  };
}
