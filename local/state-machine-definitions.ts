// The state machines of a synthesized template, their definitions resolved against the local resources
// (CDK writes DefinitionString as an Fn::Join of ARNs and names).
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { resolveValue, resourcesOfType, type CfnTemplate, type ResolutionContext } from './template';

export interface TemplateStateMachine {
  readonly logicalId: string;
  readonly definition: StateMachineDefinition;
  readonly type: 'STANDARD' | 'EXPRESS';
}

export function stateMachinesFromTemplate(template: CfnTemplate, context: ResolutionContext): TemplateStateMachine[] {
  return resourcesOfType(template, 'AWS::StepFunctions::StateMachine').map(([logicalId, resource]) =>
    stateMachine(logicalId, resolveValue(resource.Properties ?? {}, context, `${logicalId}.Properties`) as Record<string, unknown>),
  );
}

/** An AWS::StepFunctions::StateMachine's resolved properties: its definition (DefinitionString or Definition) and type. */
export function stateMachine(logicalId: string, properties: Readonly<Record<string, unknown>>): TemplateStateMachine {
  const raw = properties.DefinitionString ?? properties.Definition;
  const definition = (typeof raw === 'string' ? JSON.parse(raw) : raw) as StateMachineDefinition;
  return { logicalId, definition, type: properties.StateMachineType === 'EXPRESS' ? 'EXPRESS' : 'STANDARD' };
}

/**
 * A context that resolves every Ref to the logical id and every `Fn::GetAtt X.Arn` to an ARN naming X (a
 * Lambda function ARN for functions), for tests that read a template without starting anything.
 */
export function placeholderContext(template: CfnTemplate, region = 'us-east-1', accountId = '000000000000'): ResolutionContext {
  const context: ResolutionContext = { region, accountId, stackName: 'Test', refs: new Map(), attributes: new Map() };
  for (const [id, resource] of Object.entries(template.Resources)) {
    context.refs.set(id, id);
    const service = resource.Type.split('::')[1]?.toLowerCase() ?? 'unknown';
    const arn = resource.Type === 'AWS::Lambda::Function' ? `arn:aws:lambda:${region}:${accountId}:function:${id}` : `arn:aws:${service}:${region}:${accountId}:${id}`;
    context.attributes.set(`${id}.Arn`, arn);
    if (resource.Type === 'AWS::SNS::Topic') context.refs.set(id, `arn:aws:sns:${region}:${accountId}:${id}`);
  }
  return context;
}
