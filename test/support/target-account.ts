import { readFile } from 'node:fs/promises';
import { CreateRoleCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { parse, type Tags } from 'yaml';
import { resolveIntrinsics } from '../../emulator/iam/stack';
import type { TestAws } from './aws';

const TEMPLATE = new URL('../../resources/target-account-role.yml', import.meta.url);

/** CloudFormation's short forms, as the long ones `resolveIntrinsics` reads. */
const SHORT_FORMS: Tags = ['Ref', 'Sub', 'GetAtt'].flatMap((name) => {
  const key = name === 'Ref' ? 'Ref' : `Fn::${name}`;
  return [
    { tag: `!${name}`, resolve: (value: string) => ({ [key]: value }) },
    {
      tag: `!${name}`,
      collection: 'seq' as const,
      resolve: (value: unknown) => ({ [key]: (value as { toJSON(): unknown }).toJSON() }),
    },
  ];
});

interface RoleTemplate {
  Parameters: Record<string, { Default?: string }>;
  Resources: {
    TargetRole: {
      Properties: {
        RoleName: unknown;
        AssumeRolePolicyDocument: unknown;
        Tags: { Key: string; Value: string }[];
        Policies: { PolicyName: string; PolicyDocument: unknown }[];
      };
    };
  };
}

/**
 * Deploys resources/target-account-role.yml into a test account as CloudFormation would: its
 * parameters (defaults unless given) and intrinsics resolved, the role and its inline policy
 * created through IAM. Returns the role's name.
 */
export async function deployTargetRole(
  aws: TestAws,
  parameters: { BakeryAccountId: string; ExternalId: string } & Record<string, string>,
): Promise<string> {
  const template = parse(await readFile(TEMPLATE, 'utf8'), { customTags: SHORT_FORMS }) as RoleTemplate;
  const values = Object.fromEntries(
    Object.entries(template.Parameters).map(([name, p]) => [name, parameters[name] ?? p.Default ?? '']),
  );
  const resources = Object.fromEntries(Object.entries(values).map(([name, value]) => [name, { Ref: value }]));
  const role = resolveIntrinsics(template.Resources.TargetRole.Properties, resources, {
    accountId: aws.accountId,
    region: 'us-east-1',
  }) as RoleTemplate['Resources']['TargetRole']['Properties'];
  const roleName = String(role.RoleName);
  await aws.iam.send(
    new CreateRoleCommand({
      RoleName: roleName,
      AssumeRolePolicyDocument: JSON.stringify(role.AssumeRolePolicyDocument),
      Tags: role.Tags,
    }),
  );
  for (const policy of role.Policies)
    await aws.iam.send(
      new PutRolePolicyCommand({
        RoleName: roleName,
        PolicyName: policy.PolicyName,
        PolicyDocument: JSON.stringify(policy.PolicyDocument),
      }),
    );
  return roleName;
}
