/**
 * The IAM policies of the stack as `serverless package` produces it: the very template
 * `serverless deploy` sends to CloudFormation, never a copy kept by hand. Packaging takes a few
 * seconds, so the template is cached under node_modules/.cache, keyed by every file that shapes it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CACHE = join(ROOT, 'node_modules', '.cache', 'ami-bakery');
/** The files that decide the template's IAM (code changes bundles, never roles). */
const INPUTS = ['serverless.yml', 'package.json', 'resources', 'build'];

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
}

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: {
    Sid?: string;
    Effect: string;
    Action: string | string[];
    Resource: unknown;
    Condition?: unknown;
  }[];
}

export interface NamedPolicy {
  readonly name: string;
  readonly policy: PolicyDocument;
}

/** The stage every local run packages: names in the template never reach the emulator. */
export const LOCAL_STAGE = 'local';

async function inputsHash(): Promise<string> {
  const hash = createHash('sha256');
  async function add(path: string): Promise<void> {
    const full = join(ROOT, path);
    let entries: string[] | undefined;
    try {
      entries = (await readdir(full)).sort();
    } catch {
      entries = undefined;
    }
    if (entries) {
      for (const entry of entries) await add(join(path, entry));
      return;
    }
    hash
      .update(path)
      .update('\0')
      .update(await readFile(full))
      .update('\0');
  }
  for (const input of INPUTS) await add(input);
  return hash.digest('hex').slice(0, 16);
}

/**
 * The packaged CloudFormation template for `stage`, from the cache when serverless.yml,
 * resources/, build/ and package.json are unchanged since it was made.
 * @throws Error with serverless's own output when packaging fails.
 */
export async function packagedTemplate(stage: string = LOCAL_STAGE): Promise<CfnTemplate> {
  const key = `${stage}-${await inputsHash()}`;
  const cached = join(CACHE, `stack-${key}.json`);
  try {
    return JSON.parse(await readFile(cached, 'utf8')) as CfnTemplate;
  } catch {
    // not packaged yet
  }
  await mkdir(CACHE, { recursive: true });
  const out = await mkdtemp(join(CACHE, 'package-'));
  try {
    // Offline and without credentials, as CI packages; the caller's endpoint means nothing here.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
    await promisify(execFile)('npx', ['serverless', 'package', '--stage', stage, '--package', out], {
      cwd: ROOT,
      env: { ...env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' },
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error: unknown) => {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      throw new Error(`serverless package failed:\n${stdout}\n${stderr}`, { cause: error });
    });
    // Atomic: a concurrent run reads either nothing or the whole template.
    await rename(join(out, 'cloudformation-template-update-stack.json'), cached);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
  return JSON.parse(await readFile(cached, 'utf8')) as CfnTemplate;
}

/** Physical names and attributes of the stack's resources: `{ BakesTable: { Ref, Arn } }`. */
export type PhysicalResources = Record<string, Record<string, string>>;

export interface Pseudo {
  readonly accountId: string;
  readonly region: string;
  readonly partition?: string;
}

/** Raised when the template refers to something the local stack does not provide. */
export class UnresolvedReference extends Error {
  override readonly name = 'UnresolvedReference';
}

/**
 * Resolves the CloudFormation intrinsics a template's policies use (Ref, Fn::GetAtt, Fn::Sub,
 * Fn::Join, Fn::Split, Fn::Select) against `resources` and the pseudo parameters.
 * @throws UnresolvedReference for a name it cannot resolve, or an intrinsic it does not know.
 */
export function resolveIntrinsics(value: unknown, resources: PhysicalResources, pseudo: Pseudo): unknown {
  const pseudoValues: Record<string, string> = {
    'AWS::AccountId': pseudo.accountId,
    'AWS::Region': pseudo.region,
    'AWS::Partition': pseudo.partition ?? 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
  };
  function attribute(id: string, attr: string): string {
    const found = resources[id]?.[attr];
    if (found === undefined)
      throw new UnresolvedReference(`${id}.${attr} is not provided by the local stack`);
    return found;
  }
  function ref(name: string): string {
    const found = pseudoValues[name] ?? resources[name]?.Ref;
    if (found === undefined) throw new UnresolvedReference(`Ref ${name} is not provided by the local stack`);
    return found;
  }
  function sub(text: string, vars: Record<string, unknown>): string {
    return text.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
      if (name.startsWith('!')) return whole.replace('${!', '${');
      if (name in vars) return String(walk(vars[name]));
      const dot = name.indexOf('.');
      return dot > 0 && !name.startsWith('AWS::')
        ? attribute(name.slice(0, dot), name.slice(dot + 1))
        : ref(name);
    });
  }
  function walk(node: unknown): unknown {
    if (Array.isArray(node)) return node.map(walk);
    if (node === null || typeof node !== 'object') return node;
    const entries = Object.entries(node as Record<string, unknown>);
    const [first] = entries;
    if (entries.length === 1 && first && (first[0] === 'Ref' || first[0].startsWith('Fn::'))) {
      const [fn, arg] = first;
      switch (fn) {
        case 'Ref':
          return ref(arg as string);
        case 'Fn::GetAtt': {
          const [id, attr] = Array.isArray(arg) ? (arg as string[]) : (arg as string).split('.');
          return attribute(id ?? '', attr ?? '');
        }
        case 'Fn::Sub':
          return Array.isArray(arg)
            ? sub(arg[0] as string, (arg[1] ?? {}) as Record<string, unknown>)
            : sub(arg as string, {});
        case 'Fn::Join': {
          const [separator, parts] = arg as [string, unknown[]];
          return (walk(parts) as unknown[]).join(separator);
        }
        case 'Fn::Split': {
          const [separator, text] = arg as [string, unknown];
          return String(walk(text)).split(separator);
        }
        case 'Fn::Select': {
          const [index, list] = arg as [number, unknown];
          return (walk(list) as unknown[])[index];
        }
        default:
          throw new UnresolvedReference(`${fn} is not an intrinsic the local stack resolves`);
      }
    }
    return Object.fromEntries(entries.map(([key, child]) => [key, walk(child)]));
  }
  return walk(value);
}

/** A role's inline policies, unresolved. */
export function rolePolicies(template: CfnTemplate, roleLogicalId: string): NamedPolicy[] {
  const role = template.Resources[roleLogicalId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleLogicalId} is not a role of the stack`);
  if (role.Properties?.ManagedPolicyArns) {
    // Managed policies would need AWS's documents; the functions' roles have none on purpose.
    throw new Error(`${roleLogicalId} has managed policies, which the emulator does not load`);
  }
  const policies = (role.Properties?.Policies ?? []) as {
    PolicyName: string;
    PolicyDocument: PolicyDocument;
  }[];
  return policies.map((p) => ({ name: p.PolicyName, policy: p.PolicyDocument }));
}

/** Each function of the stack (`reconcile`, `api`, ...) and the logical id of its role. */
export function functionRoles(template: CfnTemplate): Record<string, string> {
  const roles: Record<string, string> = {};
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function' || !logicalId.endsWith('LambdaFunction')) continue;
    const name = logicalId.slice(0, -'LambdaFunction'.length);
    const role = resource.Properties?.Role as { 'Fn::GetAtt'?: [string, string] } | undefined;
    const roleId = role?.['Fn::GetAtt']?.[0];
    if (!roleId) throw new Error(`${logicalId} has no role of the stack`);
    roles[name.charAt(0).toLowerCase() + name.slice(1)] = roleId;
  }
  return roles;
}
