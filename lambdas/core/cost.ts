// What serving costs on AWS, from the pricing anchors (us-east-1, arm64, checked November 2026) and what
// validation measured. docs/cost.md derives every line; `modelgate models` shows the per-version figure.

export const PRICES = {
  lambdaPerMillionRequests: 0.2,
  lambdaPerGbSecond: 0.0000133334,
  /** DynamoDB on-demand, per million write request units (1 KB each). */
  dynamoDbPerMillionWriteUnits: 0.625,
  apiGatewayRestPerMillion: 3.5,
  apiGatewayHttpPerMillion: 1.0,
  /** CloudWatch Logs ingestion (Standard log class), per GB. */
  logsPerGbIngested: 0.5,
  /** X-Ray, per million traces recorded. */
  xrayPerMillionTraces: 5.0,
  /** Step Functions Standard, per million state transitions (a Distributed Map's child started is one). */
  stepFunctionsStandardPerMillionTransitions: 25,
  /** Step Functions Express, per million workflows started. */
  stepFunctionsExpressPerMillionRequests: 1.0,
  /** Step Functions Express duration, per GB-hour: the first 1,000 GB-hours of a month (less beyond). */
  stepFunctionsExpressPerGbHour: 0.06,
} as const;

/**
 * What the inference function writes to CloudWatch Logs per invocation: one EMF line of serving metrics
 * (~0.55 KB measured for churn: predictions, latency, a count per predicted class, log write latency, requests).
 * Lambda's START/END/REPORT lines are filtered out (system log level WARN).
 */
export const LOG_BYTES_PER_INVOCATION = 600;

/** The API stage's access log line (lib/api/model-api.ts ACCESS_LOG_FIELDS, 18 fields), ~550 bytes measured. */
export const ACCESS_LOG_BYTES_PER_REQUEST = 550;

/** The share of requests traced: the API's X-Ray sampling rule (ModelApi traceSampleRate). */
export const XRAY_SAMPLED_SHARE = 0.01;

/** Lambda gives a function one full vCPU at this memory; below it, CPU (and so compute time) scales down. */
export const FULL_VCPU_MB = 1769;

/**
 * Time a prediction spends beyond the model inside the function (validation measures the model alone): the
 * request's validation and encoding, the prediction log's PutItem round trip, metrics and the response.
 * Measured on the local runtime against DynamoDB Local as 1.4-2.1 ms; on AWS a PutItem takes a few ms.
 */
export const SERVING_OVERHEAD_MS = 6;

export interface PredictionCostInput {
  readonly memoryMb: number;
  /** The model's single-row latency on a full vCPU (validation's p99 is a cautious stand-in). */
  readonly inferenceMs: number;
  /** Size of one prediction log item: each started KB is a write unit, in the table and again in each index. */
  readonly logItemBytes?: number;
  /** Indexes the item is written to besides the table (byModelVersion). */
  readonly indexWrites?: number;
}

export interface PredictionCost {
  /** Dollars per million single-row predictions, by line. */
  readonly lambdaRequests: number;
  readonly lambdaCompute: number;
  readonly predictionLog: number;
  /** CloudWatch Logs ingestion of the function's metrics line and the API's access log line. */
  readonly logs: number;
  /** X-Ray traces of the sampled requests. */
  readonly traces: number;
  /** Everything above: what modelgate adds beyond API Gateway's own price. */
  readonly total: number;
  /** Billed duration per prediction (1 ms steps) at this memory. */
  readonly billedMs: number;
}

const cents = (dollars: number) => Math.round(dollars * 10_000) / 10_000;

export function predictionCost(input: PredictionCostInput): PredictionCost {
  const cpuShare = Math.min(1, input.memoryMb / FULL_VCPU_MB);
  const billedMs = Math.max(1, Math.ceil(input.inferenceMs / cpuShare + SERVING_OVERHEAD_MS));
  const lambdaCompute = (input.memoryMb / 1024) * (billedMs / 1000) * 1e6 * PRICES.lambdaPerGbSecond;
  const writeUnits = Math.max(1, Math.ceil((input.logItemBytes ?? 1024) / 1024)) * (1 + (input.indexWrites ?? 1));
  const predictionLog = writeUnits * PRICES.dynamoDbPerMillionWriteUnits;
  const logs = ((LOG_BYTES_PER_INVOCATION + ACCESS_LOG_BYTES_PER_REQUEST) * 1e6 * PRICES.logsPerGbIngested) / 1e9;
  const traces = XRAY_SAMPLED_SHARE * PRICES.xrayPerMillionTraces;
  const total = PRICES.lambdaPerMillionRequests + lambdaCompute + predictionLog + logs + traces;
  return {
    lambdaRequests: PRICES.lambdaPerMillionRequests,
    lambdaCompute: cents(lambdaCompute),
    predictionLog: cents(predictionLog),
    logs: cents(logs),
    traces: cents(traces),
    total: cents(total),
    billedMs,
  };
}

/** Distributed Map's ceiling on children running at once (docs.aws.amazon.com/step-functions, "Distributed Map state"). */
export const DISTRIBUTED_MAP_MAX_CHILDREN = 10_000;
/** An Express child's billed memory: 50 MB plus the definition and its payload, in 64 MB steps; a chunk's child stays under 64 MB. */
const EXPRESS_CHILD_BILLED_MB = 64;
/** States the batch state machine's parent execution passes through besides the Map's children: prepare, score, summarize. */
const BATCH_PARENT_STATES = 3;

export interface BatchJobCostInput {
  readonly rows: number;
  readonly bytesPerRow: number;
  /** Input bytes per chunk, one child of the Distributed Map (CHUNK_BYTES). */
  readonly chunkBytes: number;
  /** What the scoring function takes per chunk: its ranged GET, the scoring, the part's and progress file's PUTs. */
  readonly secondsPerChunk: number;
  readonly scoringMemoryMb: number;
  /** The job's MaxConcurrency (Distributed Map caps it at 10,000). */
  readonly maxConcurrency: number;
}

/** A batch job's Lambda and Step Functions lines in dollars, and how long its Map runs. S3 requests and the prepare and summarize steps are not in it. */
export interface BatchJobCost {
  readonly chunks: number;
  readonly lambdaRequests: number;
  readonly lambdaGbSeconds: number;
  readonly lambdaCompute: number;
  readonly stateTransitions: number;
  readonly standardTransitions: number;
  readonly expressRequests: number;
  readonly expressGbHours: number;
  readonly expressDuration: number;
  readonly total: number;
  /** Wall-clock seconds of the Map: waves of MaxConcurrency chunks, one after another. */
  readonly mapSeconds: number;
}

/** docs/batch.md, "Cost and speed on AWS": one scoring invocation and one Express child per chunk, one parent state transition per child. */
export function batchJobCost(input: BatchJobCostInput): BatchJobCost {
  const rowsPerChunk = Math.max(1, Math.floor(input.chunkBytes / input.bytesPerRow));
  const chunks = Math.ceil(input.rows / rowsPerChunk);
  const billedSeconds = Math.ceil(input.secondsPerChunk * 1000) / 1000;
  const lambdaGbSeconds = chunks * (input.scoringMemoryMb / 1024) * billedSeconds;
  // Express bills duration in 100 ms steps; the child lasts as long as its invocation.
  const expressGbHours = (chunks * (EXPRESS_CHILD_BILLED_MB / 1024) * (Math.ceil(input.secondsPerChunk * 10) / 10)) / 3600;
  const stateTransitions = chunks + BATCH_PARENT_STATES;
  const lines = {
    lambdaRequests: (chunks / 1e6) * PRICES.lambdaPerMillionRequests,
    lambdaCompute: lambdaGbSeconds * PRICES.lambdaPerGbSecond,
    standardTransitions: (stateTransitions / 1e6) * PRICES.stepFunctionsStandardPerMillionTransitions,
    expressRequests: (chunks / 1e6) * PRICES.stepFunctionsExpressPerMillionRequests,
    expressDuration: expressGbHours * PRICES.stepFunctionsExpressPerGbHour,
  };
  const concurrency = Math.min(input.maxConcurrency, DISTRIBUTED_MAP_MAX_CHILDREN);
  return {
    chunks,
    lambdaGbSeconds,
    stateTransitions,
    expressGbHours,
    ...lines,
    total: Object.values(lines).reduce((sum, line) => sum + line, 0),
    mapSeconds: Math.ceil(chunks / concurrency) * input.secondsPerChunk,
  };
}
