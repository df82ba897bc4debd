import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { PredictionLogTable } from '../lib/prediction-log-table';
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
