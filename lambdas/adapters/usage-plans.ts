// The deployment's usage plans in API Gateway: which keys each kind of client has. Read by the authorizer
// (use-cases/authorize-api-key.ts) through the API Gateway API: GetUsagePlans finds the plans by name (the
// authorizer cannot be given their ids: the plans depend on the stage, the stage on its methods, the methods
// on the authorizer), GetUsagePlanKeys lists each plan's keys with their values.
import { GetUsagePlanKeysCommand, GetUsagePlansCommand, type APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { API_CLIENTS, type ApiClient } from '../core/api-clients';

export interface PlanKey {
  readonly id: string;
  readonly value: string;
}

/** A plan the deployment should have is missing (deleted by hand, or a stack not yet deployed). */
export class MissingUsagePlanError extends Error {
  override readonly name = 'MissingUsagePlanError';
}

export class UsagePlans {
  constructor(
    private readonly client: APIGatewayClient,
    /** The plan of each kind of client, by name. */
    private readonly planNames: Readonly<Record<ApiClient, string>>,
  ) {}

  /** Every key of every plan, by kind of client. */
  async keys(): Promise<Record<ApiClient, PlanKey[]>> {
    const plans = new Map<string, string>();
    let position: string | undefined;
    do {
      const page = await this.client.send(new GetUsagePlansCommand({ limit: 500, ...(position ? { position } : {}) }));
      for (const plan of page.items ?? []) if (plan.name && plan.id) plans.set(plan.name, plan.id);
      position = page.position;
    } while (position);
    const entries = await Promise.all(
      API_CLIENTS.map(async (client) => {
        const id = plans.get(this.planNames[client]);
        if (!id) throw new MissingUsagePlanError(`no usage plan named ${this.planNames[client]} (the ${client} keys' plan)`);
        return [client, await this.planKeys(id)] as const;
      }),
    );
    return Object.fromEntries(entries) as Record<ApiClient, PlanKey[]>;
  }

  private async planKeys(usagePlanId: string): Promise<PlanKey[]> {
    const keys: PlanKey[] = [];
    let position: string | undefined;
    do {
      const page = await this.client.send(new GetUsagePlanKeysCommand({ usagePlanId, limit: 500, ...(position ? { position } : {}) }));
      for (const key of page.items ?? []) if (key.id && key.value) keys.push({ id: key.id, value: key.value });
      position = page.position;
    } while (position);
    return keys;
  }
}
