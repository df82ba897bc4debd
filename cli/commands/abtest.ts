// `modelgate abtest`: the offline A/B calculator. It reads per-arm sufficient statistics from flags and runs
// the same core functions as the monitoring Lambdas, so a number from the CLI is the number in production.
import { analyzeMetric, ENGINES, type AnalysisResult, type Engine } from '../../lambdas/core/experiments/analysis';
import type { GaussianPrior } from '../../lambdas/core/experiments/bayesian';
import { EXPERIMENT_DEFAULTS } from '../../lambdas/core/experiments/defaults';
import { checkSampleRatio, type SampleRatioCheck } from '../../lambdas/core/experiments/srm';
import { armMoments, ExperimentDataError, toArmStats, type ArmStats } from '../../lambdas/core/experiments/sufficient-statistics';
import type { CommandRun } from '../command';
import type { abtestOptions } from '../specs/abtest';
import { UsageError } from '../usage-error';

export const runAbtest: CommandRun<typeof abtestOptions> = async ({ values }) => {
  const request = readRequest(values);
  const { arms, sampleRatio } = request;
  const analysis = arms && withFlags(() => analyzeMetric(arms.control, arms.treatment, request.options));
  const srm = sampleRatio && withFlags(() => checkSampleRatio(sampleRatio.counts, sampleRatio.weights));
  console.log(values.json ? JSON.stringify(toJson(analysis, srm)) : toText(request, analysis, srm));
  return 0;
};

type Values = Record<string, string | boolean | undefined>;

interface Request {
  readonly arms?: { readonly control: ArmStats; readonly treatment: ArmStats };
  readonly options: {
    readonly engine: Engine;
    readonly scale: 'relative' | 'absolute';
    readonly alpha: number;
    readonly sequentialTuning?: number;
    readonly prior?: GaussianPrior;
  };
  readonly sampleRatio?: { readonly counts: number[]; readonly weights: number[] };
}

function readRequest(values: Values): Request {
  const control = stringFlag(values, 'control');
  const treatment = stringFlag(values, 'treatment');
  const srmCounts = stringFlag(values, 'srm');
  if (control === undefined && treatment === undefined) {
    if (srmCounts === undefined) throw new UsageError('give --control and --treatment, or --srm');
    const stray = ANALYSIS_FLAGS.find((f) => values[f] !== undefined);
    if (stray) throw new UsageError(`--${stray} needs --control and --treatment`);
  } else if (control === undefined || treatment === undefined) {
    throw new UsageError(`${control === undefined ? '--control' : '--treatment'} is required with the other arm`);
  }
  const options = readOptions(values);
  const arms = control === undefined || treatment === undefined ? undefined : readArms(control, treatment);
  const counts = srmCounts === undefined ? arms && [arms.control.n, arms.treatment.n] : readList('srm', srmCounts);
  const weights = stringFlag(values, 'weights');
  const sampleRatio =
    counts && (srmCounts !== undefined || weights !== undefined)
      ? { counts, weights: weights === undefined ? counts.map(() => 1 / counts.length) : readList('weights', weights) }
      : undefined;
  return { arms, options, sampleRatio };
}

const ANALYSIS_FLAGS = ['engine', 'absolute', 'alpha', 'sequential-tuning', 'prior-mean', 'prior-variance'];

function readOptions(values: Values): Request['options'] {
  const engine = readEngine(stringFlag(values, 'engine'));
  const tuning = stringFlag(values, 'sequential-tuning');
  if (tuning !== undefined && engine !== 'sequential') {
    throw new UsageError('--sequential-tuning needs --engine sequential');
  }
  const priorMean = stringFlag(values, 'prior-mean');
  const priorVariance = stringFlag(values, 'prior-variance');
  if ((priorMean !== undefined || priorVariance !== undefined) && engine !== 'bayesian') {
    throw new UsageError('--prior-mean and --prior-variance need --engine bayesian');
  }
  if ((priorMean === undefined) !== (priorVariance === undefined)) {
    throw new UsageError('--prior-mean and --prior-variance go together');
  }
  const alphaText = stringFlag(values, 'alpha');
  const alpha = alphaText === undefined ? EXPERIMENT_DEFAULTS.alpha : readNumber('alpha', alphaText);
  if (!(alpha > 0 && alpha < 1)) throw new UsageError(`--alpha: must be between 0 and 1, got ${alpha}`);
  const sequentialTuning = tuning === undefined ? undefined : readNumber('sequential-tuning', tuning);
  if (sequentialTuning !== undefined && !(sequentialTuning > 0)) {
    throw new UsageError(`--sequential-tuning: must be greater than 0, got ${sequentialTuning}`);
  }
  const prior =
    priorMean === undefined || priorVariance === undefined ? undefined : { mean: readNumber('prior-mean', priorMean), variance: readNumber('prior-variance', priorVariance) };
  return { engine, scale: values.absolute ? 'absolute' : 'relative', alpha, sequentialTuning, prior };
}

function stringFlag(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

function readEngine(text: string | undefined): Engine {
  if (text === undefined) return 'frequentist';
  const engine = ENGINES.find((e) => e === text);
  if (!engine) throw new UsageError(`--engine: must be one of ${ENGINES.join(', ')}, got "${text}"`);
  return engine;
}

function readNumber(flag: string, text: string): number {
  const value = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(value)) throw new UsageError(`--${flag}: must be a number, got "${text}"`);
  return value;
}

function readList(flag: string, text: string): number[] {
  return text.split(',').map((part) => readNumber(flag, part));
}

/** Both arms, with the problems of both in one message. */
function readArms(control: string, treatment: string): NonNullable<Request['arms']> {
  const problems: string[] = [];
  const read = (flag: string, text: string): ArmStats | undefined => {
    try {
      return withFlags(() => toArmStats(parseJson(flag, text)), flag);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      problems.push(error.message);
      return undefined;
    }
  };
  const arms = { control: read('--control', control), treatment: read('--treatment', treatment) };
  if (!arms.control || !arms.treatment) throw new UsageError(problems.join('; '));
  return { control: arms.control, treatment: arms.treatment };
}

function parseJson(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${flag}: not valid JSON (${(error as Error).message}): ${text}`);
  }
}

/**
 * Runs a core computation, reporting bad data as a usage error that names the flag it came from: `flag`
 * when the data came from one flag, else the flag of the issue's field ("control.n" -> --control).
 */
function withFlags<T>(compute: () => T, flag?: string): T {
  try {
    return compute();
  } catch (error) {
    if (!(error instanceof ExperimentDataError)) throw error;
    throw new UsageError(
      error.issues
        .map(({ field, reason }) => {
          const [head = field, ...rest] = field.split('.');
          const [name, subField] = flag ? [flag, field] : [FLAG_OF_FIELD[head] ?? head, rest.join('.')];
          return `${name}: ${subField ? `${subField} ` : ''}${reason}`;
        })
        .join('; '),
    );
  }
}

const FLAG_OF_FIELD: Readonly<Record<string, string>> = {
  control: '--control',
  treatment: '--treatment',
  'control, treatment': '--control, --treatment',
  counts: '--srm',
  weights: '--weights',
  prior: '--prior-mean, --prior-variance',
};

function toJson(analysis: AnalysisResult | undefined, srm: SampleRatioCheck | undefined): Record<string, unknown> {
  const srmJson = srm && {
    srm: {
      observed: srm.observed,
      expected: srm.expected,
      chiSquared: srm.chiSquared,
      pValue: srm.pValue,
      mismatch: srm.mismatch,
    },
  };
  if (!analysis) return { ...srmJson };
  const evidence = analysis.engine === 'bayesian' ? { chanceToWin: analysis.chanceToWin } : { pValue: analysis.pValue };
  return { lift: analysis.lift, ci: analysis.ci, ...evidence, ...srmJson };
}

function toText(request: Request, analysis: AnalysisResult | undefined, srm: SampleRatioCheck | undefined): string {
  const lines: string[] = [];
  const row = (label: string, value: string) => lines.push(`  ${label.padEnd(15)}${value}`);
  if (request.arms && analysis) {
    const { alpha, engine, scale } = request.options;
    const level = formatNumber((1 - alpha) * 100);
    const interval = `${level}% ${engine === 'bayesian' ? 'credible' : 'confidence'} interval`;
    lines.push(`${engine} engine, ${scale} lift of treatment over control, ${interval}`);
    for (const [name, arm] of Object.entries(request.arms)) {
      const { n, mean } = armMoments(arm);
      row(name, `n ${n}, mean ${formatNumber(mean)}`);
    }
    const lift = scale === 'relative' ? formatPercent : formatNumber;
    row('lift', `${lift(analysis.lift)}  [${lift(analysis.ci[0])}, ${lift(analysis.ci[1])}]`);
    if (analysis.engine === 'bayesian') {
      const loss = scale === 'relative' ? (v: number) => formatPercent(v, false) : formatNumber;
      row('chance to win', formatPercent(analysis.chanceToWin, false));
      row('risk', `keep control ${loss(analysis.risk.control)}, ship treatment ${loss(analysis.risk.treatment)}`);
    } else {
      const verdict = analysis.pValue < alpha ? 'significant' : 'not significant';
      row('p-value', `${formatP(analysis.pValue)} (${verdict} at alpha ${alpha})`);
    }
  }
  if (srm) {
    lines.push(`sample ratio ${srm.mismatch ? `MISMATCH (p < ${srm.threshold}): the experiment is invalid` : 'ok'}`);
    row('observed', srm.observed.join(' / '));
    row('expected', srm.expected.map(formatNumber).join(' / '));
    row('chi-squared', `${formatNumber(srm.chiSquared)}, p ${formatP(srm.pValue)}`);
  }
  return lines.join('\n');
}

function formatNumber(value: number): string {
  return Number(value.toPrecision(5)).toString();
}

function formatPercent(value: number, signed = true): string {
  const text = `${Number((value * 100).toFixed(2))}%`;
  return signed && value > 0 ? `+${text}` : text;
}

function formatP(p: number): string {
  return p < 1e-4 ? p.toExponential(1) : Number(p.toPrecision(4)).toString();
}
