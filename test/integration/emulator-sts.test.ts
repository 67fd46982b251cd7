import { CreateLaunchTemplateCommand, DescribeLaunchTemplatesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateRoleCommand, DeleteRolePolicyCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { beforeAll, describe, expect, it } from 'vitest';
import { accountHeader, awsForTest, controlFor, refusal } from '../support/aws';

// STS AssumeRole across accounts, as IAM decides it
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_manage-assume.html): the caller's own
// policies must allow sts:AssumeRole on the role, and the role's trust policy must trust the
// caller, with the ExternalId it asks for; the credentials then act in the role's account with
// the role's permissions only.
const tooling = awsForTest(`${import.meta.url}#tooling`);
const workload = awsForTest(`${import.meta.url}#workload`);
const region = 'us-east-1';
const caller = `arn:aws:iam::${tooling.accountId}:role/bakery-reconcile`;
const target = `arn:aws:iam::${workload.accountId}:role/ami-bakery-target`;

let registered = 0;
/** STS signed as a principal of the tooling account whose only policy holds `statement`. */
async function stsAs(arn: string, statement: Record<string, unknown>): Promise<STSClient> {
  registered += 1;
  const credentials = { accessKeyId: `ASIASTS${String(registered).padStart(13, '0')}`, secretAccessKey: 'x' };
  await controlFor(tooling).registerPrincipals({
    principals: [
      {
        accessKeyId: credentials.accessKeyId,
        arn,
        label: `caller-${registered}`,
        policies: [{ name: 'p', policy: { Version: '2012-10-17', Statement: [statement] } }],
      },
    ],
  });
  const sts = new STSClient({ region, credentials, maxAttempts: 1 });
  sts.middlewareStack.use(accountHeader(tooling.accountId));
  return sts;
}

const mayAssume = { Effect: 'Allow', Action: 'sts:AssumeRole', Resource: target };

/** The target role's one permission, read-templates: (re)attached by the setup and the revocation test. */
async function grantReadTemplates(): Promise<void> {
  await workload.iam.send(
    new PutRolePolicyCommand({
      RoleName: 'ami-bakery-target',
      PolicyName: 'read-templates',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'ec2:DescribeLaunchTemplates', Resource: '*' }],
      }),
    }),
  );
}

beforeAll(async () => {
  await workload.iam.send(
    new CreateRoleCommand({
      RoleName: 'ami-bakery-target',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: caller },
            Action: 'sts:AssumeRole',
            Condition: { StringEquals: { 'sts:ExternalId': 'ext-123' } },
          },
        ],
      }),
    }),
  );
  await grantReadTemplates();
  await workload.ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'in-workload',
      LaunchTemplateData: { InstanceType: 't3.micro' },
    }),
  );
  await tooling.ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'in-tooling',
      LaunchTemplateData: { InstanceType: 't3.micro' },
    }),
  );
});

describe('STS AssumeRole into another account', () => {
  it('gives credentials that act in the role’s account, with the role’s permissions only', async () => {
    const sts = await stsAs(caller, mayAssume);

    const assumed = await sts.send(
      new AssumeRoleCommand({
        RoleArn: target,
        RoleSessionName: 'b20261130000000-abcdef',
        ExternalId: 'ext-123',
      }),
    );
    const credentials = {
      accessKeyId: assumed.Credentials?.AccessKeyId ?? '',
      secretAccessKey: assumed.Credentials?.SecretAccessKey ?? '',
      sessionToken: assumed.Credentials?.SessionToken ?? '',
    };
    // The client still says the tooling account: the credentials decide, as in AWS.
    const ec2 = new EC2Client({ region, credentials, maxAttempts: 1 });
    ec2.middlewareStack.use(accountHeader(tooling.accountId));
    const templates = await ec2.send(new DescribeLaunchTemplatesCommand({}));

    expect(assumed.AssumedRoleUser?.Arn).toBe(
      `arn:aws:sts::${workload.accountId}:assumed-role/ami-bakery-target/b20261130000000-abcdef`,
    );
    expect(templates.LaunchTemplates?.map((t) => t.LaunchTemplateName)).toEqual(['in-workload']);
    expect(
      await refusal(
        ec2.send(
          new CreateLaunchTemplateCommand({
            LaunchTemplateName: 'x',
            LaunchTemplateData: { InstanceType: 't3.micro' },
          }),
        ),
      ),
    ).toMatch(/^UnauthorizedOperation: .*ec2:CreateLaunchTemplate/);
    const identity = new STSClient({ region, credentials, maxAttempts: 1 });
    expect((await identity.send(new GetCallerIdentityCommand({}))).Account).toBe(workload.accountId);
  });

  it('applies a change to the role’s policies to sessions already issued, as AWS revokes sessions', async () => {
    const sts = await stsAs(caller, mayAssume);
    const assumed = await sts.send(
      new AssumeRoleCommand({ RoleArn: target, RoleSessionName: 'revoked', ExternalId: 'ext-123' }),
    );
    const ec2 = new EC2Client({
      region,
      maxAttempts: 1,
      credentials: {
        accessKeyId: assumed.Credentials?.AccessKeyId ?? '',
        secretAccessKey: assumed.Credentials?.SecretAccessKey ?? '',
        sessionToken: assumed.Credentials?.SessionToken ?? '',
      },
    });
    const read = () => refusal(ec2.send(new DescribeLaunchTemplatesCommand({})));

    const before = await read();
    await workload.iam.send(
      new DeleteRolePolicyCommand({ RoleName: 'ami-bakery-target', PolicyName: 'read-templates' }),
    );
    const revoked = await read();
    await grantReadTemplates();
    const restored = await read();

    expect(before).toBe('allowed');
    expect(revoked).toMatch(/^UnauthorizedOperation: .*ec2:DescribeLaunchTemplates/);
    expect(restored).toBe('allowed');
  });

  it.each<[string, string, Record<string, unknown>, string | undefined, string]>([
    ['a wrong ExternalId', caller, mayAssume, 'ext-999', 'the role’s trust policy'],
    ['no ExternalId', caller, mayAssume, undefined, 'the role’s trust policy'],
    [
      'a caller the role does not trust',
      `arn:aws:iam::${tooling.accountId}:role/someone-else`,
      mayAssume,
      'ext-123',
      'the role’s trust policy',
    ],
    [
      'a caller whose own policies do not allow it',
      caller,
      { Effect: 'Allow', Action: 'sts:GetCallerIdentity', Resource: '*' },
      'ext-123',
      'no identity-based policy',
    ],
  ])('refuses %s', async (_, arn, statement, externalId, why) => {
    const sts = await stsAs(arn, statement);

    const said = await refusal(
      sts.send(
        new AssumeRoleCommand({
          RoleArn: target,
          RoleSessionName: 's',
          ...(externalId ? { ExternalId: externalId } : {}),
        }),
      ),
    );

    expect(said).toMatch(/^AccessDenied: .*sts:AssumeRole/);
    expect(said).toContain(why === 'the role’s trust policy' ? "the role's trust policy" : why);
  });

  it('refuses a role that does not exist, as one it may not assume', async () => {
    const sts = await stsAs(caller, { Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' });

    const said = await refusal(
      sts.send(
        new AssumeRoleCommand({
          RoleArn: `arn:aws:iam::${workload.accountId}:role/nobody`,
          RoleSessionName: 's',
          ExternalId: 'ext-123',
        }),
      ),
    );

    expect(said).toMatch(/^AccessDenied: .*sts:AssumeRole/);
  });
});
