import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  GetParameterCommand,
  ListCommandsCommand,
  SendCommandCommand,
  type GetCommandInvocationCommandOutput,
} from '@aws-sdk/client-ssm';
import { beforeAll, describe, expect, it } from 'vitest';
import { awsForTest, controlFor, eventually } from '../support/aws';
import { AL2023_PARAMETER, createSandbox, type Sandbox } from '../../emulator/sandbox';

// SSM command outcomes chosen by rule (part d), timed command states (part c) and the
// agent's ping status, which a bake waits for before its first command.
const aws = awsForTest(import.meta.url);
const control = controlFor(aws);
let sandbox: Sandbox;
let builderId: string;

async function send(commands: string[]): Promise<string> {
  const sent = await aws.ssm.send(
    new SendCommandCommand({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: [builderId],
      Parameters: { commands },
    }),
  );
  return sent.Command?.CommandId ?? '';
}

async function finalInvocation(commandId: string): Promise<GetCommandInvocationCommandOutput> {
  return eventually(
    async () => {
      const invocation = await aws.ssm.send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: builderId }),
      );
      return ['Pending', 'InProgress'].includes(invocation.Status ?? '') ? undefined : invocation;
    },
    { what: `command ${commandId} to finish` },
  );
}

beforeAll(async () => {
  sandbox = await createSandbox(aws, { name: 'ssm', desiredCapacity: 1 });
  const parameter = await aws.ssm.send(new GetParameterCommand({ Name: AL2023_PARAMETER }));
  const run = await aws.ec2.send(
    new RunInstancesCommand({
      ImageId: parameter.Parameter?.Value,
      InstanceType: 't3.micro',
      MinCount: 1,
      MaxCount: 1,
      IamInstanceProfile: { Arn: sandbox.instanceProfileArn },
    }),
  );
  builderId = run.Instances?.[0]?.InstanceId ?? '';
});

describe('SSM in the emulator', () => {
  // GetCommandInvocation, Errors: InvocationDoesNotExist, as AWS often answers right after SendCommand.
  it('answers InvocationDoesNotExist until the invocation is visible', async () => {
    await control.configure({ delays: { 'ssm.invocation.visible': 0.5 } });
    try {
      const commandId = await send(['echo soon']);

      await expect(
        aws.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: builderId })),
      ).rejects.toMatchObject({ name: 'InvocationDoesNotExist' });
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect((await finalInvocation(commandId)).Status).toBe('Success');
    } finally {
      await control.configure({ delays: { 'ssm.invocation.visible': 0 } });
    }
  });

  it('reports the agent Online once the instance has run for the agent delay', async () => {
    await control.configure({ delays: { 'ec2.instance.pending': 0.2, 'ssm.agent.online': 0.3 } });
    const parameter = await aws.ssm.send(new GetParameterCommand({ Name: AL2023_PARAMETER }));
    const run = await aws.ec2.send(
      new RunInstancesCommand({
        ImageId: parameter.Parameter?.Value,
        MinCount: 1,
        MaxCount: 1,
        IamInstanceProfile: { Arn: sandbox.instanceProfileArn },
      }),
    );
    const id = run.Instances?.[0]?.InstanceId ?? '';
    const describe = () =>
      aws.ssm.send(
        new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [id] }] }),
      );

    expect((await describe()).InstanceInformationList).toEqual([]);
    const online = await eventually(async () => (await describe()).InstanceInformationList?.[0]);
    expect(online).toMatchObject({ InstanceId: id, PingStatus: 'Online', PlatformType: 'Linux' });
    await control.configure({ delays: { 'ec2.instance.pending': 0, 'ssm.agent.online': 0 } });
  });

  it('succeeds by default, with exit code 0', async () => {
    const invocation = await finalInvocation(await send(['echo ok']));

    expect(invocation).toMatchObject({ Status: 'Success', StatusDetails: 'Success', ResponseCode: 0 });
  });

  it('moves Pending -> InProgress -> final over the configured delays', async () => {
    await control.configure({ delays: { 'ssm.command.pending': 0.3, 'ssm.command.in-progress': 0.3 } });
    const id = await send(['sleep 1']);
    const status = async () =>
      (await aws.ssm.send(new GetCommandInvocationCommand({ CommandId: id, InstanceId: builderId }))).Status;

    expect(await status()).toBe('Pending');
    await eventually(async () => ((await status()) === 'InProgress' ? true : undefined));
    const listed = await aws.ssm.send(new ListCommandsCommand({ CommandId: id }));
    expect(listed.Commands?.[0]?.Status).toBe('InProgress');
    await eventually(async () => ((await status()) === 'Success' ? true : undefined));
    await control.configure({ delays: { 'ssm.command.pending': 0, 'ssm.command.in-progress': 0 } });
  });

  it('fails a command that matches a rule, with its exit code, stdout and stderr', async () => {
    await control.configure({
      ssmRules: [
        {
          commandPattern: 'npm ci',
          status: 'Failed',
          exitCode: 127,
          stdout: 'installing',
          stderr: 'npm: not found',
        },
      ],
    });

    const invocation = await finalInvocation(await send(['cd /opt/app', 'npm ci --omit=dev']));
    const command = await aws.ssm.send(new ListCommandsCommand({ CommandId: invocation.CommandId }));

    expect(invocation).toMatchObject({
      Status: 'Failed',
      ResponseCode: 127,
      StandardOutputContent: 'installing',
      StandardErrorContent: 'npm: not found',
    });
    expect(command.Commands?.[0]).toMatchObject({ Status: 'Failed', ErrorCount: 1, CompletedCount: 1 });
  });

  it('times a command out by rule, and leaves other commands alone', async () => {
    await control.configure({ ssmRules: [{ commandPattern: 'curl', status: 'TimedOut' }] });

    const timedOut = await finalInvocation(await send(['curl -fsS localhost:3000/health']));
    const other = await finalInvocation(await send(['echo fine']));

    expect(timedOut).toMatchObject({ Status: 'TimedOut', StatusDetails: 'ExecutionTimedOut' });
    expect(other.Status).toBe('Success');
  });

  it('keeps only the first 24,000 characters of output, as GetCommandInvocation does', async () => {
    await control.configure({
      ssmRules: [{ commandPattern: 'verbose', status: 'Success', stdout: 'x'.repeat(30_000) }],
    });

    const invocation = await finalInvocation(await send(['verbose']));

    expect(invocation.StandardOutputContent).toHaveLength(24_000);
    await control.configure({ ssmRules: [] });
  });
});
