/**
 * The village-hall screen (`/hall`) at 1920×1080 in Chromium, against a real cloud and edge:
 * it signs in with its kiosk token from the URL fragment, flags the outage when the cloud goes
 * away, and recovers by itself when a new cloud comes up on the same ports and database.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { launchBrowser, markPage, newPage, screenshotPath, startVillage, stillMarked, waitForOverview, type Village } from './harness.js';

const HALL = { width: 1920, height: 1080 };

let village: Village;
let browser: Browser;

beforeAll(async () => {
  [village, browser] = await Promise.all([startVillage(), launchBrowser()]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await village?.close();
}, 30_000);

/** The minute a time falls in, as the screen's "HH:MM" shows it (the site's offset is whole hours). */
const minuteOf = (ms: number): number => Math.floor(ms / 60_000);

describe('hall screen', () => {
  it('shows the village at 1920×1080, flags a cloud outage and recovers by itself', async () => {
    const { page, context, problems } = await newPage(browser, HALL);
    onTestFailed(() => {
      console.log(`page problems:\n${problems.join('\n')}\nlast village log lines:\n${village.logs.slice(-30).join('\n')}`);
    });
    try {
      // Open the screen once the weather station has reported: the page takes weather from the
      // overview only (its live readings do not reach it; see the report), and the screenshot
      // should show it.
      await waitForOverview(village, 'weather and rain', (o) => 'air-temperature' in (o.weather as object) && o.rain24hMm !== null);
      await page.goto(`${village.base}/hall#token=${encodeURIComponent(village.hallToken)}`);
      await page.getByTestId('hall-page').waitFor({ timeout: 15_000 });
      // The token is exchanged for a session, then gone from the address bar.
      expect(new URL(page.url()).hash).toBe('');
      await markPage(page);
      for (const field of ['ruong-1', 'ruong-2', 'ruong-3']) {
        await expect.poll(() => page.getByTestId(`field-card-${field}`).isVisible(), { timeout: 10_000 }).toBe(true);
        expect(await page.getByTestId(`zone-state-${field}`).getAttribute('data-state')).toBe('idle');
      }
      const banner = page.getByTestId('offline-banner');
      const updated = page.getByTestId('last-updated');
      await expect.poll(() => banner.count(), { timeout: 15_000 }).toBe(0);
      expect(await updated.textContent()).toMatch(/\d\d:\d\d/);
      // Values in, for a screenshot worth keeping.
      await expect.poll(async () => (await page.getByTestId('tank-level-bon-nuoc-muc').getAttribute('data-value')) ?? '', { timeout: 20_000 }).not.toBe('');
      for (const sensor of ['ruong-1-do-am', 'ruong-2-do-am', 'ruong-3-do-am']) {
        await expect.poll(() => page.getByTestId(`moisture-${sensor}`).getAttribute('data-band'), { timeout: 20_000 }).toMatch(/^(dry|ok|wet)$/);
      }
      await expect.poll(() => page.getByTestId('weather').locator('[data-quantity="air-temperature"]').count(), { timeout: 20_000 }).toBe(1);
      await page.getByTestId('rain-24h').waitFor({ timeout: 20_000 });
      // Nothing spills off the screen at a distance-readable size.
      const size = await page.evaluate(() => {
        const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; scrollHeight: number } } }).document.documentElement;
        return { width: root.scrollWidth, height: root.scrollHeight };
      });
      expect(size.width).toBeLessThanOrEqual(HALL.width);
      expect(size.height).toBeLessThanOrEqual(HALL.height);
      await page.screenshot({ path: screenshotPath('hall-1920x1080.png') });

      // The cloud goes away: the screen says so instead of showing old numbers as current.
      await expect.poll(() => banner.count(), { timeout: 5_000 }).toBe(0);
      await village.stopCloud();
      const stoppedAt = Date.now();
      const before = await updated.textContent();
      await banner.waitFor({ timeout: 15_000 });
      expect(await banner.getAttribute('data-state')).toBe('offline');
      // Stay down into the next minute, so "last updated HH:MM" has somewhere to move to.
      const wait = (minuteOf(stoppedAt) + 1) * 60_000 + 1_000 - Date.now();
      if (wait > 0) await page.waitForTimeout(wait);
      expect(await banner.isVisible()).toBe(true);

      await village.startCloudAgain();
      await expect.poll(() => banner.count(), { timeout: 30_000, interval: 250 }).toBe(0);
      await expect.poll(() => updated.textContent(), { timeout: 10_000 }).not.toBe(before);
      // Live again: the edge's readings flow to the screen over the new stream.
      expect(await page.getByTestId('field-card-ruong-1').isVisible()).toBe(true);
      expect(await stillMarked(page)).toBe(true);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);
});
