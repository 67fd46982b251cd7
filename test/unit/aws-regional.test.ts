import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../lib/aws/clients';
import { crossAccount } from '../../lib/aws/cross-account';
import { createRegionalClients, NoCrossAccountError, type AssumedRole } from '../../lib/aws/regional';
import { readAwsSettings } from '../../lib/aws/settings';

// Clients in another account: one AssumeRole per role session, shared by every client of that
// session in every region, asked again only when the credentials near their expiry.
const settings = readAwsSettings({ AWS_REGION: 'us-east-1' });
const sts = mockClient(STSClient);
const credentials = { accessKeyId: 'AK', secretAccessKey: 'SK' };
const role = (sessionName: string): AssumedRole => ({
  roleArn: 'arn:aws:iam::222222222222:role/ami-bakery-target',
  externalId: 'ext-1',
  sessionName,
});

/** What a client signs with: its credentials provider, called as the SDK calls it before a request. */
async function credentialsOf(client: { config: { credentials: unknown } }): Promise<unknown> {
  return (client.config.credentials as () => Promise<unknown>)();
}

function assumed(expiresInMs: number) {
  return {
    Credentials: {
      AccessKeyId: 'ASIA1',
      SecretAccessKey: 'secret',
      SessionToken: 'token',
      Expiration: new Date(Date.now() + expiresInMs),
    },
  };
}

describe('regional clients through a role', () => {
  beforeEach(() => {
    sts.reset();
  });

  it('assumes the role once for every client of a session, with its ExternalId and session name', async () => {
    sts.on(AssumeRoleCommand).resolves(assumed(3_600_000));
    const regional = createRegionalClients(
      createAwsClients(settings, { credentials }),
      settings,
      { credentials },
      crossAccount,
    );

    const [first] = await Promise.all([
      credentialsOf(regional.ec2In('us-east-1', role('b1'))),
      credentialsOf(regional.autoScalingIn('us-east-1', role('b1'))),
      credentialsOf(regional.kmsIn('eu-west-1', role('b1'))),
    ]);
    await credentialsOf(regional.autoScalingIn('eu-west-1', role('b2')));

    expect(first).toMatchObject({ accessKeyId: 'ASIA1', secretAccessKey: 'secret', sessionToken: 'token' });
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).toEqual([
      {
        RoleArn: 'arn:aws:iam::222222222222:role/ami-bakery-target',
        RoleSessionName: 'b1',
        ExternalId: 'ext-1',
        DurationSeconds: 3_600,
      },
      {
        RoleArn: 'arn:aws:iam::222222222222:role/ami-bakery-target',
        RoleSessionName: 'b2',
        ExternalId: 'ext-1',
        DurationSeconds: 3_600,
      },
    ]);
  });

  it('assumes it again when the credentials are about to expire, and after a refusal', async () => {
    sts
      .on(AssumeRoleCommand)
      .rejectsOnce(Object.assign(new Error('not trusted'), { name: 'AccessDenied' }))
      .resolvesOnce(assumed(60_000))
      .resolves(assumed(3_600_000));
    const regional = createRegionalClients(
      createAwsClients(settings, { credentials }),
      settings,
      { credentials },
      crossAccount,
    );
    const client = regional.ec2In('eu-west-1', role('b1'));

    await expect(credentialsOf(client)).rejects.toThrow('not trusted');
    await credentialsOf(client); // expires within 5 minutes
    await credentialsOf(client);
    await credentialsOf(client);

    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(3);
  });

  it('are refused to a function built without cross-account clients, as is KMS', () => {
    const regional = createRegionalClients(createAwsClients(settings, { credentials }), settings, {
      credentials,
    });

    expect(() => regional.ec2In('us-east-1', role('b1'))).toThrow(NoCrossAccountError);
    expect(() => regional.kmsIn('eu-west-1')).toThrow(
      'KMS in eu-west-1: this function is built without KMS and cross-account clients (only reconcile has them)',
    );
    // Its own account's clients are there as ever.
    expect(regional.ec2In('eu-west-1').config.region).toBeDefined();
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });
});
