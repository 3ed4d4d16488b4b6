/**
 * [S18] An interpreter in a real browser: they interpret someone's words from the card's More;
 * everyone sees the interpretation under the original, "interpreted by" them; the speaker confirms.
 */
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers.js';
import {
  accessible,
  connected,
  contribution,
  joinMeeting,
  launch,
  openMeeting,
  person,
  shot,
  write,
} from './browser.js';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer({ clientDir: 'dist' }), launch()]);
});

describe('[S18] interpreters', () => {
  it('an interpretation stands under the original, attributed, and the speaker confirms it', async () => {
    const fac = await person(browser, server.url);
    const joinUrl = await openMeeting(fac.page, server.url);
    await fac.page.getByRole('button', { name: 'Go to the meeting' }).click();
    await connected(fac.page);
    const aino = await person(browser, server.url);
    await joinMeeting(aino.page, joinUrl, 'Aino', 'grandmother');
    const leila = await person(browser, server.url);
    await joinMeeting(leila.page, joinUrl, 'Leila', 'interpreter');

    await write(aino.page, 'Haluan nukkua kotona.');
    const original = contribution(leila.page, 'Haluan nukkua kotona.');
    await original.waitFor();
    await original.getByRole('button', { name: 'More' }).click();
    await original.getByRole('button', { name: 'Interpret these words…' }).click();
    await original.getByRole('textbox', { name: /Your interpretation/ }).fill('I want to sleep at home.');
    await original.getByRole('button', { name: 'Add the interpretation' }).click();

    for (const p of [fac.page, aino.page, leila.page]) {
      const list = p.getByRole('list', { name: 'Interpretations of the words of Aino' });
      await list.getByText('I want to sleep at home.').waitFor();
      await list.getByText('Interpreted by Leila.').waitFor();
      // The original is still there, once, and the interpretation is not a contribution of its own.
      expect(await contribution(p, 'Haluan nukkua kotona.').count()).toBe(1);
    }
    await accessible(aino.page, 'an interpretation to confirm (phone)');
    await shot(aino.page, 'interpretation-phone');
    const mine = aino.page
      .getByRole('list', { name: 'Interpretations of the words of Aino' })
      .locator('article.contribution');
    await mine.getByRole('button', { name: 'Yes, confirm' }).click();
    await expect.poll(() => mine.getByRole('button', { name: 'Yes, confirm' }).count()).toBe(0);
    await fac.page
      .getByRole('list', { name: 'Interpretations of the words of Aino' })
      .getByText(/confirmed/i)
      .first()
      .waitFor();
  }, 120_000);
});
