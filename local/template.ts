/** A synthesized CloudFormation template, as much of it as the local runtime reads. */
export interface CfnTemplate {
  readonly Resources: Readonly<Record<string, CfnResource>>;
  readonly Outputs?: Readonly<Record<string, { Value: unknown; Description?: string }>>;
}

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
  readonly DependsOn?: string | string[];
}

/** What Ref and Fn::GetAtt of each local resource stand for (names, ARNs), filled in as resources start. */
export interface ResolutionContext {
  readonly region: string;
  readonly accountId: string;
  readonly stackName: string;
  /** Ref value per logical id. */
  readonly refs: Map<string, string>;
  /** GetAtt value per `<logicalId>.<attribute>`. */
  readonly attributes: Map<string, string>;
}

/** A template value the local runtime cannot resolve: names the path and the construct it met. */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

const pseudoParameters = (context: ResolutionContext): Record<string, string> => ({
  'AWS::Region': context.region,
  'AWS::AccountId': context.accountId,
  'AWS::StackName': context.stackName,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::NoValue': '',
});

/**
 * Resolves CloudFormation intrinsic functions (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select,
 * Fn::Split) in a template value against the local resources. Anything else is an error that says where.
 */
export function resolveValue(value: unknown, context: ResolutionContext, path = '$'): unknown {
  if (Array.isArray(value)) return value.map((item, i) => resolveValue(item, context, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const [first] = entries;
  if (entries.length === 1 && first && (first[0] === 'Ref' || first[0].startsWith('Fn::'))) {
    return resolveIntrinsic(first[0], first[1], context, path);
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, resolveValue(item, context, `${path}.${key}`)]));
}

function resolveIntrinsic(name: string, argument: unknown, context: ResolutionContext, path: string): unknown {
  switch (name) {
    case 'Ref': {
      const id = argument as string;
      const pseudo = pseudoParameters(context)[id];
      if (pseudo !== undefined) return pseudo;
      const ref = context.refs.get(id);
      if (ref === undefined) throw new TemplateError(`${path}: Ref to ${id}, which the local runtime does not provide`);
      return ref;
    }
    case 'Fn::GetAtt': {
      const [id, attribute] = Array.isArray(argument) ? (argument as string[]) : String(argument).split('.');
      const key = `${id}.${attribute}`;
      const resolved = context.attributes.get(key);
      if (resolved === undefined) throw new TemplateError(`${path}: Fn::GetAtt ${key}, which the local runtime does not provide`);
      return resolved;
    }
    case 'Fn::Join': {
      const [separator, parts] = argument as [string, unknown[]];
      return (resolveValue(parts, context, path) as unknown[]).join(separator);
    }
    case 'Fn::Select': {
      const [index, list] = argument as [unknown, unknown];
      return (resolveValue(list, context, path) as unknown[])[Number(resolveValue(index, context, path))];
    }
    case 'Fn::Split': {
      const [separator, source] = argument as [string, unknown];
      return String(resolveValue(source, context, path)).split(separator);
    }
    case 'Fn::Sub': {
      const [text, variables = {}] = typeof argument === 'string' ? [argument, {}] : (argument as [string, Record<string, unknown>]);
      const values = resolveValue(variables, context, path) as Record<string, unknown>;
      return text.replace(/\$\{([^}]+)\}/g, (_, key: string) => {
        if (key in values) return String(values[key]);
        const [id, attribute] = key.split('.');
        if (attribute !== undefined) return String(resolveIntrinsic('Fn::GetAtt', [id, attribute], context, path));
        return String(resolveIntrinsic('Ref', key, context, path));
      });
    }
    default:
      throw new TemplateError(`${path}: ${name} is not supported by the local runtime`);
  }
}

/** The resources of one type, by logical id. */
export function resourcesOfType(template: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}
