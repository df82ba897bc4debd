// The docs run: every shell example of README.md and docs/*.md (fenced `sh` and `console` blocks), in the order
// written, against a local runtime started here — each file on a copy of the state a fresh `npm start` has (churn
// v1 live), as a reader starts each page. `npx modelgate` is the built CLI, the documented address
// 127.0.0.1:3000 is the runtime's, a command runs from a folder where examples/ and test/ are this checkout's.
// The printed output must have the documented shape (test/support/doc-examples.ts matchShape) and the exit code
// 0, or non-zero where the documented output is a `modelgate <command>: ...` failure. Ids the runtime makes up
// are learned from matched output and replace the documented ones in later commands; `<id>` is the last
// predictionId printed. What is not run is checked without running: `<!-- aws-only -->` blocks (an AWS account)
// and `<!-- not-run: why -->` blocks (a situation the docs do not create), and synopses (`<placeholders>`,
// `[--options]`), have their modelgate commands and flags checked against the CLI's declarations, `npm start`
// flags against local/start-options.ts, `npm run` scripts against package.json, `cdk -c` keys against the app's.
// `npm ci`, `npm test`, `npm install` and `npm pack` are what the test's own setup stands for
// (test/package/install.test.ts packs and installs).
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GLOBAL_FLAGS } from '../../cli/args';
import { COMMANDS } from '../../cli/main';
import { STAGES } from '../../lib/app/stage-config';
import { startRuntime, type Runtime, type RuntimeOptions } from '../../local/runtime';
import { START_OPTIONS } from '../../local/start-options';
import { assignmentOf, blocksOf, isSynopsis, jsonShapeProblem, matchShape, type Block, type Example } from '../support/doc-examples';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'cli', 'modelgate.mjs');
const FILES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];
const DOCUMENTED_ADDRESS = /(?:http:\/\/)?(?:127\.0\.0\.1|localhost):3000/g;
/** Placeholders the test fills: the predictionId of the last answer. */
const PREDICTION_ID_PLACEHOLDERS = ['<id from the answer>', '<id>'];
/** `modelgate` commands that talk to a stack (the others read files only). */
const STACK_COMMANDS = new Set(['push', 'models', 'promote', 'rollback', 'retire', 'experiment', 'errors', 'reingest', 'replay']);
/** Context keys bin/app.ts reads (lib/app/modelgate-app.ts). */
const CDK_CONTEXT = new Set(['stage', 'deployExample', 'notificationEmails', 'config']);
const SCRIPTS = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
// Waits and schedules run 600 times faster (a 30-minute canary bakes in 3 s); alarms are not re-evaluated.
const RUNTIME: RuntimeOptions = { port: 0, echoLogs: false, timeScale: 600, alarmTickMs: 3_600_000, print: () => undefined };

const work = mkdtempSync(join(tmpdir(), 'modelgate-docs-'));
const golden = join(work, 'fresh-state');
const blocks = FILES.flatMap((file) => blocksOf(file, readFileSync(join(ROOT, file), 'utf8')).blocks);

beforeAll(async () => {
  const runtime = await startRuntime({ ...RUNTIME, stateDir: golden, clean: true });
  await runtime.close();
}, 180_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Shell words of a command (quotes removed); enough for flags and names. */
function words(command: string): string[] {
  return [...command.replace(/\\\n/g, ' ').matchAll(/'[^']*'|"[^"]*"|[^\s'"]+/g)].map((m) => m[0].replace(/^['"]|['"]$/g, ''));
}

/** What is wrong with a command as the docs write it, checked without running it (undefined: nothing). */
function staticProblem(command: string, block: Block): string | undefined {
  const [first, second, ...rest] = words(command.replace(/\s+#.*$/gm, ''));
  if (first === 'npx' && second === 'modelgate') return modelgateProblem(command);
  if (first === 'npx' && second === 'cdk') {
    const args = rest.join(' ');
    for (const [, key, value] of args.matchAll(/-c\s+([\w.]+)=(\S+)/g)) {
      if (!CDK_CONTEXT.has(key as string)) return `cdk -c ${key}: not a context key the app reads (${[...CDK_CONTEXT].join(', ')})`;
      if (key === 'stage' && !STAGES.includes(value as (typeof STAGES)[number])) return `cdk -c stage=${value}: not a stage (${STAGES.join(', ')})`;
    }
    return ['synth', 'deploy', 'destroy', 'diff'].includes(rest[0] as string) ? undefined : `cdk ${rest[0]}: not a cdk command the docs use`;
  }
  if (first === 'npm') {
    if (second === 'start') {
      const unknown = [...command.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1] as string).find((flag) => !(flag in START_OPTIONS));
      return unknown ? `npm start: unknown option --${unknown}` : undefined;
    }
    if (second === 'run') return (rest[0] as string) in SCRIPTS ? undefined : `npm run ${rest[0]}: no such script`;
    if (['ci', 'test', 'install', 'pack'].includes(second as string)) return command.includes('&&') ? staticProblem(command.split('&&')[1] as string, block) : undefined;
    return `npm ${second}: not an npm command the docs test knows`;
  }
  if (first === 'curl' || first === 'sleep') return undefined;
  if (assignmentOf(command) !== undefined) return /\baws\s/.test(command) && block.mark?.kind !== 'aws-only' ? 'an AWS call: mark the block aws-only' : undefined;
  if ((first === 'export' || first === 'aws') && block.mark?.kind === 'aws-only') return undefined;
  return `${first}: not a command the docs test knows (teach it, or mark the block)`;
}

/** The command, sub-command and every flag of a `npx modelgate` line (a synopsis too) against the CLI's declarations. */
function modelgateProblem(command: string): string | undefined {
  const [, , name, sub] = words(command);
  const spec = COMMANDS.find((c) => c.name === name);
  if (!spec) return `modelgate ${name}: no such command`;
  let options = Object.keys(spec.options);
  let renamed = Object.keys(spec.renamed ?? {});
  if (spec.subcommands && sub !== undefined && !sub.startsWith('<') && !sub.startsWith('-')) {
    const subSpec = spec.subcommands[sub.replace(/[[\]|]/g, '')];
    if (!subSpec) return `modelgate ${name} ${sub}: no such sub-command`;
    options = Object.keys(subSpec.options);
    renamed = Object.keys(subSpec.renamed ?? {});
  }
  const flags = [
    ...command
      .replace(/'[^']*'|"[^"]*"/g, '')
      .replace(/#.*$/gm, '')
      .matchAll(/(?<![\w-])--([a-z][a-z-]*)/g),
  ].map((m) => m[1] as string);
  const unknown = flags.find((flag) => !options.includes(flag) && !renamed.includes(flag) && !(GLOBAL_FLAGS as readonly string[]).includes(flag));
  return unknown ? `modelgate ${name}: unknown option --${unknown}` : undefined;
}

/** Whether the block has a command that needs an AWS account. */
function needsAws(block: Block): boolean {
  return block.examples.some((e) => /(?:^|\s)--aws\b|MODELGATE_TARGET=aws|\bcdk deploy\b|^(?:\S+=\$\()?aws\s/m.test(e.command));
}

function isRunnable(block: Block, example: Example): boolean {
  const command = /^(npx modelgate|curl|sleep)\b/.test(example.command) || assignmentOf(example.command) !== undefined;
  return block.lang !== 'text' && block.mark === undefined && command && !isSynopsis(example.command, PREDICTION_ID_PLACEHOLDERS);
}

/** The documented output is a CLI failure line: `modelgate <command>: <what went wrong>; <next step>`. */
function isDocumentedFailure(example: Example): boolean {
  return /^modelgate [a-z]+(?: [a-z]+)?: /.test(example.output[0] ?? '');
}

function needsRuntime(example: Example): boolean {
  const [, , name, next] = words(example.command);
  return /\bcurl\b|\.modelgate\//.test(example.command) || STACK_COMMANDS.has(name as string) || (name === 'drift' && next !== undefined && !next.startsWith('-'));
}

describe('the docs, read without running', () => {
  it('tag every shell example `sh` or `console` (an example) or `text` (a synopsis)', () => {
    const untagged = FILES.flatMap((file) => blocksOf(file, readFileSync(join(ROOT, file), 'utf8')).untagged.map((line) => `${file}:${line}`));
    expect(untagged).toEqual([]);
  });

  it('mark the blocks that need AWS `<!-- aws-only -->`, and only those', () => {
    const wrong = blocks
      .filter((b) => b.lang !== 'text' && needsAws(b) !== (b.mark?.kind === 'aws-only'))
      .map((b) => `${b.file}:${b.line} ${b.mark?.kind === 'aws-only' ? 'is marked aws-only but needs no AWS account' : 'needs AWS: mark it <!-- aws-only -->'}`);
    expect(wrong).toEqual([]);
  });

  it('name commands, sub-commands and flags that exist, in every block (synopses, AWS-only and not-run ones too)', () => {
    const problems = blocks.flatMap((block) =>
      // A documented failure shows a mistake on purpose (`--stratgy`): running it checks its message.
      block.examples
        .filter((example) => !isDocumentedFailure(example))
        .flatMap((example) => {
          const problem = staticProblem(example.command, block);
          return problem ? [`${block.file}:${block.line}: ${problem}\n  ${example.command}`] : [];
        }),
    );
    expect(problems).toEqual([]);
  });
});

/** Files run two at a time, each on its own runtime: most of a file's time is waiting for the pipeline. */
const slots = { free: 2, waiting: [] as (() => void)[] };
async function slot(): Promise<() => void> {
  if (slots.free > 0) slots.free--;
  else await new Promise<void>((resolve) => slots.waiting.push(resolve));
  return () => {
    const next = slots.waiting.shift();
    if (next) next();
    else slots.free++;
  };
}

describe('the docs, run in the order written', () => {
  for (const file of FILES) {
    const fileBlocks = blocks.filter((b) => b.file === file);
    const runnable = fileBlocks.flatMap((block) => block.examples.filter((example) => isRunnable(block, example)).map((example) => ({ block, example })));
    if (runnable.length === 0) continue;
    it.concurrent(`${file}: ${runnable.length} example(s)`, async ({ expect }) => {
      const release = await slot();
      let runtime: Runtime | undefined;
      const ids = new Map<string, string>();
      /** Shell variables the file's commands set (`KEY=$(...)`), for the commands after them. */
      const variables: Record<string, string> = {};
      let predictionId: string | undefined;
      try {
        const folder = join(work, file.replace(/[/.]/g, '-'));
        mkdirSync(folder);
        for (const shared of ['examples', 'test']) symlinkSync(join(ROOT, shared), join(folder, shared));
        if (runnable.some(({ example }) => needsRuntime(example))) {
          const stateDir = join(folder, '.modelgate');
          cpSync(golden, stateDir, { recursive: true });
          runtime = await startRuntime({ ...RUNTIME, stateDir });
        }
        for (const { block, example } of runnable) {
          let command = example.command;
          for (const [documented, printed] of ids) command = command.replaceAll(documented, printed);
          for (const placeholder of PREDICTION_ID_PLACEHOLDERS) if (predictionId) command = command.replaceAll(placeholder, predictionId);
          if (runtime) command = command.replace(DOCUMENTED_ADDRESS, runtime.apiUrl);
          const variable = assignmentOf(command);
          const result = await shell(variable ? `${command}\nprintf %s "$${variable}"` : command, folder, runtime, variables);
          if (variable) variables[variable] = result.output;
          const where = `${file}:${block.line}: ${example.command}\nran: ${command}\nexit ${result.code}, printed:\n${result.output}`;
          const failure = isDocumentedFailure(example);
          expect(failure ? result.code !== 0 : result.code === 0, `${where}\n(expected exit ${failure ? 'non-zero' : '0'})`).toBe(true);
          const documented = example === block.examples.at(-1) && block.outputAfter ? block.outputAfter : example.output;
          if (documented.length > 0) {
            const shape = matchShape(documented, result.output.split('\n'));
            expect(shape.ok ? '' : shape.reason, where).toBe('');
            if (shape.ok) for (const [documented, printed] of shape.ids) ids.set(documented, printed);
          }
          // An answer the docs do not show must not be an error (a missing API key answers {"message":"Forbidden"}).
          if (example.command.startsWith('curl') && documented.length === 0 && block.jsonAfter === undefined) expect(result.output, where).not.toMatch(/^\{"(error|message)"/);
          if (block.jsonAfter !== undefined && example === block.examples.at(-1)) {
            let printed: unknown;
            expect(() => (printed = JSON.parse(result.output)), where).not.toThrow();
            expect(jsonShapeProblem(JSON.parse(block.jsonAfter), printed), where).toBeUndefined();
          }
          predictionId = [...result.output.matchAll(/"predictionId":\s*"([^"]+)"/g)].at(-1)?.[1] ?? predictionId;
        }
      } finally {
        await runtime?.close();
        release();
      }
    }, 600_000);
  }
});

/** Runs a command as the docs write it, in bash, with `npx modelgate` the built CLI; stdout and stderr in order. */
function shell(command: string, cwd: string, runtime: Runtime | undefined, variables: Readonly<Record<string, string>>): Promise<{ code: number; output: string }> {
  const prelude = ['exec 2>&1', 'npx() { if [ "$1" = modelgate ]; then shift; "$DOCS_NODE" "$DOCS_CLI" "$@"; else echo "npx $1: not run by the docs test"; return 127; fi; }'].join(
    '\n',
  );
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('MODELGATE_'))),
    DOCS_NODE: process.execPath,
    DOCS_CLI: CLI,
    ...variables,
    ...(runtime ? { MODELGATE_STATE_DIR: runtime.stateDir } : {}),
  };
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `${prelude}\n${command}`], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output: output.trimEnd() }));
  });
}
