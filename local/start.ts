// `npm start`: the synthesized stack on this machine. See docs/local-runtime.md.
import { parseArgs } from 'node:util';
import { InvalidPropsError } from '../lib/validation/prop-validation';
import { RuntimeStartError, startRuntime } from './runtime';
import { START_OPTIONS, START_USAGE } from './start-options';
import { checkWebhookUrl, WebhookUrlError } from './sns';

function fail(message: string): never {
  console.error(`modelgate local: ${message}\n\n${START_USAGE}`);
  process.exit(2);
}

function port(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) fail(`${flag} must be a port number, got: ${value}`);
  return parsed;
}

let values;
try {
  ({ values } = parseArgs({
    options: START_OPTIONS,
  }));
} catch (error) {
  fail((error as Error).message);
}
if (values.help) {
  console.log(START_USAGE);
  process.exit(0);
}

if (values.webhook !== undefined) {
  try {
    checkWebhookUrl(values.webhook);
  } catch (error) {
    if (error instanceof WebhookUrlError) fail(error.message);
    throw error;
  }
}

const started = performance.now();
let runtime;
try {
  runtime = await startRuntime({
    port: port(values.port, '--port', 3000),
    host: values.host ?? '127.0.0.1',
    dynamoDbPort: port(values['dynamodb-port'], '--dynamodb-port', 0),
    s3Port: port(values['s3-port'], '--s3-port', 0),
    ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}),
    ...(values.config !== undefined ? { configFile: values.config } : {}),
    clean: values.clean,
    echoLogs: !values.quiet,
    ...(values.webhook !== undefined ? { webhookUrl: values.webhook } : {}),
    timeScale: timeScale(values['time-scale']),
  });
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    console.error(`modelgate local: port already in use (${(error as Error).message}); is another \`npm start\` running? Use --port to pick another.`);
    process.exit(1);
  }
  // Bad configuration (e.g. a declared model whose bundle is missing): one line per problem, no trace.
  if (error instanceof InvalidPropsError) {
    for (const problem of error.problems) console.error(`modelgate local: cannot start: ${problem}`);
    process.exit(2);
  }
  if (error instanceof RuntimeStartError) {
    console.error(`modelgate local: cannot start: ${error.message}`);
    process.exit(1);
  }
  throw error;
}

const models = runtime.gateway.routes().filter((r) => r.method === 'POST' && r.resourcePath.endsWith('/predict'));
for (const route of models) await runtime.lambda.warm(route.functionName, route.qualifier ?? '$LATEST');
const example = models[0];
console.log(`
modelgate local runtime ready in ${((performance.now() - started) / 1000).toFixed(1)} s — stack ${runtime.stack.stackName}
  API            ${runtime.apiUrl}
  dashboard      ${runtime.apiUrl}/dashboard
  Prometheus     ${runtime.apiUrl}/metrics
  DynamoDB       ${runtime.dynamoDbEndpoint}
  S3             ${runtime.s3Endpoint}
  state          ${runtime.stateDir}
  API keys       ${Object.entries(runtime.apiKeys)
    .map(([client, key]) => `${client.padEnd(9)}${key}`)
    .join('\n                 ')}
                 (x-api-key: each kind of client has its own — predict, feedback, events)
  routes         ${runtime.gateway
    .routes()
    .map((r) => `${r.method} ${r.resourcePath}`)
    .join('\n                 ')}
${
  example
    ? `
Try:
  curl -s -X POST ${runtime.apiUrl}${example.resourcePath} \\
    -H 'content-type: application/json' -H 'x-api-key: ${runtime.apiKeys.predict}' \\
    -d '{"instances": [{"gender": "Female", "SeniorCitizen": 0, "Partner": "Yes", "Dependents": "No", "tenure": 1, "PhoneService": "No", "MultipleLines": "No phone service", "InternetService": "DSL", "OnlineSecurity": "No", "OnlineBackup": "Yes", "DeviceProtection": "No", "TechSupport": "No", "StreamingTV": "No", "StreamingMovies": "No", "Contract": "Month-to-month", "PaperlessBilling": "Yes", "PaymentMethod": "Electronic check", "MonthlyCharges": 29.85, "TotalCharges": 29.85}]}'
`
    : ''
}
Ctrl-C stops everything.`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping...');
    await runtime.close();
    process.exit(0);
  });
}

function timeScale(value: string | undefined): number {
  if (value === undefined) return 1;
  const parsed = Number(value);
  if (!(Number.isFinite(parsed) && parsed > 0 && parsed <= 3600)) fail(`--time-scale must be a number in (0, 3600], got: ${value}`);
  return parsed;
}
