// The CI templates: GitHub Actions (.github/workflows/) and GitLab CI (.gitlab-ci.yml), parsed as YAML. They run
// the same steps in the same order; AWS access comes from each platform's OIDC token, never stored keys or
// GitLab's removed CI_JOB_JWT_V2. No expression in a script: GitHub pastes `${{ ... }}` and GitLab `$[[ ... ]]`
// into the script before the shell parses it, so an input (anything a person can type) would run as code with
// the job's AWS role; values reach scripts as environment variables, double-quoted.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = new URL('../../', import.meta.url);
const githubFolder = new URL('.github/workflows/', root);
const githubFiles = readdirSync(githubFolder)
  .filter((name) => /\.ya?ml$/.test(name))
  .sort();
const gitlabText = readFileSync(new URL('.gitlab-ci.yml', root), 'utf8');

interface Job {
  readonly template: string;
  readonly name: string;
  /** The shell scripts of the job in the order they run. */
  readonly scripts: readonly string[];
  readonly raw: Record<string, unknown>;
}

type Steps = { run?: string; uses?: string }[];

function githubJobs(): Job[] {
  return githubFiles.flatMap((file) => {
    const workflow = parse(readFileSync(new URL(file, githubFolder), 'utf8')) as { jobs: Record<string, { steps: Steps }> };
    return Object.entries(workflow.jobs).map(([name, job]) => ({
      template: `.github/workflows/${file}`,
      name,
      scripts: job.steps.flatMap((step) => (step.run === undefined ? [] : [step.run])),
      raw: job as unknown as Record<string, unknown>,
    }));
  });
}

/** Keys of .gitlab-ci.yml that are not jobs; hidden keys (a leading dot) are templates. */
const GITLAB_KEYWORDS = new Set(['workflow', 'stages', 'default', 'variables', 'include', 'image', 'services', 'cache', 'before_script', 'after_script']);

function gitlabJobs(): Job[] {
  const pipeline = parse(gitlabText) as Record<string, Record<string, unknown>>;
  const defaults = (pipeline.default ?? {}) as { before_script?: unknown[] };
  return Object.entries(pipeline)
    .filter(([name]) => !GITLAB_KEYWORDS.has(name) && !name.startsWith('.'))
    .map(([name, job]) => {
      // `extends` merges a template's keys; GitLab flattens the nested lists YAML aliases leave in scripts.
      const merged = { ...(job.extends ? pipeline[job.extends as string] : {}), ...job };
      const lines = [...((merged.before_script as unknown[]) ?? defaults.before_script ?? []), ...((merged.script as unknown[]) ?? [])].flat(3) as string[];
      return { template: '.gitlab-ci.yml', name, scripts: lines, raw: merged };
    });
}

/** The steps both templates must run, as the commands that run them. */
const STEPS: readonly [string, RegExp][] = [
  ['install', /^npm ci\b/m],
  ['test', /^npm test\b/m],
  ['synth', /\bnpx cdk synth\b/],
  ['deploy', /\bnpx cdk deploy\b/],
  ['validate a bundle', /\bnpx modelgate validate\b/],
  ['push a bundle', /\bnpx modelgate push\b/],
];

/** Each job's steps in order, install once per job. */
function stepsOf(jobs: readonly Job[]): Record<string, string[]> {
  return Object.fromEntries(jobs.map((job) => [job.name, job.scripts.flatMap((script) => STEPS.filter(([, pattern]) => pattern.test(script)).map(([name]) => name))]));
}

/**
 * Expansions a shell would split and glob: `$NAME` or `${...}` outside double quotes (single quotes expand
 * nothing; `$(...)` is parsed afresh, its own quotes counting).
 */
function unquotedExpansions(script: string): string[] {
  const found: string[] = [];
  const contexts: ('top' | 'double' | 'substitution')[] = ['top'];
  for (let i = 0; i < script.length; i++) {
    const c = script[i] as string;
    const context = contexts[contexts.length - 1];
    if (c === '\\') {
      i++;
      continue;
    }
    if (context !== 'double' && c === '#' && (i === 0 || /\s/.test(script[i - 1] as string))) {
      i = script.indexOf('\n', i) === -1 ? script.length : script.indexOf('\n', i);
      continue;
    }
    if (context !== 'double' && c === "'") {
      i = script.indexOf("'", i + 1);
      if (i === -1) break;
      continue;
    }
    if (c === '"') {
      if (context === 'double') contexts.pop();
      else contexts.push('double');
      continue;
    }
    if (c === ')' && context === 'substitution') {
      contexts.pop();
      continue;
    }
    if (c !== '$') continue;
    const next = script[i + 1] ?? '';
    if (next === '(') {
      contexts.push('substitution');
      i++;
    } else if (context !== 'double' && /[{A-Za-z_@*0-9]/.test(next)) {
      found.push(/^\$(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*|.)/.exec(script.slice(i))?.[0] as string);
    }
  }
  return found;
}

const jobs = [...githubJobs(), ...gitlabJobs()];

describe('the CI templates', () => {
  it('run the same steps in the same jobs, GitHub Actions and GitLab CI', () => {
    const github = stepsOf(githubJobs());
    expect(github).toEqual({
      test: ['install', 'test'],
      synth: ['install', 'synth'],
      'deploy-dev': ['install', 'deploy'],
      'validate-and-push': ['install', 'validate a bundle', 'push a bundle'],
    });
    expect(Object.values(stepsOf(gitlabJobs()))).toEqual(Object.values(github));
  });

  it('take AWS credentials from the OIDC token of the job, after the steps that need none', () => {
    for (const job of githubJobs()) {
      const steps = (job.raw.steps as Steps).map((step) => step.uses ?? step.run ?? '');
      const credentials = steps.findIndex((step) => step.startsWith('aws-actions/configure-aws-credentials'));
      if (credentials === -1) continue;
      expect(job.raw.permissions, `${job.template} ${job.name}`).toMatchObject({ 'id-token': 'write' });
      expect(steps.slice(0, credentials).some((step) => /npx cdk deploy|modelgate push/.test(step))).toBe(false);
      expect(steps.slice(0, credentials).some((step) => /modelgate validate/.test(step))).toBe(job.name === 'validate-and-push');
    }
    const aws = gitlabJobs().filter((job) => job.scripts.some((script) => script.includes('aws sts assume-role-with-web-identity')));
    expect(aws.map((job) => job.name)).toEqual(['deploy-dev', 'model']);
    for (const job of aws) {
      expect(job.raw.id_tokens, job.name).toEqual({ AWS_ID_TOKEN: { aud: 'sts.amazonaws.com' } });
      const assume = job.scripts.findIndex((script) => script.includes('assume-role-with-web-identity'));
      expect(job.scripts.slice(0, assume).some((script) => /npx cdk deploy|modelgate push/.test(script))).toBe(false);
      expect(job.scripts.slice(0, assume).some((script) => /modelgate validate/.test(script))).toBe(job.name === 'model');
      expect(job.scripts[assume]).toContain('--web-identity-token "$AWS_ID_TOKEN"');
    }
    // The removed CI_JOB_JWT(_V2) nowhere but in the comment that says so.
    expect(JSON.stringify(parse(gitlabText))).not.toMatch(/CI_JOB_JWT/);
  });

  it.each(jobs.map((job) => [`${job.template} ${job.name}`, job] as const))('%s: no expression, every variable double-quoted, each script parses', (_, job) => {
    expect(job.scripts.length).toBeGreaterThan(0);
    for (const script of job.scripts) {
      expect(script).not.toMatch(/\$\{\{|\$\[\[/);
      expect(unquotedExpansions(script), script).toEqual([]);
      // Both platforms run these scripts with bash here (GitHub's default shell; bash in node:22-bookworm).
      expect(spawnSync('bash', ['-n'], { input: script }).status, script).toBe(0);
    }
  });

  it('have trust policies in the docs that admit the tokens the templates ask for', () => {
    const docs = readFileSync(new URL('docs/infrastructure.md', root), 'utf8');
    const section = docs.slice(docs.indexOf('## CI/CD'));
    const policies = [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1] as string) as { Statement: Record<string, any>[] });
    const [github, gitlab] = policies.map(
      (policy) => policy.Statement[0] as { Principal: { Federated: string }; Action: string; Condition: { StringEquals: Record<string, string> } },
    );
    expect(github?.Principal.Federated).toMatch(/:oidc-provider\/token\.actions\.githubusercontent\.com$/);
    expect(gitlab?.Principal.Federated).toMatch(/:oidc-provider\/gitlab\.com$/);
    for (const statement of [github, gitlab]) expect(statement?.Action).toBe('sts:AssumeRoleWithWebIdentity');
    // configure-aws-credentials asks for sts.amazonaws.com; the GitLab jobs' id_tokens name their audience.
    expect(github?.Condition.StringEquals['token.actions.githubusercontent.com:aud']).toBe('sts.amazonaws.com');
    const audience = (gitlabJobs().find((job) => job.name === 'deploy-dev')?.raw.id_tokens as { AWS_ID_TOKEN: { aud: string } }).AWS_ID_TOKEN.aud;
    expect(gitlab?.Condition.StringEquals['gitlab.com:aud']).toBe(audience);
    // The deploy job runs in GitHub's `dev` environment, which makes the token's subject name the environment.
    expect(githubJobs().find((job) => job.name === 'deploy-dev')?.raw.environment).toBe('dev');
    expect(github?.Condition.StringEquals['token.actions.githubusercontent.com:sub']).toMatch(/^repo:[^:]+:environment:dev$/);
    expect(gitlab?.Condition.StringEquals['gitlab.com:sub']).toMatch(/^project_path:[^:]+:ref_type:branch:ref:main$/);
  });

  it('finds unquoted expansions, and only those', () => {
    expect(unquotedExpansions('echo $BUNDLE ${STAGE} "$OK" \'$literal\' "$(git diff -- "$x" | wc -l)" $(date +%s) # $comment')).toEqual(['$BUNDLE', '${STAGE}']);
    expect(unquotedExpansions('x="$(aws sts --role "$ROLE_ARN" $TOKEN)"')).toEqual(['$TOKEN']);
    expect(unquotedExpansions('echo "a \\"$B\\" c" \\$D')).toEqual([]);
  });
});
