// The GitHub workflows: no expression in a run script. GitHub pastes `${{ ... }}` into the script before the
// shell parses it, so a workflow input (or anything else a person can type) would run as code with the job's
// AWS role; values reach scripts through `env:` and are quoted there.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const folder = new URL('../../.github/workflows/', import.meta.url);
const files = readdirSync(folder).filter((name) => /\.ya?ml$/.test(name));

/** Every `run:` script of a workflow, with its first line number: the inline value or the block under it. */
function runScripts(text: string): { line: number; script: string }[] {
  const lines = text.split('\n');
  const scripts: { line: number; script: string }[] = [];
  lines.forEach((line, i) => {
    const match = /^(\s*)(?:- )?run:\s?(.*)$/.exec(line);
    if (!match) return;
    const indent = (match[1] as string).length + (line.trimStart().startsWith('- ') ? 2 : 0);
    const inline = (match[2] as string).trim();
    if (!/^[|>][-+]?$/.test(inline)) {
      scripts.push({ line: i + 1, script: inline });
      return;
    }
    const block: string[] = [];
    for (let j = i + 1; j < lines.length; j++) {
      const next = lines[j] as string;
      if (next.trim() !== '' && next.length - next.trimStart().length <= indent) break;
      block.push(next);
    }
    scripts.push({ line: i + 1, script: block.join('\n') });
  });
  return scripts;
}

describe('workflows', () => {
  it('finds the run scripts of a workflow, inline and in blocks', () => {
    const text = ['steps:', '  - run: echo "${{ inputs.a }}"', '  - name: x', '    run: |', '      echo one', '      echo "${{ inputs.b }}"', '    env:', '      B: 1'].join('\n');
    expect(runScripts(text)).toEqual([
      { line: 2, script: 'echo "${{ inputs.a }}"' },
      { line: 4, script: '      echo one\n      echo "${{ inputs.b }}"' },
    ]);
  });

  it.each(files)('%s has no expression in a run script', (file) => {
    const scripts = runScripts(readFileSync(new URL(file, folder), 'utf8'));
    expect(scripts.length).toBeGreaterThan(0);
    expect(scripts.filter((s) => s.script.includes('${{')).map((s) => `${file}:${s.line}`)).toEqual([]);
    // GitHub runs them with bash: each must parse.
    for (const { line, script } of scripts) expect(spawnSync('bash', ['-n'], { input: script }).status, `${file}:${line}`).toBe(0);
  });
});
