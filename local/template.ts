/** A CloudFormation template, as much of it as the local runtime reads. */
export interface CfnTemplate {
  readonly AWSTemplateFormatVersion?: string;
  readonly Description?: string;
  readonly Parameters?: Readonly<Record<string, CfnParameter>>;
  readonly Mappings?: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, unknown>>>>>>;
  readonly Conditions?: Readonly<Record<string, unknown>>;
  readonly Rules?: Readonly<Record<string, CfnRule>>;
  readonly Resources: Readonly<Record<string, CfnResource>>;
  readonly Outputs?: Readonly<Record<string, CfnOutput>>;
}

export interface CfnParameter {
  readonly Type: string;
  readonly Default?: string | number;
  readonly AllowedValues?: readonly (string | number)[];
  readonly AllowedPattern?: string;
  readonly MinLength?: number;
  readonly MaxLength?: number;
  readonly MinValue?: number;
  readonly MaxValue?: number;
  readonly NoEcho?: boolean;
  readonly Description?: string;
  readonly ConstraintDescription?: string;
}

export interface CfnRule {
  readonly RuleCondition?: unknown;
  readonly Assertions: readonly { readonly Assert: unknown; readonly AssertDescription?: string }[];
}

export interface CfnOutput {
  readonly Value: unknown;
  readonly Description?: string;
  readonly Condition?: string;
  readonly Export?: { readonly Name: unknown };
}

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
  readonly DependsOn?: string | string[];
  readonly Condition?: string;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

/** What Ref and Fn::GetAtt stand for in one stack (parameters, names, ARNs), filled in as its resources are created. */
export interface ResolutionContext {
  readonly region: string;
  readonly accountId: string;
  readonly stackName: string;
  readonly stackId?: string;
  /** Ref value per logical id or parameter name (a List parameter's value is a list). */
  readonly refs: Map<string, string | readonly string[]>;
  /** GetAtt value per `<logicalId>.<attribute>`. */
  readonly attributes: Map<string, unknown>;
  /** The template's conditions, evaluated. */
  readonly conditions?: ReadonlyMap<string, boolean>;
  readonly mappings?: CfnTemplate['Mappings'];
}

/** A template value the local runtime cannot resolve: names the path and the construct it met. */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

/** What `Ref: AWS::NoValue` (and an Fn::If branch of it) resolves to: the property is left out, as CloudFormation does. */
const NO_VALUE = Symbol('AWS::NoValue');

const pseudoParameters = (context: ResolutionContext): Record<string, string> => ({
  'AWS::Region': context.region,
  'AWS::AccountId': context.accountId,
  'AWS::StackName': context.stackName,
  'AWS::StackId': context.stackId ?? `arn:aws:cloudformation:${context.region}:${context.accountId}:stack/${context.stackName}/local`,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
});

/**
 * Resolves CloudFormation intrinsic functions (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split,
 * Fn::If, Fn::FindInMap, Fn::GetAZs, Fn::Base64, the condition functions) in a template value against the
 * local resources. `Ref: AWS::NoValue` removes the property or list item it stands in. Anything else is an
 * error that says where.
 */
export function resolveValue(value: unknown, context: ResolutionContext, path = '$'): unknown {
  const resolved = resolve(value, context, path);
  return resolved === NO_VALUE ? undefined : resolved;
}

function resolve(value: unknown, context: ResolutionContext, path: string): unknown {
  if (Array.isArray(value)) return value.map((item, i) => resolve(item, context, `${path}[${i}]`)).filter((item) => item !== NO_VALUE);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const [first] = entries;
  if (entries.length === 1 && first && (first[0] === 'Ref' || first[0].startsWith('Fn::') || first[0] === 'Condition')) {
    return resolveIntrinsic(first[0], first[1], context, path);
  }
  const result: Record<string, unknown> = {};
  for (const [key, item] of entries) {
    const resolvedItem = resolve(item, context, `${path}.${key}`);
    if (resolvedItem !== NO_VALUE) result[key] = resolvedItem;
  }
  return result;
}

function resolveIntrinsic(name: string, argument: unknown, context: ResolutionContext, path: string): unknown {
  switch (name) {
    case 'Ref': {
      const id = argument as string;
      if (id === 'AWS::NoValue') return NO_VALUE;
      const pseudo = pseudoParameters(context)[id];
      if (pseudo !== undefined) return pseudo;
      const ref = context.refs.get(id);
      if (ref === undefined) throw new TemplateError(`${path}: Ref to ${id}, which the local runtime does not provide`);
      return ref;
    }
    case 'Fn::GetAtt': {
      const [id, ...rest] = Array.isArray(argument) ? (argument as string[]) : String(argument).split('.');
      const key = `${id}.${rest.join('.')}`;
      const resolved = context.attributes.get(key);
      if (resolved === undefined) throw new TemplateError(`${path}: Fn::GetAtt ${key}, which the local runtime does not provide`);
      return resolved;
    }
    case 'Fn::Join': {
      const [separator, parts] = argument as [string, unknown];
      return (resolve(parts, context, path) as unknown[]).join(separator);
    }
    case 'Fn::Select': {
      const [index, list] = argument as [unknown, unknown];
      const items = resolve(list, context, path) as unknown[];
      const at = Number(resolve(index, context, path));
      if (!Number.isInteger(at) || at < 0 || at >= items.length) throw new TemplateError(`${path}: Fn::Select index ${at} is out of range for a list of ${items.length}`);
      return items[at];
    }
    case 'Fn::Split': {
      const [separator, source] = argument as [string, unknown];
      return String(resolve(source, context, path)).split(separator);
    }
    case 'Fn::Sub': {
      const [text, variables = {}] = typeof argument === 'string' ? [argument, {}] : (argument as [string, Record<string, unknown>]);
      const values = resolve(variables, context, path) as Record<string, unknown>;
      return text.replace(/\$\{([^}]+)\}/g, (_, key: string) => {
        if (key.startsWith('!')) return `\${${key.slice(1)}}`;
        if (key in values) return String(values[key]);
        const [id, attribute] = key.split('.');
        if (attribute !== undefined) return String(resolveIntrinsic('Fn::GetAtt', [id, key.slice((id as string).length + 1)], context, path));
        return String(resolveIntrinsic('Ref', key, context, path));
      });
    }
    case 'Fn::If': {
      const [condition, whenTrue, whenFalse] = argument as [string, unknown, unknown];
      return resolve(conditionValue(condition, context, path) ? whenTrue : whenFalse, context, path);
    }
    case 'Fn::FindInMap': {
      const [map, top, second] = (argument as unknown[]).map((part) => String(resolve(part, context, path)));
      const found = context.mappings?.[map as string]?.[top as string]?.[second as string];
      if (found === undefined) throw new TemplateError(`${path}: Fn::FindInMap [${map}, ${top}, ${second}] is not in the template's Mappings`);
      return found;
    }
    case 'Fn::GetAZs':
      return ['a', 'b', 'c'].map((zone) => `${context.region}${zone}`);
    case 'Fn::Base64':
      return Buffer.from(String(resolve(argument, context, path))).toString('base64');
    case 'Fn::Equals':
    case 'Fn::And':
    case 'Fn::Or':
    case 'Fn::Not':
    case 'Fn::Contains':
    case 'Condition':
      return evaluateCondition({ [name]: argument }, context, path);
    default:
      throw new TemplateError(`${path}: ${name} is not supported by the local runtime`);
  }
}

function conditionValue(name: string, context: ResolutionContext, path: string): boolean {
  const value = context.conditions?.get(name);
  if (value === undefined) throw new TemplateError(`${path}: condition ${name} is not defined in the template's Conditions`);
  return value;
}

/** A condition function (Fn::Equals, Fn::And, Fn::Or, Fn::Not, Fn::Contains, Condition) evaluated. */
export function evaluateCondition(value: unknown, context: ResolutionContext, path: string): boolean {
  const [entry] = Object.entries((value ?? {}) as Record<string, unknown>);
  if (!entry) throw new TemplateError(`${path}: a condition must be one condition function, got: ${JSON.stringify(value)}`);
  const [name, argument] = entry;
  const items = () => {
    if (!Array.isArray(argument)) throw new TemplateError(`${path}: ${name} takes a list, got: ${JSON.stringify(argument)}`);
    return argument as unknown[];
  };
  const nested = (item: unknown, i: number) => evaluateCondition(item, context, `${path}.${name}[${i}]`);
  switch (name) {
    case 'Condition':
      return conditionValue(String(argument), context, path);
    case 'Fn::Equals': {
      const [left, right] = items().map((item) => resolveValue(item, context, path));
      return JSON.stringify(left) === JSON.stringify(right) || String(left) === String(right);
    }
    case 'Fn::And':
    case 'Fn::Or': {
      const list = items();
      if (list.length < 2 || list.length > 10) throw new TemplateError(`${path}: ${name} takes 2 to 10 conditions, got ${list.length}`);
      const results = list.map(nested);
      return name === 'Fn::And' ? results.every(Boolean) : results.some(Boolean);
    }
    case 'Fn::Not': {
      const list = items();
      if (list.length !== 1) throw new TemplateError(`${path}: Fn::Not takes one condition, got ${list.length}`);
      return !nested(list[0], 0);
    }
    case 'Fn::Contains': {
      const [list, item] = items().map((part) => resolveValue(part, context, path));
      return Array.isArray(list) && list.map(String).includes(String(item));
    }
    default:
      throw new TemplateError(`${path}: ${name} is not a condition function the local runtime evaluates`);
  }
}

/**
 * Evaluates the template's Conditions in order of need (a condition may name another), as CloudFormation
 * does before it creates anything.
 */
export function evaluateConditions(template: CfnTemplate, context: ResolutionContext): Map<string, boolean> {
  const definitions = template.Conditions ?? {};
  const evaluated = new Map<string, boolean>();
  const evaluating = new Set<string>();
  function evaluate(name: string): boolean {
    const known = evaluated.get(name);
    if (known !== undefined) return known;
    if (!(name in definitions)) throw new TemplateError(`Template format error: Unresolved condition dependency ${name}`);
    if (evaluating.has(name)) throw new TemplateError(`Template format error: circular condition dependency on ${name}`);
    evaluating.add(name);
    const value = evaluateCondition(definitions[name], { ...context, conditions: conditionView }, `Conditions.${name}`);
    evaluating.delete(name);
    evaluated.set(name, value);
    return value;
  }
  // A lazy view so a condition can name another one, evaluated on first use.
  const conditionView: ReadonlyMap<string, boolean> = {
    get: (name: string) => (name in definitions ? evaluate(name) : undefined),
  } as ReadonlyMap<string, boolean>;
  for (const name of Object.keys(definitions)) evaluate(name);
  return evaluated;
}

/** Logical ids a template value refers to (Ref, Fn::GetAtt, Fn::Sub variables), parameters and pseudo parameters included. */
export function referencedNames(value: unknown): Set<string> {
  const found = new Set<string>();
  const walk = (item: unknown): void => {
    if (Array.isArray(item)) {
      for (const inner of item) walk(inner);
      return;
    }
    if (item === null || typeof item !== 'object') return;
    for (const [key, inner] of Object.entries(item as Record<string, unknown>)) {
      if (key === 'Ref' && typeof inner === 'string') found.add(inner);
      else if (key === 'Fn::GetAtt') found.add(Array.isArray(inner) ? String(inner[0]) : (String(inner).split('.')[0] as string));
      else if (key === 'Fn::Sub') {
        const [text, variables] = typeof inner === 'string' ? [inner, {}] : (inner as [string, Record<string, unknown>]);
        for (const [, name] of String(text).matchAll(/\$\{([^!}][^}]*)\}/g)) {
          const id = (name as string).split('.')[0] as string;
          if (!(id in (variables ?? {}))) found.add(id);
        }
        walk(variables);
      } else walk(inner);
    }
  };
  walk(value);
  return found;
}

/** The resources of one type, by logical id. */
export function resourcesOfType(template: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}
