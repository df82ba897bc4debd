// The model functions' configuration, versions and `live` alias through the Lambda API. After the first
// deploy the promotion pipeline is the only writer of the alias (docs/infrastructure.md, docs/pipeline.md):
// CloudFormation never updates it, and this adapter is the only code that calls UpdateAlias.
import {
  GetAliasCommand,
  GetFunctionConfigurationCommand,
  InvokeCommand,
  PublishVersionCommand,
  UpdateAliasCommand,
  UpdateFunctionConfigurationCommand,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import type { AliasRouting } from '../core/promotion/rollout-plan';

import { LIVE_ALIAS_NAME as LIVE_ALIAS } from '../core/naming';

export class FunctionUpdateError extends Error {
  override readonly name = 'FunctionUpdateError';
}

export class LambdaControl {
  constructor(
    private readonly client: LambdaClient,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {}

  /**
   * Points `$LATEST` at a model bundle (environment merged, nothing else changed), waits until Lambda has
   * applied it, and publishes it as a new immutable version. The model functions' `$LATEST` is never routed
   * to; only the pipeline (under the model's lock) changes it, so the version published is this bundle.
   */
  async publishModelVersion(functionName: string, environment: Readonly<Record<string, string>>, description: string): Promise<{ version: string; codeSha256?: string }> {
    const current = await this.client.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }));
    await this.waitUntilUpdated(functionName);
    const variables = { ...(current.Environment?.Variables ?? {}), ...environment };
    await this.client.send(new UpdateFunctionConfigurationCommand({ FunctionName: functionName, Environment: { Variables: variables } }));
    const updated = await this.waitUntilUpdated(functionName);
    const published = await this.client.send(
      new PublishVersionCommand({ FunctionName: functionName, Description: description.slice(0, 256), ...(updated.revisionId ? { RevisionId: updated.revisionId } : {}) }),
    );
    if (!published.Version) throw new FunctionUpdateError(`PublishVersion of ${functionName} returned no version`);
    return { version: published.Version, ...(published.CodeSha256 ? { codeSha256: published.CodeSha256 } : {}) };
  }

  /** Sets the `live` alias's version and weighted routing in one UpdateAlias (atomic for callers). */
  async setRouting(functionName: string, routing: AliasRouting): Promise<void> {
    const weights = routing.additionalVersion !== undefined && (routing.additionalWeight ?? 0) > 0 ? { [routing.additionalVersion]: routing.additionalWeight as number } : {};
    await this.client.send(
      new UpdateAliasCommand({
        FunctionName: functionName,
        Name: LIVE_ALIAS,
        FunctionVersion: routing.version,
        RoutingConfig: { AdditionalVersionWeights: weights },
      }),
    );
  }

  async getRouting(functionName: string): Promise<AliasRouting> {
    const alias = await this.client.send(new GetAliasCommand({ FunctionName: functionName, Name: LIVE_ALIAS }));
    const [additional] = Object.entries(alias.RoutingConfig?.AdditionalVersionWeights ?? {});
    return { version: alias.FunctionVersion as string, ...(additional ? { additionalVersion: additional[0], additionalWeight: additional[1] } : {}) };
  }

  /** Fire-and-forget invocation (InvocationType Event): Lambda queues it and answers 202. */
  async invokeAsync(functionName: string, qualifier: string, payload: unknown): Promise<void> {
    await this.client.send(
      new InvokeCommand({ FunctionName: functionName, Qualifier: qualifier, InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify(payload)) }),
    );
  }

  private async waitUntilUpdated(functionName: string, timeoutMs = 120_000): Promise<{ revisionId?: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const config = await this.client.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }));
      if (config.LastUpdateStatus === 'Failed') {
        throw new FunctionUpdateError(`${functionName}: the last configuration update failed: ${config.LastUpdateStatusReason ?? 'no reason given'}`);
      }
      if (config.State !== 'Pending' && config.LastUpdateStatus !== 'InProgress') return config.RevisionId ? { revisionId: config.RevisionId } : {};
      if (Date.now() > deadline) throw new FunctionUpdateError(`${functionName}: still updating after ${timeoutMs / 1000} s`);
      await this.sleep(1000);
    }
  }
}
