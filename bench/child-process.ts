// Benchmark servers in their own processes: what the measured code talks to (S3, DynamoDB, the runtime)
// runs on another core, as a remote service would, instead of taking turns with it on one thread.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ENDPOINTS_FILE, type LocalEndpoints } from '../local/state-files';

/** Starts a TypeScript entry in a child process; resolves with the first stdout match of `ready`. */
export function startChild(args: string[], ready: RegExp, timeoutMs = 120_000): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const errors: string[] = [];
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => errors.push(line));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args[0]} not ready after ${timeoutMs / 1000} s: ${errors.slice(-10).join('\n')}`));
    }, timeoutMs);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const match = ready.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited with ${code} before it was ready: ${errors.slice(-10).join('\n')}`));
    });
  });
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/**
 * The local runtime as `npm start` runs it (clean state in `stateDir`, quiet, a free port), ready to serve: its
 * process and the endpoints it wrote for the CLI.
 */
export async function startRuntimeChild(stateDir: string): Promise<{ child: ChildProcess; endpoints: LocalEndpoints }> {
  const { child } = await startChild(['local/start.ts', '--clean', '--quiet', '--port', '0', '--state-dir', stateDir], /^\s+API\s+(http:\/\/\S+)/);
  await new Promise((resolve) => setTimeout(resolve, 500)); // let the ready banner finish
  return { child, endpoints: JSON.parse(readFileSync(join(stateDir, ENDPOINTS_FILE), 'utf8')) as LocalEndpoints };
}

/**
 * A process and every process it started, from /proc (the parent pid is field 4 of /proc/<pid>/stat), each named
 * `<command> <pid>` — the root `<rootName> <pid>`.
 */
export function processTree(root: number, rootName: string): Map<number, string> {
  const parents = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), parent);
      names.set(Number(entry), name);
    } catch {
      // ended while listed
    }
  }
  const tree = new Map<number, string>([[root, `${rootName} ${root}`]]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, parent] of parents) {
      if (!tree.has(pid) && tree.has(parent)) {
        tree.set(pid, `${names.get(pid) ?? '?'} ${pid}`);
        grew = true;
      }
    }
  }
  return tree;
}
