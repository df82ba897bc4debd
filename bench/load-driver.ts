// The load driver `npm run load` and `npm run soak` share: autocannon against the churn model's predict route,
// collecting every prediction id answered; the check that each of them is in the prediction log (DynamoDB, or
// the fallback file); and what a server process costs, read from /proc (Linux).
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { BatchGetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import autocannon, { type Result } from 'autocannon';
import { parseFallbackRecords } from '../lambdas/core/prediction-record';
import { localDynamoClient } from '../local/aws-clients';
import type { LocalEndpoints } from '../local/state-files';
import { CHURN_INSTANCE } from '../test/support/churn-row';

export const PREDICT_PATH = '/v1/models/churn/predict';
const BODY = JSON.stringify({ instances: [CHURN_INSTANCE] });

const CLOCK_TICKS = 100; // USER_HZ on Linux

/**
 * CPU time (all threads) a process has used, in ms; undefined where there is no /proc. Per request it says what
 * a server costs even when other work on the machine takes cores away from one phase and not another.
 */
export function cpuTimeMs(pid: number | undefined): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** Resident memory of a process (all its threads), in MB; undefined where there is no /proc or no such process. */
export function residentMb(pid: number | undefined): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

export interface LoadRun {
  readonly result: Result;
  readonly predictionIds: string[];
  readonly badBodies: number;
  /** The 1-minute load average when the run ended. */
  readonly loadAverage: number;
  /** CPU the server process used during the run (when its pid was given). */
  readonly serverCpuMs?: number;
}

export interface LoadOptions {
  readonly connections: number;
  readonly seconds: number;
  /** The server's pid, to measure its CPU time. */
  readonly serverPid?: number;
  /** Every prediction id answered is pushed here as it arrives (a soak samples its length while it runs). */
  readonly predictionIds?: string[];
  /** The predict key (the local runtime's `endpoints.apiKeys.predict`); none for a bare server. */
  readonly apiKey?: string;
}

/** autocannon against `url`'s predict route: one row per request, every prediction id answered collected. */
export async function loadPredictions(url: string, options: LoadOptions): Promise<LoadRun> {
  const predictionIds = options.predictionIds ?? [];
  let badBodies = 0;
  const cpuBefore = cpuTimeMs(options.serverPid);
  const result = await autocannon({
    url,
    connections: options.connections,
    duration: options.seconds,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: PREDICT_PATH,
        headers: { 'content-type': 'application/json', ...(options.apiKey ? { 'x-api-key': options.apiKey } : {}) },
        body: BODY,
        onResponse: (status, body) => {
          if (status !== 200) return;
          try {
            for (const p of (JSON.parse(body) as { predictions: { predictionId: string }[] }).predictions) predictionIds.push(p.predictionId);
          } catch {
            badBodies++;
          }
        },
      },
    ],
  });
  const cpuAfter = cpuTimeMs(options.serverPid);
  return {
    result,
    predictionIds,
    badBodies,
    loadAverage: loadavg()[0] as number,
    ...(cpuBefore !== undefined && cpuAfter !== undefined ? { serverCpuMs: cpuAfter - cpuBefore } : {}),
  };
}

export interface LogCheck {
  /** Items in the prediction table (a Scan's count). */
  readonly tableCount: number;
  /** Of the ids asked about, those in the table. */
  readonly inTable: number;
  /** Records in the fallback file. */
  readonly inFallback: number;
  /** Of the ids asked about, those in neither. */
  readonly missing: number;
}

/** Which of the ids the prediction log holds: DynamoDB items, and records in the fallback file. */
export async function checkLog(endpoints: LocalEndpoints, fallbackFile: string, ids: readonly string[]): Promise<LogCheck> {
  const dynamodb = localDynamoClient(endpoints.dynamoDbEndpoint);
  const table = endpoints.outputs.PredictionTableName as string;
  const inTable = new Set<string>();
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += 100) chunks.push(ids.slice(i, i + 100));
  const worker = async () => {
    for (let chunk = chunks.shift(); chunk; chunk = chunks.shift()) {
      let keys = chunk.map((id) => ({ predictionId: { S: id } }));
      while (keys.length > 0) {
        const page = await dynamodb.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: keys, ProjectionExpression: 'predictionId' } } }));
        for (const item of page.Responses?.[table] ?? []) inTable.add(item.predictionId?.S as string);
        keys = (page.UnprocessedKeys?.[table]?.Keys ?? []) as typeof keys;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  let tableCount = 0;
  let startKey: Record<string, never> | undefined;
  do {
    const page = await dynamodb.send(new ScanCommand({ TableName: table, Select: 'COUNT', ExclusiveStartKey: startKey }));
    tableCount += page.Count ?? 0;
    startKey = page.LastEvaluatedKey as Record<string, never> | undefined;
  } while (startKey);
  const inFallback = new Set(existsSync(fallbackFile) ? parseFallbackRecords(readFileSync(fallbackFile, 'utf8')).map((r) => r.predictionId) : []);
  const missing = ids.filter((id) => !inTable.has(id) && !inFallback.has(id));
  return { tableCount, inTable: inTable.size, inFallback: inFallback.size, missing: missing.length };
}
