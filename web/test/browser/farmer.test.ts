/**
 * The farmer view (`/`) in Chromium against a real cloud and a real edge running the simulated
 * village: what an operator and farmers see at 360×740, live updates over the stream, a manual
 * run whose lease ends on the edge, and farmers kept to their own fields.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { launchBrowser, markPage, newPage, numberIn, screenshotPath, signIn, SITE, startVillage, stillMarked, type Village } from './harness.js';

const PHONE = { width: 360, height: 740 };

let village: Village;
let browser: Browser;
const open: BrowserContext[] = [];
/** Page errors of the test's pages (uncaught exceptions, CSP refusals). */
const problems: string[] = [];

beforeAll(async () => {
  [village, browser] = await Promise.all([startVillage(), launchBrowser()]);
}, 60_000);

beforeEach(() => {
  problems.length = 0;
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await browser?.close();
  await village?.close();
}, 30_000);

/** A new phone with nobody signed in; its page errors are collected for the test to check. */
async function phone(): Promise<Page> {
  const p = await newPage(browser, PHONE, problems);
  if (open.length === 0) {
    onTestFailed(() => {
      console.log(`page problems:\n${problems.join('\n')}\nlast village log lines:\n${village.logs.slice(-30).join('\n')}`);
    });
  }
  open.push(p.context);
  return p.page;
}

/** Waits until the site's live stream is open and nothing is flagged as stale or offline. */
async function live(page: Page): Promise<void> {
  await page.getByTestId('last-updated').waitFor({ timeout: 15_000 });
  await expect.poll(() => page.getByTestId('offline-banner').count(), { timeout: 15_000 }).toBe(0);
}

describe('farmer view', () => {
  it('an operator signs in and sees fields, tanks and zone states at 360×740', async () => {
    const page = await phone();
    await signIn(page, village.base, village.operator);
    await live(page);
    for (const field of ['ruong-1', 'ruong-2', 'ruong-3']) {
      await expect.poll(() => page.getByTestId(`field-card-${field}`).isVisible(), { timeout: 10_000 }).toBe(true);
      await expect.poll(() => page.getByTestId(`zone-state-${field}`).getAttribute('data-state')).toBe('idle');
    }
    // The soil probes' first readings (5 s polls) reach the cards.
    for (const sensor of ['ruong-1-do-am', 'ruong-2-do-am', 'ruong-3-do-am']) {
      await expect.poll(async () => numberIn(await page.getByTestId(`sensor-${sensor}`).locator('.num').textContent()), { timeout: 20_000 }).toBeGreaterThan(0);
    }
    // The tank: 70 % full at the start of the simulated day.
    const tank = page.getByTestId('tank-level-bon-nuoc-muc');
    await expect.poll(async () => Number((await tank.getAttribute('data-value')) || Number.NaN), { timeout: 20_000 }).toBeGreaterThan(50);
    expect(await tank.getByRole('progressbar').getAttribute('aria-valuenow')).toMatch(/^\d+$/);
    // An operator may water every zone and sees the audit trail.
    for (const zone of ['ruong-1', 'ruong-2', 'ruong-3']) expect(await page.getByTestId(`water-now-${zone}`).isVisible()).toBe(true);
    expect(await page.getByTestId('command-list').isVisible()).toBe(true);
    expect(await page.locator('html').getAttribute('lang')).toBe('vi');

    await page.screenshot({ path: screenshotPath('farmer-360x740.png') });
    // English, remembered on this phone.
    await page.getByTestId('lang-switch').click();
    await expect.poll(() => page.locator('html').getAttribute('lang')).toBe('en');
    expect(await page.getByTestId('water-now-ruong-1').textContent()).toMatch(/water/i);
    expect(await page.evaluate(() => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem('sv.lang'))).toBe('en');
    await page.screenshot({ path: screenshotPath('farmer-en-360x740.png') });
    expect(problems).toEqual([]);
  }, 60_000);

  it('shows a new value from the simulated village without a reload', async () => {
    const page = await phone();
    await signIn(page, village.base, village.operator);
    await live(page);
    await markPage(page);
    const flow = page.getByTestId('sensor-pump-flow-flow').locator('.num');
    // Nothing draws from the tank: the pump's flow meter reads 0 L/min.
    await expect.poll(async () => numberIn(await flow.textContent()), { timeout: 15_000 }).toBe(0);
    try {
      // Water runs through the meter: 12 L/min is 90 pulses/s on its simulated GPIO line.
      village.field.meterFlow('pump-flow', () => 12);
      await expect.poll(async () => numberIn(await flow.textContent()), { timeout: 15_000, interval: 250 }).toBeGreaterThan(8);
      expect(numberIn(await flow.textContent())).toBeLessThan(16);
    } finally {
      village.field.meterFlow('pump-flow', undefined);
    }
    // And back to 0 when it stops.
    await expect.poll(async () => numberIn(await flow.textContent()), { timeout: 15_000, interval: 250 }).toBe(0);
    expect(await stillMarked(page)).toBe(true);
    expect(problems).toEqual([]);
  }, 60_000);

  it('"water now" for 1 minute: the zone runs, and stops by itself when its lease ends', async () => {
    const page = await phone();
    await signIn(page, village.base, village.operator);
    await live(page);
    await markPage(page);
    const state = page.getByTestId('zone-state-ruong-1');
    const valve = page.getByTestId('output-van-ruong-1');
    const pump = page.getByTestId('output-bom-kenh');
    expect(await state.getAttribute('data-state')).toBe('idle');
    expect(await valve.getAttribute('data-on')).toBe('false');

    // 1 minute is the least the form takes.
    await page.getByTestId('water-minutes-ruong-1').fill('1');
    const posted = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/api/sites/${SITE}/commands`));
    await page.getByTestId('water-now-ruong-1').click();
    const answer = await posted;
    expect(answer.status()).toBe(202);
    const command = ((await answer.json()) as { command: { id: string; action: { type: string; zone: string; duration: number } } }).command;
    expect(command.action).toMatchObject({ type: 'water', zone: 'ruong-1', duration: 60_000 });
    const sentAt = Date.now();

    await expect.poll(() => state.getAttribute('data-state'), { timeout: 15_000, interval: 200 }).toBe('running');
    const onAt = Date.now();
    expect(await valve.getAttribute('data-on')).toBe('true');
    // The canal pump follows the valve (pumpDelay, 2 s by default): never against a closed valve.
    await expect.poll(() => pump.getAttribute('data-on'), { timeout: 10_000, interval: 200 }).toBe('true');
    // The zone's form follows its command: accepted by the edge.
    const status = page.getByTestId('water-now-ruong-1').locator('xpath=ancestor::form').getByTestId('command-status');
    await expect.poll(() => status.getAttribute('data-status'), { timeout: 10_000 }).toBe('accepted');
    // The edge's own lease, not the cloud, ends the run.
    expect(village.edge.control?.leases.leaseEndOf('van-ruong-1') ?? 0).toBeGreaterThan(Date.now());

    await expect.poll(() => state.getAttribute('data-state'), { timeout: 90_000, interval: 500 }).toBe('idle');
    const offAfter = Date.now() - sentAt;
    expect(offAfter).toBeGreaterThan(55_000);
    expect(offAfter).toBeLessThan(80_000);
    expect(Date.now() - onAt).toBeGreaterThan(50_000);
    await expect.poll(() => valve.getAttribute('data-on'), { timeout: 5_000 }).toBe('false');
    expect(await pump.getAttribute('data-on')).toBe('false');

    // The audit trail: done, on screen and through the API.
    await expect.poll(() => status.getAttribute('data-status'), { timeout: 10_000 }).toBe('done');
    await expect.poll(() => page.getByTestId(`command-row-${command.id}`).getAttribute('data-status'), { timeout: 10_000 }).toBe('done');
    const audit = await page.evaluate(async (url) => (await fetch(url)).json(), `/api/sites/${SITE}/commands`);
    const row = (audit as { commands: { id: string; status: string; by: string }[] }).commands.find((c) => c.id === command.id);
    expect(row).toMatchObject({ status: 'done', by: village.operator.name });
    expect(await stillMarked(page)).toBe(true);
    expect(problems).toEqual([]);
  }, 120_000);

  it("a farmer sees only their own fields and cannot command or read another farmer's", async () => {
    const page = await phone();
    await signIn(page, village.base, village.lan);
    await live(page);
    await expect.poll(() => page.getByTestId('field-card-ruong-1').isVisible(), { timeout: 10_000 }).toBe(true);
    const cards = await page.locator('[data-testid^="field-card-"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')));
    expect(cards).toEqual(['field-card-ruong-1']);
    expect(await page.getByTestId('water-now-ruong-1').isVisible()).toBe(true);
    expect(await page.getByTestId('water-now-ruong-2').count()).toBe(0);
    expect(await page.getByTestId('zone-state-ruong-2').count()).toBe(0);
    expect(await page.getByTestId('sensor-ruong-2-do-am').count()).toBe(0);
    expect(await page.getByTestId('command-list').count()).toBe(0);
    // The village's tank is everyone's.
    expect(await page.getByTestId('tank-level-bon-nuoc-muc').isVisible()).toBe(true);

    // Straight to the API from the farmer's page: her cookie and CSRF token, same origin.
    const call = (method: string, url: string, body?: unknown) =>
      page.evaluate(
        async ({ method, url, body }) => {
          const session = (await (await fetch('/api/session')).json()) as { csrf: string };
          const res = await fetch(url, {
            method,
            headers: method === 'GET' ? {} : { 'content-type': 'application/json', 'x-csrf-token': session.csrf },
            ...(body !== undefined && { body: JSON.stringify(body) }),
          });
          return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
        },
        { method, url, body },
      );
    const commands = `/api/sites/${SITE}/commands`;
    const other = await call('POST', commands, { action: { type: 'water', zone: 'ruong-2', duration: 60_000 } });
    expect(other).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    expect(await call('POST', commands, { action: { type: 'stop', zone: 'ruong-2' } })).toMatchObject({ status: 403 });
    // The same cookie and token do work for her own zone (a stop changes nothing here).
    expect((await call('POST', commands, { action: { type: 'stop', zone: 'ruong-1' } })).status).toBe(202);
    expect(await call('GET', `/api/sites/${SITE}/sensors/ruong-2-do-am/history?range=day`)).toMatchObject({ status: 403 });
    expect((await call('GET', `/api/sites/${SITE}/sensors/ruong-1-do-am/history?range=day`)).status).toBe(200);
    // Nothing was sent to ruong-2.
    expect(village.edge.control?.state().zones.find((z) => z.id === 'ruong-2')?.state).toBe('idle');

    // Her neighbour sees his field only, with his own water button.
    const page2 = await phone();
    await signIn(page2, village.base, village.minh);
    await live(page2);
    await expect.poll(() => page2.getByTestId('field-card-ruong-2').isVisible(), { timeout: 10_000 }).toBe(true);
    expect(await page2.locator('[data-testid^="field-card-"]').count()).toBe(1);
    expect(await page2.getByTestId('water-now-ruong-2').isVisible()).toBe(true);
    expect(await page2.getByTestId('water-now-ruong-1').count()).toBe(0);
    expect(problems).toEqual([]);
  }, 60_000);
});
