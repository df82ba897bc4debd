import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import {
  COMPARISON_OPERATORS,
  TREAT_MISSING_DATA,
  evaluateAlarm,
  evaluationRangeLength,
  type AlarmRule,
  type AlarmState,
  type ComparisonOperator,
  type PeriodValue,
  type TreatMissingData,
} from './alarm-evaluation';
import { evaluateMetricMath, type TimeSeries } from './metric-math';
import { isStatistic, type LocalMetricStore, type Statistic } from './metrics-store';
import type { LocalSns } from './sns';
import { resolveValue, resourcesOfType, TemplateError, type CfnTemplate, type ResolutionContext } from './template';

export interface Dimension {
  readonly Name: string;
  readonly Value: string;
}

/** One query of a metric math alarm (CloudFormation's MetricDataQuery). */
export interface MetricDataQuery {
  readonly Id: string;
  readonly Expression?: string;
  readonly Label?: string;
  readonly ReturnData?: boolean;
  readonly MetricStat?: {
    readonly Metric: { readonly Namespace: string; readonly MetricName: string; readonly Dimensions?: readonly Dimension[] };
    readonly Period: number;
    readonly Stat: string;
  };
}

/** An AWS::CloudWatch::Alarm with its references resolved to the local resources. */
export interface AlarmDefinition extends AlarmRule {
  readonly logicalId: string;
  readonly alarmName: string;
  readonly alarmArn: string;
  readonly description?: string;
  readonly namespace?: string;
  readonly metricName?: string;
  readonly dimensions: readonly Dimension[];
  /** Statistic or ExtendedStatistic (pNN). */
  readonly statistic?: Statistic;
  readonly extendedStatistic: boolean;
  /** Seconds. */
  readonly period: number;
  readonly metrics?: readonly MetricDataQuery[];
  readonly actionsEnabled: boolean;
  readonly alarmActions: readonly string[];
  readonly okActions: readonly string[];
  readonly insufficientDataActions: readonly string[];
  /** Set when the local runtime cannot evaluate this alarm: it stays INSUFFICIENT_DATA with this reason. */
  readonly unsupported?: string;
}

/** DescribeAlarms' MetricAlarm, timestamps as ISO strings (what a Step Functions SDK integration returns). */
export interface MetricAlarm {
  readonly AlarmName: string;
  readonly AlarmArn: string;
  readonly AlarmDescription?: string;
  readonly ActionsEnabled: boolean;
  readonly OKActions: readonly string[];
  readonly AlarmActions: readonly string[];
  readonly InsufficientDataActions: readonly string[];
  readonly StateValue: AlarmState;
  readonly StateReason: string;
  readonly StateReasonData?: string;
  readonly StateUpdatedTimestamp: string;
  readonly StateTransitionedTimestamp: string;
  readonly MetricName?: string;
  readonly Namespace?: string;
  readonly Statistic?: string;
  readonly ExtendedStatistic?: string;
  readonly Dimensions: readonly Dimension[];
  readonly Period: number;
  readonly EvaluationPeriods: number;
  readonly DatapointsToAlarm: number;
  readonly Threshold: number;
  readonly ComparisonOperator: ComparisonOperator;
  readonly TreatMissingData: TreatMissingData;
  readonly Metrics?: readonly MetricDataQuery[];
}

interface AlarmStatus {
  state: AlarmState;
  reason: string;
  reasonData?: string;
  updatedAt: number;
  transitionedAt: number;
  /** The minute (epoch ms) the alarm was last evaluated through, so the timer evaluates it once a minute. */
  evaluatedThrough: number;
}

/** One alarm in the state file. */
interface SavedAlarm extends AlarmStatus {
  readonly definition?: AlarmDefinition;
}

const REGION_NAMES: Record<string, string> = { 'us-east-1': 'US East (N. Virginia)' };

/** Name and ARN of each alarm: what Ref (the name) and Fn::GetAtt Arn stand for. */
export function registerAlarmIdentities(template: CfnTemplate, names: ReadonlyMap<string, string>, context: ResolutionContext): void {
  for (const [id, alarm] of resourcesOfType(template, 'AWS::CloudWatch::Alarm')) {
    let name = names.get(id) as string;
    try {
      if (alarm.Properties?.AlarmName !== undefined) name = String(resolveValue(alarm.Properties.AlarmName, context, `${id}.AlarmName`));
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      // Resolved again once every resource is up (alarmsFromTemplate).
    }
    context.refs.set(id, name);
    context.attributes.set(`${id}.Arn`, `arn:aws:cloudwatch:${context.region}:${context.accountId}:alarm:${name}`);
  }
}

/** Reads the template's metric alarms; an alarm the local runtime cannot evaluate carries `unsupported`. */
export function alarmsFromTemplate(template: CfnTemplate, context: ResolutionContext): AlarmDefinition[] {
  return resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([id, resource]) => {
    let p: Record<string, unknown>;
    try {
      p = resolveValue(resource.Properties ?? {}, context, id) as Record<string, unknown>;
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      return unsupportedAlarm(id, context, `its properties cannot be resolved locally: ${error.message}`);
    }
    const alarmName = typeof p.AlarmName === 'string' ? p.AlarmName : (context.refs.get(id) as string);
    const definition = alarmDefinition(id, p, alarmName, context.region, context.accountId);
    context.refs.set(id, alarmName);
    context.attributes.set(`${id}.Arn`, definition.alarmArn);
    return definition;
  });
}

/** An AWS::CloudWatch::Alarm's resolved properties (or PutMetricAlarm's parameters) as the local alarms evaluate it. */
export function alarmDefinition(id: string, p: Readonly<Record<string, unknown>>, alarmName: string, region: string, accountId: string): AlarmDefinition {
  const alarmArn = `arn:aws:cloudwatch:${region}:${accountId}:alarm:${alarmName}`;
  const evaluationPeriods = Number(p.EvaluationPeriods);
  const statistic = (p.ExtendedStatistic ?? p.Statistic) as string | undefined;
  const metrics = p.Metrics as MetricDataQuery[] | undefined;
  const problems: string[] = [];
  if (!COMPARISON_OPERATORS.includes(p.ComparisonOperator as ComparisonOperator))
    problems.push(`ComparisonOperator ${String(p.ComparisonOperator)} (anomaly detection bands are not evaluated locally)`);
  if (p.TreatMissingData !== undefined && !TREAT_MISSING_DATA.includes(p.TreatMissingData as TreatMissingData)) problems.push(`TreatMissingData ${String(p.TreatMissingData)}`);
  if (metrics === undefined && (statistic === undefined || !isStatistic(statistic))) problems.push(`statistic ${String(statistic)}`);
  if (metrics !== undefined && metrics.filter((q) => q.ReturnData !== false).length !== 1) problems.push('Metrics must return exactly one query');
  for (const q of metrics ?? []) if (q.MetricStat && !isStatistic(q.MetricStat.Stat)) problems.push(`statistic ${q.MetricStat.Stat} of ${q.Id}`);
  if (p.ThresholdMetricId !== undefined) problems.push('ThresholdMetricId');
  const period = Number(p.Period ?? metrics?.find((q) => q.MetricStat)?.MetricStat?.Period ?? 60);
  if (!(period > 0 && period % 60 === 0)) problems.push(`Period ${period} (the local metric store keeps 1-minute resolution)`);
  const list = (value: unknown) => (Array.isArray(value) ? value.map(String) : []);
  return {
    logicalId: id,
    alarmName,
    alarmArn,
    ...(typeof p.AlarmDescription === 'string' ? { description: p.AlarmDescription } : {}),
    ...(typeof p.Namespace === 'string' ? { namespace: p.Namespace } : {}),
    ...(typeof p.MetricName === 'string' ? { metricName: p.MetricName } : {}),
    dimensions: ((p.Dimensions as Dimension[] | undefined) ?? []).map((d) => ({ Name: String(d.Name), Value: String(d.Value) })),
    ...(statistic !== undefined && isStatistic(statistic) ? { statistic } : {}),
    extendedStatistic: p.ExtendedStatistic !== undefined,
    period,
    ...(metrics ? { metrics } : {}),
    comparisonOperator: p.ComparisonOperator as ComparisonOperator,
    threshold: Number(p.Threshold ?? 0),
    evaluationPeriods,
    datapointsToAlarm: Number(p.DatapointsToAlarm ?? evaluationPeriods),
    treatMissingData: (p.TreatMissingData as TreatMissingData | undefined) ?? 'missing',
    actionsEnabled: p.ActionsEnabled !== false,
    alarmActions: list(p.AlarmActions),
    okActions: list(p.OKActions),
    insufficientDataActions: list(p.InsufficientDataActions),
    ...(problems.length > 0 ? { unsupported: `not evaluated locally: unsupported ${problems.join(', ')}` } : {}),
  };
}

function unsupportedAlarm(id: string, context: ResolutionContext, why: string): AlarmDefinition {
  const alarmName = context.refs.get(id) as string;
  return {
    logicalId: id,
    alarmName,
    alarmArn: `arn:aws:cloudwatch:${context.region}:${context.accountId}:alarm:${alarmName}`,
    dimensions: [],
    extendedStatistic: false,
    period: 60,
    comparisonOperator: 'GreaterThanThreshold',
    threshold: 0,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    treatMissingData: 'missing',
    actionsEnabled: false,
    alarmActions: [],
    okActions: [],
    insufficientDataActions: [],
    unsupported: `not evaluated locally: ${why}`,
  };
}

export interface LocalAlarmsOptions {
  readonly definitions: readonly AlarmDefinition[];
  readonly metrics: LocalMetricStore;
  readonly sns: LocalSns;
  readonly region: string;
  readonly accountId: string;
  /** Alarm states persist here across restarts. */
  readonly stateFile?: string;
  /**
   * How long a minute lasts, in ms: alarms are evaluated once a minute and periods are minutes of this
   * length (the runtime's `--time-scale`). @default the metric store's minute
   */
  readonly minuteMs?: number;
  /** Clock (tests). @default Date.now */
  readonly now?: () => number;
  /** Where state changes are logged. @default console.log */
  readonly print?: (text: string) => void;
}

export interface StateChange {
  readonly alarmName: string;
  readonly oldState: AlarmState;
  readonly newState: AlarmState;
  readonly reason: string;
}

/**
 * CloudWatch metric alarms on one machine: each alarm is evaluated once a minute (a timer checks a dozen
 * times a minute) and on demand, against the local metric store, over CloudWatch's default sliding
 * evaluation window — the last periods up to the evaluation's minute, so a datapoint counts at the first
 * evaluation after its minute ends, whatever its period. A state change runs the alarm's SNS actions with
 * CloudWatch's notification JSON.
 */
export class LocalAlarms {
  private readonly definitions: Map<string, AlarmDefinition>;
  private readonly status = new Map<string, AlarmStatus>();
  private readonly now: () => number;
  private readonly minuteMs: number;
  private readonly print: (text: string) => void;
  private readonly configuredAt: number;
  private timer: NodeJS.Timeout | undefined;
  /** SNS actions under way (a checked publish completes after the state change). */
  private readonly actions = new Set<Promise<void>>();

  /** What an earlier run saved: each alarm's state, for alarms put again after a restart, and its definition. */
  private readonly saved: Record<string, SavedAlarm>;

  constructor(private readonly options: LocalAlarmsOptions) {
    this.definitions = new Map();
    this.now = options.now ?? Date.now;
    this.minuteMs = options.minuteMs ?? options.metrics.minuteMs;
    this.print = options.print ?? ((text) => console.log(text));
    this.configuredAt = this.now();
    this.saved = options.stateFile && existsSync(options.stateFile) ? (JSON.parse(readFileSync(options.stateFile, 'utf8')) as Record<string, SavedAlarm>) : {};
    for (const definition of options.definitions) this.put(definition);
    // An alarm PutMetricAlarm created (the pipeline's, per published version) has no stack to put it again: it
    // comes back from the state file, as CloudWatch keeps it until DeleteAlarms.
    for (const { definition } of Object.values(this.saved)) if (definition && !this.definitions.has(definition.alarmName)) this.put(definition);
  }

  /** PutMetricAlarm: a new alarm starts INSUFFICIENT_DATA (or with the state an earlier run saved); a re-put keeps its state. */
  putAlarm(definition: AlarmDefinition): void {
    this.put(definition);
    this.save();
  }

  private put(definition: AlarmDefinition): void {
    this.definitions.set(definition.alarmName, definition);
    const saved = this.saved[definition.alarmName];
    const previous = this.status.get(definition.alarmName) ?? (saved ? statusOf(saved) : undefined);
    this.status.set(
      definition.alarmName,
      previous && !definition.unsupported
        ? previous
        : {
            state: 'INSUFFICIENT_DATA',
            reason: definition.unsupported ?? 'Unchecked: Initial alarm creation',
            updatedAt: this.now(),
            transitionedAt: this.now(),
            evaluatedThrough: 0,
          },
    );
  }

  /** DeleteAlarms: unknown names are ignored, as CloudWatch does. */
  deleteAlarms(names: readonly string[]): void {
    for (const name of names) {
      this.definitions.delete(name);
      this.status.delete(name);
    }
    this.save();
  }

  /** Checks every `tickMs` (default a twelfth of a minute) for alarms due at a new minute, until close(). */
  start(tickMs = this.minuteMs / 12): void {
    this.timer ??= setInterval(() => this.evaluate({ dueOnly: true }), tickMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.save();
  }

  /**
   * Evaluates the named alarms (default all) now, over the periods that end at the start of this minute;
   * with `dueOnly`, only those not evaluated in this minute yet. Returns the state changes (actions already run).
   */
  evaluate(options: { names?: readonly string[]; dueOnly?: boolean } = {}): StateChange[] {
    const changes: StateChange[] = [];
    const now = this.now();
    const through = Math.floor(now / this.minuteMs) * this.minuteMs;
    for (const definition of this.selected(options.names)) {
      if (definition.unsupported) continue;
      const status = this.status.get(definition.alarmName) as AlarmStatus;
      if (options.dueOnly && through <= status.evaluatedThrough) continue;
      status.evaluatedThrough = through;
      let range: PeriodValue[];
      try {
        range = this.evaluationRange(definition, through);
      } catch (error) {
        const change = this.transition(definition, 'INSUFFICIENT_DATA', `not evaluated locally: ${(error as Error).message}`);
        if (change) changes.push(change);
        continue;
      }
      const result = evaluateAlarm(definition, range, status.state);
      const reasonData = JSON.stringify({
        version: '1.0',
        queryDate: new Date(now).toISOString(),
        startDate: new Date(range[0]?.timestamp ?? through).toISOString(),
        ...(definition.statistic ? { [definition.extendedStatistic ? 'extendedStatistic' : 'statistic']: definition.statistic } : {}),
        period: definition.period,
        recentDatapoints: range.filter((p) => p.value !== undefined).map((p) => p.value),
        threshold: definition.threshold,
        evaluatedDatapoints: result.evaluatedDatapoints.map((p) => ({ timestamp: new Date(p.timestamp).toISOString(), ...(p.value !== undefined ? { value: p.value } : {}) })),
      });
      const change = this.transition(definition, result.state, result.reason, reasonData);
      if (change) changes.push(change);
    }
    if (changes.length > 0) this.save();
    return changes;
  }

  /** Waits for the SNS actions of the state changes so far. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.actions]);
  }

  /** DescribeAlarms (metric alarms only): the named alarms, or all. */
  describeAlarms(names?: readonly string[]): { MetricAlarms: MetricAlarm[]; CompositeAlarms: [] } {
    return { MetricAlarms: this.selected(names, false).map((d) => this.describe(d)), CompositeAlarms: [] };
  }

  /** SetAlarmState: sets the state (running its actions); the next evaluation sets it back if the data disagree. */
  setAlarmState(name: string, state: AlarmState, reason: string, reasonData?: string): void {
    const definition = this.definitions.get(name);
    if (!definition) throw Object.assign(new Error(`Alarm ${name} does not exist`), { name: 'ResourceNotFound' });
    if (!['OK', 'ALARM', 'INSUFFICIENT_DATA'].includes(state))
      throw Object.assign(new Error(`StateValue must be OK, ALARM or INSUFFICIENT_DATA, got: ${state}`), { name: 'InvalidParameterValue' });
    this.transition(definition, state, reason, reasonData, true);
    this.save();
  }

  private selected(names: readonly string[] | undefined, strict = true): AlarmDefinition[] {
    if (names === undefined) return [...this.definitions.values()];
    return names.flatMap((name) => {
      const found = this.definitions.get(name);
      if (!found && strict) throw Object.assign(new Error(`Alarm ${name} does not exist`), { name: 'ResourceNotFound' });
      return found ? [found] : [];
    });
  }

  /** One value per period of the evaluation range ending at `through`, oldest first. */
  private evaluationRange(definition: AlarmDefinition, through: number): PeriodValue[] {
    const periodMs = (definition.period / 60) * this.minuteMs;
    const length = evaluationRangeLength(definition.evaluationPeriods);
    const start = through - length * periodMs;
    const timestamps = Array.from({ length }, (_, i) => start + i * periodMs);
    const statSeries = (namespace: string, metricName: string, dimensions: readonly Dimension[], statistic: Statistic, period: number): TimeSeries =>
      new Map(
        this.options.metrics
          .query({ namespace, metricName, dimensions: Object.fromEntries(dimensions.map((d) => [d.Name, d.Value])), statistic, period, start, end: through })
          .map((p) => [p.timestamp, p.value]),
      );
    let values: TimeSeries;
    if (definition.metrics) {
      const computed = new Map<string, TimeSeries>();
      for (const q of definition.metrics) {
        if (q.MetricStat) {
          const { Metric, Stat, Period } = q.MetricStat;
          computed.set(q.Id, statSeries(Metric.Namespace, Metric.MetricName, Metric.Dimensions ?? [], Stat as Statistic, Period));
        }
      }
      for (const q of definition.metrics) if (q.Expression) computed.set(q.Id, evaluateMetricMath(q.Expression, computed, timestamps));
      const returned = definition.metrics.find((q) => q.ReturnData !== false) as MetricDataQuery;
      values = computed.get(returned.Id) ?? new Map();
    } else {
      values = statSeries(definition.namespace ?? '', definition.metricName ?? '', definition.dimensions, definition.statistic as Statistic, definition.period);
    }
    return timestamps.map((timestamp) => ({ timestamp, value: values.get(timestamp) }));
  }

  private transition(definition: AlarmDefinition, state: AlarmState, reason: string, reasonData?: string, forced = false): StateChange | undefined {
    const status = this.status.get(definition.alarmName) as AlarmStatus;
    const oldState = status.state;
    // Evaluated into the same state, CloudWatch keeps the earlier reason and timestamp; SetAlarmState records its own.
    if (oldState === state && !forced) return undefined;
    const now = this.now();
    Object.assign(status, { state, reason, reasonData, updatedAt: now });
    if (oldState === state) return undefined;
    status.transitionedAt = now;
    this.print(`local CloudWatch: alarm ${definition.alarmName} ${oldState} -> ${state}: ${reason}`);
    this.runActions(definition, oldState, state, reason, now);
    return { alarmName: definition.alarmName, oldState, newState: state, reason };
  }

  private runActions(definition: AlarmDefinition, oldState: AlarmState, newState: AlarmState, reason: string, at: number): void {
    if (!definition.actionsEnabled) return;
    const actions = newState === 'ALARM' ? definition.alarmActions : newState === 'OK' ? definition.okActions : definition.insufficientDataActions;
    if (actions.length === 0) return;
    const region = REGION_NAMES[this.options.region] ?? this.options.region;
    const subject = `${newState}: "${definition.alarmName}" in ${region}`.slice(0, 100);
    const message = JSON.stringify({
      AlarmName: definition.alarmName,
      AlarmDescription: definition.description ?? null,
      AWSAccountId: this.options.accountId,
      AlarmConfigurationUpdatedTimestamp: new Date(this.configuredAt).toISOString(),
      NewStateValue: newState,
      NewStateReason: reason,
      StateChangeTime: new Date(at).toISOString(),
      Region: region,
      AlarmArn: definition.alarmArn,
      OldStateValue: oldState,
      OKActions: definition.okActions,
      AlarmActions: definition.alarmActions,
      InsufficientDataActions: definition.insufficientDataActions,
      Trigger: {
        MetricName: definition.metricName,
        Namespace: definition.namespace,
        StatisticType: definition.extendedStatistic ? 'ExtendedStatistic' : 'Statistic',
        ...(definition.extendedStatistic ? { ExtendedStatistic: definition.statistic } : { Statistic: definition.statistic?.toUpperCase() }),
        Unit: null,
        Dimensions: definition.dimensions.map((d) => ({ value: d.Value, name: d.Name })),
        Period: definition.period,
        EvaluationPeriods: definition.evaluationPeriods,
        DatapointsToAlarm: definition.datapointsToAlarm,
        ComparisonOperator: definition.comparisonOperator,
        Threshold: definition.threshold,
        TreatMissingData: definition.treatMissingData,
        ...(definition.metrics ? { Metrics: definition.metrics } : {}),
      },
    });
    for (const action of actions) {
      if (action.startsWith('arn:aws:sns:')) {
        // CloudWatch publishes as itself, for this alarm: the topic policy and the topic's key policy must let it.
        const cloudWatch = { kind: 'service', principal: 'cloudwatch.amazonaws.com', sourceArn: definition.alarmArn, sourceAccount: this.options.accountId } as const;
        const run = this.options.sns.publishAs(cloudWatch, action, subject, message).then(
          () => undefined,
          (error: Error) => this.print(`local CloudWatch: Failed to execute action ${action} of ${definition.alarmName}. Received error: "${error.message}"`),
        );
        this.actions.add(run);
        void run.finally(() => this.actions.delete(run));
      } else {
        this.print(`local CloudWatch: would run action ${action} for ${definition.alarmName} (only SNS actions run locally)`);
      }
    }
  }

  private describe(d: AlarmDefinition): MetricAlarm {
    const status = this.status.get(d.alarmName) as AlarmStatus;
    return {
      AlarmName: d.alarmName,
      AlarmArn: d.alarmArn,
      ...(d.description !== undefined ? { AlarmDescription: d.description } : {}),
      ActionsEnabled: d.actionsEnabled,
      OKActions: d.okActions,
      AlarmActions: d.alarmActions,
      InsufficientDataActions: d.insufficientDataActions,
      StateValue: status.state,
      StateReason: status.reason,
      ...(status.reasonData !== undefined ? { StateReasonData: status.reasonData } : {}),
      StateUpdatedTimestamp: new Date(status.updatedAt).toISOString(),
      StateTransitionedTimestamp: new Date(status.transitionedAt).toISOString(),
      ...(d.metricName !== undefined ? { MetricName: d.metricName } : {}),
      ...(d.namespace !== undefined ? { Namespace: d.namespace } : {}),
      ...(d.statistic !== undefined ? (d.extendedStatistic ? { ExtendedStatistic: d.statistic } : { Statistic: d.statistic }) : {}),
      Dimensions: d.dimensions,
      Period: d.period,
      EvaluationPeriods: d.evaluationPeriods,
      DatapointsToAlarm: d.datapointsToAlarm,
      Threshold: d.threshold,
      ComparisonOperator: d.comparisonOperator,
      TreatMissingData: d.treatMissingData,
      ...(d.metrics ? { Metrics: d.metrics } : {}),
    };
  }

  private save(): void {
    const file = this.options.stateFile;
    if (!file) return;
    const saved: Record<string, SavedAlarm> = Object.fromEntries([...this.status].map(([name, status]) => [name, { ...status, definition: this.definitions.get(name) }]));
    writeFileSync(`${file}.tmp`, `${JSON.stringify(saved, null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
  }
}

function statusOf(saved: SavedAlarm): AlarmStatus {
  const { definition: _definition, ...status } = saved;
  return status;
}
