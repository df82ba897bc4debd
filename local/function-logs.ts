import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { LocalMetricStore } from './metrics-store';

export interface FunctionLogsOptions {
  /** `<stateDir>/logs`: one file per function, every line of every version (EMF included, as in CloudWatch Logs). */
  readonly directory: string;
  readonly metrics: LocalMetricStore;
  /** Print non-EMF lines to the console. */
  readonly echo: boolean;
  readonly print?: (text: string) => void;
}

/**
 * What CloudWatch Logs does with a function's output: keeps every line (here, appended to a file per
 * function, prefixed with the version) and extracts the EMF metrics into the metric store. Metric lines
 * are not echoed to the console: at a few hundred requests a second they would drown everything else.
 */
export class FunctionLogs {
  private readonly streams = new Map<string, WriteStream>();
  private readonly print: (text: string) => void;

  constructor(private readonly options: FunctionLogsOptions) {
    mkdirSync(options.directory, { recursive: true });
    this.print = options.print ?? ((text) => console.log(text));
  }

  /** The LocalLambdaService `onLogLine` callback. */
  readonly onLogLine = (functionName: string, version: string, line: string): void => {
    const isMetric = this.options.metrics.ingestLine(line);
    this.stream(functionName).write(`[${version}] ${line}\n`);
    if (!isMetric && this.options.echo) this.print(`[${functionName}:${version}] ${line}`);
  };

  async close(): Promise<void> {
    await Promise.all([...this.streams.values()].map((s) => new Promise<void>((resolve) => s.end(() => resolve()))));
    this.streams.clear();
  }

  private stream(functionName: string): WriteStream {
    let stream = this.streams.get(functionName);
    if (!stream) {
      stream = createWriteStream(join(this.options.directory, `${functionName}.log`), { flags: 'a' });
      this.streams.set(functionName, stream);
    }
    return stream;
  }
}
