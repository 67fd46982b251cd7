import type { Context } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import apiEvent from '../../events/api-post-bakes.json';
import sweepEvent from '../../events/scheduled-sweep.json';
import { createSandbox } from '../../emulator/sandbox';
import { awsForDefaultAccount } from '../support/aws';
import { handlerEnvironment } from '../support/bakery';

// Whatever the functions log, credentials never appear in it.
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLESECRET';
const TOKEN = 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN';

describe('the logs', () => {
  it('of the api and reconcile handlers, for good and bad requests, hold no credential', async () => {
    const aws = awsForDefaultAccount();
    const sandbox = await createSandbox(aws, { name: 'log-secrets', desiredCapacity: 0 });
    const identities = await handlerEnvironment(aws, sandbox, 'log-secrets', 'api');
    process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
    process.env.AWS_SECRET_ACCESS_KEY = SECRET;
    process.env.AWS_SESSION_TOKEN = TOKEN;
    const lines: string[] = [];
    const capture = (chunk: unknown) => {
      lines.push(String(chunk));
      return true;
    };
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    const logs = [console.log, console.info, console.warn, console.error, console.debug].map((fn) => fn);
    console.log =
      console.info =
      console.warn =
      console.error =
      console.debug =
        (...args: unknown[]) => {
          lines.push(args.map(String).join(' '));
        };
    try {
      const api = (await import('../../functions/api')).handler;
      const reconcile = (await import('../../functions/reconcile')).handler;
      const context = { functionName: 'f', awsRequestId: 'r' } as unknown as Context;
      const signed = {
        ...apiEvent,
        headers: {
          ...apiEvent.headers,
          Authorization: `AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=${SECRET}`,
          'X-Amz-Security-Token': TOKEN,
        },
      };
      await api(signed as never, context);
      await api({ ...signed, body: '{"pipeline":' } as never, context);
      await api({ ...signed, body: JSON.stringify({ pipeline: 'web', force: true }) } as never, context);
      // Two functions in one process: the api's clients have their credentials (resolved once, at
      // their first call); the reconcile function's clients are built now, with its own.
      process.env.AWS_ACCESS_KEY_ID = identities.reconcile.credentials.accessKeyId;
      await reconcile(sweepEvent, context);
      await reconcile({ garbage: true }, context);
    } finally {
      out.mockRestore();
      err.mockRestore();
      [console.log, console.info, console.warn, console.error, console.debug] = logs as [
        typeof console.log,
        typeof console.info,
        typeof console.warn,
        typeof console.error,
        typeof console.debug,
      ];
      process.env.AWS_SECRET_ACCESS_KEY = 'ami-bakery-admin';
      process.env.AWS_ACCESS_KEY_ID = 'ami-bakery-admin';
      process.env.AWS_SESSION_TOKEN = '';
    }

    const text = lines.join('\n');
    expect(lines.length).toBeGreaterThan(3);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(TOKEN);
  });
});
