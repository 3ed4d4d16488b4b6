/**
 * "Listen": contributions and the read-back read aloud by the device's own voices only
 * (speechSynthesis voices with localService), in the language of the words where it shows.
 * The browser's speech engine is replaced by a recording stand-in: one local Arabic voice, one
 * local English voice, one network voice that must never be used.
 */
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers.js';
import { connected, contribution, launch, meetingIdOf, openMeeting, person, write } from './browser.js';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer({ clientDir: 'dist' }), launch()]);
});

declare global {
  interface Window {
    spoken: Array<{ text: string; voice: string }>;
  }
}

describe('listen', () => {
  it('reads words aloud with local voices only, in the words’ own language', async () => {
    const fac = await person(browser, server.url);
    await fac.context.addInitScript(() => {
      const voices = [
        { name: 'Local Arabic', lang: 'ar-SA', localService: true },
        { name: 'Local English', lang: 'en-GB', localService: true },
        { name: 'Cloud Finnish', lang: 'fi-FI', localService: false },
      ];
      window.spoken = [];
      class Utterance {
        voice: { name: string } | null = null;
        lang = '';
        onend: (() => void) | null = null;
        onerror: (() => void) | null = null;
        constructor(readonly text: string) {}
      }
      Object.defineProperty(window, 'SpeechSynthesisUtterance', { value: Utterance });
      Object.defineProperty(window, 'speechSynthesis', {
        value: {
          getVoices: () => voices,
          addEventListener: () => undefined,
          cancel: () => undefined,
          speak: (u: Utterance) => {
            window.spoken.push({ text: u.text, voice: u.voice?.name ?? '' });
            u.onend?.();
          },
        },
      });
    });
    await openMeeting(fac.page, server.url);
    await fac.page.getByRole('textbox', { name: 'Your name' }).fill('Maria');
    await fac.page.getByRole('button', { name: 'Go to the meeting' }).click();
    await connected(fac.page);
    await write(fac.page, 'أنا هنا لأستمع.');
    await write(fac.page, 'I am here to listen.');
    await write(fac.page, 'Minä olen täällä.');

    await contribution(fac.page, 'أنا هنا').getByRole('button', { name: 'Listen' }).click();
    await contribution(fac.page, 'I am here').getByRole('button', { name: 'Listen' }).click();
    await expect
      .poll(() => fac.page.evaluate(() => window.spoken))
      .toEqual([
        { text: 'أنا هنا لأستمع.', voice: 'Local Arabic' },
        { text: 'I am here to listen.', voice: 'Local English' },
      ]);
    // Finnish has only a network voice here: nothing is offered.
    expect(await contribution(fac.page, 'Minä olen').getByRole('button', { name: 'Listen' }).count()).toBe(0);

    // The read-back, aloud, in time order, with who said it.
    await fac.page.evaluate(() => (window.spoken = []));
    await fac.page.goto(`${server.url}/#/m/${meetingIdOf(fac.page)}/read-back`);
    await fac.page.getByRole('button', { name: 'Listen to the record' }).click();
    await expect
      .poll(() => fac.page.evaluate(() => window.spoken.map((s) => s.text)))
      .toEqual(['Maria: أنا هنا لأستمع.', 'Maria: I am here to listen.']);
  }, 60_000);
});
