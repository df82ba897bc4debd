// Fault injection for the local runtime: calls to S3, DynamoDB and Lambda that fail as the services fail when
// they are overloaded or down, so a test can check what survives (docs/local-runtime.md, "Faults"). The rules
// are read by the interception points the calls already pass: the S3 and DynamoDB gateways in front of s3rver
// and the streams proxy (after IAM has allowed the call: a denied call stays denied), and the local Lambda
// service's Invoke (API Gateway, the Lambda API, Step Functions, EventBridge and stream mappings all invoke
// through it). Nothing is injected unless a rule says so.

/** How a call fails. */
export type FaultKind =
  /** The service sheds load: S3 503 SlowDown, DynamoDB 400 ProvisionedThroughputExceededException, Lambda 429 TooManyRequestsException. */
  | 'throttle'
  /** The service fails: S3 500 InternalError, DynamoDB 500 InternalServerError. */
  | 'server-error'
  /** The service cannot be reached: the connection is reset before any answer (S3, DynamoDB). */
  | 'unreachable';

export type FaultService = 's3' | 'dynamodb' | 'lambda';

export interface FaultRule {
  readonly service: FaultService;
  readonly kind: FaultKind;
  /**
   * The calls it fails, by the action IAM authorizes them as, without the service prefix: `GetObject`,
   * `PutObject`, `ListBucket` (S3); `PutItem`, `BatchWriteItem`, `Query` (DynamoDB); `InvokeFunction` (Lambda).
   * @default every action of the service
   */
  readonly actions?: readonly string[];
  /** S3 and DynamoDB: only calls made by this function (signed as its execution role's session). @default any caller */
  readonly caller?: string;
  /** Lambda: only invocations of this function. @default any function */
  readonly functionName?: string;
  /** How many calls it fails before it is spent. @default every call until it is cleared */
  readonly times?: number;
}

/** One call as an interception point sees it. */
export interface FaultCall {
  readonly service: FaultService;
  /** The actions IAM authorizes the call as, without the service prefix (a copy is PutObject and GetObject). */
  readonly actions: readonly string[];
  /** The function whose role signed the call (S3, DynamoDB). */
  readonly caller?: string;
  /** The function invoked (Lambda). */
  readonly functionName?: string;
}

export interface InjectedFault {
  /** Calls it has failed so far. */
  readonly hits: number;
  clear(): void;
}

/** A rule that cannot be injected: a kind the service has no answer for, a count that is not a positive integer... */
export class FaultRuleError extends Error {
  override readonly name = 'FaultRuleError';
}

const KINDS: Readonly<Record<FaultService, readonly FaultKind[]>> = {
  s3: ['throttle', 'server-error', 'unreachable'],
  dynamodb: ['throttle', 'server-error', 'unreachable'],
  lambda: ['throttle'],
};

interface ActiveRule {
  readonly rule: FaultRule;
  hits: number;
}

export class LocalFaults {
  private readonly rules: ActiveRule[] = [];

  /** Fails the calls the rule matches from now on; the first matching rule injected decides a call. */
  inject(rule: FaultRule): InjectedFault {
    const problems = [
      ...(KINDS[rule.service] === undefined ? [`service must be one of ${Object.keys(KINDS).join(', ')}, got: ${String(rule.service)}`] : []),
      ...(KINDS[rule.service] !== undefined && !KINDS[rule.service].includes(rule.kind)
        ? [`kind must be one of ${KINDS[rule.service].join(', ')} for ${rule.service}, got: ${String(rule.kind)}`]
        : []),
      ...(rule.times !== undefined && !(Number.isInteger(rule.times) && rule.times > 0) ? [`times must be a positive integer, got: ${rule.times}`] : []),
      ...(rule.caller !== undefined && rule.service === 'lambda' ? ['caller applies to S3 and DynamoDB calls; for Lambda name the function invoked (functionName)'] : []),
      ...(rule.functionName !== undefined && rule.service !== 'lambda'
        ? ['functionName applies to Lambda invocations; for S3 and DynamoDB name the calling function (caller)']
        : []),
    ];
    if (problems.length > 0) throw new FaultRuleError(`invalid fault rule: ${problems.join('; ')}`);
    const active: ActiveRule = { rule, hits: 0 };
    this.rules.push(active);
    return {
      get hits() {
        return active.hits;
      },
      clear: () => {
        const index = this.rules.indexOf(active);
        if (index >= 0) this.rules.splice(index, 1);
      },
    };
  }

  /** Clears every rule. */
  clear(): void {
    this.rules.length = 0;
  }

  /** The fault this call meets (counted against its rule), or undefined: the call goes on. */
  meet(call: FaultCall): FaultKind | undefined {
    const active = this.rules.find(
      ({ rule }) =>
        rule.service === call.service &&
        (rule.actions === undefined || call.actions.some((action) => rule.actions?.includes(action))) &&
        (rule.caller === undefined || rule.caller === call.caller) &&
        (rule.functionName === undefined || rule.functionName === call.functionName),
    );
    if (!active) return undefined;
    active.hits++;
    if (active.rule.times !== undefined && active.hits >= active.rule.times) this.rules.splice(this.rules.indexOf(active), 1);
    return active.rule.kind;
  }
}
