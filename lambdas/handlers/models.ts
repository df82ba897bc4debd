// GET /v1/models/{name}: the registry's view of a model (live versions and weights, shadow, recent
// history). Its own function with read-only access to the registry: the inference functions stay unable
// to read it, and this one cannot touch models or traffic.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { Registry } from '../adapters/registry';
import { modelView } from '../core/pipeline/model-view';
import { MODEL_NAME_PATTERN } from '../core/pipeline/identity';
import { pipelineEnvironment } from '../contracts/pipeline-environment';

/** Versions shown, newest first (the CLI reads the registry directly for all of them). */
const RECENT_VERSIONS = 20;

export async function describeModel(registry: Registry, event: Pick<APIGatewayProxyEvent, 'httpMethod' | 'path' | 'pathParameters'>): Promise<APIGatewayProxyResult> {
  const name = event.pathParameters?.name ?? /^\/v1\/models\/([^/]+)\/?$/.exec(event.path)?.[1];
  if (event.httpMethod !== 'GET') return json(405, { error: 'MethodNotAllowedError', message: `${event.httpMethod} is not allowed on ${event.path}` });
  if (!name || !MODEL_NAME_PATTERN.test(name)) return json(404, { error: 'NotFoundError', message: `no model at ${event.path}` });
  const [record, versions] = await Promise.all([registry.getModel(name), registry.listVersions(name, RECENT_VERSIONS)]);
  if (!record && versions.length === 0) return json(404, { error: 'NotFoundError', message: `model "${name}" has no registered version` });
  return json(200, modelView(name, record, versions));
}

function json(statusCode: number, body: unknown): APIGatewayProxyResult {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

let registry: Registry | undefined;

export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  registry ??= new Registry(new DynamoDBClient({}), pipelineEnvironment(process.env, ['registryTable']).registryTable);
  try {
    return await describeModel(registry, event);
  } catch (error) {
    console.error(JSON.stringify({ level: 'ERROR', message: 'registry read failed', error: (error as Error).message }));
    return json(500, { error: 'InternalError', message: 'the registry could not be read; the error is logged' });
  }
};
