import { PutLifecycleHookCommand, type AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CreateTopicCommand, SubscribeCommand, type SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { EmulatorControl } from './control';
import { registerHookRole } from './iam/identities';
import { packagedTemplate } from './iam/stack';

export interface HookClients {
  readonly autoScaling: AutoScalingClient;
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
}

export interface HookOptions {
  /** Names the topic and the queue (`<name>-hooks`). */
  readonly name: string;
  readonly accountId: string;
  /** Where the hooks' role (the stack's LifecycleHookRole, as packaged) is registered. */
  readonly control: EmulatorControl;
  /** Seconds (30-7200); the emulator scales it by its time scale. */
  readonly heartbeatTimeout?: number;
  readonly defaultResult?: 'CONTINUE' | 'ABANDON';
}

export interface Hooks {
  readonly topicArn: string;
  /** An SQS queue subscribed to the topic: where a test or benchmark reads the hook notifications. */
  readonly queueUrl: string;
}

/**
 * Lets Auto Scaling publish a hook's notifications to `targetArn` with `roleArn` (a role that may
 * only do that): for emulator tests that set hooks up by hand.
 */
export async function allowHookRole(
  control: EmulatorControl,
  roleArn: string,
  targetArn: string,
): Promise<void> {
  const publish = targetArn.startsWith('arn:aws:sqs:')
    ? ['sqs:SendMessage', 'sqs:GetQueueUrl']
    : 'sns:Publish';
  await control.registerPrincipals({
    roles: [
      {
        arn: roleArn,
        policies: [
          {
            name: 'publish',
            policy: {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Action: publish, Resource: targetArn }],
            },
          },
        ],
      },
    ],
  });
}

/**
 * A launch hook (`ready`) and a terminate hook (`drain`) on `group`, notifying their own SNS
 * topic, as the README tells users to set them up (there, the topic invokes the lifecycle
 * function). Auto Scaling then sends each hook's target a TEST_NOTIFICATION.
 */
export async function addLifecycleHooks(
  aws: HookClients,
  group: string,
  options: HookOptions,
): Promise<Hooks> {
  const topic = await aws.sns.send(new CreateTopicCommand({ Name: `${options.name}-hooks` }));
  const roleArn = `arn:aws:iam::${options.accountId}:role/${options.name}-hooks`;
  await registerHookRole(options.control, await packagedTemplate(), roleArn, topic.TopicArn ?? '');
  const queue = await aws.sqs.send(new CreateQueueCommand({ QueueName: `${options.name}-hooks` }));
  const attributes = await aws.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  await aws.sns.send(
    new SubscribeCommand({
      TopicArn: topic.TopicArn,
      Protocol: 'sqs',
      Endpoint: attributes.Attributes?.QueueArn,
    }),
  );
  for (const transition of ['autoscaling:EC2_INSTANCE_LAUNCHING', 'autoscaling:EC2_INSTANCE_TERMINATING']) {
    await aws.autoScaling.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: group,
        LifecycleHookName: transition.endsWith('LAUNCHING') ? 'ready' : 'drain',
        LifecycleTransition: transition,
        NotificationTargetARN: topic.TopicArn,
        RoleARN: roleArn,
        HeartbeatTimeout: options.heartbeatTimeout ?? 3600,
        DefaultResult: options.defaultResult ?? 'ABANDON',
      }),
    );
  }
  return { topicArn: topic.TopicArn ?? '', queueUrl: queue.QueueUrl ?? '' };
}

/** An SNS-to-Lambda event carrying one message, as the lifecycle function receives it. */
export function snsEvent(
  messageId: string,
  message: string,
  topicArn = 'arn:aws:sns:us-east-1:123456789012:hooks',
) {
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: `${topicArn}:sub`,
        Sns: {
          Type: 'Notification',
          MessageId: messageId,
          TopicArn: topicArn,
          Message: message,
          Timestamp: new Date().toISOString(),
        },
      },
    ],
  };
}
