import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { AnyAwsClient, AwsClients, AwsClientOptions } from './clients';
import { clientConfig, type AwsSettings } from './settings';

/** EC2, SSM and Auto Scaling clients per region (copies, per-region parameters, rollout targets), built once each. */
export interface RegionalClients {
  readonly ec2In: (region: string) => EC2Client;
  readonly ssmIn: (region: string) => SSMClient;
  readonly autoScalingIn: (region: string) => AutoScalingClient;
}

/** Regional clients that reuse the home region's clients and build the others on first use. */
export function createRegionalClients(
  home: AwsClients,
  settings: AwsSettings,
  options: AwsClientOptions = {},
): RegionalClients {
  const ec2 = new Map<string, EC2Client>();
  const ssm = new Map<string, SSMClient>();
  const autoScaling = new Map<string, AutoScalingClient>();
  function build<T extends AnyAwsClient>(cache: Map<string, T>, region: string, make: () => T): T {
    let client = cache.get(region);
    if (!client) {
      client = make();
      options.instrument?.(client);
      cache.set(region, client);
    }
    return client;
  }
  const config = (region: string) => clientConfig(settings, region, options.credentials);
  return {
    ec2In: (region) =>
      region === settings.region ? home.ec2 : build(ec2, region, () => new EC2Client(config(region))),
    ssmIn: (region) =>
      region === settings.region ? home.ssm : build(ssm, region, () => new SSMClient(config(region))),
    autoScalingIn: (region) =>
      region === settings.region
        ? home.autoScaling
        : build(autoScaling, region, () => new AutoScalingClient(config(region))),
  };
}
