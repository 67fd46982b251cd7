/**
 * Typed client for the emulator extension's control API (`/_bakery/*`): timed transitions,
 * SSM command outcomes, image outcomes, event delivery, fault injection and call counts.
 * Every setting belongs to one emulator account, like the AWS state it shapes.
 */

/** Delays of the timed transitions, in seconds (0, the default, is instant). */
export interface EmulatorDelays {
  'ec2.instance.pending'?: number;
  'ec2.instance.stopping'?: number;
  'ec2.instance.shutting-down'?: number;
  'ec2.image.pending'?: number;
  'ssm.command.pending'?: number;
  'ssm.command.in-progress'?: number;
  'ssm.agent.online'?: number;
  /** SendCommand -> GetCommandInvocation finds the invocation (it answers InvocationDoesNotExist before). */
  'ssm.invocation.visible'?: number;
}

/** How an SSM command ends on an instance; the first matching rule wins, else Success. */
export interface SsmOutcomeRule {
  /** Regular expression over the command's `commands` parameter, joined by newlines. */
  commandPattern?: string;
  instanceId?: string;
  documentName?: string;
  status: 'Success' | 'Failed' | 'TimedOut' | 'Cancelled';
  exitCode?: number;
  stdout?: string;
  stderr?: string;
  /** Seconds InProgress before the final status (overrides the `ssm.command.in-progress` delay). */
  seconds?: number;
}

export interface ImageOutcomeRule {
  /** Regular expression over the image name. */
  namePattern: string;
  state: 'available' | 'failed';
  reason?: string;
}

export interface EmulatorConfig {
  delays?: EmulatorDelays;
  /** Multiplies durations AWS takes from requests: HeartbeatTimeout, InstanceWarmup, CheckpointDelay. */
  timeScale?: number;
  /** Where EventBridge-shaped events are POSTed as they happen; null stops delivery. */
  eventsUrl?: string | null;
  ssmRules?: SsmOutcomeRule[];
  imageRules?: ImageOutcomeRule[];
}

export interface FaultRule {
  kind: 'throttle' | 'error' | 'latency' | 'drop';
  /** SigV4 service name (`ec2`, `autoscaling`, `ssm`, `dynamodb`, `sns`, `sqs`) or `*`. */
  service?: string;
  /** API action (`RunInstances`) or `*`. */
  action?: string;
  probability?: number;
  /** Fire at most this many times. */
  count?: number;
  /** For `error`: 500 or 503. */
  status?: 500 | 503;
  /** For `latency`: added before the request is served. */
  latencyMs?: number;
  /** For `error`: the AWS error code to answer with, e.g. `InsufficientInstanceCapacity` (default: the service's 5xx code). */
  code?: string;
  message?: string;
}

export interface CallCounts {
  calls: Record<string, Record<string, number>>;
  faulted: Record<string, Record<string, Record<string, number>>>;
}

/** An event as EventBridge delivers it. */
export interface EmulatedEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

/** A request the emulator refused on IAM grounds, as its log keeps it. */
export interface IamDenial {
  time: string;
  principal: string;
  /** The function (or role) that made the call. */
  label: string;
  action: string;
  resource: string;
  reason: string;
}

/** How often a statement allowed an action for a function. */
export interface IamGrant {
  label: string;
  action: string;
  statement: string;
  count: number;
}

export interface PrincipalRegistration {
  principals?: { accessKeyId: string; arn: string; label: string; policies: unknown[] }[];
  roles?: { arn: string; policies: unknown[] }[];
}

export class EmulatorControl {
  constructor(
    private readonly endpoint: string,
    readonly accountId: string,
  ) {}

  private async request<T>(method: string, route: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.endpoint}/_bakery${route}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-moto-account-id': this.accountId },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const payload = (await response.json()) as T & { error?: string };
    if (!response.ok)
      throw new Error(`emulator control ${method} ${route}: ${payload.error ?? response.status}`);
    return payload;
  }

  configure(config: EmulatorConfig): Promise<EmulatorConfig> {
    return this.request('PUT', '/config', config);
  }

  config(): Promise<EmulatorConfig> {
    return this.request('GET', '/config');
  }

  setFaults(rules: FaultRule[], seed?: number): Promise<{ rules: (FaultRule & { fired: number })[] }> {
    return this.request('PUT', '/faults', { rules, seed });
  }

  clearFaults(): Promise<unknown> {
    return this.request('DELETE', '/faults');
  }

  calls(): Promise<CallCounts> {
    return this.request('GET', '/calls');
  }

  resetCalls(): Promise<CallCounts> {
    return this.request('DELETE', '/calls');
  }

  async events(): Promise<EmulatedEvent[]> {
    return (await this.request<{ events: EmulatedEvent[] }>('GET', '/events')).events;
  }

  clearEvents(): Promise<unknown> {
    return this.request('DELETE', '/events');
  }

  /** Makes access keys act as role sessions with these policies (emulator/iam/identities.ts). */
  registerPrincipals(registration: PrincipalRegistration): Promise<{ registered: string[] }> {
    return this.request('PUT', '/iam/principals', registration);
  }

  async denials(): Promise<IamDenial[]> {
    return (await this.request<{ denials: IamDenial[] }>('GET', '/iam/denials')).denials;
  }

  async grants(): Promise<IamGrant[]> {
    return (await this.request<{ grants: IamGrant[] }>('GET', '/iam/grants')).grants;
  }

  clearIamLog(): Promise<unknown> {
    return this.request('DELETE', '/iam/log');
  }

  /** Instances that CreateImage rebooted (no NoReboot), with how many times. */
  async reboots(): Promise<Record<string, number>> {
    return (await this.request<{ reboots: Record<string, number> }>('GET', '/reboots')).reboots;
  }
}
