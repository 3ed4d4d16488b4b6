/**
 * Replay of a long meeting: 2,000 contributions from 12 people. Moving the slider to any point shows
 * the right record, and playing moves on. The times it takes are printed as figures, never asserted
 * (a busy machine would make them flaky; timings belong to `npm run bench`).
 */
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { connect, join, openMeeting, startServer, until, type TestServer } from '../helpers.js';
import { DESKTOP, PHONE, launch, person, connected } from './browser.js';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer({ clientDir: 'dist' }), launch()]);
});

const PEOPLE = 12;
const CONTRIBUTIONS = 2000;

describe('replay of a long meeting', () => {
  it('2,000 contributions from 12 people: opening the replay, moving the slider and playing show the right record', async () => {
    const opened = await openMeeting(server, 'Maria');
    const admissions = [opened];
    for (let i = 1; i < PEOPLE; i++) admissions.push(await join(server, opened, `Person ${i}`));
    const conns = await Promise.all(admissions.map((a) => connect(server, a)));
    // Everyone writes in turn, in rounds: each round waits until the server has placed the one before.
    for (let n = 0; n < CONTRIBUTIONS; n++) {
      conns[n % PEOPLE]!.say(`Contribution number ${n + 1}, a few plain words about the week.`);
      if (n % 120 === 119) await until(() => conns[0]!.order.length === n + 1, `round up to ${n + 1} placed`, 30_000);
    }
    await until(() => conns.every((c) => c.saved), 'all saved', 60_000);
    await until(() => conns[0]!.order.length === CONTRIBUTIONS, 'every contribution ordered', 30_000);
    const ended = await conns[0]!.request('meeting:end', { next: null });
    expect(ended.ok).toBe(true);
    for (const c of conns) c.close();

    for (const [label, options] of [
      ['desktop', DESKTOP],
      ['phone', PHONE],
    ] as const) {
      const { page } = await person(browser, server.url, options);
      await page.goto(`${server.url}/#/me/${opened.personalToken}`);
      await page.getByRole('link', { name: /Ended — read the record/ }).click();
      await connected(page);
      await page.getByText('Contribution number 2000,').waitFor({ timeout: 30_000 });

      // Opening the replay (step 0 of 2,000).
      const t0 = Date.now();
      await page.getByRole('link', { name: 'Replay' }).click();
      // Numbers read as the language writes them: 2,000 in English.
      await page
        .getByText(`Step 0 of ${CONTRIBUTIONS.toLocaleString('en-GB')}: before anything was written.`)
        .waitFor();
      const openMs = Date.now() - t0;

      // Moving the slider: the time until the record on screen is the one at that step.
      const seek = (step: number) =>
        page.evaluate(async (to) => {
          const slider = document.querySelector<HTMLInputElement>('input[type=range]')!;
          const start = performance.now();
          slider.value = String(to);
          slider.dispatchEvent(new Event('input', { bubbles: true }));
          const caption = `Step ${to.toLocaleString('en-GB')} of `;
          while (!document.body.textContent?.includes(caption)) await new Promise((r) => requestAnimationFrame(r));
          await new Promise((r) => requestAnimationFrame(r));
          return performance.now() - start;
        }, step);
      const times: Record<number, number> = {};
      for (const step of [1000, 1001, 1500, 2000, 10, 1999]) times[step] = await seek(step);
      // A step shows the latest entries at once; everything up to it is one tap away.
      expect(await page.locator('article.contribution').count()).toBe(40);
      await page.getByText('1,959 earlier entries are not shown here.').waitFor();
      await page.getByRole('button', { name: 'Show everything up to this step' }).click();
      await expect.poll(() => page.locator('article.contribution').count(), { timeout: 15_000 }).toBe(1999);
      const shown = await page.locator('article.contribution p.text').allTextContents();
      expect(new Set(shown).size).toBe(1999);
      await page.getByRole('button', { name: 'Show only the latest' }).click();
      await seek(10);
      expect(await page.locator('article.contribution').count()).toBe(10);

      // Playing moves on (skipping steps rather than falling behind), until paused.
      const playStart = Date.now();
      await page.getByRole('button', { name: 'Play' }).click();
      await expect
        .poll(async () => Number(await page.locator('input[type=range]').inputValue()), { timeout: 30_000 })
        .toBeGreaterThan(10);
      await page.getByRole('button', { name: 'Pause' }).click();
      const playedTo = Number(await page.locator('input[type=range]').inputValue());
      const playMs = Date.now() - playStart;
      console.log(
        `replay (${label}, ${CONTRIBUTIONS} contributions): open ${openMs} ms; seek ${JSON.stringify(
          Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Math.round(v)])),
        )} ms; played to step ${playedTo} in ${playMs} ms`,
      );
      expect(playedTo).toBeGreaterThan(10);
    }
  }, 180_000);
});
