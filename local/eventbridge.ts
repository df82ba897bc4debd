// EventBridge on one machine: the template's AWS::Events::Rule resources. Event rules match events put on
// the default bus — here, S3 "Object Created" events built from s3rver's object events, in the shape AWS
// documents for S3 -> EventBridge — and deliver them to their targets (a state machine: StartExecution; a
// Lambda function: asynchronous invoke). Scheduled rules (`rate(...)`) fire on their rate, divided by the
// runtime's time scale.
import { randomUUID } from 'node:crypto';
import type S3rver from 's3rver';
import { matchesPattern } from './event-pattern';

export interface RuleTarget {
  readonly id: string;
  readonly arn: string;
  /** Constant input instead of the event (Input). */
  readonly input?: unknown;
  /** The role EventBridge assumes to deliver (RoleArn); without one it acts as itself. */
  readonly roleArn?: string;
}

export interface RuleDefinition {
  readonly logicalId: string;
  readonly eventPattern?: Record<string, unknown>;
  /** Milliseconds between scheduled events (rate expressions). */
  readonly rateMs?: number;
  readonly schedule?: string;
  readonly enabled: boolean;
  readonly targets: readonly RuleTarget[];
}

export interface EventBridgeEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: Record<string, unknown>;
}

export interface LocalEventBridgeOptions {
  readonly region: string;
  readonly accountId: string;
  /** Delivers to a target ARN (state machine or function). */
  readonly deliver: (target: RuleTarget, event: unknown, rule: RuleDefinition) => Promise<void>;
  /** Schedules run this many times faster (default 1). */
  readonly timeScale?: number;
  readonly print?: (text: string) => void;
}

const UNITS: Readonly<Record<string, number>> = { minute: 60_000, minutes: 60_000, hour: 3_600_000, hours: 3_600_000, day: 86_400_000, days: 86_400_000 };

/** An AWS::Events::Rule's resolved properties as the local EventBridge runs it. */
export function ruleDefinition(name: string, properties: Readonly<Record<string, unknown>>): RuleDefinition {
  const p = properties as {
    EventPattern?: Record<string, unknown> | string;
    ScheduleExpression?: string;
    State?: string;
    Targets?: { Id: string; Arn: string; Input?: string; RoleArn?: string }[];
  };
  const rate = /^rate\((\d+)\s+(minutes?|hours?|days?)\)$/.exec(p.ScheduleExpression ?? '');
  return {
    logicalId: name,
    ...(p.EventPattern ? { eventPattern: typeof p.EventPattern === 'string' ? (JSON.parse(p.EventPattern) as Record<string, unknown>) : p.EventPattern } : {}),
    ...(p.ScheduleExpression ? { schedule: p.ScheduleExpression } : {}),
    ...(rate ? { rateMs: Number(rate[1]) * (UNITS[rate[2] as string] as number) } : {}),
    enabled: (p.State ?? 'ENABLED') === 'ENABLED',
    targets: (p.Targets ?? []).map((t) => ({
      id: t.Id,
      arn: t.Arn,
      ...(t.Input !== undefined ? { input: JSON.parse(t.Input) as unknown } : {}),
      ...(t.RoleArn !== undefined ? { roleArn: t.RoleArn } : {}),
    })),
  };
}

export class LocalEventBridge {
  private readonly rules = new Map<string, RuleDefinition>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Buckets whose events go to EventBridge (PutBucketNotificationConfiguration with EventBridgeConfiguration). */
  private readonly buckets = new Set<string>();
  private schedulesStarted = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly print: (text: string) => void;

  constructor(private readonly options: LocalEventBridgeOptions) {
    this.print = options.print ?? ((text) => console.log(text));
  }

  /** PutRule + PutTargets: a scheduled rule starts its timer once schedules run. */
  putRule(rule: RuleDefinition): void {
    this.removeRule(rule.logicalId);
    this.rules.set(rule.logicalId, rule);
    if (this.schedulesStarted) this.schedule(rule);
  }

  removeRule(name: string): void {
    clearInterval(this.timers.get(name));
    this.timers.delete(name);
    this.rules.delete(name);
  }

  /** Sends (or stops sending) a bucket's object events to EventBridge. */
  setBucketEvents(bucket: string, enabled: boolean): void {
    if (enabled) this.buckets.add(bucket);
    else this.buckets.delete(bucket);
  }

  /** PutEvents on the default bus: delivered to every enabled rule whose pattern matches. */
  put(event: EventBridgeEvent): void {
    for (const rule of this.rules.values()) {
      if (!rule.enabled || !rule.eventPattern || !matchesPattern(rule.eventPattern, event)) continue;
      for (const target of rule.targets) this.track(rule, target, target.input ?? event);
    }
  }

  /** Starts the scheduled rules' timers (and those of rules put later). */
  startSchedules(): void {
    this.schedulesStarted = true;
    for (const rule of this.rules.values()) this.schedule(rule);
  }

  private schedule(rule: RuleDefinition): void {
    if (!rule.enabled || !rule.schedule) return;
    if (!rule.rateMs) {
      this.print(`local EventBridge: ${rule.logicalId} has schedule ${rule.schedule}; only rate(...) schedules run locally`);
      return;
    }
    const timer = setInterval(
      () => {
        const event = this.event('Scheduled Event', 'aws.events', [`arn:aws:events:${this.options.region}:${this.options.accountId}:rule/${rule.logicalId}`], {});
        for (const target of rule.targets) this.track(rule, target, target.input ?? event);
      },
      Math.max(1, rule.rateMs / (this.options.timeScale ?? 1)),
    );
    timer.unref();
    this.timers.set(rule.logicalId, timer);
  }

  /**
   * Turns s3rver's object events into EventBridge "Object Created" events for the buckets that send them, with
   * the object's `version-id` in a versioned bucket (`versionOf`: the version the write is creating).
   */
  connectS3(server: S3rver, versionOf: (bucket: string, key: string) => string | undefined = () => undefined): void {
    server.on('event', (notification: { Records?: S3Record[] }) => {
      for (const record of notification.Records ?? []) {
        const bucket = record.s3.bucket.name;
        if (!this.buckets.has(bucket) || !record.eventName.startsWith('ObjectCreated:')) continue;
        const reason =
          { Put: 'PutObject', Post: 'PostObject', Copy: 'CopyObject', CompleteMultipartUpload: 'CompleteMultipartUpload' }[record.eventName.split(':')[1] as string] ?? 'PutObject';
        const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
        const versionId = versionOf(bucket, key);
        this.put(
          this.event('Object Created', 'aws.s3', [`arn:aws:s3:::${bucket}`], {
            version: '0',
            bucket: { name: bucket },
            object: {
              key,
              ...(record.s3.object.size !== undefined ? { size: record.s3.object.size } : {}),
              ...(record.s3.object.eTag ? { etag: record.s3.object.eTag } : {}),
              ...(versionId ? { 'version-id': versionId } : {}),
              sequencer: record.s3.object.sequencer,
            },
            'request-id': record.responseElements?.['x-amz-request-id'] ?? randomUUID(),
            requester: this.options.accountId,
            'source-ip-address': record.requestParameters?.sourceIPAddress ?? '127.0.0.1',
            reason,
          }),
        );
      }
    });
  }

  /** Waits for deliveries under way. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  close(): void {
    for (const timer of this.timers.values()) clearInterval(timer);
    this.timers.clear();
    this.schedulesStarted = false;
  }

  private event(detailType: string, source: string, resources: string[], detail: Record<string, unknown>): EventBridgeEvent {
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': detailType,
      source,
      account: this.options.accountId,
      time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.options.region,
      resources,
      detail,
    };
  }

  private track(rule: RuleDefinition, target: RuleTarget, input: unknown): void {
    const delivery = this.options
      .deliver(target, input, rule)
      .catch((error: Error) => this.print(`local EventBridge: ${rule.logicalId} -> ${target.arn} failed: ${error.message}`));
    this.inFlight.add(delivery);
    void delivery.finally(() => this.inFlight.delete(delivery));
  }
}

interface S3Record {
  readonly eventName: string;
  readonly requestParameters?: { readonly sourceIPAddress?: string };
  readonly responseElements?: Readonly<Record<string, string>>;
  readonly s3: {
    readonly bucket: { readonly name: string };
    readonly object: { readonly key: string; readonly size?: number; readonly eTag?: string; readonly sequencer: string };
  };
}
