// The inference function: API Gateway -> validate -> ONNX session -> prediction log -> answer.
// Everything expensive happens once per container, during init (top-level await).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { ExperimentRouter } from '../adapters/experiment-router';
import { ExperimentStore } from '../adapters/experiment-store';
import { lambdaInvoker } from '../adapters/function-invoker';
import { FileFallbackSink, StdoutFallbackSink } from '../adapters/prediction-log';
import { Registry } from '../adapters/registry';
import { ShadowMirror } from '../adapters/shadow-mirror';
import { INFERENCE_VARIABLES, servingConfigFromEnv } from '../contracts/environment';
import { initServing, type ProxyHandler } from '../use-cases/serve-predictions';

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'modelgate-inference' });

async function init(): Promise<ProxyHandler> {
  // Where module loading ends and init begins, for the cold-start benchmark (bench/cold-start.ts).
  performance.mark('modelgate:init');
  try {
    const config = servingConfigFromEnv(process.env);
    // One client for the prediction log and the registry and experiment reads, so the connection the reads open
    // at init serves the first answer's log write. Short timeouts and few attempts: a slow table must not hold
    // the answer; the fallback takes over.
    const dynamodb = new DynamoDBClient({ maxAttempts: 3, requestHandler: { connectionTimeout: 500, requestTimeout: 1500 } });
    const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? '';
    // Sticky (unit-level) experiments: present when the stack has an experiment table (lib/experiment-service.ts).
    const experimentTable = process.env[INFERENCE_VARIABLES.experimentTable];
    const router = experimentTable ? new ExperimentRouter({ store: new ExperimentStore(dynamodb, experimentTable), lambda: lambdaInvoker(), functionName, logger }) : undefined;
    // Shadow rollouts: the registry says which version (if any) mirrors this model's traffic.
    const registryTable = process.env[INFERENCE_VARIABLES.registryTable];
    const shadow = registryTable
      ? new ShadowMirror({
          registry: new Registry(dynamodb, registryTable),
          lambda: lambdaInvoker({ maxAttempts: 2 }),
          functionName,
          model: process.env[INFERENCE_VARIABLES.modelName] ?? '',
          logger,
        })
      : undefined;
    // The shadow setting is read while the bundle downloads; the running experiments are matched to the version loaded.
    const shadowRead = shadow?.start();
    const serving = await initServing(config, {
      s3: new S3Client({}),
      dynamodb,
      fallback: config.fallbackFile ? new FileFallbackSink(config.fallbackFile) : new StdoutFallbackSink(),
      logger,
      ...(router ? { router } : {}),
      ...(shadow ? { shadow } : {}),
    });
    await Promise.all([shadowRead, router?.start(serving.model.manifest.name, serving.model.manifest.version)]);
    return serving.handle;
  } catch (error) {
    logger.error('init failed: the model cannot be served', error as Error);
    throw error;
  }
}

export const handler: ProxyHandler = await init();
