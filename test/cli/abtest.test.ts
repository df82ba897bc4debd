// `modelgate abtest` as users run it: a subprocess, checked on the known answers and on bad input.
import { describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../support/cli';

function abtest(...args: string[]): Promise<CliResult> {
  return runCli(['abtest', ...args]);
}

async function abtestJson(...args: string[]): Promise<Record<string, unknown>> {
  const { code, stdout, stderr } = await abtest(...args, '--json');
  expect(stderr).toBe('');
  expect(code).toBe(0);
  return JSON.parse(stdout) as Record<string, unknown>;
}

const meanControl = JSON.stringify({ n: 3407, sum: 1396.87, sumSquares: 52377.9767 });
const meanTreatment = JSON.stringify({ n: 3461, sum: 2422.7, sumSquares: 134698.29 });

function expectClose(actual: unknown, expected: readonly number[]): void {
  const values = actual as number[];
  expect(values).toHaveLength(expected.length);
  expected.forEach((e, i) => {
    expect(values[i]).toBeCloseTo(e, 4);
  });
}

describe.concurrent('abtest --json on the known answers', () => {
  it('mean metric, relative (default frequentist engine)', async () => {
    const out = await abtestJson('--control', meanControl, '--treatment', meanTreatment);
    expect(Object.keys(out)).toEqual(['lift', 'ci', 'pValue']);
    expectClose([out.lift, out.pValue], [0.70732, 0.06191]);
    expectClose(out.ci, [-0.03526, 1.44989]);
  });

  it('mean metric, absolute', async () => {
    const out = await abtestJson('--control', meanControl, '--treatment', meanTreatment, '--absolute');
    expectClose([out.lift, out.pValue], [0.29, 0.02016]);
    expectClose(out.ci, [0.04538, 0.53462]);
  });

  it('proportion, relative', async () => {
    const out = await abtestJson('--control', '{"n":28,"conversions":14}', '--treatment', '{"n":30,"conversions":16}');
    expectClose([out.lift, out.pValue], [0.06667, 0.80707]);
    expectClose(out.ci, [-0.47767, 0.61101]);
  });

  it('sequential, mean metric, N* = 1000', async () => {
    const control = JSON.stringify({ n: 3000, sum: 1396.87, sumSquares: 52377.9767 });
    const out = await abtestJson('--control', control, '--treatment', meanTreatment, '--engine', 'sequential', '--sequential-tuning', '1000');
    expectClose(out.ci, [-0.55844, 1.56516]);
    expect(out.pValue).toBe(1);
  });

  it('sequential, proportion, N* = 5000', async () => {
    const out = await abtestJson(
      '--control',
      '{"n":3000,"conversions":1396}',
      '--treatment',
      '{"n":3461,"conversions":2422}',
      '--engine',
      'sequential',
      '--sequential-tuning',
      '5000',
    );
    expectClose([out.lift], [0.50386]);
    expectClose(out.ci, [0.40098, 0.60675]);
  });

  it('bayesian, proportion: chance to win instead of a p-value', async () => {
    const out = await abtestJson('--control', '{"n":100,"conversions":49}', '--treatment', '{"n":100,"conversions":51}', '--engine', 'bayesian');
    expect(Object.keys(out)).toEqual(['lift', 'ci', 'chanceToWin']);
    expectClose([out.chanceToWin], [0.60918]);
    expectClose(out.ci, [-0.24779, 0.32943]);
  });

  it('bayesian, mean metric, with a proper prior', async () => {
    const control = JSON.stringify({ n: 10, sum: 100, sumSquares: 1002.25 });
    const treatment = JSON.stringify({ n: 10, sum: 105, sumSquares: 1111.5 });
    const flat = await abtestJson('--control', control, '--treatment', treatment, '--engine', 'bayesian');
    expectClose([flat.lift, flat.chanceToWin], [0.05, 0.91923]);
    expectClose(flat.ci, [-0.02, 0.12]);
    const informed = await abtestJson('--control', control, '--treatment', treatment, '--engine', 'bayesian', '--prior-mean', '0.1', '--prior-variance', '0.1');
    expectClose([informed.lift, informed.chanceToWin], [0.05063, 0.92315]);
  });

  it('sample ratio check alone', async () => {
    const out = await abtestJson('--srm', '1000,1200', '--weights', '0.5,0.5');
    expect(Object.keys(out)).toEqual(['srm']);
    const srm = out.srm as Record<string, unknown>;
    expect(srm).toMatchObject({ observed: [1000, 1200], expected: [1100, 1100], mismatch: true });
    expectClose([srm.chiSquared], [18.18182]);
    expect((srm.pValue as number) / 2.0e-5).toBeCloseTo(1, 1);
  });

  it('sample ratio from the arms when --weights is given', async () => {
    const out = await abtestJson('--control', meanControl, '--treatment', meanTreatment, '--weights', '0.5,0.5');
    expect(Object.keys(out)).toEqual(['lift', 'ci', 'pValue', 'srm']);
    expect(out.srm).toMatchObject({ observed: [3407, 3461], mismatch: false });
  });

  it('no mismatch at 5000 / 5100', async () => {
    const srm = (await abtestJson('--srm', '5000,5100')).srm as Record<string, unknown>;
    expectClose([srm.pValue], [0.3197]);
    expect(srm.mismatch).toBe(false);
  });
});

describe.concurrent('abtest human-readable output', () => {
  it('reads as a report', async () => {
    const { code, stdout } = await abtest('--control', meanControl, '--treatment', meanTreatment, '--srm', '1000,1200');
    expect(code).toBe(0);
    expect(stdout).toContain('frequentist engine, relative lift of treatment over control, 95% confidence interval');
    expect(stdout).toMatch(/lift\s+\+70\.73%\s+\[-3\.53%, \+144\.99%\]/);
    expect(stdout).toMatch(/p-value\s+0\.06191 \(not significant at alpha 0\.05\)/);
    expect(stdout).toContain('sample ratio MISMATCH (p < 0.001): the experiment is invalid');
  });

  it('shows chance to win and risk for the Bayesian engine', async () => {
    const { stdout } = await abtest('--control', '{"n":100,"conversions":49}', '--treatment', '{"n":100,"conversions":51}', '--engine', 'bayesian');
    expect(stdout).toMatch(/chance to win\s+60\.92%/);
    expect(stdout).toMatch(/risk\s+keep control 8\.14%, ship treatment 4\.06%/);
  });
});

describe.concurrent('abtest bad input exits 2 naming the flag and the reason', () => {
  const proportion = '{"n":30,"conversions":16}';
  it.each([
    {
      name: 'bad JSON',
      args: ['--control', '{"n":28,', '--treatment', proportion],
      message: /--control: not valid JSON/,
    },
    {
      name: 'missing field',
      args: ['--control', '{"n":28,"sum":3}', '--treatment', meanTreatment],
      message: /--control: sumSquares is missing/,
    },
    {
      name: 'neither metric shape',
      args: ['--control', '{"n":28}', '--treatment', proportion],
      message: /--control: arm must be \{n, sum, sumSquares\}/,
    },
    {
      name: 'negative n',
      args: ['--control', '{"n":-5,"conversions":1}', '--treatment', proportion],
      message: /--control: n must be a whole number of units >= 2, got -5/,
    },
    {
      name: 'conversions > n',
      args: ['--control', '{"n":28,"conversions":29}', '--treatment', proportion],
      message: /--control: conversions must not exceed n \(28\), got 29/,
    },
    {
      name: 'different metric kinds',
      args: ['--control', meanControl, '--treatment', proportion],
      message: /--treatment: must be the same kind of metric/,
    },
    {
      name: 'zero control mean, relative',
      args: ['--control', '{"n":28,"conversions":0}', '--treatment', proportion],
      message: /--control: a relative lift needs a non-zero control mean/,
    },
    {
      name: 'weights not summing to 1',
      args: ['--srm', '1000,1200', '--weights', '0.5,0.6'],
      message: /--weights: must sum to 1, got 1.1/,
    },
    {
      name: 'one weight per arm',
      args: ['--srm', '1000,1200', '--weights', '1'],
      message: /--weights: need one weight per arm \(2\), got 1/,
    },
    { name: 'negative count', args: ['--srm', '1000,-2'], message: /--srm: must be whole numbers >= 0, got -2/ },
    {
      name: 'unknown engine',
      args: ['--control', proportion, '--treatment', proportion, '--engine', 'magic'],
      message: /--engine: must be one of frequentist, sequential, bayesian, got "magic"/,
    },
    {
      name: 'alpha out of range',
      args: ['--control', proportion, '--treatment', proportion, '--alpha', '1.5'],
      message: /--alpha: must be between 0 and 1, got 1.5/,
    },
    {
      name: 'tuning without the sequential engine',
      args: ['--control', proportion, '--treatment', proportion, '--sequential-tuning', '5000'],
      message: /--sequential-tuning needs --engine sequential/,
    },
    {
      name: 'a prior without variance',
      args: ['--control', proportion, '--treatment', proportion, '--engine', 'bayesian', '--prior-mean', '0', '--prior-variance', '0'],
      message: /--prior-mean, --prior-variance: needs a finite mean and a variance > 0/,
    },
    { name: 'one arm only', args: ['--control', proportion], message: /--treatment is required/ },
    { name: 'nothing to do', args: [], message: /give --control and --treatment, or --srm/ },
    { name: 'unknown flag', args: ['--srm', '1,2', '--bogus'], message: /unknown option --bogus; `modelgate abtest --help` lists the options/ },
    { name: 'a typo of a flag', args: ['--srm', '1,2', '--weigths', '0.5,0.5'], message: /unknown option --weigths; did you mean --weights\?/ },
  ])('$name', async ({ args, message }) => {
    const { code, stdout, stderr } = await abtest(...args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    // One line, ending with what to do next.
    expect(stderr).toMatch(/^modelgate abtest: [^\n]+; [^\n]+\n$/);
  });
});
