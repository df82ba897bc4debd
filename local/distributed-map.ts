// A Distributed Map state run on this machine. aws-local-stepfunctions validates ItemReader, ItemBatcher and
// ResultWriter but does not execute them, so the runner (local/state-machine-runner.ts) hands each Map that has
// an ItemReader to this: the input object is streamed from the local S3 (CSV with its header row, JSON Lines,
// or a JSON array), each item shaped by the ItemSelector, grouped by the ItemBatcher's limits if the Map has one, every batch run as a child
// execution of the ItemProcessor with at most MaxConcurrency — and never more than the machine can run — at
// once, failures counted against ToleratedFailurePercentage, and the children's results written by the
// ResultWriter as on AWS (manifest.json and SUCCEEDED_n / FAILED_n files under `<Prefix>/<map run id>/`).
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';

/** The S3 calls the Map makes as the state machine's role (checked by local/iam when the runtime has it). */
export interface MapObjectStore {
  getObject(bucket: string, key: string): Promise<AsyncIterable<Uint8Array>>;
  putObject(bucket: string, key: string, body: string): Promise<void>;
}

/** A Map state of the definition, as ASL has it (the fields this runner reads). */
export interface DistributedMapState {
  readonly ItemReader: {
    readonly Resource: string;
    readonly ReaderConfig?: { readonly InputType?: string; readonly CSVHeaderLocation?: string; readonly CSVHeaders?: string[] };
    readonly Parameters?: Record<string, unknown>;
  };
  readonly ItemSelector?: Record<string, unknown>;
  readonly ItemBatcher?: {
    readonly MaxItemsPerBatch?: number;
    readonly MaxItemsPerBatchPath?: string;
    readonly MaxInputBytesPerBatch?: number;
    readonly MaxInputBytesPerBatchPath?: string;
    readonly BatchInput?: Record<string, unknown>;
  };
  readonly ItemProcessor: { readonly StartAt: string; readonly States: Record<string, unknown> };
  readonly MaxConcurrency?: number;
  readonly MaxConcurrencyPath?: string;
  readonly ToleratedFailurePercentage?: number;
  readonly ToleratedFailurePercentagePath?: string;
  readonly ResultWriter?: { readonly Parameters?: Record<string, unknown> };
  readonly Label?: string;
}

/** One child execution's end. */
export type ChildOutcome = { readonly status: 'SUCCEEDED'; readonly output: unknown } | { readonly status: 'FAILED'; readonly error?: string; readonly cause?: string };

export interface DistributedMapRun {
  readonly state: DistributedMapState;
  readonly stateName: string;
  /** The state's effective input. */
  readonly input: unknown;
  readonly executionArn: string;
  readonly store: MapObjectStore;
  /** Runs the ItemProcessor on one item (or batch) and reports how it ended. */
  runChild(definition: DistributedMapState['ItemProcessor'], input: unknown): Promise<ChildOutcome>;
}

/** Children a local Map runs at once at most, whatever its MaxConcurrency: the functions share this machine's cores. */
export const LOCAL_MAX_CHILDREN = Math.max(2, availableParallelism() * 2);
/** Distributed Map's own ceiling on parallel children (docs.aws.amazon.com/step-functions/latest/dg/concepts-asl-use-map-state-distributed.html). */
const AWS_MAX_CHILDREN = 10_000;

/** An error with the name Step Functions gives it (the Map fails with it, the execution too unless caught). */
function statesError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

export async function runDistributedMap(run: DistributedMapRun): Promise<unknown> {
  const { state, input } = run;
  const readerParameters = resolve(state.ItemReader.Parameters ?? {}, input) as { Bucket?: unknown; Key?: unknown };
  if (typeof readerParameters.Bucket !== 'string' || typeof readerParameters.Key !== 'string') {
    throw statesError('States.ItemReaderFailed', `ItemReader of ${run.stateName}: Bucket and Key must resolve to strings`);
  }
  const maxConcurrency = numberSetting(state.MaxConcurrency, state.MaxConcurrencyPath, input, 0);
  const tolerated = numberSetting(state.ToleratedFailurePercentage, state.ToleratedFailurePercentagePath, input, 0);
  const batcher = state.ItemBatcher;
  const maxItems = batcher ? numberSetting(batcher.MaxItemsPerBatch, batcher.MaxItemsPerBatchPath, input, 0) : 1;
  const maxBytes = batcher ? numberSetting(batcher.MaxInputBytesPerBatch, batcher.MaxInputBytesPerBatchPath, input, 0) : 0;
  const batchInput = batcher?.BatchInput ? resolve(batcher.BatchInput, input) : undefined;
  const limit = Math.min(maxConcurrency === 0 ? AWS_MAX_CHILDREN : maxConcurrency, LOCAL_MAX_CHILDREN);

  const succeeded: { input: unknown; output: unknown; name: string }[] = [];
  const failed: { input: unknown; error?: string; cause?: string; name: string }[] = [];
  const running = new Set<Promise<void>>();
  let children = 0;
  let stop: Error | undefined;
  const start = async (childInput: unknown) => {
    while (running.size >= limit) await Promise.race(running);
    if (stop) return;
    const name = `${String(children++).padStart(6, '0')}`;
    const child = run.runChild(state.ItemProcessor, childInput).then((outcome) => {
      if (outcome.status === 'SUCCEEDED') succeeded.push({ input: childInput, output: outcome.output, name });
      else {
        failed.push({ input: childInput, name, ...(outcome.error ? { error: outcome.error } : {}), ...(outcome.cause ? { cause: outcome.cause } : {}) });
        // With no failure tolerated the Map fails at the first one, as on AWS; else the share is judged at the end.
        if (tolerated === 0)
          stop ??= statesError('States.ExceedToleratedFailureThreshold', `${run.stateName}: a child execution failed (${outcome.error ?? 'error'}: ${outcome.cause ?? ''})`);
      }
    });
    const tracked = child.finally(() => running.delete(tracked));
    running.add(tracked);
  };

  let batch: unknown[] = [];
  let batchBytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const items = batch;
    batch = [];
    batchBytes = 0;
    await start(batcher ? { Items: items, ...(batchInput !== undefined ? { BatchInput: batchInput } : {}) } : items[0]);
  };
  let index = 0;
  for await (const value of readItems(run.store, readerParameters.Bucket, readerParameters.Key, state.ItemReader.ReaderConfig ?? {})) {
    const item = state.ItemSelector ? resolve(state.ItemSelector, input, { index, value }) : value;
    index++;
    const bytes = maxBytes > 0 ? Buffer.byteLength(JSON.stringify(item)) + 1 : 0;
    if (batch.length > 0 && ((maxItems > 0 && batch.length >= maxItems) || (maxBytes > 0 && batchBytes + bytes > maxBytes) || !batcher)) await flush();
    batch.push(item);
    batchBytes += bytes;
    if (stop) break;
  }
  if (!stop) await flush();
  await Promise.all(running);
  if (stop) throw stop;
  if (children > 0 && (failed.length / children) * 100 > tolerated) {
    throw statesError('States.ExceedToleratedFailureThreshold', `${run.stateName}: ${failed.length} of ${children} child executions failed, more than ${tolerated}%`);
  }

  const order = <T extends { name: string }>(list: T[]) => list.sort((a, b) => (a.name < b.name ? -1 : 1));
  if (!state.ResultWriter) return order(succeeded).map((s) => s.output);
  const writer = resolve(state.ResultWriter.Parameters ?? {}, input) as { Bucket?: unknown; Prefix?: unknown };
  if (typeof writer.Bucket !== 'string') throw statesError('States.ResultWriterFailed', `ResultWriter of ${run.stateName}: Bucket must resolve to a string`);
  const mapRunId = randomUUID();
  const mapRunArn = `${run.executionArn.replace(':execution:', ':mapRun:')}/${state.Label ?? run.stateName}:${mapRunId}`;
  const base = `${typeof writer.Prefix === 'string' && writer.Prefix !== '' ? `${writer.Prefix.replace(/\/$/, '')}/` : ''}${mapRunId}/`;
  const resultFiles: Record<'SUCCEEDED' | 'FAILED' | 'PENDING', { Key: string; Size: number }[]> = { SUCCEEDED: [], FAILED: [], PENDING: [] };
  const write = async (status: 'SUCCEEDED' | 'FAILED', records: unknown[]) => {
    if (records.length === 0) return;
    const key = `${base}${status}_0.json`;
    const body = JSON.stringify(records);
    await run.store.putObject(writer.Bucket as string, key, body);
    resultFiles[status].push({ Key: key, Size: Buffer.byteLength(body) });
  };
  // The children's inputs are left out of the result files (AWS writes them): a batch's input is the input object's rows again.
  await write(
    'SUCCEEDED',
    order(succeeded).map((s) => ({ Name: s.name, ExecutionArn: `${mapRunArn}:${s.name}`, Status: 'SUCCEEDED', Output: JSON.stringify(s.output) })),
  );
  await write(
    'FAILED',
    order(failed).map((f) => ({ Name: f.name, ExecutionArn: `${mapRunArn}:${f.name}`, Status: 'FAILED', Error: f.error, Cause: f.cause })),
  );
  const manifestKey = `${base}manifest.json`;
  await run.store.putObject(writer.Bucket, manifestKey, JSON.stringify({ DestinationBucket: writer.Bucket, MapRunArn: mapRunArn, ResultFiles: resultFiles }));
  return { MapRunArn: mapRunArn, ResultWriterDetails: { Bucket: writer.Bucket, Key: manifestKey } };
}

/** The items of the input object, read as a stream: CSV rows keyed by the header, JSON Lines values, or a JSON array's items. */
async function* readItems(store: MapObjectStore, bucket: string, key: string, config: NonNullable<DistributedMapState['ItemReader']['ReaderConfig']>): AsyncGenerator<unknown> {
  let body: AsyncIterable<Uint8Array>;
  try {
    body = await store.getObject(bucket, key);
  } catch (error) {
    throw statesError('States.ItemReaderFailed', `s3://${bucket}/${key}: ${(error as Error).message}`);
  }
  const stream = Readable.from(body);
  if (config.InputType === 'CSV') {
    const given = config.CSVHeaderLocation === 'GIVEN' ? config.CSVHeaders : undefined;
    let header: string[] | undefined = given;
    // Rows with fewer or more cells than the header are items too (missing cells absent); S3 ItemReader reads
    // each row as an object of strings keyed by the header.
    for await (const record of stream.pipe(parse({ bom: true, relax_column_count: true, skip_empty_lines: true })) as AsyncIterable<string[]>) {
      if (header === undefined) {
        header = record;
        continue;
      }
      const item: Record<string, string> = {};
      for (let c = 0; c < header.length && c < record.length; c++) item[header[c] as string] = record[c] as string;
      yield item;
    }
    return;
  }
  if (config.InputType === 'JSONL') {
    let line = 0;
    for await (const text of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
      line++;
      if (text.trim() === '') continue;
      try {
        yield JSON.parse(text);
      } catch (error) {
        throw statesError('States.ItemReaderFailed', `s3://${bucket}/${key}: line ${line} is not JSON (${(error as Error).message})`);
      }
    }
    return;
  }
  if (config.InputType === 'JSON') {
    // AWS reads a JSON array of items (up to its 10 GiB object limit): the whole object is parsed.
    const parts: Uint8Array[] = [];
    for await (const part of stream) parts.push(part as Uint8Array);
    let items: unknown;
    try {
      items = JSON.parse(Buffer.concat(parts).toString('utf8'));
    } catch (error) {
      throw statesError('States.ItemReaderFailed', `s3://${bucket}/${key} is not JSON (${(error as Error).message})`);
    }
    if (!Array.isArray(items)) throw statesError('States.ItemReaderFailed', `s3://${bucket}/${key}: a JSON ItemReader reads an array of items`);
    yield* items;
    return;
  }
  throw statesError('States.ItemReaderFailed', `the local runtime reads CSV, JSONL and JSON objects, not ${config.InputType ?? 'a manifest'}`);
}

function numberSetting(value: number | undefined, path: string | undefined, input: unknown, fallback: number): number {
  if (path !== undefined) {
    const resolved = readPath(input, path);
    if (typeof resolved !== 'number') throw statesError('States.Runtime', `${path} must be a number, got ${JSON.stringify(resolved)}`);
    return resolved;
  }
  return value ?? fallback;
}

/** A Parameters-style template resolved: keys ending in `.$` take the value at their path (`$` the input, `$$.Map.Item` the item). */
function resolve(template: Record<string, unknown>, input: unknown, item?: { index: number; value: unknown }): Record<string, unknown> {
  const resolved: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith('.$') && typeof value === 'string') {
      if (value === '$$.Map.Item.Index' && item) resolved[key.slice(0, -2)] = item.index;
      else if (value === '$$.Map.Item.Value' && item) resolved[key.slice(0, -2)] = item.value;
      else resolved[key.slice(0, -2)] = readPath(input, value);
    } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) resolved[key] = resolve(value as Record<string, unknown>, input, item);
    else resolved[key] = value;
  }
  return resolved;
}

/** `$` or `$.a.b` of a value (the paths the batch definition uses); anything else is refused by name. */
function readPath(value: unknown, path: string): unknown {
  if (path === '$') return value;
  if (!/^\$(\.[A-Za-z0-9_]+)+$/.test(path)) throw statesError('States.Runtime', `the local Distributed Map reads paths like $.a.b, not ${path}`);
  let current = value;
  for (const part of path.slice(2).split('.')) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, part)) {
      throw statesError('States.Runtime', `the JSONPath ${path} could not be found in the input`);
    }
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}
