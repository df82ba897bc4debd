// GET /v1/experiments and GET /v1/experiments/{id}: definitions (with their revisions), the current analysis
// and the snapshots over time. Read-only: starting and concluding experiments is an operator's act (the CLI,
// with the operator's credentials), not something an API key may do.
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { ExperimentStore } from '../../adapters/experiment-store';
import { EXPERIMENT_ID_PATTERN, experimentSummary } from '../../core/experiments/definition';
import { currentReport } from './analyze-experiments';

/** Snapshots returned with an experiment: the newest ones (hourly: 28 days). */
const SNAPSHOTS = 672;
/** Concluded and stopped experiments listed, newest first. */
const RECENT = 50;

export type ExperimentsReader = Pick<ExperimentStore, 'get' | 'list' | 'tallies' | 'snapshots'>;

export async function experimentsApi(
  store: ExperimentsReader,
  event: Pick<APIGatewayProxyEvent, 'httpMethod' | 'path' | 'pathParameters'>,
  now: Date,
): Promise<APIGatewayProxyResult> {
  const match = /^\/v1\/experiments(?:\/([^/]+))?\/?$/.exec(event.path);
  if (!match) return json(404, { error: 'NotFoundError', message: `no route ${event.httpMethod} ${event.path}` });
  if (event.httpMethod !== 'GET') return json(405, { error: 'MethodNotAllowedError', message: `${event.httpMethod} is not allowed on ${event.path}` });
  const id = event.pathParameters?.id ?? match[1];
  if (id === undefined) {
    const [running, stopped, concluded] = await Promise.all([store.list('running'), store.list('stopped'), store.list('concluded')]);
    const ended = [...stopped, ...concluded].sort((a, b) => (b.endedAt ?? '').localeCompare(a.endedAt ?? '')).slice(0, RECENT);
    return json(200, { experiments: [...running, ...ended].map(experimentSummary) });
  }
  if (!EXPERIMENT_ID_PATTERN.test(id)) return json(404, { error: 'NotFoundError', message: `no experiment "${id}"` });
  const stored = await store.get(id);
  if (!stored) return json(404, { error: 'NotFoundError', message: `no experiment "${id}"` });
  const [analysis, snapshots] = await Promise.all([currentReport(store, stored.definition, now), store.snapshots(id, SNAPSHOTS)]);
  return json(200, { experiment: stored.definition, revisions: stored.revisions, analysis, snapshots });
}

function json(statusCode: number, body: unknown): APIGatewayProxyResult {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
