/**
 * Issue 2 in a real browser: a facilitator opens a meeting on a phone, two people join from the
 * link in their own browser contexts, everyone writes, everyone sees everything live, and one
 * person changes their words: everyone sees the change and its history.
 */
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers.js';
import {
  DESKTOP,
  connected,
  contribution,
  joinMeeting,
  launch,
  openMeeting,
  person,
  saved,
  shot,
  write,
} from './browser.js';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer({ clientDir: 'dist' }), launch()]);
});

describe('the meeting room in a browser', () => {
  it('opens on a phone, two people join from the link, all write, all see every word and every change', async () => {
    const fac = await person(browser, server.url);
    await fac.page.goto(server.url);
    await fac.page.getByRole('button', { name: 'Open a meeting' }).waitFor();
    await shot(fac.page, 'home-phone');
    const joinUrl = await openMeeting(fac.page, server.url);
    expect(joinUrl.startsWith(`${server.url}/#/join/`)).toBe(true);
    // The QR code is an inline SVG drawn from paths: no data: URL, no canvas.
    await expect.poll(() => fac.page.locator('svg.qr path').count()).toBe(1);
    await expect(fac.page.getByRole('link', { name: /Your personal link/ }).getAttribute('href')).resolves.toMatch(
      /\/#\/me\/[A-Za-z0-9_-]{22}$/,
    );
    await fac.page.getByRole('textbox', { name: 'Your name' }).fill('Maria');
    await fac.page.getByRole('textbox', { name: /How you are connected/ }).fill('psychiatrist');
    await shot(fac.page, 'share-phone');
    await fac.page.getByRole('button', { name: 'Go to the meeting' }).click();
    await connected(fac.page);

    const anna = await person(browser, server.url);
    await anna.page.goto(joinUrl);
    await anna.page.getByRole('heading', { name: 'Before you join' }).waitFor();
    await shot(anna.page, 'join-phone');
    await joinMeeting(anna.page, joinUrl, 'Anna', 'Mum');
    const leo = await person(browser, server.url);
    await joinMeeting(leo.page, joinUrl, 'Leo', '', true);
    // The join link's secret is gone from the address bar once joined.
    expect(leo.page.url()).toMatch(/#\/m\/[A-Za-z0-9_-]{22}$/);

    const pages = [fac.page, anna.page, leo.page];
    // Everyone sees everyone, here now.
    for (const p of pages) {
      await p
        .getByText(/Here now: .*Maria.*Anna.*Leo/)
        .or(p.getByText(/Here now: .*Maria.*Leo.*Anna/))
        .first()
        .waitFor();
    }

    await write(fac.page, 'Thank you for letting us come to your home.');
    await write(anna.page, 'I have been so worried about Leo this week.');
    await write(leo.page, 'I just want to sleep again.');
    for (const p of pages) {
      for (const text of ['Thank you for letting us come', 'so worried about Leo', 'I just want to sleep'])
        await contribution(p, text).waitFor();
      await saved(p);
    }
    // Names and relations as the people wrote them, in time order, on every screen.
    for (const p of pages) {
      await expect
        .poll(() => p.locator('article.contribution .who').allTextContents())
        .toEqual(['Maria · psychiatrist', 'Anna · Mum', 'Leo']);
    }

    // Anna changes her words: everyone sees the new words, that they changed, and the earlier words.
    const herRef = await contribution(anna.page, 'so worried about Leo').getAttribute('data-ref');
    const hers = anna.page.locator(`article[data-ref="${herRef}"]`);
    await hers.getByRole('button', { name: 'More' }).click();
    await hers.getByRole('button', { name: 'Change my words' }).click();
    await hers.getByLabel('Change the words').fill('I have been so worried about Leo these two weeks.');
    await hers.getByRole('button', { name: 'Save the change' }).click();
    for (const p of pages) {
      const c = contribution(p, 'so worried about Leo these two weeks.');
      await c.waitFor();
      await c.getByText('Changed — see the earlier words').click();
      await c.locator('.old', { hasText: 'I have been so worried about Leo this week.' }).waitFor();
    }
    // Leo takes his words back: they stay, crossed out and marked.
    const his = contribution(leo.page, 'I just want to sleep');
    await his.getByRole('button', { name: 'More' }).click();
    await his.getByRole('button', { name: 'Take back' }).click();
    await his.getByRole('button', { name: 'Yes, take them back' }).click();
    for (const p of pages) {
      const c = contribution(p, 'I just want to sleep');
      await c.getByText(/Leo took these words back/).waitFor();
      expect(await c.locator('p.text').evaluate((el) => getComputedStyle(el).textDecorationLine)).toBe('line-through');
    }
    await saved(anna.page);
    await shot(anna.page, 'room-phone');

    // The same room on a desktop screen (the facilitator's personal link, on another device).
    const personalUrl = await fac.page.evaluate(() => {
      const raw = Object.entries(localStorage).find(([k]) => k.startsWith('polyphony:meeting:'))?.[1];
      return raw ? `${location.origin}/#/me/${(JSON.parse(raw) as { personalToken: string }).personalToken}` : '';
    });
    const laptop = await person(browser, server.url, DESKTOP);
    await laptop.page.goto(personalUrl);
    await laptop.page.getByRole('heading', { name: 'My meetings' }).waitFor();
    await laptop.page.getByRole('link', { name: 'Go to the meeting that is open now' }).click();
    await connected(laptop.page);
    await contribution(laptop.page, 'these two weeks').waitFor();
    await laptop.page.goto(server.url);
    await laptop.page.getByRole('heading', { name: 'My meetings' }).waitFor();
    await shot(laptop.page, 'home-desktop');
  }, 120_000);
});
