// The payloads of the batch-scoring state machine (lib/batch/batch-scoring.ts), shared by the CLI that starts a
// job, the functions that run its steps and the construct that wires them: one definition for every side.
import type { Chunk } from '../core/batch/records';
import type { WindowAggregate } from '../core/drift/aggregate';
import { EnvReader } from './environment';

export const BATCH_FORMATS = ['csv', 'jsonl'] as const;
export type BatchFormat = (typeof BATCH_FORMATS)[number];

/** The format of a file by its extension: `.csv`, or `.jsonl` / `.ndjson`; undefined for anything else. */
export function formatOfFile(path: string): BatchFormat | undefined {
  if (/\.csv$/i.test(path)) return 'csv';
  if (/\.(jsonl|ndjson)$/i.test(path)) return 'jsonl';
  return undefined;
}

/** Where input and output objects of batch jobs must live (the state machine and its functions may touch nothing else). */
export const BATCH_PREFIX = 'batch/';

/** Children of the Distributed Map running at once, unless the job says otherwise. */
export const DEFAULT_MAX_CONCURRENCY = 100;
/** Share of failed children (batches) a job tolerates, unless it says otherwise: none. */
export const DEFAULT_TOLERATED_FAILURE_PERCENTAGE = 0;
/**
 * Input bytes per chunk (one child of the Distributed Map): ~30,000 churn rows, scored in about a second, with a
 * few MB of tensors and output; 100M rows of 140 bytes make ~3,300 children.
 */
export const CHUNK_BYTES = 4 * 1024 * 1024;

export interface S3Location {
  readonly bucket: string;
  readonly key: string;
}

/** The execution input: what `modelgate batch` starts a job with. */
export interface BatchJobInput {
  readonly model: string;
  /** The version to score with. @default the version the model's traffic goes to (the registry's primary) */
  readonly version?: string;
  readonly input: S3Location;
  /** Parts, rejected rows and the summary are written under `<prefix>` (which ends with '/'). */
  readonly output: { readonly bucket: string; readonly prefix: string };
  readonly format: BatchFormat;
  /** The input column (or JSON field) that identifies a row; rows are numbered when there is none. */
  readonly idColumn?: string;
  /** @default DEFAULT_MAX_CONCURRENCY */
  readonly maxConcurrency?: number;
  /** @default DEFAULT_TOLERATED_FAILURE_PERCENTAGE */
  readonly toleratedFailurePercentage?: number;
  /** Repeat each row's input columns in the output (SageMaker's JoinSource=Input). @default false */
  readonly joinInput?: boolean;
}

/** What the prepare step answers: the job with its defaults applied and what it found in the input. */
export interface PreparedJob {
  readonly model: string;
  readonly version: string;
  readonly input: S3Location;
  readonly output: BatchJobInput['output'];
  readonly format: BatchFormat;
  readonly idColumn?: string;
  readonly maxConcurrency: number;
  readonly toleratedFailurePercentage: number;
  /** sha256 of the input object, hex. */
  readonly inputSha256: string;
  /** Data rows (records after the header, blank ones left out). */
  readonly rows: number;
  /** The chunks' list (a JSON array of Chunk) the Distributed Map's ItemReader reads: `<output prefix>_chunks.json`. */
  readonly chunks: S3Location;
  readonly startedAt: string;
  /** What every batch of the Distributed Map gets as its BatchInput. */
  readonly batchInput: BatchContext;
  /** Where the Distributed Map's ResultWriter writes the children's results: `<output prefix>_results`. */
  readonly resultsPrefix: string;
}

/** What every child of the Distributed Map gets besides its chunk: enough to load the model, read the chunk and write its part. */
export interface BatchContext {
  readonly model: string;
  readonly version: string;
  readonly format: BatchFormat;
  readonly input: S3Location;
  /** The CSV header's columns (a chunk holds data rows only). */
  readonly header?: readonly string[];
  readonly idColumn?: string;
  readonly joinInput?: boolean;
  readonly output: BatchJobInput['output'];
}

/** The event of the scoring function: one chunk of the input (the ItemSelector adds the job). */
export interface BatchEvent {
  readonly chunk: Chunk;
  readonly job: BatchContext;
}

/** What one batch reports (the Map's ResultWriter stores it; the summary step merges them). */
export interface BatchPartResult {
  /** 1-based number of the batch's first row. */
  readonly firstRow: number;
  readonly rows: number;
  readonly scored: number;
  readonly rejected: number;
  /** Key of the part's predictions (absent when every row was rejected). */
  readonly partKey?: string;
  /** Key of the part's rejected rows (absent when there were none). */
  readonly rejectedKey?: string;
  /** Feature and prediction counts against the model's baseline (null when the manifest has no baseline). */
  readonly drift: WindowAggregate | null;
  /** Scored rows per predicted label (classification). */
  readonly labels: Readonly<Record<string, number>>;
}

/** The summary step's event: the prepared job and where the ResultWriter put the children's results. */
export interface SummarizeEvent {
  readonly job: PreparedJob;
  readonly results: { readonly ResultWriterDetails: { readonly Bucket: string; readonly Key: string } };
}

/** Names the output prefix's objects. */
export const BATCH_OUTPUT = {
  summary: '_SUCCESS.json',
  /** The prepare step's cut of the input into chunks, the Distributed Map's items. */
  chunks: '_chunks.json',
  parts: 'parts/',
  rejected: 'rejected/',
  results: '_results/',
  /** The prepared job (PreparedJob: its rows, version, checksum), written before any scoring: what a follower reads the total from. */
  job: '_job.json',
  /** One BatchProgress per scored batch, written as the batch ends: what a follower counts rows done and rejected from. */
  progress: '_progress/',
} as const;

/** `_progress/part-<first row>.json`: what one batch did, small enough to read many of while a job runs. */
export type BatchProgress = Pick<BatchPartResult, 'firstRow' | 'rows' | 'scored' | 'rejected'>;

/** `part-000000000001.csv`: parts (and their progress files, `.json`) sort in input order by name. */
export function partName(firstRow: number, extension: BatchFormat | 'json'): string {
  return `part-${String(firstRow).padStart(12, '0')}.${extension}`;
}

/** The batch functions' variables: lib/batch writes them, the handlers read them (batchConfigFromEnv). */
export const BATCH_VARIABLES = {
  bucket: 'MODEL_BUCKET',
  registryTable: 'REGISTRY_TABLE',
} as const;

export interface BatchConfig {
  readonly bucket: string;
  readonly registryTable: string;
  /** The deployment's metrics namespace (set on every function by lib/functions/modelgate-function.ts). */
  readonly metricsNamespace: string;
}

export function batchConfigFromEnv(env: NodeJS.ProcessEnv): BatchConfig {
  const read = new EnvReader(env);
  const config = {
    bucket: read.required(BATCH_VARIABLES.bucket),
    registryTable: read.required(BATCH_VARIABLES.registryTable),
    metricsNamespace: read.required('POWERTOOLS_METRICS_NAMESPACE'),
  };
  read.throwIfAny();
  return config;
}
