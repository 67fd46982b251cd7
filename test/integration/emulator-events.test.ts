import { PutLifecycleHookCommand, SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import { CreateImageCommand, RunInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { SendCommandCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmulatedEvent } from '../../emulator/control';
import { awsForTest, controlFor, eventually } from '../support/aws';
import { startEventReceiver, type EventReceiver } from '../support/event-receiver';
import { createSandbox, type Sandbox } from '../../emulator/sandbox';

// EventBridge-shaped events delivered to a local URL as transitions complete (part e).
const aws = awsForTest(import.meta.url);
const control = controlFor(aws);
let receiver: EventReceiver;
let sandbox: Sandbox;

function waitFor(match: (event: EmulatedEvent) => boolean, what: string): Promise<EmulatedEvent> {
  return eventually(async () => Promise.resolve(receiver.events.find(match)), { what });
}

beforeAll(async () => {
  receiver = await startEventReceiver();
  sandbox = await createSandbox(aws, { name: 'events', desiredCapacity: 1 });
  await control.configure({
    eventsUrl: receiver.url,
    delays: { 'ec2.instance.pending': 0.2, 'ec2.instance.stopping': 0.2, 'ec2.image.pending': 0.2 },
  });
});

afterAll(async () => {
  await control.configure({ eventsUrl: null });
  await receiver.close();
});

describe('events delivered to a local URL', () => {
  it('sends EC2 instance state-change notifications as the instance moves', async () => {
    const run = await aws.ec2.send(
      new RunInstancesCommand({ ImageId: sandbox.baseImageId, MinCount: 1, MaxCount: 1 }),
    );
    const id = run.Instances?.[0]?.InstanceId ?? '';
    const isState = (state: string) => (event: EmulatedEvent) =>
      event['detail-type'] === 'EC2 Instance State-change Notification' &&
      event.detail['instance-id'] === id &&
      event.detail.state === state;

    const running = await waitFor(isState('running'), 'running');
    await aws.ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    await waitFor(isState('stopped'), 'stopped');

    expect(running).toMatchObject({
      version: '0',
      source: 'aws.ec2',
      account: aws.accountId,
      region: 'us-east-1',
      resources: [`arn:aws:ec2:us-east-1:${aws.accountId}:instance/${id}`],
    });
    const order = receiver.events
      .filter((event) => event.detail['instance-id'] === id)
      .map((e) => e.detail.state);
    expect(order).toEqual(['pending', 'running', 'stopping', 'stopped']);
  });

  it('sends an AMI state change when the image becomes available', async () => {
    const run = await aws.ec2.send(
      new RunInstancesCommand({ ImageId: sandbox.baseImageId, MinCount: 1, MaxCount: 1 }),
    );
    const { ImageId } = await aws.ec2.send(
      new CreateImageCommand({
        InstanceId: run.Instances?.[0]?.InstanceId,
        Name: 'events-image',
        NoReboot: true,
      }),
    );

    const event = await waitFor(
      (e) => e['detail-type'] === 'EC2 AMI State Change' && e.detail.ImageId === ImageId,
      'AMI State Change',
    );

    expect(event).toMatchObject({
      source: 'aws.ec2',
      resources: [`arn:aws:ec2:us-east-1::image/${ImageId}`],
      detail: { ImageId, State: 'available', ErrorMessage: '' },
    });
  });

  it('sends command and invocation status changes', async () => {
    const run = await aws.ec2.send(
      new RunInstancesCommand({ ImageId: sandbox.baseImageId, MinCount: 1, MaxCount: 1 }),
    );
    const instanceId = run.Instances?.[0]?.InstanceId ?? '';
    const sent = await aws.ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [instanceId],
        Parameters: { commands: ['echo hi'] },
      }),
    );
    const commandId = sent.Command?.CommandId;

    const done = await waitFor(
      (e) =>
        e['detail-type'] === 'EC2 Command Status-change Notification' &&
        e.detail['command-id'] === commandId &&
        e.detail.status === 'Success',
      'command success',
    );
    const invocation = await waitFor(
      (e) =>
        e['detail-type'] === 'EC2 Command Invocation Status-change Notification' &&
        e.detail['command-id'] === commandId &&
        e.detail.status === 'Success',
      'invocation success',
    );

    expect(done).toMatchObject({ source: 'aws.ssm', detail: { 'document-name': 'AWS-RunShellScript' } });
    expect(invocation.detail['instance-id']).toBe(instanceId);
  });

  it('sends lifecycle action events', async () => {
    await aws.autoScaling.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: sandbox.autoScalingGroupName,
        LifecycleHookName: 'ready',
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      }),
    );
    await aws.autoScaling.send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: sandbox.autoScalingGroupName,
        DesiredCapacity: 2,
      }),
    );

    const event = await waitFor(
      (e) => e['detail-type'] === 'EC2 Instance-launch Lifecycle Action',
      'lifecycle',
    );

    expect(event).toMatchObject({
      source: 'aws.autoscaling',
      detail: {
        AutoScalingGroupName: sandbox.autoScalingGroupName,
        LifecycleHookName: 'ready',
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
        Origin: 'EC2',
        Destination: 'AutoScalingGroup',
      },
    });
    expect(event.resources[0]).toMatch(/^arn:aws:autoscaling:us-east-1:\d{12}:autoScalingGroup:/);
  });

  it('keeps the same events for GET /_bakery/events', async () => {
    const recorded = await control.events();

    expect(recorded.map((event) => event.id)).toEqual(
      expect.arrayContaining(receiver.events.map((e) => e.id)),
    );
  });
});
