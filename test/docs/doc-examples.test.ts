// How the docs test reads markdown and compares a documented output with a printed one: what passes (other
// numbers, ids and times; padding; elided parts) and what fails (another word, a missing or extra line).
import { describe, expect, it } from 'vitest';
import { blocksOf, isSynopsis, jsonShapeProblem, matchShape } from '../support/doc-examples';

describe('reading the examples of a markdown file', () => {
  const markdown = [
    'Intro.',
    '',
    '```sh',
    'curl -s -X POST http://127.0.0.1:3000/v1/x -d \'{"a": 1,',
    '  "b": 2}\'',
    '# {"ok":true}',
    'npx modelgate models churn \\',
    '  --json',
    "npx modelgate push bundle/   # a comment's ' quotes nothing",
    'npx modelgate models churn',
    '```',
    '',
    '```json',
    '{"x": [1]}',
    '```',
    '',
    '<!-- not-run: the runtime must have crashed -->',
    '```console',
    '$ npx modelgate models churn',
    'modelgate models: the local runtime is not running',
    '',
    '$ npx modelgate abtest --srm 1,2',
    '{"srm":…}',
    '```',
    '',
    '<!-- aws-only -->',
    '```text',
    'npx modelgate drift <model> [--since 1h]',
    '                    [--json]',
    '```',
    '',
    '```',
    'npx modelgate push bundle/',
    '```',
  ].join('\n');
  const { blocks, untagged } = blocksOf('doc.md', markdown);

  it('sh: a command per line, an open quote or a backslash continues it, `# ` lines under it are its output; the JSON block after it', () => {
    expect(blocks[0]).toMatchObject({ line: 3, lang: 'sh', jsonAfter: '{"x": [1]}' });
    expect(blocks[0]?.examples).toEqual([
      { command: 'curl -s -X POST http://127.0.0.1:3000/v1/x -d \'{"a": 1,\n  "b": 2}\'', output: ['{"ok":true}'] },
      { command: 'npx modelgate models churn \\\n  --json', output: [] },
      { command: "npx modelgate push bundle/   # a comment's ' quotes nothing", output: [] },
      { command: 'npx modelgate models churn', output: [] },
    ]);
  });

  it('console: `$ ` commands with their output; the mark above a block; synopses in text blocks; untagged shell blocks found', () => {
    expect(blocks[1]).toMatchObject({ lang: 'console', mark: { kind: 'not-run', reason: 'the runtime must have crashed' } });
    expect(blocks[1]?.examples).toEqual([
      { command: 'npx modelgate models churn', output: ['modelgate models: the local runtime is not running'] },
      { command: 'npx modelgate abtest --srm 1,2', output: ['{"srm":…}'] },
    ]);
    expect(blocks[2]).toMatchObject({ lang: 'text', mark: { kind: 'aws-only' }, examples: [{ command: 'npx modelgate drift <model> [--since 1h] [--json]', output: [] }] });
    expect(untagged).toEqual([32]);
  });

  it('a synopsis has placeholders or optional flags, except the placeholders the test fills', () => {
    expect(isSynopsis('npx modelgate drift <model> --json', [])).toBe(true);
    expect(isSynopsis('npx modelgate rollback churn [--to 1]', [])).toBe(true);
    expect(isSynopsis('curl -d \'{"predictionId": "<id>"}\'', ['<id>'])).toBe(false);
    expect(isSynopsis('npx modelgate models churn --json', [])).toBe(false);
  });
});

describe('comparing a documented output with a printed one', () => {
  const documented = [
    'experiment churn-1-vs-2-b28a4e: churn v1 (Lambda version 2)',
    '  runs           from 2026-11-26T22:13:26.782Z for at most 14 days',
    '...',
    'decision: Keep the experiment running.',
  ];

  it('other numbers, times and ids, other padding, and any lines where a line is `...`, fit; the ids learned', () => {
    const printed = [
      'experiment churn-1-vs-2-3f9a1c: churn v1 (Lambda version 7)',
      '  runs  from 2027-01-02T03:04:05.678Z for at most 14 days',
      'a',
      'b',
      'decision: Keep the experiment running.',
    ];
    expect(matchShape(documented, printed)).toEqual({ ok: true, ids: new Map([['b28a4e', '3f9a1c']]) });
  });

  it('another word, a missing line, a line between lines the docs show one after the other, or more lines fail', () => {
    expect(
      matchShape(documented, [
        'experiment churn-1-vs-2-3f9a1c: churn v1 (Lambda version 7)',
        '  runs from 2027-01-02T03:04:05.678Z for at most 14 days',
        'decision: Ship the treatment.',
      ]),
    ).toMatchObject({ ok: false });
    expect(matchShape(documented, ['experiment churn-1-vs-2-3f9a1c: churn v1 (Lambda version 7)'])).toMatchObject({
      ok: false,
      reason: expect.stringContaining('the output ended'),
    });
    expect(matchShape(['a 1', 'b 2'], ['a 1', 'x', 'b 2'])).toMatchObject({ ok: false, reason: expect.stringContaining('got: x') });
    expect(matchShape(['a 1'], ['a 1', 'b 2'])).toMatchObject({ ok: false, reason: 'more output than documented, from: b 2' });
  });

  it('`…` inside a line stands for any text', () => {
    expect(matchShape(['{"error":"ValidationError","issues":[...]}'], ['{"error":"ValidationError","issues":[{"field":"gender"}]}'])).toMatchObject({ ok: true });
    expect(matchShape(['{"model":{"name":"churn","version":"…"}}'], ['{"model":{"name":"fraud","version":"3"}}'])).toMatchObject({ ok: false });
  });

  it('JSON: the documented keys must be there, with values of the same type', () => {
    const doc = { model: { name: 'churn' }, predictions: [{ predictionId: '…', label: 'Yes' }] };
    expect(jsonShapeProblem(doc, { model: { name: 'churn', version: '1' }, predictions: [{ predictionId: 'p', label: 'No', probabilities: {} }] })).toBeUndefined();
    expect(jsonShapeProblem(doc, { model: { name: 'churn' }, predictions: [{ label: 'No' }] })).toBe('$.predictions[0].predictionId: missing');
    expect(jsonShapeProblem(doc, { model: 'churn', predictions: [] })).toBe('$.model: expected an object, got "churn"');
  });
});
