// Decides a request as IAM would, with @cloud-copilot/iam-simulate: the caller's identity policies (its role's),
// the resource's policy (bucket, topic, key, function), same-account and KMS key-policy rules, conditions on
// the context keys the runtime sets. Each denial says which statement is missing, for the console and the
// error the caller gets.
import { runSimulation, runUnsafeSimulation, type RequestAnalysis, type Simulation } from '@cloud-copilot/iam-simulate';
import type { IamModel, NamedPolicy, PolicyDocument } from './iam-model';

/** Who makes a request, as IAM sees it. */
export type Caller =
  /** A role session: a function's execution role, the state machine's role, an EventBridge target role. */
  | { readonly kind: 'role'; readonly principal: string; readonly roleArn: string }
  /** An AWS service acting on its own behalf (CloudWatch alarm actions, EventBridge invoking a function). */
  | { readonly kind: 'service'; readonly principal: string; readonly sourceArn?: string; readonly sourceAccount: string }
  /** The operator or the deploying user: every action, subject to resource policies' explicit denies. */
  | { readonly kind: 'admin'; readonly principal: string };

export interface AccessRequest {
  readonly caller: Caller;
  readonly action: string;
  readonly resource: string;
  /** Request context keys the calling service sets (kms:ViaService, s3:prefix, ...). */
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
}

export interface Decision {
  readonly allowed: boolean;
  readonly request: AccessRequest;
  /** The sentence AWS puts in its AccessDenied messages ("User: ... is not authorized to perform: ..."). */
  readonly awsMessage: string;
  /** What is missing (or denying), for the console: "no Allow in the role's policies; the key policy trusts only the account root". */
  readonly explanation: string;
}

/** A request IAM would refuse. `name` is the error code the service returns (AccessDenied, AccessDeniedException...). */
export class AccessDeniedError extends Error {
  constructor(
    readonly decision: Decision,
    name = 'AccessDeniedException',
    message = `${decision.awsMessage} (local IAM: ${decision.explanation})`,
  ) {
    super(message);
    this.name = name;
  }
}

type StatementAnalysis = NonNullable<RequestAnalysis['identityAnalysis']>['allowStatements'][number];

const ADMINISTRATOR_POLICY: PolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
const MAX_CACHED = 5_000;

export interface AuthorizerOptions {
  readonly model: IamModel;
  readonly accountId: string;
  /** Each distinct denial is printed once here ("denied: ..."). @default console.log */
  readonly print?: (text: string) => void;
}

export class Authorizer {
  private readonly cache = new Map<string, Promise<Decision>>();
  private cachedRevision = -1;
  private readonly print: (text: string) => void;

  constructor(private readonly options: AuthorizerOptions) {
    this.print = options.print ?? ((text) => console.log(text));
  }

  /** The decision on a request (cached until a stack is added or removed). */
  decide(request: AccessRequest): Promise<Decision> {
    if (this.cachedRevision !== this.options.model.revision) {
      this.cache.clear();
      this.cachedRevision = this.options.model.revision;
    }
    const key = JSON.stringify([
      request.caller.principal,
      request.caller.kind === 'service' ? (request.caller.sourceArn ?? '') : '',
      request.action,
      request.resource,
      request.context ?? {},
    ]);
    let decision = this.cache.get(key);
    if (!decision) {
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      decision = this.evaluate(request).then((d) => {
        if (!d.allowed) this.print(`local IAM: denied: ${describe(request)} (${d.explanation})`);
        return d;
      });
      this.cache.set(key, decision);
    }
    return decision;
  }

  /** Decides every request; resolves with the first denial, or undefined when all are allowed. */
  async firstDenial(requests: readonly AccessRequest[]): Promise<Decision | undefined> {
    const decisions = await Promise.all(requests.map((r) => this.decide(r)));
    return decisions.find((d) => !d.allowed);
  }

  private async evaluate(request: AccessRequest): Promise<Decision> {
    const { caller, action, resource } = request;
    const { model, accountId } = this.options;
    const identity: NamedPolicy[] = [];
    let roleMissing = false;
    let boundary: NamedPolicy | undefined;
    if (caller.kind === 'admin') identity.push({ name: 'administrator', document: ADMINISTRATOR_POLICY });
    if (caller.kind === 'role') {
      const role = model.role(caller.roleArn);
      if (role) identity.push(...role.policies.filter((p) => p.document.Statement.length > 0));
      else roleMissing = true;
      // A boundary no stack defines (an AWS managed policy) is not known locally: the role's own policies decide (docs/local-runtime.md).
      boundary = role?.boundary;
    }
    const resourcePolicy = model.resourcePolicy(resource);
    const context: Record<string, string | string[]> = { 'aws:SecureTransport': 'true' };
    if (caller.kind === 'service') {
      Object.assign(context, { 'aws:SourceAccount': caller.sourceAccount, 'aws:SourceOwner': caller.sourceAccount }, caller.sourceArn ? { 'aws:SourceArn': caller.sourceArn } : {});
    } else {
      Object.assign(context, { 'aws:PrincipalArn': caller.kind === 'role' ? caller.roleArn : caller.principal, 'aws:PrincipalAccount': accountId });
    }
    for (const [k, v] of Object.entries(request.context ?? {})) context[k] = typeof v === 'string' ? v : [...v];
    const simulation: Simulation = {
      request: { principal: caller.principal, action, resource: { resource, accountId }, contextVariables: context },
      identityPolicies: identity.map((p) => ({ name: p.name, policy: p.document })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy && resourcePolicy.document.Statement.length > 0 ? { resourcePolicy: resourcePolicy.document } : {}),
      ...(boundary ? { permissionBoundaryPolicies: [{ name: boundary.name, policy: boundary.document }] } : {}),
    };
    const outcome = await runSimulation(simulation, {});
    if (outcome.resultType === 'error' && outcome.errors.message === 'no.resource.types') {
      // The service authorization reference the evaluator checks requests against lists no resource type of the
      // action for this ARN (API Gateway's PUT on a method or an integration): the policies decide unchecked.
      const result = runUnsafeSimulation(simulation, {});
      if (result === 'Allowed') return { allowed: true, request, awsMessage: '', explanation: 'allowed' };
      const blame = result === 'ExplicitlyDenied' ? 'identity-deny' : caller.kind === 'service' ? 'resource' : 'identity';
      return { allowed: false, request, awsMessage: awsMessage(request, blame), explanation: result === 'ExplicitlyDenied' ? 'an explicit Deny applies' : 'no policy allows it' };
    }
    if (outcome.resultType === 'error') {
      return {
        allowed: false,
        request,
        awsMessage: awsMessage(request, 'identity'),
        explanation: `the local IAM evaluator refused the request or a policy: ${outcome.errors.message}`,
      };
    }
    const analyses = outcome.resultType === 'single' ? [outcome.result.analysis] : outcome.results.map((r) => r.analysis);
    const allowed = outcome.overallResult === 'Allowed';
    const analysis = analyses.find((a) => a.result === outcome.overallResult) ?? analyses[0];
    if (allowed) return { allowed, request, awsMessage: '', explanation: 'allowed' };
    const explanation = analysis ? explain(request, analysis, resourcePolicy, roleMissing, boundary) : 'no policy allows it';
    const boundaryDenies = boundary !== undefined && analysis?.permissionBoundaryAnalysis !== undefined && analysis.permissionBoundaryAnalysis.result !== 'Allowed';
    const blame =
      analysis?.identityAnalysis?.result === 'ExplicitlyDenied'
        ? 'identity-deny'
        : analysis?.resourceAnalysis?.denyStatements.length
          ? 'resource-deny'
          : boundaryDenies && (analysis?.identityAnalysis?.allowStatements.length ?? 0) > 0
            ? 'boundary'
            : caller.kind === 'service' || (analysis?.identityAnalysis?.allowStatements.length ?? 0) > 0
              ? 'resource'
              : 'identity';
    return { allowed, request, awsMessage: awsMessage(request, blame), explanation };
  }
}

/**
 * How API Gateway reads the policy a Lambda authorizer returns: execute-api:Invoke on the method ARN
 * (`arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>`), an explicit Deny winning.
 */
export async function executeApiDecision(policy: PolicyDocument, methodArn: string, accountId: string): Promise<'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied'> {
  const outcome = await runSimulation(
    {
      request: { principal: `arn:aws:iam::${accountId}:root`, action: 'execute-api:Invoke', resource: { resource: methodArn, accountId }, contextVariables: {} },
      identityPolicies: [{ name: 'authorizer', policy }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  // A policy the evaluator refuses (malformed) allows nothing, as API Gateway denies on it.
  return outcome.resultType === 'error' ? 'ImplicitlyDenied' : (outcome.overallResult as 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied');
}

/** "arn:...:assumed-role/R/fn may not kms:Decrypt on arn:...:key/..." */
export function describe(request: AccessRequest): string {
  const who = request.caller.kind === 'service' && request.caller.sourceArn ? `${request.caller.principal} (for ${request.caller.sourceArn})` : request.caller.principal;
  return `${who} may not ${request.action} on ${request.resource}`;
}

function awsMessage(request: AccessRequest, blame: 'identity' | 'resource' | 'identity-deny' | 'resource-deny' | 'boundary'): string {
  const { caller, action, resource } = request;
  const subject = caller.kind === 'service' ? `Service: ${caller.principal}` : `User: ${caller.principal}`;
  const because = {
    identity: `because no identity-based policy allows the ${action} action`,
    resource: `because no resource-based policy allows the ${action} action`,
    'identity-deny': 'with an explicit deny in an identity-based policy',
    'resource-deny': 'with an explicit deny in a resource-based policy',
    boundary: `because no permissions boundary allows the ${action} action`,
  }[blame];
  return `${subject} is not authorized to perform: ${action} on resource: ${resource} ${because}`;
}

function statementName(s: StatementAnalysis, policyName: string): string {
  const sid = s.statement.sid();
  return `${policyName}, statement ${sid ? `"${sid}"` : `#${s.statement.index()}`}`;
}

/** Every Allow of the policy names only an account root (`arn:aws:iam::<account>:root` or the account id). */
function trustsOnlyRoot(document: PolicyDocument): boolean {
  const allows = document.Statement.filter((s) => s.Effect === 'Allow');
  const isRoot = (value: unknown) => typeof value === 'string' && (/^arn:aws:iam::\d{12}:root$/.test(value) || /^\d{12}$/.test(value));
  return (
    allows.length > 0 &&
    allows.every((s) => {
      const aws = (s.Principal as { AWS?: unknown } | undefined)?.AWS;
      const principals = Object.keys((s.Principal ?? {}) as object);
      return principals.length === 1 && (Array.isArray(aws) ? aws.every(isRoot) : isRoot(aws));
    })
  );
}

function explain(request: AccessRequest, analysis: RequestAnalysis, resourcePolicy: NamedPolicy | undefined, roleMissing: boolean, boundary: NamedPolicy | undefined): string {
  const parts: string[] = [];
  const identity = analysis.identityAnalysis;
  if (request.caller.kind === 'role') {
    if (roleMissing) parts.push(`the role ${request.caller.roleArn} is in no stack the runtime runs`);
    else if (identity?.denyStatements.length)
      parts.push(`an explicit Deny in ${statementName(identity.denyStatements[0] as StatementAnalysis, (identity.denyStatements[0] as StatementAnalysis).policyId)}`);
    else if (identity?.allowStatements.length) parts.push("the role's policies allow it");
    else parts.push("no Allow in the role's policies");
    const limits = analysis.permissionBoundaryAnalysis;
    if (boundary && limits && limits.result !== 'Allowed') {
      parts.push(limits.denyStatements.length ? `an explicit Deny in its permissions boundary ${boundary.name}` : `its permissions boundary ${boundary.name} does not allow it`);
    }
  }
  const resourceAnalysis = analysis.resourceAnalysis;
  if (resourcePolicy && resourceAnalysis) {
    const name = resourcePolicy.name;
    const isKey = request.resource.includes(':kms:');
    const allStatements = [...resourceAnalysis.allowStatements, ...resourceAnalysis.denyStatements, ...resourceAnalysis.unmatchedStatements];
    const rootOnly = (s: StatementAnalysis) => s.principalMatch === 'AccountLevelMatch';
    if (resourceAnalysis.denyStatements.length) parts.push(`an explicit Deny in ${statementName(resourceAnalysis.denyStatements[0] as StatementAnalysis, name)}`);
    else if (resourceAnalysis.allowStatements.some((s) => !rootOnly(s))) parts.push(`${name} allows it`);
    else {
      const applicable = allStatements.filter((s) => s.statement.isAllow() && s.actionMatch && s.resourceMatch && s.principalMatch !== 'NoMatch');
      const conditional = applicable.find((s) => !rootOnly(s) && s.conditionMatch !== 'Match');
      if (conditional) parts.push(`${statementName(conditional, name)} allows it only under a condition this request does not meet`);
      else if (request.caller.kind === 'service' || isKey) {
        // A key policy that names only the account root leaves the decision to IAM; a service has no IAM policies.
        parts.push(trustsOnlyRoot(resourcePolicy.document) ? `${name} trusts only the account root` : `${name} has no Allow for ${request.caller.principal}`);
      }
      // A role of the same account needs no resource policy outside KMS: its own policies were what was missing.
    }
  } else if (request.caller.kind === 'service') {
    parts.push(`no resource policy lets ${request.caller.principal} in`);
  }
  return parts.join('; ');
}
