// CloudFormation on one machine: stacks made of resources, each resource type handled by a provisioner
// (./provisioners.ts). CreateStack, UpdateStack and DeleteStack validate the call at once (template,
// parameters, rules, conditions, dependencies, capabilities) and then run in the background, resource by
// resource in dependency order, with CloudFormation's status transitions, events and rollbacks. Stacks
// persist in `<stateDir>/cloudformation/` and are brought back at the next start.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateConditions, referencedNames, resolveValue, TemplateError, type CfnTemplate, type ResolutionContext } from '../template';
import { CloudFormationError } from './errors';
import { checkRules, resolveParameters, type ParameterInput } from './parameters';
import { explicitName, physicalName, type DesiredResource, type Provisioner, type ResourceRecord } from './provisioner';

export type StackStatus =
  | 'CREATE_IN_PROGRESS'
  | 'CREATE_COMPLETE'
  | 'CREATE_FAILED'
  | 'ROLLBACK_IN_PROGRESS'
  | 'ROLLBACK_COMPLETE'
  | 'UPDATE_IN_PROGRESS'
  | 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS'
  | 'UPDATE_COMPLETE'
  | 'UPDATE_ROLLBACK_IN_PROGRESS'
  | 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS'
  | 'UPDATE_ROLLBACK_COMPLETE'
  | 'UPDATE_ROLLBACK_FAILED'
  | 'DELETE_IN_PROGRESS'
  | 'DELETE_COMPLETE'
  | 'DELETE_FAILED';

export interface StackEvent {
  readonly EventId: string;
  readonly StackId: string;
  readonly StackName: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId: string;
  readonly ResourceType: string;
  readonly Timestamp: string;
  readonly ResourceStatus: string;
  readonly ResourceStatusReason?: string;
}

export interface StackOutput {
  readonly OutputKey: string;
  readonly OutputValue: string;
  readonly Description?: string;
  readonly ExportName?: string;
}

export interface Tag {
  readonly Key: string;
  readonly Value: string;
}

/** A stack as DescribeStacks shows it and as it persists. */
export interface StackState {
  readonly stackId: string;
  readonly stackName: string;
  templateBody: string;
  description?: string;
  parameters: Record<string, string>;
  /** Parameters declared NoEcho: shown as ****. */
  noEcho: string[];
  status: StackStatus;
  statusReason?: string;
  outputs: StackOutput[];
  tags: Tag[];
  roleArn?: string;
  capabilities: string[];
  readonly creationTime: string;
  lastUpdatedTime?: string;
  deletionTime?: string;
  resources: Record<string, ResourceRecord>;
  /** Oldest first. */
  events: StackEvent[];
}

export interface StackRequest {
  readonly stackName: string;
  /** The template, as JSON text (TemplateBody). */
  readonly templateBody?: string;
  /** UpdateStack: keep the current template. */
  readonly usePreviousTemplate?: boolean;
  readonly parameters?: readonly ParameterInput[];
  readonly capabilities?: readonly string[];
  readonly roleArn?: string;
  readonly tags?: readonly Tag[];
  /**
   * Who asked: the access key id the API call was signed with (undefined: the runtime deploying its own base
   * stack, as the operator). A stack without a service role is operated on with the caller's permissions.
   */
  readonly requestedBy?: string;
}

/** One resource about to be created, updated or deleted, and on whose behalf. */
export interface ResourceChange {
  readonly action: 'create' | 'update' | 'delete';
  readonly stack: StackState;
  /** The access key id the operation was requested with (StackRequest.requestedBy), when the stack has no role. */
  readonly requestedBy?: string;
  /** The resource as it will be (create, update) or as it is (delete). */
  readonly resource: DesiredResource;
  /** Update: the resource as it is. */
  readonly previous?: ResourceRecord;
}

export interface LocalCloudFormationOptions {
  readonly region: string;
  readonly accountId: string;
  /** `<stateDir>/cloudformation`: one JSON file per stack. */
  readonly directory: string;
  /** The provisioner of each resource type the runtime emulates. */
  readonly provisioners: ReadonlyMap<string, Provisioner>;
  /** Whether an IAM role ARN exists (RoleARN of CreateStack / UpdateStack must name one). */
  readonly roleExists?: (arn: string) => boolean;
  /** Each stack status change, as CloudFormation sends it to EventBridge ("CloudFormation Stack Status Change"). */
  readonly onStackStatus?: (stack: StackState, status: string, reason?: string) => void;
  /**
   * Asked before each resource is created, updated or deleted (local/iam: what the stack's service role, or
   * the caller for a stack without one, may do, and what the resource's own service checks). A rejection fails
   * the resource with the error's message as its reason, as the service's refusal does on AWS.
   */
  readonly authorizeResource?: (change: ResourceChange) => Promise<void>;
  /**
   * After each change to a stack's resources (one created, updated, replaced or deleted), for each stack
   * brought back by restore(), and when a stack is deleted: what follows the running stacks (local/iam).
   */
  readonly onResourcesChanged?: (stack: StackState) => void;
}

/** CloudFormation's quota on a TemplateBody passed inline. */
export const MAX_TEMPLATE_BODY_BYTES = 51_200;
const KEPT_EVENTS = 2_000;
const IAM_TYPES = new Set([
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::IAM::User',
  'AWS::IAM::Group',
  'AWS::IAM::InstanceProfile',
  'AWS::IAM::AccessKey',
]);
const NAMED_IAM_PROPERTIES: Readonly<Record<string, string>> = {
  'AWS::IAM::Role': 'RoleName',
  'AWS::IAM::ManagedPolicy': 'ManagedPolicyName',
  'AWS::IAM::User': 'UserName',
  'AWS::IAM::Group': 'GroupName',
  'AWS::IAM::InstanceProfile': 'InstanceProfileName',
};

/** A template checked and ready to apply: its parameters, conditions and the order its resources are created in. */
interface PreparedTemplate {
  readonly template: CfnTemplate;
  readonly body: string;
  readonly parameters: Record<string, string>;
  readonly refs: ReadonlyMap<string, string | readonly string[]>;
  readonly conditions: ReadonlyMap<string, boolean>;
  /** The resources whose condition holds, each after everything it depends on. */
  readonly order: readonly string[];
}

/** A failure of one resource: its reason is what the events and the rollback report. */
class ResourceFailure extends Error {
  constructor(
    readonly logicalId: string,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export class LocalCloudFormation {
  private readonly stacks = new Map<string, StackState>();
  /** Deleted stacks, by stack id (DescribeStacks by id and ListStacks still show them). */
  private readonly deleted = new Map<string, StackState>();
  private readonly operations = new Map<string, Promise<void>>();
  private readonly templates = new Map<string, CfnTemplate>();

  constructor(private readonly options: LocalCloudFormationOptions) {
    mkdirSync(options.directory, { recursive: true });
  }

  /**
   * Reads the stacks an earlier run left and brings their resources back into the emulation, oldest stack
   * first (later stacks take parameters from earlier ones), each resource after those it depends on.
   */
  async restore(): Promise<void> {
    const saved = readdirSync(this.options.directory)
      .filter((file) => file.endsWith('.json'))
      .map((file) => JSON.parse(readFileSync(join(this.options.directory, file), 'utf8')) as StackState)
      .sort((a, b) => a.creationTime.localeCompare(b.creationTime));
    for (const stack of saved) {
      if (stack.status === 'DELETE_COMPLETE') {
        this.deleted.set(stack.stackId, stack);
        continue;
      }
      if (stack.status.endsWith('_IN_PROGRESS')) {
        // The runtime stopped in the middle of an operation: what it had done is kept, as a failed stack.
        stack.status = stack.status.startsWith('DELETE')
          ? 'DELETE_FAILED'
          : stack.status.startsWith('CREATE') || stack.status.startsWith('ROLLBACK')
            ? 'CREATE_FAILED'
            : 'UPDATE_ROLLBACK_FAILED';
        stack.statusReason = 'the local runtime stopped during the operation';
      }
      this.stacks.set(stack.stackName, stack);
      this.options.onResourcesChanged?.(stack);
      const template = this.template(stack);
      for (const logicalId of dependencyOrder(template, Object.keys(stack.resources))) {
        const record = stack.resources[logicalId] as ResourceRecord;
        await this.provisioner(record.type, logicalId).restore?.(record);
      }
    }
  }

  /** CreateStack: validates now, creates in the background. Returns the stack id. */
  createStack(request: StackRequest): string {
    const existing = this.stacks.get(request.stackName);
    if (existing) throw new CloudFormationError('AlreadyExistsException', `Stack [${request.stackName}] already exists`);
    checkStackName(request.stackName);
    const prepared = this.prepare(request, request.stackName, {});
    const stackId = `arn:aws:cloudformation:${this.options.region}:${this.options.accountId}:stack/${request.stackName}/${randomUUID()}`;
    const stack: StackState = {
      stackId,
      stackName: request.stackName,
      templateBody: prepared.body,
      ...(prepared.template.Description ? { description: prepared.template.Description } : {}),
      parameters: prepared.parameters,
      noEcho: noEchoParameters(prepared.template),
      status: 'CREATE_IN_PROGRESS',
      outputs: [],
      tags: [...(request.tags ?? [])],
      ...(request.roleArn ? { roleArn: request.roleArn } : {}),
      capabilities: [...(request.capabilities ?? [])],
      creationTime: new Date().toISOString(),
      resources: {},
      events: [],
    };
    this.stacks.set(stack.stackName, stack);
    this.templates.set(stackId, prepared.template);
    this.stackEvent(stack, 'CREATE_IN_PROGRESS', 'User Initiated');
    this.run(stack, () => this.create(stack, prepared, request.requestedBy));
    return stackId;
  }

  /** UpdateStack: validates now ("No updates are to be performed." when nothing changed), updates in the background. */
  updateStack(request: StackRequest): string {
    const stack = this.requireStack(request.stackName);
    if (!['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE'].includes(stack.status)) {
      throw new CloudFormationError('ValidationError', `Stack:${stack.stackId} is in ${stack.status} state and can not be updated.`);
    }
    const body = request.usePreviousTemplate ? stack.templateBody : request.templateBody;
    const prepared = this.prepare({ ...request, ...(body !== undefined ? { templateBody: body } : {}) }, stack.stackName, stack.parameters, stack.stackId);
    const sameTags = request.tags === undefined || JSON.stringify(request.tags) === JSON.stringify(stack.tags);
    if (canonical(prepared.template) === canonical(this.template(stack)) && JSON.stringify(prepared.parameters) === JSON.stringify(stack.parameters) && sameTags) {
      throw new CloudFormationError('ValidationError', 'No updates are to be performed.');
    }
    stack.status = 'UPDATE_IN_PROGRESS';
    delete stack.statusReason;
    // The operation, and its rollback, run as the role it names: from now on the stack's role.
    if (request.roleArn !== undefined) stack.roleArn = request.roleArn;
    this.stackEvent(stack, 'UPDATE_IN_PROGRESS', 'User Initiated');
    this.run(stack, () => this.update(stack, prepared, request));
    return stack.stackId;
  }

  /**
   * DeleteStack: deletes in the background, in reverse dependency order, keeping what DeletionPolicy Retain
   * keeps; as `roleArn` when given (it becomes the stack's role), else as the stack's role or the caller.
   */
  deleteStack(stackName: string, request: { readonly roleArn?: string; readonly requestedBy?: string } = {}): void {
    const stack = this.stacks.get(stackName) ?? this.findById(stackName);
    if (!stack || stack.status === 'DELETE_COMPLETE' || stack.status === 'DELETE_IN_PROGRESS') return;
    if (stack.status.endsWith('_IN_PROGRESS')) throw new CloudFormationError('ValidationError', `Stack [${stack.stackName}] cannot be deleted while in status ${stack.status}`);
    if (request.roleArn !== undefined) {
      if (!(this.options.roleExists?.(request.roleArn) ?? false)) throw new CloudFormationError('ValidationError', `Role ${request.roleArn} is invalid or cannot be assumed`);
      stack.roleArn = request.roleArn;
    }
    stack.status = 'DELETE_IN_PROGRESS';
    delete stack.statusReason;
    this.stackEvent(stack, 'DELETE_IN_PROGRESS', 'User Initiated');
    this.run(stack, () => this.delete(stack, request.requestedBy));
  }

  /** A stack by name (live stacks) or stack id (deleted ones too); a ValidationError when there is none. */
  describeStack(nameOrId: string): StackState {
    const stack = this.stacks.get(nameOrId) ?? this.findById(nameOrId) ?? this.deleted.get(nameOrId);
    if (!stack) throw new CloudFormationError('ValidationError', `Stack with id ${nameOrId} does not exist`);
    return stack;
  }

  /** The ARN IAM authorizes a call on this stack against: its id, or `stack/<name>/*` while there is none of that name. */
  stackArn(nameOrId: string): string {
    if (nameOrId.startsWith('arn:')) return nameOrId;
    return this.stacks.get(nameOrId)?.stackId ?? `arn:aws:cloudformation:${this.options.region}:${this.options.accountId}:stack/${nameOrId}/*`;
  }

  /** Every live stack, oldest first. */
  listStacks(includeDeleted = false): StackState[] {
    return [...this.stacks.values(), ...(includeDeleted ? this.deleted.values() : [])].sort((a, b) => a.creationTime.localeCompare(b.creationTime));
  }

  /** The resources of every live stack, optionally of one type: IAM documents, key policies and the like, resolved. */
  resources(type?: string): ResourceRecord[] {
    return [...this.stacks.values()].flatMap((stack) => Object.values(stack.resources).filter((r) => type === undefined || r.type === type));
  }

  /** Resolves when the stack's operation under way (if any) has finished. */
  async settle(stackName: string): Promise<StackState> {
    await this.operations.get(stackName);
    return this.describeStack(stackName);
  }

  /**
   * What `cdk deploy` does with a synthesized template: creates the stack, or updates it when it exists
   * (nothing to update is fine), and waits. Fails with the events' reasons when the stack does not end complete.
   */
  async deploy(request: StackRequest): Promise<StackState> {
    try {
      if (this.stacks.has(request.stackName)) this.updateStack(request);
      else this.createStack(request);
    } catch (error) {
      if (!(error instanceof CloudFormationError && error.message === 'No updates are to be performed.')) throw error;
    }
    const stack = await this.settle(request.stackName);
    if (stack.status !== 'CREATE_COMPLETE' && stack.status !== 'UPDATE_COMPLETE') {
      const reasons = stack.events.filter((e) => e.ResourceStatus.endsWith('_FAILED')).map((e) => `${e.LogicalResourceId} (${e.ResourceType}): ${e.ResourceStatusReason ?? ''}`);
      throw new Error(`stack ${stack.stackName} is ${stack.status}: ${reasons.join('; ') || stack.statusReason}`);
    }
    return stack;
  }

  /** The stack's template, parsed. */
  template(stack: StackState): CfnTemplate {
    let template = this.templates.get(stack.stackId);
    if (!template) {
      template = JSON.parse(stack.templateBody) as CfnTemplate;
      this.templates.set(stack.stackId, template);
    }
    return template;
  }

  private findById(stackId: string): StackState | undefined {
    return [...this.stacks.values()].find((s) => s.stackId === stackId);
  }

  private requireStack(nameOrId: string): StackState {
    const stack = this.stacks.get(nameOrId) ?? this.findById(nameOrId);
    if (!stack) throw new CloudFormationError('ValidationError', `Stack [${nameOrId}] does not exist`);
    return stack;
  }

  /** Everything CloudFormation checks before it starts an operation. */
  private prepare(request: StackRequest, stackName: string, previous: Record<string, string>, stackId?: string): PreparedTemplate {
    if (request.templateBody === undefined) throw new CloudFormationError('ValidationError', 'Either Template URL or Template Body must be specified.');
    let template: CfnTemplate;
    try {
      template = JSON.parse(request.templateBody) as CfnTemplate;
    } catch {
      throw new CloudFormationError('ValidationError', 'Template format error: JSON not well-formed. (the local runtime reads JSON templates only)');
    }
    if (template === null || typeof template !== 'object' || !template.Resources || Object.keys(template.Resources).length === 0) {
      throw new CloudFormationError('ValidationError', 'Template format error: At least one Resources member must be defined.');
    }
    for (const [id, resource] of Object.entries(template.Resources)) {
      if (typeof resource?.Type !== 'string')
        throw new CloudFormationError('ValidationError', `Template format error: [/Resources/${id}] Every Resources object must contain a Type member.`);
    }
    const { values, refs } = resolveParameters(template, request.parameters ?? [], previous);
    const context = this.context(stackName, stackId, refs, template);
    let conditions: Map<string, boolean>;
    try {
      checkRules(template, context);
      conditions = evaluateConditions(template, context);
    } catch (error) {
      if (error instanceof TemplateError)
        throw new CloudFormationError('ValidationError', error.message.startsWith('Template') ? error.message : `Template error: ${error.message}`);
      throw error;
    }
    const active = Object.keys(template.Resources).filter((id) => {
      const condition = (template.Resources[id] as { Condition?: string }).Condition;
      if (condition === undefined) return true;
      const value = conditions.get(condition);
      if (value === undefined)
        throw new CloudFormationError(
          'ValidationError',
          `Template format error: Unresolved dependencies [${condition}]. Cannot reference resources in the Conditions block of the template`,
        );
      return value;
    });
    const known = new Set([...active, ...Object.keys(template.Parameters ?? {})]);
    for (const id of active) {
      const resource = template.Resources[id] as CfnTemplate['Resources'][string];
      const dependsOn = resource.DependsOn === undefined ? [] : Array.isArray(resource.DependsOn) ? resource.DependsOn : [resource.DependsOn];
      const unresolved = [...dependsOn, ...[...referencedNames(withoutInactiveBranches(resource.Properties, conditions))].filter((name) => !name.startsWith('AWS::'))].filter(
        (name) => !known.has(name),
      );
      if (unresolved.length > 0)
        throw new CloudFormationError(
          'ValidationError',
          `Template format error: Unresolved resource dependencies [${[...new Set(unresolved)].join(', ')}] in the Resources block of the template`,
        );
    }
    const order = dependencyOrder(template, active);
    const capabilities = new Set(request.capabilities ?? []);
    const iam = active.map((id) => template.Resources[id] as CfnTemplate['Resources'][string]).filter((r) => IAM_TYPES.has(r.Type));
    const named = iam.some((r) => NAMED_IAM_PROPERTIES[r.Type] !== undefined && r.Properties?.[NAMED_IAM_PROPERTIES[r.Type] as string] !== undefined);
    if (named && !capabilities.has('CAPABILITY_NAMED_IAM')) throw new CloudFormationError('InsufficientCapabilitiesException', 'Requires capabilities : [CAPABILITY_NAMED_IAM]');
    if (iam.length > 0 && !capabilities.has('CAPABILITY_IAM') && !capabilities.has('CAPABILITY_NAMED_IAM'))
      throw new CloudFormationError('InsufficientCapabilitiesException', 'Requires capabilities : [CAPABILITY_IAM]');
    if (request.roleArn !== undefined && !(this.options.roleExists?.(request.roleArn) ?? false)) {
      throw new CloudFormationError('ValidationError', `Role ${request.roleArn} is invalid or cannot be assumed`);
    }
    return { template, body: request.templateBody, parameters: values, refs, conditions, order };
  }

  private context(
    stackName: string,
    stackId: string | undefined,
    refs: ReadonlyMap<string, string | readonly string[]>,
    template: CfnTemplate,
    conditions?: ReadonlyMap<string, boolean>,
  ): ResolutionContext {
    return {
      region: this.options.region,
      accountId: this.options.accountId,
      stackName,
      ...(stackId ? { stackId } : {}),
      refs: new Map(refs),
      attributes: new Map(),
      ...(conditions ? { conditions } : {}),
      ...(template.Mappings ? { mappings: template.Mappings } : {}),
    };
  }

  private run(stack: StackState, operation: () => Promise<void>): void {
    this.save(stack);
    const done = operation()
      .catch((error: unknown) => {
        // A fault of the engine itself (not of a resource, which rolls back): the stack says so.
        stack.status = stack.status.startsWith('DELETE') ? 'DELETE_FAILED' : stack.status.startsWith('UPDATE') ? 'UPDATE_ROLLBACK_FAILED' : 'CREATE_FAILED';
        stack.statusReason = (error as Error).message;
        this.stackEvent(stack, stack.status, stack.statusReason);
      })
      .finally(() => {
        this.save(stack);
        this.operations.delete(stack.stackName);
      });
    this.operations.set(stack.stackName, done);
  }

  private async create(stack: StackState, prepared: PreparedTemplate, requestedBy: string | undefined): Promise<void> {
    const context = this.context(stack.stackName, stack.stackId, prepared.refs, prepared.template, prepared.conditions);
    const created: string[] = [];
    try {
      for (const logicalId of prepared.order) {
        const desired = this.desired(stack, prepared.template, logicalId, context);
        this.resourceEvent(stack, desired, '', 'CREATE_IN_PROGRESS');
        const record = await this.createResource(stack, requestedBy, desired, prepared.template);
        this.setResource(stack, logicalId, record);
        created.push(logicalId);
        register(context, record);
        this.resourceEvent(stack, desired, record.physicalId, 'CREATE_COMPLETE');
      }
      stack.outputs = this.outputs(prepared.template, context);
      stack.status = 'CREATE_COMPLETE';
      this.stackEvent(stack, 'CREATE_COMPLETE');
    } catch (error) {
      const failure = this.failure(stack, error, 'CREATE_FAILED');
      stack.status = 'ROLLBACK_IN_PROGRESS';
      stack.statusReason =
        failure.logicalId === stack.stackName ? failure.message : `The following resource(s) failed to create: [${failure.logicalId}]. Rollback requested by user.`;
      this.stackEvent(stack, 'ROLLBACK_IN_PROGRESS', stack.statusReason);
      for (const logicalId of created.reverse()) {
        await this.deleteResource(stack, requestedBy, stack.resources[logicalId] as ResourceRecord, false);
        this.setResource(stack, logicalId, undefined);
      }
      stack.status = 'ROLLBACK_COMPLETE';
      this.stackEvent(stack, 'ROLLBACK_COMPLETE');
    }
  }

  private async update(stack: StackState, prepared: PreparedTemplate, request: StackRequest): Promise<void> {
    const previous = { template: this.template(stack), body: stack.templateBody, parameters: stack.parameters, resources: { ...stack.resources }, outputs: stack.outputs };
    const context = this.context(stack.stackName, stack.stackId, prepared.refs, prepared.template, prepared.conditions);
    for (const record of Object.values(stack.resources)) register(context, record);
    // What to undo if a resource fails: the records each step replaced (undefined: the step created it).
    const undo: { logicalId: string; before: ResourceRecord | undefined; replacedBy?: ResourceRecord }[] = [];
    const replaced: ResourceRecord[] = [];
    try {
      for (const logicalId of prepared.order) {
        const desired = this.desired(stack, prepared.template, logicalId, context);
        const current = stack.resources[logicalId];
        if (!current) {
          this.resourceEvent(stack, desired, '', 'CREATE_IN_PROGRESS');
          const record = await this.createResource(stack, request.requestedBy, desired, prepared.template);
          this.setResource(stack, logicalId, record);
          undo.push({ logicalId, before: undefined });
          register(context, record);
          this.resourceEvent(stack, desired, record.physicalId, 'CREATE_COMPLETE');
          continue;
        }
        if (current.type === desired.type && canonical(current.properties) === canonical(desired.properties) && canonical(current.metadata) === canonical(desired.metadata))
          continue;
        const provisioner = this.provisioner(desired.type, logicalId);
        const replace =
          current.type !== desired.type || !provisioner.update || (provisioner.replaceOn ?? []).some((p) => canonical(current.properties[p]) !== canonical(desired.properties[p]));
        this.resourceEvent(
          stack,
          desired,
          current.physicalId,
          'UPDATE_IN_PROGRESS',
          replace ? 'Requested update requires the creation of a new physical resource; hence creating one.' : undefined,
        );
        let record: ResourceRecord;
        if (replace) {
          const name = explicitName(desired.type, desired.properties);
          if (name !== undefined && name === explicitName(current.type, current.properties)) {
            throw new ResourceFailure(
              logicalId,
              desired.type,
              `CloudFormation cannot update a stack when a custom-named resource requires replacing. Rename ${name} and update the stack again.`,
            );
          }
          record = await this.createResource(stack, request.requestedBy, desired, prepared.template);
          replaced.push(current);
          undo.push({ logicalId, before: current, replacedBy: record });
        } else {
          record = await this.attempt(
            { action: 'update', stack, ...by(request.requestedBy), resource: desired, previous: current },
            () => provisioner.update?.(current, desired) as ReturnType<NonNullable<Provisioner['update']>>,
            prepared.template,
          );
          undo.push({ logicalId, before: current });
        }
        this.setResource(stack, logicalId, record);
        register(context, record);
        this.resourceEvent(stack, desired, record.physicalId, 'UPDATE_COMPLETE');
      }
      stack.outputs = this.outputs(prepared.template, context);
    } catch (error) {
      const failure = this.failure(stack, error, 'UPDATE_FAILED');
      stack.status = 'UPDATE_ROLLBACK_IN_PROGRESS';
      stack.statusReason = failure.logicalId === stack.stackName ? failure.message : `The following resource(s) failed to update: [${failure.logicalId}]. `;
      this.stackEvent(stack, 'UPDATE_ROLLBACK_IN_PROGRESS', stack.statusReason);
      for (const step of undo.reverse()) {
        const now = stack.resources[step.logicalId] as ResourceRecord;
        if (step.before === undefined) {
          await this.deleteResource(stack, request.requestedBy, now, false);
          this.setResource(stack, step.logicalId, undefined);
        } else if (step.replacedBy) {
          await this.deleteResource(stack, request.requestedBy, step.replacedBy, false);
          this.setResource(stack, step.logicalId, step.before);
        } else {
          this.resourceEvent(stack, step.before, now.physicalId, 'UPDATE_IN_PROGRESS');
          await this.options.authorizeResource?.({ action: 'update', stack, ...by(request.requestedBy), resource: step.before, previous: now });
          await this.provisioner(now.type, step.logicalId).update?.(now, step.before);
          this.setResource(stack, step.logicalId, step.before);
          this.resourceEvent(stack, step.before, step.before.physicalId, 'UPDATE_COMPLETE');
        }
      }
      stack.templateBody = previous.body;
      this.templates.set(stack.stackId, previous.template);
      stack.parameters = previous.parameters;
      stack.outputs = previous.outputs;
      stack.status = 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS';
      this.stackEvent(stack, stack.status);
      stack.status = 'UPDATE_ROLLBACK_COMPLETE';
      this.stackEvent(stack, stack.status);
      return;
    }
    stack.templateBody = prepared.body;
    this.templates.set(stack.stackId, prepared.template);
    stack.parameters = prepared.parameters;
    stack.noEcho = noEchoParameters(prepared.template);
    if (request.tags !== undefined) stack.tags = [...request.tags];
    if (prepared.template.Description) stack.description = prepared.template.Description;
    stack.lastUpdatedTime = new Date().toISOString();
    stack.status = 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS';
    this.stackEvent(stack, stack.status);
    // Cleanup: replaced resources, then those the new template no longer has (in reverse dependency order of the old one).
    for (const old of replaced) {
      if (old.updateReplacePolicy === 'Retain') continue;
      await this.deleteResource(stack, request.requestedBy, old, true);
    }
    const removed = dependencyOrder(
      previous.template,
      Object.keys(previous.resources).filter((id) => !prepared.order.includes(id)),
    ).reverse();
    for (const logicalId of removed) {
      await this.deleteResource(stack, request.requestedBy, previous.resources[logicalId] as ResourceRecord, true);
      this.setResource(stack, logicalId, undefined);
    }
    stack.status = 'UPDATE_COMPLETE';
    this.stackEvent(stack, stack.status);
  }

  private async delete(stack: StackState, requestedBy: string | undefined): Promise<void> {
    const order = dependencyOrder(this.template(stack), Object.keys(stack.resources)).reverse();
    for (const logicalId of order) {
      const record = stack.resources[logicalId] as ResourceRecord;
      try {
        await this.deleteResource(stack, requestedBy, record, true);
        this.setResource(stack, logicalId, undefined);
      } catch (error) {
        stack.status = 'DELETE_FAILED';
        stack.statusReason = `The following resource(s) failed to delete: [${logicalId}]. `;
        this.resourceEvent(stack, record, record.physicalId, 'DELETE_FAILED', (error as Error).message);
        this.stackEvent(stack, 'DELETE_FAILED', stack.statusReason);
        return;
      }
    }
    stack.status = 'DELETE_COMPLETE';
    stack.deletionTime = new Date().toISOString();
    this.stackEvent(stack, 'DELETE_COMPLETE');
    this.stacks.delete(stack.stackName);
    this.deleted.set(stack.stackId, stack);
    this.options.onResourcesChanged?.(stack);
  }

  /** Records (or forgets) a stack's resource and says so to whoever follows the stacks. */
  private setResource(stack: StackState, logicalId: string, record: ResourceRecord | undefined): void {
    if (record) stack.resources[logicalId] = record;
    else delete stack.resources[logicalId];
    this.options.onResourcesChanged?.(stack);
  }

  private desired(stack: StackState, template: CfnTemplate, logicalId: string, context: ResolutionContext): DesiredResource {
    const resource = template.Resources[logicalId] as CfnTemplate['Resources'][string];
    let properties: Record<string, unknown>;
    try {
      properties = (resolveValue(resource.Properties ?? {}, context, `${logicalId}.Properties`) ?? {}) as Record<string, unknown>;
    } catch (error) {
      if (error instanceof TemplateError) throw new ResourceFailure(logicalId, resource.Type, error.message);
      throw error;
    }
    return {
      stackName: stack.stackName,
      logicalId,
      type: resource.Type,
      properties,
      metadata: resource.Metadata ?? {},
      physicalName: explicitName(resource.Type, properties) ?? physicalName(stack.stackName, logicalId),
    };
  }

  private async createResource(stack: StackState, requestedBy: string | undefined, desired: DesiredResource, template: CfnTemplate): Promise<ResourceRecord> {
    const provisioner = this.provisioner(desired.type, desired.logicalId);
    return this.attempt({ action: 'create', stack, ...by(requestedBy), resource: desired }, () => provisioner.create(desired), template);
  }

  /** Authorizes the change, then makes it: a refusal or a failure of the step fails the resource. */
  private async attempt(change: ResourceChange, step: () => ReturnType<Provisioner['create']>, template: CfnTemplate): Promise<ResourceRecord> {
    const desired = change.resource;
    const resource = template.Resources[desired.logicalId] as CfnTemplate['Resources'][string];
    try {
      await this.options.authorizeResource?.(change);
      const provisioned = await step();
      return {
        ...desired,
        physicalId: provisioned.physicalId,
        attributes: provisioned.attributes ?? {},
        ...(resource.DeletionPolicy ? { deletionPolicy: resource.DeletionPolicy } : {}),
        ...(resource.UpdateReplacePolicy ? { updateReplacePolicy: resource.UpdateReplacePolicy } : {}),
      };
    } catch (error) {
      throw new ResourceFailure(desired.logicalId, desired.type, (error as Error).message);
    }
  }

  private async deleteResource(stack: StackState, requestedBy: string | undefined, record: ResourceRecord, honourRetain: boolean): Promise<void> {
    if (honourRetain && record.deletionPolicy === 'Retain') {
      this.resourceEvent(stack, record, record.physicalId, 'DELETE_SKIPPED');
      return;
    }
    this.resourceEvent(stack, record, record.physicalId, 'DELETE_IN_PROGRESS');
    await this.options.authorizeResource?.({ action: 'delete', stack, ...by(requestedBy), resource: record });
    await this.provisioner(record.type, record.logicalId).delete(record);
    this.resourceEvent(stack, record, record.physicalId, 'DELETE_COMPLETE');
  }

  private provisioner(type: string, logicalId: string): Provisioner {
    const provisioner = this.options.provisioners.get(type);
    if (!provisioner)
      throw new ResourceFailure(logicalId, type, `Resource type ${type} (${logicalId}) is not emulated by the local runtime (docs/local-runtime.md lists the types it emulates)`);
    return provisioner;
  }

  private outputs(template: CfnTemplate, context: ResolutionContext): StackOutput[] {
    return Object.entries(template.Outputs ?? {}).flatMap(([key, output]) => {
      if (output.Condition !== undefined && context.conditions?.get(output.Condition) !== true) return [];
      try {
        const value = resolveValue(output.Value, context, `Outputs.${key}`);
        const exportName = output.Export ? String(resolveValue(output.Export.Name, context, `Outputs.${key}.Export`)) : undefined;
        return [
          {
            OutputKey: key,
            OutputValue: Array.isArray(value) ? value.join(',') : String(value),
            ...(output.Description ? { Description: output.Description } : {}),
            ...(exportName ? { ExportName: exportName } : {}),
          },
        ];
      } catch (error) {
        throw new ResourceFailure(context.stackName, 'AWS::CloudFormation::Stack', `Output ${key}: ${(error as Error).message}`);
      }
    });
  }

  private failure(stack: StackState, error: unknown, status: string): ResourceFailure {
    const failure = error instanceof ResourceFailure ? error : new ResourceFailure(stack.stackName, 'AWS::CloudFormation::Stack', (error as Error).message);
    const record = stack.resources[failure.logicalId];
    this.events(stack).push(this.event(stack, failure.logicalId, record?.physicalId ?? '', failure.type, status, failure.message));
    return failure;
  }

  private stackEvent(stack: StackState, status: string, reason?: string): void {
    this.events(stack).push(this.event(stack, stack.stackName, stack.stackId, 'AWS::CloudFormation::Stack', status, reason));
    this.options.onStackStatus?.(stack, status, reason);
  }

  private resourceEvent(stack: StackState, resource: DesiredResource, physicalId: string, status: string, reason?: string): void {
    this.events(stack).push(this.event(stack, resource.logicalId, physicalId, resource.type, status, reason));
  }

  private events(stack: StackState): StackEvent[] {
    if (stack.events.length >= KEPT_EVENTS) stack.events.splice(0, stack.events.length - KEPT_EVENTS + 1);
    return stack.events;
  }

  private event(stack: StackState, logicalId: string, physicalId: string, type: string, status: string, reason?: string): StackEvent {
    return {
      EventId: randomUUID(),
      StackId: stack.stackId,
      StackName: stack.stackName,
      LogicalResourceId: logicalId,
      PhysicalResourceId: physicalId,
      ResourceType: type,
      Timestamp: new Date().toISOString(),
      ResourceStatus: status,
      ...(reason !== undefined ? { ResourceStatusReason: reason } : {}),
    };
  }

  /** One file per stack id: a deleted stack keeps its file (ListStacks), a new stack of the same name gets its own. */
  private save(stack: StackState): void {
    const file = join(this.options.directory, `${stack.stackName}-${stack.stackId.split('/').pop() as string}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(stack));
    renameSync(`${file}.tmp`, file);
  }
}

function by(requestedBy: string | undefined): { requestedBy?: string } {
  return requestedBy === undefined ? {} : { requestedBy };
}

/** Registers what a resource's Ref and Fn::GetAtt stand for. */
function register(context: ResolutionContext, record: ResourceRecord): void {
  context.refs.set(record.logicalId, record.physicalId);
  for (const [name, value] of Object.entries(record.attributes)) context.attributes.set(`${record.logicalId}.${name}`, value);
}

/**
 * The given resources ordered so each comes after what it depends on (DependsOn, Ref, Fn::GetAtt, Fn::Sub);
 * among those ready at once, template order, custom resources last: on AWS they run a Lambda function and
 * finish after the native resources started with them (a bucket deployment's upload reaches the pipeline's
 * event rule only if the rule exists by then). A cycle is a ValidationError naming its resources.
 */
export function dependencyOrder(template: CfnTemplate, ids: readonly string[]): string[] {
  const included = new Set(ids);
  const position = new Map(Object.keys(template.Resources).map((id, i) => [id, i]));
  const dependencies = new Map<string, Set<string>>();
  for (const id of ids) {
    const resource = template.Resources[id];
    const dependsOn = resource?.DependsOn === undefined ? [] : Array.isArray(resource.DependsOn) ? resource.DependsOn : [resource.DependsOn];
    dependencies.set(id, new Set([...dependsOn, ...referencedNames(resource?.Properties)].filter((name) => name !== id && included.has(name))));
  }
  const order: string[] = [];
  const done = new Set<string>();
  const pending = [...ids].sort((a, b) => (position.get(a) ?? 0) - (position.get(b) ?? 0));
  while (pending.length > 0) {
    const ready = (id: string) => [...(dependencies.get(id) as Set<string>)].every((d) => done.has(d));
    const native = pending.findIndex((id) => ready(id) && !template.Resources[id]?.Type.startsWith('Custom::'));
    const index = native >= 0 ? native : pending.findIndex(ready);
    if (index < 0) throw new CloudFormationError('ValidationError', `Circular dependency between resources: [${pending.join(', ')}]`);
    const [id] = pending.splice(index, 1) as [string];
    order.push(id);
    done.add(id);
  }
  return order;
}

/** The value with every Fn::If branch its condition does not take removed (references there are not dependencies). */
function withoutInactiveBranches(value: unknown, conditions: ReadonlyMap<string, boolean>): unknown {
  if (Array.isArray(value)) return value.map((item) => withoutInactiveBranches(item, conditions));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const [first] = entries;
  if (entries.length === 1 && first?.[0] === 'Fn::If' && Array.isArray(first[1])) {
    const [condition, whenTrue, whenFalse] = first[1] as [string, unknown, unknown];
    return withoutInactiveBranches(conditions.get(condition) ? whenTrue : whenFalse, conditions);
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, withoutInactiveBranches(item, conditions)]));
}

function noEchoParameters(template: CfnTemplate): string[] {
  return Object.entries(template.Parameters ?? {})
    .filter(([, p]) => p.NoEcho === true || String(p.NoEcho) === 'true')
    .map(([key]) => key);
}

function checkStackName(name: string): void {
  if (!/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(name)) {
    throw new CloudFormationError(
      'ValidationError',
      `1 validation error detected: Value '${name}' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*`,
    );
  }
}

/** JSON with object keys sorted: equal for equal values whatever the key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, item: unknown) =>
    item !== null && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : item,
  );
}
