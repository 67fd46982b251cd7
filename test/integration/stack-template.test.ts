import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../lib/api/routes';

// The packaged CloudFormation template, as `serverless deploy` would send it.
interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}
interface Statement {
  Sid?: string;
  Action: string | string[];
  Resource: unknown;
}

let resources: Record<string, Resource>;

beforeAll(async () => {
  const out = await mkdtemp(join(tmpdir(), 'ami-bakery-package-'));
  await promisify(execFile)('npx', ['serverless', 'package', '--stage', 'test', '--package', out], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { ...process.env, AWS_ENDPOINT_URL: '' },
  });
  const template = JSON.parse(
    await readFile(join(out, 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as {
    Resources: Record<string, Resource>;
  };
  resources = template.Resources;
}, 120_000);

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const actions = (statement: Statement) => [statement.Action].flat();
function statementsOf(role: Resource): Statement[] {
  const policies = (role.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[];
  return policies.flatMap((p) => p.PolicyDocument.Statement);
}

describe('the packaged stack', () => {
  it('grants no wildcard action anywhere', () => {
    const statements = ofType('AWS::IAM::Role').flatMap(([, role]) => statementsOf(role));

    expect(statements.length).toBeGreaterThan(20);
    for (const statement of statements) {
      for (const action of actions(statement)) expect(action, statement.Sid).not.toMatch(/(^\*$|:\*$)/);
    }
  });

  it('gives every function its own role', () => {
    const functions = ofType('AWS::Lambda::Function');
    const roles = functions.map(([, f]) => JSON.stringify(f.Properties.Role));

    expect(functions.map(([name]) => name).sort()).toEqual([
      'ApiLambdaFunction',
      'JanitorLambdaFunction',
      'LifecycleLambdaFunction',
      'NightlyLambdaFunction',
      'ReconcileLambdaFunction',
    ]);
    expect(new Set(roles).size).toBe(functions.length);
  });

  it("passes only the builder role and the fleets' roles, and only to EC2; the builder role has SSM core alone", () => {
    const passing = ofType('AWS::IAM::Role').flatMap(([, role]) =>
      statementsOf(role).filter((s) => actions(s).includes('iam:PassRole')),
    );
    const builder = resources.BuilderRole;

    const toEc2Only = { Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } } };
    expect(passing).toEqual([
      expect.objectContaining({ ...toEc2Only, Resource: { 'Fn::GetAtt': ['BuilderRole', 'Arn'] } }),
      // The fleets' roles (the fleetRoles parameter), for refreshing groups from their templates.
      expect.objectContaining({
        ...toEc2Only,
        Resource: [{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*-fleet-instance' }],
      }),
    ]);
    expect(builder?.Properties.Policies).toBeUndefined();
    expect(JSON.stringify(builder?.Properties.ManagedPolicyArns)).toMatch(/AmazonSSMManagedInstanceCore/);
    expect(builder?.Properties.ManagedPolicyArns).toHaveLength(1);
  });

  it('gives every rule a target, and every function a rule, a queue or a route', () => {
    const rules = ofType('AWS::Events::Rule');

    expect(rules.length).toBeGreaterThanOrEqual(6);
    for (const [name, rule] of rules)
      expect((rule.Properties.Targets as unknown[]).length, name).toBeGreaterThan(0);
  });

  it('sends every asynchronously invoked function failure somewhere', () => {
    const invokedByEvents = ofType('AWS::Lambda::Permission')
      .filter(([, p]) =>
        ['events.amazonaws.com', 'sns.amazonaws.com'].includes(p.Properties.Principal as string),
      )
      .map(([, p]) => JSON.stringify(p.Properties.FunctionName));
    const withDestination = ofType('AWS::Lambda::EventInvokeConfig')
      .filter(([, c]) => (c.Properties.DestinationConfig as { OnFailure?: unknown } | undefined)?.OnFailure)
      .map(([, c]) => c.Properties.FunctionName);

    expect(invokedByEvents.length).toBeGreaterThan(0);
    const functionsWithDestination = JSON.stringify(withDestination);
    for (const fn of new Set(invokedByEvents)) {
      const name = (JSON.parse(fn) as { 'Fn::GetAtt'?: string[] })['Fn::GetAtt']?.[0] ?? fn;
      expect(functionsWithDestination, name).toContain(name.replace('LambdaFunction', ''));
    }
  });

  it('keeps logs for a bounded time and protects the API with IAM', () => {
    for (const [name, group] of ofType('AWS::Logs::LogGroup')) {
      expect(group.Properties.RetentionInDays, name).toBe(30);
    }
    const routes = ofType('AWS::ApiGatewayV2::Route');
    // Exactly the routes the api function serves: one missing here is a 404 from API Gateway.
    const served = ROUTES.flatMap((r) =>
      (r.method === 'GET' ? ['GET', 'HEAD'] : [r.method]).map((m) => `${m} ${r.path}`),
    );
    expect(routes.map(([, route]) => route.Properties.RouteKey).sort()).toEqual(served.sort());
    for (const [name, route] of routes) expect(route.Properties.AuthorizationType, name).toBe('AWS_IAM');
  });

  it('names the builder profile per stack, tells every function, and reserves no concurrency by default', () => {
    expect(resources.BuilderInstanceProfile?.Properties.InstanceProfileName).toBeUndefined();
    for (const [name, fn] of ofType('AWS::Lambda::Function')) {
      const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(variables.BUILDER_INSTANCE_PROFILE, name).toEqual({ Ref: 'BuilderInstanceProfile' });
      expect(fn.Properties.ReservedConcurrentExecutions, name).toBeUndefined();
    }
  });

  it('scopes images without an account (image ARNs have none)', () => {
    const text = JSON.stringify(ofType('AWS::IAM::Role'));

    expect(text).toContain('::image/*');
    expect(text).not.toMatch(/AccountId\}:image\//);
  });
});

describe('npm run package', () => {
  it('refuses a stage whose names AWS would refuse, naming each', async () => {
    const stage = 'x'.repeat(40);
    const run = promisify(execFile)(
      'npx',
      ['serverless', 'package', '--stage', stage, '--package', tmpdir()],
      {
        cwd: new URL('../..', import.meta.url).pathname,
        env: { ...process.env, AWS_ENDPOINT_URL: '' },
      },
    );

    await expect(run).rejects.toMatchObject({
      stdout: expect.stringMatching(/AWS would refuse these names/) as unknown,
    });
    const output = await run.catch((error: unknown) => (error as { stdout: string }).stdout);
    expect(output).toMatch(
      `rule name "ami-bakery-${stage}-reconcile-rule-3" is 68 characters; AWS allows 64`,
    );
  }, 60_000);
});
