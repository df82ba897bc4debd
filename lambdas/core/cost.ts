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
