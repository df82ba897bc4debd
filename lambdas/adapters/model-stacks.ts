// The models' CloudFormation stacks through the CloudFormation API: the only code that creates, updates and
// deletes them (the pipeline's provision function calls it, under the model's lock).
import {
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  GetTemplateCommand,
  UpdateStackCommand,
  type CloudFormationClient,
  type Parameter,
} from '@aws-sdk/client-cloudformation';
import type { StackState } from '../core/pipeline/provisioning';

export interface StackRequest {
  readonly stackName: string;
  readonly templateBody: string;
  readonly parameters: Readonly<Record<string, string>>;
  /** The service role CloudFormation acts as (the caller only needs iam:PassRole on it). */
  readonly roleArn: string;
  readonly tags: Readonly<Record<string, string>>;
}

export class ModelStacks {
  constructor(private readonly client: CloudFormationClient) {}

  /** The stack's status and parameters, or undefined when there is none. */
  async describe(stackName: string): Promise<StackState | undefined> {
    try {
      const { Stacks } = await this.client.send(new DescribeStacksCommand({ StackName: stackName }));
      const stack = Stacks?.[0];
      if (!stack) return undefined;
      return {
        status: stack.StackStatus ?? 'UNKNOWN',
        ...(stack.StackStatusReason ? { reason: stack.StackStatusReason } : {}),
        parameters: Object.fromEntries((stack.Parameters ?? []).map((p) => [p.ParameterKey ?? '', p.ParameterValue ?? ''])),
      };
    } catch (error) {
      // CloudFormation answers a missing stack with a ValidationError, "Stack with id <name> does not exist".
      if ((error as Error).name === 'ValidationError' && /does not exist/.test((error as Error).message)) return undefined;
      throw error;
    }
  }

  /** The template the stack runs now (to tell whether the published one differs). */
  async template(stackName: string): Promise<string | undefined> {
    try {
      return (await this.client.send(new GetTemplateCommand({ StackName: stackName, TemplateStage: 'Original' }))).TemplateBody;
    } catch (error) {
      if ((error as Error).name === 'ValidationError' && /does not exist/.test((error as Error).message)) return undefined;
      throw error;
    }
  }

  async create(request: StackRequest): Promise<void> {
    await this.client.send(
      new CreateStackCommand({
        StackName: request.stackName,
        TemplateBody: request.templateBody,
        Parameters: parameters(request.parameters),
        RoleARN: request.roleArn,
        Capabilities: ['CAPABILITY_IAM'],
        // A failed creation rolls back to ROLLBACK_COMPLETE; the next provisioning deletes and recreates it.
        OnFailure: 'ROLLBACK',
        Tags: Object.entries(request.tags).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
  }

  /** Starts an update; false when CloudFormation says there is nothing to update. */
  async update(request: StackRequest): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateStackCommand({
          StackName: request.stackName,
          TemplateBody: request.templateBody,
          Parameters: parameters(request.parameters),
          RoleARN: request.roleArn,
          Capabilities: ['CAPABILITY_IAM'],
          Tags: Object.entries(request.tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'ValidationError' && /No updates are to be performed/.test((error as Error).message)) return false;
      throw error;
    }
  }

  async delete(stackName: string, roleArn: string): Promise<void> {
    await this.client.send(new DeleteStackCommand({ StackName: stackName, RoleARN: roleArn }));
  }

  /** Why the last operation failed: the first failed resource's reason, as the stack events tell it. */
  async failureReason(stackName: string): Promise<string | undefined> {
    try {
      const { StackEvents } = await this.client.send(new DescribeStackEventsCommand({ StackName: stackName }));
      // Newest first. The last operation began at the stack's own *_IN_PROGRESS event; its earliest resource
      // failure is the cause, the later ones (cancellations, rollbacks) its consequences.
      const failures = [];
      for (const event of StackEvents ?? []) {
        const ownEvent = event.LogicalResourceId === stackName;
        if (ownEvent && /^(CREATE|UPDATE|DELETE)_IN_PROGRESS$/.test(event.ResourceStatus ?? '')) break;
        if (!ownEvent && /_FAILED$/.test(event.ResourceStatus ?? '') && event.ResourceStatusReason && !/cancelled/i.test(event.ResourceStatusReason)) failures.push(event);
      }
      const first = failures.at(-1);
      return first ? `${first.LogicalResourceId} (${first.ResourceType}): ${first.ResourceStatusReason}` : undefined;
    } catch {
      return undefined;
    }
  }
}

function parameters(values: Readonly<Record<string, string>>): Parameter[] {
  return Object.entries(values).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue }));
}
