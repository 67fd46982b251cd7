/**
 * Each function of the stack as its own caller: credentials the emulator maps to that
 * function's role, with the role's policies exactly as packaged (resolved against the local
 * stack's physical names). Every local run (tests, demo, dev, bench, chaos) signs each
 * function's calls with these, so the emulator refuses what AWS would refuse.
 */
import { randomBytes } from 'node:crypto';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { EmulatorControl } from '../control';
import {
  functionRoles,
  resolveIntrinsics,
  rolePolicies,
  type CfnTemplate,
  type NamedPolicy,
  type PhysicalResources,
} from './stack';

export const FUNCTION_NAMES = ['reconcile', 'api', 'nightly', 'janitor', 'lifecycle'] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

/** The resources a local run stands up in place of the stack's, by physical name. */
export interface LocalStackNames {
  readonly accountId: string;
  readonly region: string;
  readonly tableName: string;
  readonly notificationsTopicArn: string;
  /** Absent where passes are run by hand (tests): the queue's name is then derived from the table. */
  readonly timerQueueUrl?: string;
  /** The topic the groups' lifecycle hooks notify (absent: derived from the table). */
  readonly lifecycleTopicArn?: string;
  /** The builder's role (and instance profile), as the sandbox made it. */
  readonly builderRoleName: string;
}

export interface FunctionIdentity {
  readonly credentials: AwsCredentialIdentity;
  /** `arn:aws:sts::ACCOUNT:assumed-role/ROLE/FUNCTION`, as the function's calls are made in AWS. */
  readonly principalArn: string;
  readonly roleLogicalId: string;
}

export type StackIdentities = Readonly<Record<FunctionName, FunctionIdentity>>;

/** The variables a function's handler reads its credentials from (the SDK's environment provider). */
export function credentialsEnv(identity: FunctionIdentity): Record<string, string> {
  const { accessKeyId, secretAccessKey } = identity.credentials;
  return { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey };
}

/** The template's resources as the local stack provides them (Ref and the attributes policies use). */
export function localResources(names: LocalStackNames): PhysicalResources {
  const { accountId, region } = names;
  const arn = (service: string, resource: string) => `arn:aws:${service}:${region}:${accountId}:${resource}`;
  const queue = (name: string) => ({
    Ref: `https://sqs.${region}.amazonaws.com/${accountId}/${name}`,
    Arn: arn('sqs', name),
    QueueName: name,
  });
  const timerQueueName = names.timerQueueUrl?.split('/').pop() ?? `${names.tableName}-timers`;
  const timers = queue(timerQueueName);
  const lifecycleTopic = names.lifecycleTopicArn ?? arn('sns', `${names.tableName}-lifecycle`);
  const builderRoleArn = `arn:aws:iam::${accountId}:role/${names.builderRoleName}`;
  return {
    BakesTable: { Ref: names.tableName, Arn: arn('dynamodb', `table/${names.tableName}`) },
    NotificationsTopic: {
      Ref: names.notificationsTopicArn,
      TopicName: names.notificationsTopicArn.split(':').pop() ?? '',
    },
    TimerQueue: { ...timers, Ref: names.timerQueueUrl ?? timers.Ref },
    TimerDeadLetterQueue: queue(`${timerQueueName}-dlq`),
    // Lambda's own destination: nothing local sends to it, yet the roles name it.
    FailedInvocationsQueue: queue(`${names.tableName}-failed-invocations`),
    LifecycleTopic: { Ref: lifecycleTopic, TopicName: lifecycleTopic.split(':').pop() ?? '' },
    BuilderRole: { Ref: names.builderRoleName, Arn: builderRoleArn },
    BuilderInstanceProfile: {
      Ref: names.builderRoleName,
      Arn: `arn:aws:iam::${accountId}:instance-profile/${names.builderRoleName}`,
    },
  };
}

/** The policies of a role of the template, resolved for the local stack. */
export function resolvedPolicies(
  template: CfnTemplate,
  roleLogicalId: string,
  names: LocalStackNames,
): NamedPolicy[] {
  return resolveIntrinsics(rolePolicies(template, roleLogicalId), localResources(names), {
    accountId: names.accountId,
    region: names.region,
  }) as NamedPolicy[];
}

function accessKeyId(): string {
  // The shape of a temporary (role session) key; unique per registration.
  return `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
}

export interface IdentityOptions {
  /** Changes a function's policies before they are registered (a test removing one statement). */
  readonly edit?: (fn: FunctionName, policies: NamedPolicy[]) => NamedPolicy[];
}

/**
 * Registers every function's role with the emulator and returns the credentials to sign with.
 * @throws UnresolvedReference when a policy names a resource the local stack does not provide.
 */
export async function registerStackIdentities(
  control: EmulatorControl,
  template: CfnTemplate,
  names: LocalStackNames,
  options: IdentityOptions = {},
): Promise<StackIdentities> {
  const roles = functionRoles(template);
  const identities = {} as Record<FunctionName, FunctionIdentity>;
  const principals = [];
  for (const fn of FUNCTION_NAMES) {
    const roleLogicalId = roles[fn];
    if (!roleLogicalId) throw new Error(`the packaged stack has no function ${fn}`);
    let policies = resolvedPolicies(template, roleLogicalId, names);
    if (options.edit) policies = options.edit(fn, policies);
    const credentials = { accessKeyId: accessKeyId(), secretAccessKey: randomBytes(20).toString('hex') };
    // The session name is the function's, made unique per registration: two local stacks in one
    // account (test files side by side in the default account) never replace each other's policies.
    const session = `${fn}-${randomBytes(3).toString('hex')}`;
    const principalArn = `arn:aws:sts::${names.accountId}:assumed-role/ami-bakery-${roleLogicalId}/${session}`;
    identities[fn] = { credentials, principalArn, roleLogicalId };
    principals.push({ accessKeyId: credentials.accessKeyId, arn: principalArn, label: fn, policies });
  }
  await control.registerPrincipals({ principals });
  return identities;
}

/**
 * Registers the stack's LifecycleHookRole, as packaged, at `roleArn` (what a hook's RoleARN
 * names) with its topic resolved to `topicArn`: Auto Scaling publishes the hook's notifications
 * with it, and PutLifecycleHook fails when it cannot.
 */
export async function registerHookRole(
  control: EmulatorControl,
  template: CfnTemplate,
  roleArn: string,
  topicArn: string,
): Promise<void> {
  const [, , , region = '', accountId = ''] = topicArn.split(':');
  const policies = resolveIntrinsics(
    rolePolicies(template, 'LifecycleHookRole'),
    { LifecycleTopic: { Ref: topicArn } },
    { accountId, region },
  ) as NamedPolicy[];
  await control.registerPrincipals({ roles: [{ arn: roleArn, policies }] });
}

/** A copy of `policies` without the statement `sid` (throws when no policy has it). */
export function withoutStatement(policies: NamedPolicy[], sid: string): NamedPolicy[] {
  if (!policies.some((named) => named.policy.Statement.some((statement) => statement.Sid === sid))) {
    throw new Error(`no statement ${sid}`);
  }
  return policies.map((named) => ({
    name: named.name,
    policy: {
      ...named.policy,
      Statement: named.policy.Statement.filter((statement) => statement.Sid !== sid),
    },
  }));
}

/** A copy of `policies` in which no statement grants `action` (throws when none did). */
export function withoutAction(policies: NamedPolicy[], action: string): NamedPolicy[] {
  const grants = (statement: NamedPolicy['policy']['Statement'][number]) =>
    [statement.Action].flat().includes(action);
  if (!policies.some((named) => named.policy.Statement.some(grants)))
    throw new Error(`no statement grants ${action}`);
  return policies.map((named) => ({
    name: named.name,
    policy: {
      ...named.policy,
      Statement: named.policy.Statement.flatMap((statement) => {
        if (!grants(statement)) return [statement];
        const rest = [statement.Action].flat().filter((a) => a !== action);
        return rest.length > 0 ? [{ ...statement, Action: rest }] : [];
      }),
    },
  }));
}
