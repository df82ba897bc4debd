// Reading an experiment now: its counters through core/experiments/report.ts. The scheduled analysis keeps a
// snapshot of every run (CIs over time); the API and the CLI read the same report on demand.
import type { ExperimentStore } from '../../adapters/experiment-store';
import type { ExperimentDefinition } from '../../core/experiments/definition';
import { analyzeExperiment, snapshotOf, type ExperimentReport } from '../../core/experiments/report';

export type AnalysisStore = Pick<ExperimentStore, 'tallies' | 'putSnapshot'>;

export async function currentReport(store: Pick<ExperimentStore, 'tallies'>, definition: ExperimentDefinition, now: Date): Promise<ExperimentReport> {
  return analyzeExperiment(definition, await store.tallies(definition.id), now);
}

/** Analyses an experiment and keeps the snapshot. */
export async function recordAnalysis(store: AnalysisStore, definition: ExperimentDefinition, now: Date): Promise<ExperimentReport> {
  const report = await currentReport(store, definition, now);
  await store.putSnapshot(definition.id, snapshotOf(report));
  return report;
}

/** The scheduled run: every running experiment, one snapshot each; one failing does not stop the others. */
export async function analyzeRunning(
  store: AnalysisStore & Pick<ExperimentStore, 'list'>,
  now: Date,
): Promise<{ analysed: { id: string; decision: string }[]; failed: { id: string; error: string }[] }> {
  const analysed: { id: string; decision: string }[] = [];
  const failed: { id: string; error: string }[] = [];
  for (const definition of await store.list('running')) {
    try {
      const report = await recordAnalysis(store, definition, now);
      analysed.push({ id: definition.id, decision: report.decision });
    } catch (error) {
      failed.push({ id: definition.id, error: (error as Error).message });
    }
  }
  return { analysed, failed };
}
