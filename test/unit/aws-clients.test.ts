import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it, vi } from 'vitest';
import { createAwsClients, type InstrumentableClient } from '../../lib/aws/clients';
import { readAwsSettings } from '../../lib/aws/settings';

const settings = readAwsSettings({
  AWS_REGION: 'eu-west-1',
  AWS_RETRY_MODE: 'adaptive',
  AWS_MAX_ATTEMPTS: '7',
});

describe('createAwsClients', () => {
  it('builds no client until one is used', () => {
    const instrument = vi.fn<(client: InstrumentableClient) => void>();
    createAwsClients(settings, { instrument });
    expect(instrument).not.toHaveBeenCalled();
  });

  it('builds each client once and instruments it once', () => {
    const instrument = vi.fn<(client: InstrumentableClient) => void>();
    const clients = createAwsClients(settings, { instrument });

    const first = clients.ec2;
    const second = clients.ec2;

    expect(first).toBe(second);
    expect(first).toBeInstanceOf(EC2Client);
    expect(instrument).toHaveBeenCalledTimes(1);
    expect(instrument).toHaveBeenCalledWith(first);
  });

  it('configures region and retries from the settings', async () => {
    const clients = createAwsClients(settings);

    expect(await clients.ssm.config.region()).toBe('eu-west-1');
    expect(await clients.autoScaling.config.maxAttempts()).toBe(7);
    expect(await clients.sns.config.retryStrategy()).toHaveProperty('mode', 'adaptive');
  });

  it('shares the DynamoDB client and its middleware (so its instrumentation) with the document client', () => {
    const instrument = vi.fn<(client: InstrumentableClient) => void>();
    const clients = createAwsClients(settings, { instrument });

    const documents = clients.documents;

    expect(documents.middlewareStack).toBe(clients.dynamodb.middlewareStack);
    expect(instrument).toHaveBeenCalledTimes(1);
    expect(instrument).toHaveBeenCalledWith(clients.dynamodb);
  });

  it('leaves endpoints to the SDK (AWS_ENDPOINT_URL), sending requests through the client it built', async () => {
    const clients = createAwsClients(settings);
    const ec2 = mockClient(clients.ec2);
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });

    await clients.ec2.send(new DescribeInstancesCommand({}));

    expect(ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(1);
  });
});
