import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Logger } from '@aws-lambda-powertools/logger';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { createSandbox } from '../../emulator/sandbox';
import { createApiHandler } from '../../lib/api/handler';
import { reconcile } from '../../lib/bake/service';
import type { PipelineInput } from '../../lib/pipeline/schema';
import { startLocalApi, type LocalApi } from '../../scripts/local/api-server';
import { awsForTest, controlFor } from '../support/aws';
import { bakeryForTest, type TestBakery } from '../support/bakery';

// The web console in a real browser (Debian's Chromium, headless), as a user opens it: the CLI's
// `ami-bakery console` in its own process, forwarding to the local API over the emulator, with a
// reconcile loop doing what the reconcile function's triggers do in AWS.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const [, minimal] = pipelines as [PipelineInput, PipelineInput];
const aws = awsForTest(import.meta.url);
let bakery: TestBakery;
let api: LocalApi;
let consoleProcess: ChildProcess;
let consoleUrl: string;
let browser: Browser;
let reconciling = true;
let loop: Promise<void>;
/** Every error the pages logged or threw, by page: none is expected. */
const errors: string[] = [];

/** Starts `ami-bakery console` and resolves to the address it prints. */
function startConsoleCli(endpoint: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    ['bin/ami-bakery.mjs', 'console', '--endpoint', endpoint, '--no-open', '--json'],
    { cwd: new URL('../..', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve({ child, url: (JSON.parse(line) as { url: string }).url });
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('exit', (code) => {
      reject(new Error(`ami-bakery console exited ${String(code)}: ${err}`));
    });
  });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `No Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run does), or set CHROMIUM_PATH`,
    );
  const sandbox = await createSandbox(aws, { name: 'console', desiredCapacity: 1 });
  bakery = await bakeryForTest(aws, sandbox, [
    { ...minimal, name: 'plain', publish: { parameter: '/ami-bakery/plain/latest' } },
    {
      ...minimal,
      name: 'broken',
      publish: { parameter: '/ami-bakery/broken/latest' },
      provision: [{ name: 'update', run: ['exit-with-failure'] }],
    },
    {
      ...minimal,
      name: 'gated',
      publish: { parameter: '/ami-bakery/gated/latest' },
      rollout: {
        targets: [{ autoScalingGroup: sandbox.autoScalingGroupName }],
        refresh: { minHealthyPercentage: 0 },
        requireApproval: true,
      },
    },
  ]);
  await controlFor(aws).configure({
    timeScale: 0.002,
    ssmRules: [
      {
        commandPattern: 'exit-with-failure',
        status: 'Failed',
        exitCode: 3,
        stdout: 'updating packages',
        stderr: 'boom: no space left on device',
      },
    ],
  });
  api = await startLocalApi(createApiHandler(new Logger({ logLevel: 'SILENT' }), () => bakery.as('api')));
  loop = (async () => {
    while (reconciling) {
      await reconcile(bakery).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
  })();
  const started = await startConsoleCli(api.url);
  consoleProcess = started.child;
  consoleUrl = started.url;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

afterAll(async () => {
  reconciling = false;
  await loop;
  await browser.close();
  consoleProcess.kill('SIGINT');
  await api.stop();
});

/** A new tab on the console (the address with this run's key), recording its errors. */
async function open(
  viewport = { width: 1280, height: 900 },
  colorScheme: 'light' | 'dark' = 'light',
): Promise<Page> {
  const page = await browser.newPage({ viewport, colorScheme });
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`${page.url()}: ${error.message}`));
  await page.goto(consoleUrl);
  await page.getByRole('heading', { level: 1, name: 'Pipelines' }).waitFor();
  return page;
}

/** The bake page's status badge, once it says `phase`. */
async function reaches(page: Page, phase: string, timeout = 45_000): Promise<void> {
  await page.locator('.status-line .badge', { hasText: new RegExp(`^${phase}$`) }).waitFor({ timeout });
}

/** Starts a bake of `pipeline` from its card and lands on the bake's page; resolves to its id. */
async function bakeFromPage(page: Page, pipeline: string, reason: string): Promise<string> {
  const card = page.getByRole('article', { name: pipeline });
  await card.getByLabel(/Reason/).fill(reason);
  await card.getByLabel('even if nothing changed').check();
  await card.getByRole('button', { name: `Bake ${pipeline} now` }).click();
  await page.waitForURL(/#\/bakes\/b\d{14}-[0-9a-f]{6}$/);
  return decodeURIComponent(new URL(page.url()).hash.replace('#/bakes/', ''));
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * What an expression evaluates to in the page. Browser code is passed as text: this file is
 * type-checked for Node, where there is no DOM.
 */
async function inPage<T>(page: Page, expression: string): Promise<T> {
  const value: unknown = await page.evaluate(expression);
  return value as T;
}

/** axe-core's WCAG 2.1 A/AA violations on the page as it is (run through DevTools, not the page's CSP). */
async function accessibilityViolations(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  return inPage<string[]>(
    page,
    `axe
      .run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
      .then((result) =>
        result.violations.map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', ')),
      )`,
  );
}

describe('the web console in Chromium', () => {
  it('starts a bake from the page and follows it to succeeded, live, without reloading', async () => {
    const page = await open();
    await page.evaluate('window.sameDocument = true');

    const id = await bakeFromPage(page, 'plain', 'from the browser');
    await reaches(page, 'provisioning|validating|stopping|imaging|publishing|succeeded');
    await reaches(page, 'succeeded');

    expect(await inPage(page, 'window.sameDocument')).toBe(true);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe(`Bake ${id}`);
    expect(await page.locator('dl.facts').first().textContent()).toContain('from the browser');
    const phases = await page.locator('ol.phases .phase').allTextContents();
    expect(phases).toEqual(
      expect.arrayContaining([
        'requested',
        'launching',
        'provisioning',
        'imaging',
        'publishing',
        'succeeded',
      ]),
    );
    // The timeline is drawn: a segment per phase that took time, with its length.
    expect(await page.locator('.timeline .segment').count()).toBe(phases.length - 1);
    const image = await page.getByRole('region', { name: 'Image' }).textContent();
    expect(image).toMatch(/ami-[0-9a-f]{17}/);
    expect(image).toContain('/ami-bakery/plain/latest');
    // The pipelines page now shows it as the last bake and its image as the current one.
    await page.getByRole('link', { name: 'Pipelines' }).click();
    const card = page.getByRole('article', { name: 'plain' });
    await card.getByRole('link', { name: id }).waitFor();
    expect(await card.textContent()).toMatch(/us-east-1: ami-[0-9a-f]{17}/);
    await page.close();
  });

  it('shows a failed bake’s step: its exit code, output and error', async () => {
    const page = await open();
    await bakeFromPage(page, 'broken', 'expected to fail');
    await reaches(page, 'failed');

    const failure = page.getByRole('alert').filter({ hasText: 'Failed in provisioning' });
    await expect(failure.textContent()).resolves.toMatch(/StepFailed: Step provision\/update ended Failed/);
    const row = page.getByRole('row').filter({ hasText: 'update' });
    await expect(row.getByRole('cell').nth(3).textContent()).resolves.toBe('3');
    await expect(row.locator('pre.stderr').textContent()).resolves.toContain('boom: no space left on device');
    await expect(row.locator('pre.output').first().textContent()).resolves.toContain('updating packages');
    await page.close();
  });

  it('approves a gated bake with a comment; its rollout then refreshes the group', async () => {
    const page = await open();
    await bakeFromPage(page, 'gated', 'needs a yes');
    await reaches(page, 'awaiting-approval');

    const gate = page.getByRole('form', { name: 'Approval' });
    await gate.getByLabel(/Comment/).fill('looks good');
    await gate.getByRole('button', { name: 'Approve rollout' }).click();
    await reaches(page, 'succeeded', 60_000);

    const rollout = await page.getByRole('region', { name: 'Rollout' }).textContent();
    expect(rollout).toContain('approved by');
    expect(rollout).toContain('looks good');
    expect(rollout).toMatch(/v\d+ → v\d+/);
    expect(await page.getByRole('progressbar').first().getAttribute('aria-valuenow')).toBe('100');
    await page.close();
  });

  it('lists bakes by pipeline and status, and shows a pipeline’s retention plan', async () => {
    const page = await open();
    await page.getByRole('link', { name: 'Bakes', exact: true }).click();
    await page.getByLabel('Pipeline').selectOption('broken');
    await page.waitForURL(/pipeline=broken/);
    await page.getByLabel('Status').selectOption('failed');
    await page.waitForURL(/status=failed/);
    await page.locator('tbody tr').first().waitFor();

    const rows = await page.locator('tbody tr').allTextContents();
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((row) => row.includes('broken') && row.includes('failed'))).toBe(true);

    await page.goto(`${new URL(consoleUrl).origin}/#/retention/plain`);
    await page.getByRole('heading', { level: 1, name: 'Retention plan: plain' }).waitFor();
    await page.locator('.summary').waitFor();
    expect(await page.locator('.summary').textContent()).toMatch(/0 to delete, reclaiming 0 GiB; \d+ kept/);
    expect(await page.locator('table').last().textContent()).toContain(
      'among the 5 newest successful images',
    );
    await page.close();
  });

  it('meets WCAG 2.1 AA as axe-core checks it, and works from the keyboard', async () => {
    const page = await open();
    // The first Tab reaches "Skip to content"; Enter moves focus to the page.
    await page.keyboard.press('Tab');
    expect(await inPage(page, 'document.activeElement?.textContent')).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await inPage(page, 'document.activeElement?.id')).toBe('main');
    // And from there the first pipeline's form is reached by Tab alone.
    await page.getByRole('article').first().waitFor();
    let reached = '';
    for (let i = 0; i < 12 && !reached.startsWith('Bake '); i += 1) {
      await page.keyboard.press('Tab');
      reached = await inPage<string>(page, "document.activeElement?.textContent ?? ''");
    }
    expect(reached).toMatch(/^Bake \w+ now$/);

    const violations = [...(await accessibilityViolations(page))];
    await page.getByRole('link', { name: 'Bakes', exact: true }).click();
    await page.locator('tbody tr a').first().click();
    await page.locator('.status-line .badge').waitFor();
    violations.push(...(await accessibilityViolations(page)));
    await page.getByRole('link', { name: 'Bakes', exact: true }).click();
    await page.locator('tbody tr').first().waitFor();
    violations.push(...(await accessibilityViolations(page)));

    await page.close();
    // The dark scheme's colours too.
    const dark = await open(undefined, 'dark');
    await dark.getByRole('article').first().waitFor();
    violations.push(...(await accessibilityViolations(dark)));
    await dark.goto(`${new URL(consoleUrl).origin}/#/bakes`);
    await dark.locator('tbody tr a').first().click();
    await dark.locator('.status-line .badge').waitFor();
    violations.push(...(await accessibilityViolations(dark)));

    expect(violations).toEqual([]);
    await dark.close();
  });

  it('fits a phone: no page scrolls sideways', async () => {
    const page = await open({ width: 390, height: 844 });
    await page.getByRole('article').first().waitFor();
    const overflow = () => inPage<number>(page, 'document.documentElement.scrollWidth - innerWidth');
    const widths = [await overflow()];
    await page.getByRole('article', { name: 'broken' }).getByRole('link').first().click();
    await reaches(page, 'failed');
    widths.push(await overflow());
    await page.getByRole('link', { name: 'Bakes', exact: true }).click();
    await page.locator('tbody tr').first().waitFor();
    widths.push(await overflow());

    expect(widths).toEqual([0, 0, 0]);
    await page.close();
  });

  it('refuses a tab opened without this run’s key, and says how to get in', async () => {
    const page = await browser.newPage();
    await page.goto(new URL(consoleUrl).origin);

    await expect(page.getByRole('alert').textContent()).resolves.toMatch(
      /Unauthorized.*address `ami-bakery console` printed/,
    );
    await page.close();
  });

  it('logged no errors in any page above', () => {
    expect(errors).toEqual([]);
  });
});
