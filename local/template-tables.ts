import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ExperimentTable } from '../lib/experiments/experiment-table';
import { MonitoringTable } from '../lib/monitoring/monitoring-table';
import { ModelRegistryTable } from '../lib/storage/model-registry-table';
import { PredictionLogTable } from '../lib/storage/prediction-log-table';
import type { CfnTableProperties } from './dynamodb-tables';

/**
 * The prediction table's properties exactly as the CDK construct synthesizes them, without
 * synthesizing (and bundling) the whole stack: for tests and benchmarks that need only the table.
 */
export function predictionTableProperties(): CfnTableProperties {
  const stack = new Stack(new App(), 'PredictionLogOnly');
  new PredictionLogTable(stack, 'PredictionLog');
  const [table] = Object.values(Template.fromStack(stack).findResources('AWS::DynamoDB::Table')) as { Properties: CfnTableProperties }[];
  if (!table) throw new Error('PredictionLogTable synthesized no AWS::DynamoDB::Table');
  return table.Properties;
}

/** The monitoring table's properties as the CDK construct synthesizes them (tests and benchmarks). */
export function monitoringTableProperties(): CfnTableProperties {
  const stack = new Stack(new App(), 'MonitoringTableOnly');
  new MonitoringTable(stack, 'Monitoring');
  const [table] = Object.values(Template.fromStack(stack).findResources('AWS::DynamoDB::Table')) as { Properties: CfnTableProperties }[];
  if (!table) throw new Error('MonitoringTable synthesized no AWS::DynamoDB::Table');
  return table.Properties;
}

/** The experiment table's properties as the CDK construct synthesizes them (tests and benchmarks). */
export function experimentTableProperties(): CfnTableProperties {
  const stack = new Stack(new App(), 'ExperimentTableOnly');
  new ExperimentTable(stack, 'Experiments');
  const [table] = Object.values(Template.fromStack(stack).findResources('AWS::DynamoDB::Table')) as { Properties: CfnTableProperties }[];
  if (!table) throw new Error('ExperimentTable synthesized no AWS::DynamoDB::Table');
  return table.Properties;
}

/** The model registry table's properties as the CDK construct synthesizes them (tests and benchmarks). */
export function registryTableProperties(): CfnTableProperties {
  const stack = new Stack(new App(), 'RegistryTableOnly');
  new ModelRegistryTable(stack, 'Registry');
  const [table] = Object.values(Template.fromStack(stack).findResources('AWS::DynamoDB::Table')) as { Properties: CfnTableProperties }[];
  if (!table) throw new Error('ModelRegistryTable synthesized no AWS::DynamoDB::Table');
  return table.Properties;
}
