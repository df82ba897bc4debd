// Sticky routing decisions of the inference function's router, on a real experiment table. The Lambda client
// is a recording stand-in (the invocation path itself runs for real in bench/sticky.ts and the e2e test).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExperimentRouter } from '../../lambdas/adapters/experiment-router';
import { ExperimentStore } from '../../lambdas/adapters/experiment-store';
import type { FunctionInvoker } from '../../lambdas/adapters/function-invoker';
import { FileFallbackSink } from '../../lambdas/adapters/prediction-log';
import { assignArm } from '../../lambdas/core/experiments/assignment';
import { planExperiment } from '../../lambdas/core/experiments/definition';
import { parseManifestJson } from '../../lambdas/core/manifest';
import { initServing } from '../../lambdas/use-cases/serve-predictions';
import { proxyEvent } from '../../local/api-gateway-event';
import { createTableInput, ensureTable } from '../../local/dynamodb-tables';
import { experimentTableProperties } from '../../local/template-tables';
import { servingConfig, startLocalAws, TABLE, uploadBundle, type LocalAws } from '../support/local-aws';
import { CHURN_INSTANCE } from '../support/churn-row';

const EXPERIMENTS = 'experiments';
const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
let aws: LocalAws;
let store: ExperimentStore;

const experiment = planExperiment(
  { id: 'churn-sticky', model: 'churn', control: '1', treatment: '2', metric: 'conversion', assignment: 'unit', startDelaySeconds: 0 },
  new Date(),
  { lambdaVersions: { control: '3', treatment: '4' } },
);
const units = Array.from({ length: 40 }, (_, i) => `customer-${i}`);
const treated = units.filter((u) => assignArm(experiment.id, u, 0.5) === 'treatment');
const controlled = units.filter((u) => assignArm(experiment.id, u, 0.5) === 'control');

/** Records invocations; answers like the other version would, or fails when told to. */
function recordingLambda(fail = false) {
  const calls: { qualifier: string; routedFrom: string | undefined; unit: string | undefined }[] = [];
  const client: FunctionInvoker = {
    invoke: async (input) => {
      if (fail) throw Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' });
      const event = JSON.parse(new TextDecoder().decode(input.Payload)) as { headers: Record<string, string>; modelgateRoutedFrom?: string };
      calls.push({ qualifier: input.Qualifier, routedFrom: event.modelgateRoutedFrom, unit: event.headers['x-modelgate-unit-id'] });
      return { Payload: new TextEncoder().encode(JSON.stringify({ statusCode: 200, headers: {}, body: `{"servedBy":"${input.Qualifier}"}` })) };
    },
  };
  return { client, calls };
}

function request(unit?: string, extraHeaders: Record<string, string> = {}) {
  return proxyEvent({ method: 'POST', path: '/v1/models/churn/predict', headers: { ...(unit ? { 'x-modelgate-unit-id': unit } : {}), ...extraHeaders }, body: '{"instances":[]}' });
}

beforeAll(async () => {
  aws = await startLocalAws();
  await ensureTable(aws.dynamodb, createTableInput(EXPERIMENTS, experimentTableProperties()));
  store = new ExperimentStore(aws.dynamodb, EXPERIMENTS);
});
afterAll(async () => aws?.close());

describe('ExperimentRouter', () => {
  it('routes nothing and reads no unit id while no unit-level experiment runs', async () => {
    const lambda = recordingLambda();
    const router = new ExperimentRouter({ store, lambda: lambda.client, functionName: 'churn-fn', logger });
    await router.start('churn', '1');
    expect(await router.route(request('customer-1'))).toEqual({});
    expect(lambda.calls).toEqual([]);
  });

  it('keeps each unit on its arm: serves its own units, forwards the others to their version, marked as routed', async () => {
    await store.create(experiment, 'test');
    for (const [version, own, other, otherLambda] of [
      ['1', controlled, treated, '4'],
      ['2', treated, controlled, '3'],
    ] as const) {
      const lambda = recordingLambda();
      const router = new ExperimentRouter({ store, lambda: lambda.client, functionName: 'churn-fn', logger });
      await router.start('churn', version);
      for (const unit of own) expect(await router.route(request(unit))).toEqual({ unitId: unit });
      for (const unit of other)
        expect(await router.route(request(unit))).toEqual({
          response: { statusCode: 200, headers: {}, body: `{"servedBy":"${otherLambda}"}` },
          routedTo: version === '1' ? '2' : '1',
        });
      expect(lambda.calls).toEqual(other.map((unit) => ({ qualifier: otherLambda, routedFrom: version, unit })));
      expect(await router.route(request())).toEqual({});
    }
  });

  it('reads the unit id from the body too, and never forwards a request another version forwarded', async () => {
    const lambda = recordingLambda();
    const router = new ExperimentRouter({ store, lambda: lambda.client, functionName: 'churn-fn', logger });
    await router.start('churn', '1');
    const body = proxyEvent({ method: 'POST', path: '/v1/models/churn/predict', body: JSON.stringify({ instances: [], unitId: treated[0] }) });
    expect(await router.route(body)).toMatchObject({ routedTo: '2' });
    expect(await router.route({ ...request(treated[0]), modelgateRoutedFrom: '2' } as ReturnType<typeof request>)).toEqual({ unitId: treated[0] });
    expect(lambda.calls).toHaveLength(1);
  });

  // The marker of a forwarded request used to be a header: any client could send it and pick its arm.
  it('ignores a routed marker a client sends as a header: the unit still goes to its arm', async () => {
    const lambda = recordingLambda();
    const router = new ExperimentRouter({ store, lambda: lambda.client, functionName: 'churn-fn', logger });
    await router.start('churn', '1');
    for (const header of ['x-modelgate-routed-from', 'X-Modelgate-Routed-From', 'modelgateRoutedFrom']) {
      expect(await router.route(request(treated[0], { [header]: '2' }))).toMatchObject({ routedTo: '2' });
    }
    expect(lambda.calls).toEqual(Array.from({ length: 3 }, () => ({ qualifier: '4', routedFrom: '1', unit: treated[0] })));
  });

  it('serves the request itself when the other version cannot be invoked (availability first; counted as a crossover)', async () => {
    const warnings: string[] = [];
    const router = new ExperimentRouter({
      store,
      lambda: recordingLambda(true).client,
      functionName: 'churn-fn',
      logger: { warn: (message: string) => warnings.push(message) } as unknown as Logger,
    });
    await router.start('churn', '1');
    expect(await router.route(request(treated[0]))).toEqual({ unitId: treated[0] });
    expect(warnings).toEqual(['routing to the other arm failed: served here']);
  });

  it('sees an experiment started later at its next refresh, in the background', async () => {
    let now = 0;
    const router = new ExperimentRouter({ store, lambda: recordingLambda().client, functionName: 'bank-fn', logger, refreshMs: 10_000, now: () => now });
    await router.start('bank', 'a');
    await store.create(
      planExperiment({ id: 'bank-sticky', model: 'bank', control: 'a', treatment: 'b', metric: 'conversion', assignment: 'unit', startDelaySeconds: 0 }, new Date(), {
        lambdaVersions: { control: '1', treatment: '2' },
      }),
      'test',
    );
    expect(await router.route(request('u1'))).toEqual({});
    now = 10_001;
    await router.route(request('u1'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await router.route(request('u1'))).toHaveProperty(assignArm('bank-sticky', 'u1', 0.5) === 'control' ? 'unitId' : 'routedTo');
  });
});

describe('serving with the router', () => {
  it('logs the unit id of the predictions it serves', async () => {
    const dir = join(import.meta.dirname, '..', '..', 'examples', 'churn', 'v1');
    const manifest = parseManifestJson(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    const prefix = await uploadBundle(aws, manifest, new Uint8Array(readFileSync(join(dir, manifest.model.file))));
    const router = new ExperimentRouter({ store, lambda: recordingLambda().client, functionName: 'churn-fn', logger });
    const serving = await initServing(servingConfig(prefix), { s3: aws.s3, dynamodb: aws.dynamodb, fallback: new FileFallbackSink(aws.fallbackFile), logger, router });
    await router.start(manifest.name, manifest.version);
    const unit = controlled[0] as string;
    const response = await serving.handle(proxyEvent({ method: 'POST', path: '/v1/models/churn/predict', body: JSON.stringify({ instances: [CHURN_INSTANCE], unitId: unit }) }), {
      functionVersion: '3',
      awsRequestId: 'r',
    });
    expect(response.statusCode).toBe(200);
    const predictionId = (JSON.parse(response.body) as { predictions: { predictionId: string }[] }).predictions[0]?.predictionId as string;
    const { Item } = await aws.dynamodb.send(new GetItemCommand({ TableName: TABLE, Key: { predictionId: { S: predictionId } } }));
    expect((Item as Record<string, AttributeValue>).unitId?.S).toBe(unit);
    await serving.model.release();
  });
});
