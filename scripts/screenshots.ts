/**
 * `npm run screenshots`: the web console's main pages, captured in headless Chromium against the
 * local stack as `npm run dev` runs it (a bake of `web` started from the page, followed through
 * its rollout), into docs/console/. The README shows them.
 */
import { mkdir } from 'node:fs/promises';
import { chromium, type Page } from 'playwright-core';
import { loadConsoleFiles } from '../cli/console-server';
import { buildConsole } from '../console/build';
import { EmulatorStartError } from '../emulator/harness';
import { DEV_DELAYS, startLocalStack } from './local/stack';

const OUT = new URL('../docs/console/', import.meta.url).pathname;
const say = (line: string) => process.stdout.write(`${line}\n`);

async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${OUT}${name}.png`, fullPage: true });
  say(`  docs/console/${name}.png`);
}

async function main(): Promise<void> {
  await buildConsole();
  await mkdir(OUT, { recursive: true });
  const stack = await startLocalStack('screenshots', {
    delays: DEV_DELAYS,
    timeScale: 0.02,
    console: loadConsoleFiles(),
  });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const status = page.locator('.status-line .badge');
    await page.goto(`${stack.api.url}/console/`);
    await page.getByRole('article', { name: 'web' }).waitFor();
    await page
      .getByRole('article', { name: 'web' })
      .getByLabel(/Reason/)
      .fill('new app release');
    await page.getByRole('button', { name: 'Bake web now' }).click();
    await page.waitForURL(/#\/bakes\/b/);
    await status.filter({ hasText: /^provisioning$/ }).waitFor({ timeout: 120_000 });
    await shoot(page, 'bake-running');
    await status.filter({ hasText: /^(refreshing|succeeded)$/ }).waitFor({ timeout: 300_000 });
    await page.getByRole('progressbar').first().waitFor();
    await shoot(page, 'bake-rollout');
    await status.filter({ hasText: /^(succeeded|failed)$/ }).waitFor({ timeout: 300_000 });
    await shoot(page, 'bake-done');
    await page.goto(`${stack.api.url}/console/#/`);
    await page
      .getByRole('article', { name: 'web' })
      .getByText(/us-east-1: ami-/)
      .waitFor();
    await shoot(page, 'pipelines');
    await page.goto(`${stack.api.url}/console/#/bakes`);
    await page.locator('tbody tr').first().waitFor();
    await shoot(page, 'bakes');
    await page.goto(`${stack.api.url}/console/#/retention/web`);
    await page.locator('.summary').waitFor();
    await shoot(page, 'retention');
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
    await phone.goto(page.url().replace(/#.*$/, '#/bakes'));
    await phone.locator('tbody tr a').first().click();
    await phone.locator('.status-line .badge').waitFor();
    await shoot(phone, 'bake-phone-dark');
  } finally {
    await browser.close();
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof EmulatorStartError ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
