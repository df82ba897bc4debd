// The options of `npm start` (local/start.ts), apart from it so that reading them does not start a runtime.

export const START_OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'dynamodb-port': { type: 'string' },
  's3-port': { type: 'string' },
  'state-dir': { type: 'string' },
  config: { type: 'string' },
  clean: { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
  webhook: { type: 'string' },
  'time-scale': { type: 'string' },
  help: { type: 'boolean', default: false },
} as const;

export const START_USAGE = `usage: npm start -- [options]

  --port <n>          API port (default 3000)
  --host <address>    address to bind (default 127.0.0.1)
  --dynamodb-port <n> local DynamoDB port (default: a free port)
  --s3-port <n>       local S3 port (default: a free port)
  --state-dir <dir>   where models, logs and the registry persist (default .modelgate)
  --config <file>     the models-as-data file (default modelgate.config.json): the models the stack declares
  --clean             start from an empty state folder
  --quiet             do not print function log lines
  --time-scale <x>    run time x times faster (default 1): Wait states, lock retries, scheduled rules,
                      and monitoring's minutes: windows, the monitor's sliding window, metric periods,
                      alarm evaluation. 60 turns a 30-minute canary bake into 30 seconds, and pages a
                      drift within about 12 seconds (docs/local-runtime.md, "Time scale")
  --webhook <url>     also POST every SNS notification (alarm state changes) as JSON to this
                      local URL, e.g. http://127.0.0.1:9000/hook (loopback addresses only)`;
