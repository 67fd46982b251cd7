import type { KMSClient } from '@aws-sdk/client-kms';
import type { STSClient } from '@aws-sdk/client-sts';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AwsCredentialIdentity } from '@smithy/types';
import { clientConfig, readAwsSettings, type AwsSettings } from './settings';

/** The AWS clients the service uses, each built on first use and then reused. */
export interface AwsClients {
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
  readonly autoScaling: AutoScalingClient;
  readonly dynamodb: DynamoDBClient;
  /** Marshals plain objects to and from DynamoDB's attribute values; shares `dynamodb`. */
  readonly documents: DynamoDBDocumentClient;
}

/** One of the service clients; the document client shares the DynamoDB client's middleware stack. */
export type AnyAwsClient = AwsClients[Exclude<keyof AwsClients, 'documents'>];

/** Every client the service builds, the regional and role-session ones included. */
export type InstrumentableClient = AnyAwsClient | KMSClient | STSClient;

export interface AwsClientOptions {
  /**
   * Called once with each client right after it is built, before its first call:
   * the place to attach middleware (tracing, or an emulator's account header in tests).
   */
  readonly instrument?: (client: InstrumentableClient) => void;
  /**
   * Credentials to sign with instead of the default provider chain's: a caller that runs
   * several functions in one process (the local stack) gives each function its own identity.
   */
  readonly credentials?: AwsCredentialIdentity;
}

/**
 * Builds a lazy set of AWS clients: a Lambda that only talks to SSM never pays for
 * constructing the EC2 client. Region and retry behaviour come from `settings`.
 */
export function createAwsClients(
  settings: AwsSettings = readAwsSettings(),
  options: AwsClientOptions = {},
): AwsClients {
  const config = clientConfig(settings, settings.region, options.credentials);
  const built = new Map<keyof AwsClients, AnyAwsClient>();
  let documents: DynamoDBDocumentClient | undefined;

  function lazy<K extends Exclude<keyof AwsClients, 'documents'>>(
    key: K,
    build: () => AwsClients[K],
  ): AwsClients[K] {
    let client = built.get(key) as AwsClients[K] | undefined;
    if (!client) {
      client = build();
      options.instrument?.(client);
      built.set(key, client);
    }
    return client;
  }

  const clients: AwsClients = {
    get ec2() {
      return lazy('ec2', () => new EC2Client(config));
    },
    get ssm() {
      return lazy('ssm', () => new SSMClient(config));
    },
    get sns() {
      return lazy('sns', () => new SNSClient(config));
    },
    get sqs() {
      return lazy('sqs', () => new SQSClient(config));
    },
    get autoScaling() {
      return lazy('autoScaling', () => new AutoScalingClient(config));
    },
    get dynamodb() {
      return lazy('dynamodb', () => new DynamoDBClient(config));
    },
    get documents() {
      // Not instrumented on its own: it shares the DynamoDB client's middleware stack.
      documents ??= DynamoDBDocumentClient.from(clients.dynamodb, {
        marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
      });
      return documents;
    },
  };
  return clients;
}

let containerClients: AwsClients | undefined;

/**
 * The clients of this Lambda container, built once from `process.env` and kept
 * across invocations (connection reuse is most of a warm call's speed).
 */
export function awsClients(): AwsClients {
  containerClients ??= createAwsClients();
  return containerClients;
}
