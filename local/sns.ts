import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isIP } from 'node:net';
import type { Caller } from './iam/authorizer';
import type { LocalLambdaService } from './lambda-service';
import { resolveValue, resourcesOfType, TemplateError, type CfnTemplate, type ResolutionContext } from './template';

export interface TopicSubscription {
  readonly protocol: string;
  readonly endpoint: string;
  /** The subscription ARN of one made by Subscribe (AWS::SNS::Subscription); inline subscriptions have none. */
  readonly id?: string;
}

export interface TopicDefinition {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly subscriptions: readonly TopicSubscription[];
}

/** What a subscriber gets: the SNS notification JSON (as an HTTP subscription receives it). */
export interface Notification {
  readonly Type: 'Notification';
  readonly MessageId: string;
  readonly TopicArn: string;
  readonly Subject?: string;
  readonly Message: string;
  readonly Timestamp: string;
}

/** A --webhook URL that is not on loopback: nothing local may send traffic off the machine. */
export class WebhookUrlError extends Error {
  override readonly name = 'WebhookUrlError';
}

/** Accepts http(s) URLs on 127.0.0.0/8, ::1 or localhost only. */
export function checkWebhookUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new WebhookUrlError(`--webhook must be a URL like http://127.0.0.1:9000/hook, got: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new WebhookUrlError(`--webhook must be http or https, got: ${url.protocol}`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || (isIP(host) === 4 && host.startsWith('127.')) || host === '::1';
  if (!loopback) throw new WebhookUrlError(`--webhook must point at this machine (127.0.0.1, ::1 or localhost); refusing to send notifications to ${url.hostname}`);
  return url;
}

/** ARN and name of each topic: what Ref (the ARN) and Fn::GetAtt TopicName / TopicArn stand for. */
export function registerTopicIdentities(template: CfnTemplate, names: ReadonlyMap<string, string>, context: ResolutionContext): void {
  for (const [id, topic] of resourcesOfType(template, 'AWS::SNS::Topic')) {
    const declared = topic.Properties?.TopicName;
    const name = typeof declared === 'string' ? declared : (names.get(id) as string);
    const arn = `arn:aws:sns:${context.region}:${context.accountId}:${name}`;
    context.refs.set(id, arn);
    context.attributes.set(`${id}.TopicArn`, arn);
    context.attributes.set(`${id}.TopicName`, name);
  }
}

/** The template's topics with their subscriptions (inline `Subscription` and AWS::SNS::Subscription). */
export function topicsFromTemplate(template: CfnTemplate, context: ResolutionContext): TopicDefinition[] {
  const topics = resourcesOfType(template, 'AWS::SNS::Topic').map(([id, topic]): TopicDefinition => {
    const arn = context.refs.get(id) as string;
    const inline = (topic.Properties?.Subscription ?? []) as { Protocol: unknown; Endpoint: unknown }[];
    return {
      logicalId: id,
      name: arn.split(':').pop() as string,
      arn,
      subscriptions: inline.map((s, i) => subscriptionOf(s.Protocol, s.Endpoint, context, `${id}.Subscription[${i}]`)),
    };
  });
  for (const [id, subscription] of resourcesOfType(template, 'AWS::SNS::Subscription')) {
    const properties = subscription.Properties as { TopicArn: unknown; Protocol: unknown; Endpoint: unknown };
    const topic = topics.find((t) => t.arn === resolveValue(properties.TopicArn, context, `${id}.TopicArn`));
    if (topic) (topic.subscriptions as TopicSubscription[]).push(subscriptionOf(properties.Protocol, properties.Endpoint, context, id));
  }
  return topics;
}

/** A subscription whose endpoint is a resource the runtime does not emulate (an SQS queue) is kept, unresolved. */
function subscriptionOf(protocol: unknown, endpoint: unknown, context: ResolutionContext, path: string): TopicSubscription {
  try {
    return { protocol: String(protocol), endpoint: String(resolveValue(endpoint, context, path)) };
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    return { protocol: String(protocol), endpoint: `(${path}: not emulated locally)` };
  }
}

export interface LocalSnsOptions {
  readonly topics: readonly TopicDefinition[];
  /** Every notification is POSTed here as JSON (loopback only; see checkWebhookUrl). */
  readonly webhookUrl?: string;
  /** Notifications persist here (JSON lines) so a restart still lists recent ones. */
  readonly historyFile?: string;
  /** Lambda subscriptions are invoked through this service. */
  readonly lambda?: LocalLambdaService;
  /** Where notifications are shown. @default console.log */
  readonly print?: (text: string) => void;
  /** How many recent notifications are kept. @default 100 */
  readonly keep?: number;
  /** Checks a publish by a caller other than the runtime (local/iam); throws the error the publisher gets. */
  readonly authorizePublish?: (caller: Caller, topicArn: string) => Promise<void>;
}

export interface PublishedNotification extends Notification {
  readonly topicName: string;
  /** What happened to each subscriber and the webhook. */
  readonly deliveries: readonly string[];
}

const WEBHOOK_TIMEOUT_MS = 5_000;

/**
 * SNS on one machine: publish to a template topic prints the notification, keeps it in a recent list (the
 * dashboard shows it), POSTs it to the local webhook and delivers it to the topic's subscriptions as far as
 * that can happen locally (Lambda: invoked; email, SMS and others: shown as "would ...").
 */
export class LocalSns {
  private readonly topics: Map<string, TopicDefinition>;
  private readonly recent: PublishedNotification[] = [];
  private readonly print: (text: string) => void;
  private readonly keep: number;
  private readonly webhook: URL | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly options: LocalSnsOptions) {
    this.topics = new Map(options.topics.map((t) => [t.arn, t]));
    this.print = options.print ?? ((text) => console.log(text));
    this.keep = options.keep ?? 100;
    this.webhook = options.webhookUrl === undefined ? undefined : checkWebhookUrl(options.webhookUrl);
    if (options.historyFile && existsSync(options.historyFile)) {
      const lines = readFileSync(options.historyFile, 'utf8').split('\n').filter(Boolean).slice(-this.keep);
      for (const line of lines) {
        try {
          this.recent.push(JSON.parse(line) as PublishedNotification);
        } catch {
          // a torn last line from a crash: skip it
        }
      }
    }
  }

  listTopics(): TopicDefinition[] {
    return [...this.topics.values()];
  }

  /** CreateTopic (or its update): the topic with its inline subscriptions; subscriptions added by Subscribe stay. */
  putTopic(topic: TopicDefinition): void {
    const previous = this.topics.get(topic.arn);
    const added = previous ? previous.subscriptions.filter((s) => s.id !== undefined) : [];
    this.topics.set(topic.arn, { ...topic, subscriptions: [...topic.subscriptions, ...added] });
  }

  deleteTopic(arn: string): void {
    this.topics.delete(arn);
  }

  /** Subscribe: returns the subscription ARN. */
  subscribe(topicArn: string, subscription: Omit<TopicSubscription, 'id'>): string {
    const topic = this.topics.get(topicArn);
    if (!topic) throw Object.assign(new Error(`Topic does not exist: ${topicArn}`), { name: 'NotFoundException' });
    const id = `${topicArn}:${randomUUID()}`;
    this.topics.set(topicArn, { ...topic, subscriptions: [...topic.subscriptions, { ...subscription, id }] });
    return id;
  }

  unsubscribe(subscriptionArn: string): void {
    for (const topic of this.topics.values()) {
      if (topic.subscriptions.some((s) => s.id === subscriptionArn))
        this.topics.set(topic.arn, { ...topic, subscriptions: topic.subscriptions.filter((s) => s.id !== subscriptionArn) });
    }
  }

  /** Most recent first. */
  recentNotifications(limit = this.keep): PublishedNotification[] {
    return this.recent.slice(-limit).reverse();
  }

  /** SNS Publish by the runtime itself (no permission check: see publishAs): resolves once the notification is recorded; webhook and Lambda deliveries run in the background. */
  publish(topicArn: string, subject: string | undefined, message: string): { MessageId: string } {
    const topic = this.topics.get(topicArn);
    if (!topic) throw Object.assign(new Error(`Topic does not exist: ${topicArn}`), { name: 'NotFoundException' });
    const notification: Notification = {
      Type: 'Notification',
      MessageId: randomUUID(),
      TopicArn: topicArn,
      ...(subject !== undefined ? { Subject: subject } : {}),
      Message: message,
      Timestamp: new Date().toISOString(),
    };
    const deliveries: string[] = [];
    for (const subscription of topic.subscriptions) {
      if (subscription.protocol === 'lambda' && this.options.lambda) {
        deliveries.push(`invoked ${subscription.endpoint}`);
        this.track(this.invokeLambda(subscription.endpoint, notification));
      } else {
        deliveries.push(
          `would ${subscription.protocol === 'email' || subscription.protocol === 'email-json' ? 'email' : `deliver (${subscription.protocol}) to`} ${subscription.endpoint}`,
        );
      }
    }
    if (this.webhook) {
      deliveries.push(`POST ${this.webhook.href}`);
      this.track(this.postWebhook(this.webhook, notification));
    }
    const published: PublishedNotification = { ...notification, topicName: topic.name, deliveries };
    this.recent.push(published);
    if (this.recent.length > this.keep) this.recent.splice(0, this.recent.length - this.keep);
    if (this.options.historyFile) {
      mkdirSync(dirname(this.options.historyFile), { recursive: true });
      appendFileSync(this.options.historyFile, `${JSON.stringify(published)}\n`);
    }
    this.print(formatNotification(published));
    return { MessageId: notification.MessageId };
  }

  /** SNS Publish by `caller` (the state machine's role, CloudWatch for an alarm): authorized as on AWS first. */
  publishAs(caller: Caller, topicArn: string, subject: string | undefined, message: string): Promise<{ MessageId: string }> {
    const { authorizePublish } = this.options;
    if (authorizePublish) return authorizePublish(caller, topicArn).then(() => this.publish(topicArn, subject, message));
    // Unchecked, it publishes before it returns, as publish() does.
    try {
      return Promise.resolve(this.publish(topicArn, subject, message));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /** Waits for webhook posts and Lambda deliveries still under way. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  private track(promise: Promise<unknown>): void {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
  }

  private async postWebhook(url: URL, notification: Notification): Promise<void> {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-amz-sns-message-type': 'Notification', 'x-amz-sns-topic-arn': notification.TopicArn },
        body: JSON.stringify(notification),
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      await response.arrayBuffer();
      if (!response.ok) this.print(`local SNS: webhook ${url.href} answered ${response.status}`);
    } catch (error) {
      this.print(`local SNS: webhook ${url.href} failed: ${(error as Error).message}`);
    }
  }

  private async invokeLambda(functionArn: string, notification: Notification): Promise<void> {
    const [name = functionArn, qualifier] = (functionArn.split(':function:')[1] ?? functionArn).split(':');
    const event = {
      Records: [
        {
          EventSource: 'aws:sns',
          EventVersion: '1.0',
          EventSubscriptionArn: `${notification.TopicArn}:${notification.MessageId}`,
          Sns: { ...notification, SignatureVersion: '1', Signature: 'local', SigningCertUrl: '', UnsubscribeUrl: '', MessageAttributes: {} },
        },
      ],
    };
    try {
      await this.options.lambda?.invoke(name, qualifier, event);
    } catch (error) {
      this.print(`local SNS: delivery to ${functionArn} failed: ${(error as Error).message}`);
    }
  }
}

function formatNotification(n: PublishedNotification): string {
  const rule = '='.repeat(72);
  return [
    '',
    rule,
    `SNS ${n.topicName}  ${n.Timestamp}`,
    n.Subject ? `Subject: ${n.Subject}` : undefined,
    rule,
    readable(n.Message),
    ...n.deliveries.map((d) => `  -> ${d}`),
    rule,
    '',
  ]
    .filter((line) => line !== undefined)
    .join('\n');
}

/**
 * For the console: an alarm notification as its state change and reason, other JSON indented, long text cut
 * (the full message is kept in the recent list, the history file and the webhook's copy).
 */
function readable(message: string): string {
  let text = message;
  try {
    const parsed = JSON.parse(message) as Record<string, unknown>;
    text =
      typeof parsed.AlarmName === 'string' && typeof parsed.NewStateValue === 'string'
        ? `alarm ${parsed.AlarmName}: ${String(parsed.OldStateValue)} -> ${parsed.NewStateValue}\n${String(parsed.NewStateReason)}`
        : JSON.stringify(parsed, null, 2);
  } catch {
    // not JSON: shown as it is
  }
  return text.length > 3000 ? `${text.slice(0, 3000)}…` : text;
}
