/**
 * cdk-nag acknowledgements for resources CDK creates on our behalf, in one place with their reasons.
 *
 * cdk-nag 3 acknowledges findings through CDK's `Validations.of(construct).acknowledge()`, and a rule that
 * reports several findings (IAM5: one per wildcard) needs one acknowledgement per finding, spelled as
 * cdk-nag prints it: `AwsSolutions-IAM5[Resource::<LogicalId.Arn>/prefix/*]`.
 */
import { DefaultStackSynthesizer, Stack, Token, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import type { IConstruct } from 'constructs';

/** How cdk-nag renders the ARN of a bucket defined in the same stack: `<LogicalId.Arn>`. */
export function nagArnOf(bucket: s3.IBucket): string {
  const cfn = bucket.node.defaultChild;
  if (!(cfn instanceof s3.CfnBucket)) throw new Error(`nagArnOf needs a bucket defined in this app, got: ${bucket.node.path}`);
  return `<${Stack.of(bucket).getLogicalId(cfn)}.Arn>`;
}

const MANAGED_LAMBDA_LOGS = 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]';

/**
 * The singleton function CDK adds to a stack to configure bucket notifications (`eventBridgeEnabled`).
 * It runs once per deploy, inside CloudFormation.
 */
export function acknowledgeBucketNotificationsHandler(bucket: s3.IBucket): void {
  const stack = Stack.of(bucket);
  for (const handler of stack.node.children.filter((child) => child.node.id.startsWith('BucketNotificationsHandler'))) {
    Validations.of(handler).acknowledge({
      id: MANAGED_LAMBDA_LOGS,
      reason: 'CDK-provided bucket-notifications custom resource: CDK creates its role with this managed policy (logs only).',
    });
  }
}

/**
 * The singleton function behind `BucketDeployment`. Its role and runtime are CDK's; its grants are
 * CDK's `grantRead` on the asset bucket and `grantReadWrite` on the destination, wildcards included.
 */
export function acknowledgeBucketDeployment(deployment: s3deploy.BucketDeployment, destination: s3.IBucket, destinationKeyEncrypted: boolean): void {
  // The role is created inside the singleton function, so its scope is the function.
  const uploader: IConstruct | undefined = deployment.handlerRole.node.scope;
  if (!uploader) return;
  const stack = Stack.of(deployment);
  const qualifier = stack.node.tryGetContext('@aws-cdk/core:bootstrapQualifier') ?? DefaultStackSynthesizer.DEFAULT_QUALIFIER;
  // The asset bucket's name has the stack's account and region in it: literal when the stack has an env.
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const cdkOwned = 'CDK-provided BucketDeployment function, run by CloudFormation during deploys only';
  const cdkGrant = `${cdkOwned}: CDK's own grants for reading the asset and syncing it into the destination prefix`;
  const wildcards = [
    'Action::s3:GetObject*',
    'Action::s3:GetBucket*',
    'Action::s3:List*',
    'Action::s3:DeleteObject*',
    'Action::s3:Abort*',
    `Resource::arn:<AWS::Partition>:s3:::cdk-${qualifier}-assets-${account}-${region}/*`,
    `Resource::${nagArnOf(destination)}/*`,
    ...(destinationKeyEncrypted ? ['Action::kms:ReEncrypt*', 'Action::kms:GenerateDataKey*'] : []),
  ];
  Validations.of(uploader).acknowledge(
    { id: MANAGED_LAMBDA_LOGS, reason: `${cdkOwned}: CDK creates its role with this managed policy (logs only).` },
    ...wildcards.map((finding) => ({ id: `AwsSolutions-IAM5[${finding}]`, reason: cdkGrant })),
    { id: 'AwsSolutions-L1', reason: `${cdkOwned}: CDK chooses and upgrades its runtime.` },
    { id: 'Serverless-LambdaLatestVersion', reason: `${cdkOwned}: CDK chooses and upgrades its runtime.` },
    { id: 'Serverless-LambdaDLQ', reason: `${cdkOwned}: as a custom resource it answers CloudFormation directly; there is no event to dead-letter.` },
    { id: 'Serverless-LambdaTracing', reason: `${cdkOwned}: not on the request path; CloudFormation events record its runs.` },
  );
}
