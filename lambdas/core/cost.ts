// What serving costs on AWS, from the pricing anchors (us-east-1, arm64, checked November 2026) and what
// validation measured. docs/cost.md derives every line; `modelgate models` shows the per-version figure.

export const PRICES = {
  lambdaPerMillionRequests: 0.2,
  lambdaPerGbSecond: 0.0000133334,
  /** DynamoDB on-demand, per million write request units (1 KB each). */
  dynamoDbPerMillionWriteUnits: 0.625,
  apiGatewayRestPerMillion: 3.5,
  apiGatewayHttpPerMillion: 1.0,
} as const;

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
  const total = PRICES.lambdaPerMillionRequests + lambdaCompute + predictionLog;
  return { lambdaRequests: PRICES.lambdaPerMillionRequests, lambdaCompute: cents(lambdaCompute), predictionLog: cents(predictionLog), total: cents(total), billedMs };
}
