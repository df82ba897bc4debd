// Parameters and Rules of a template, checked as CloudFormation checks them when CreateStack or UpdateStack
// is called (before anything is created): a missing value, an unknown name, a value outside AllowedValues,
// AllowedPattern, the length or number bounds, or a failed rule assertion is a ValidationError with
// CloudFormation's wording.
import { evaluateCondition, TemplateError, type CfnTemplate, type ResolutionContext } from '../template';
import { CloudFormationError } from './errors';

/** A parameter as the caller gives it (CreateStack / UpdateStack `Parameters`). */
export interface ParameterInput {
  readonly ParameterKey: string;
  readonly ParameterValue?: string;
  readonly UsePreviousValue?: boolean;
}

/**
 * The local Systems Manager parameters that `AWS::SSM::Parameter::Value<...>` parameters read: the CDK
 * bootstrap version a bootstrapped environment publishes (synthesized stacks check it in a Rule).
 */
export const LOCAL_SSM_PARAMETERS: Readonly<Record<string, string>> = {
  '/cdk-bootstrap/hnb659fds/version': '30',
};

export interface ResolvedParameters {
  /** The value of each parameter as the caller gave it or as defaulted (what DescribeStacks lists). */
  readonly values: Readonly<Record<string, string>>;
  /** What Ref of each parameter resolves to (SSM values read, lists split). */
  readonly refs: ReadonlyMap<string, string | readonly string[]>;
}

/**
 * Checks the given parameters against the template's declarations and returns their values. `previous`
 * holds the stack's current values, for `UsePreviousValue`.
 */
export function resolveParameters(template: CfnTemplate, given: readonly ParameterInput[], previous: Readonly<Record<string, string>> = {}): ResolvedParameters {
  const declared = template.Parameters ?? {};
  const unknown = given.map((p) => p.ParameterKey).filter((key) => !(key in declared));
  if (unknown.length > 0) throw new CloudFormationError('ValidationError', `Parameters: [${unknown.join(', ')}] do not exist in the template`);
  const byKey = new Map(given.map((p) => [p.ParameterKey, p]));
  const values: Record<string, string> = {};
  const missing: string[] = [];
  for (const [key, declaration] of Object.entries(declared)) {
    const input = byKey.get(key);
    let value: string | undefined;
    if (input?.UsePreviousValue) {
      value = previous[key];
      if (value === undefined)
        throw new CloudFormationError(
          'ValidationError',
          `Invalid input for parameter key ${key}. Cannot specify usePreviousValue as true for a parameter key not in the previous template`,
        );
    } else value = input?.ParameterValue ?? (declaration.Default === undefined ? undefined : String(declaration.Default));
    if (value === undefined) missing.push(key);
    else values[key] = value;
  }
  if (missing.length > 0) throw new CloudFormationError('ValidationError', `Parameters: [${missing.join(', ')}] must have values`);

  const refs = new Map<string, string | readonly string[]>();
  for (const [key, declaration] of Object.entries(declared)) {
    const value = values[key] as string;
    const type = declaration.Type;
    const isList = type.startsWith('List<') || type === 'CommaDelimitedList';
    const items = isList ? (value === '' ? [] : value.split(',').map((item) => item.trim())) : [value];
    for (const item of items) checkValue(key, item, declaration, type.includes('Number'));
    if (type.startsWith('AWS::SSM::Parameter::Value<')) {
      const stored = LOCAL_SSM_PARAMETERS[value];
      if (stored === undefined) throw new CloudFormationError('ValidationError', `Unable to fetch parameters [${value}] from parameter store for this account.`);
      refs.set(key, type.includes('List<') ? stored.split(',') : stored);
    } else refs.set(key, isList ? items : value);
  }
  return { values, refs };
}

function checkValue(key: string, value: string, declaration: NonNullable<CfnTemplate['Parameters']>[string], numeric: boolean): void {
  const fail = (why: string) => {
    throw new CloudFormationError(
      'ValidationError',
      declaration.ConstraintDescription ? `Parameter '${key}' ${why}: ${declaration.ConstraintDescription}` : `Parameter '${key}' ${why}`,
    );
  };
  if (numeric && (value.trim() === '' || !Number.isFinite(Number(value)))) fail('must be a number');
  if (declaration.AllowedValues && !declaration.AllowedValues.map(String).includes(value)) fail('must be one of AllowedValues');
  if (declaration.AllowedPattern !== undefined && !new RegExp(`^(?:${declaration.AllowedPattern})$`).test(value))
    fail(`failed to satisfy constraint: must match pattern ${declaration.AllowedPattern}`);
  if (declaration.MinLength !== undefined && value.length < declaration.MinLength) fail(`must contain at least ${declaration.MinLength} characters`);
  if (declaration.MaxLength !== undefined && value.length > declaration.MaxLength) fail(`must contain at most ${declaration.MaxLength} characters`);
  if (declaration.MinValue !== undefined && Number(value) < declaration.MinValue) fail(`must be a number not less than ${declaration.MinValue}`);
  if (declaration.MaxValue !== undefined && Number(value) > declaration.MaxValue) fail(`must be a number not greater than ${declaration.MaxValue}`);
}

/** The template's Rules: each assertion of a rule whose RuleCondition holds must hold, else a ValidationError with its description. */
export function checkRules(template: CfnTemplate, context: ResolutionContext): void {
  for (const [name, rule] of Object.entries(template.Rules ?? {})) {
    try {
      if (rule.RuleCondition !== undefined && !evaluateCondition(rule.RuleCondition, context, `Rules.${name}.RuleCondition`)) continue;
      rule.Assertions.forEach((assertion, i) => {
        if (!evaluateCondition(assertion.Assert, context, `Rules.${name}.Assertions[${i}]`)) {
          throw new CloudFormationError('ValidationError', assertion.AssertDescription ?? `Template error: rule ${name} failed`);
        }
      });
    } catch (error) {
      if (error instanceof TemplateError) throw new CloudFormationError('ValidationError', `Template error: ${error.message}`);
      throw error;
    }
  }
}
