/**
 * Every screen in every language: Finnish, Swedish and Arabic (English is walked by every other
 * browser test). One person on a 360 px phone whose browser speaks the language opens a meeting
 * and goes through it to the end and afterwards — home, share, the empty room, a room with words,
 * the More sheet and its panels, the read-back, ending, the ended record, the replay, erasing,
 * my meetings, a link that does not work — driven by the catalog's own sentences (so a missing or
 * untranslated button fails here too). On each: axe finds no WCAG 2.2 A/AA violation, the page is
 * no wider than the screen, and a screenshot is kept to look at.
 */
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { catalog as ar } from '../../shared/i18n/ar.js';
import type { Catalog } from '../../shared/i18n/en.js';
import { catalog as fi } from '../../shared/i18n/fi.js';
import { catalog as sv } from '../../shared/i18n/sv.js';
import { startServer, type TestServer } from '../helpers.js';
import { accessible, launch, person, personalLink, shot } from './browser.js';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer({ clientDir: 'dist' }), launch()]);
});

const AT_360 = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true };
const LANGS: Array<[code: 'fi' | 'sv' | 'ar', locale: string, c: Catalog]> = [
  ['fi', 'fi-FI', fi],
  ['sv', 'sv-SE', sv],
  ['ar', 'ar', ar],
];

describe('every screen in every language', () => {
  for (const [code, locale, c] of LANGS) {
    it(`${code}: no accessibility violations and nothing wider than a 360 px screen, from opening to afterwards`, async () => {
      const { page } = await person(browser, server.url, { ...AT_360, locale });
      const screens: string[] = [];
      const look = async (what: string) => {
        const over = await page.evaluate(
          () => (document.scrollingElement ?? document.documentElement).scrollWidth - window.innerWidth,
        );
        expect(over, `${what} (${code}) is wider than the screen`).toBeLessThanOrEqual(0);
        await accessible(page, `${what} (${code})`);
        await shot(page, `every-${code}-${what.replaceAll(' ', '-')}`);
        screens.push(what);
      };
      const sheet = async () => {
        await page.getByRole('banner').getByRole('button', { name: c.room.more, exact: true }).click();
        const dialog = page.getByRole('dialog');
        await dialog.waitFor();
        return dialog;
      };
      const closeSheet = (dialog: ReturnType<Page['getByRole']>) =>
        dialog.getByRole('button', { name: c.sheet.close, exact: true }).click();

      await page.goto(server.url);
      await page.getByRole('button', { name: c.home.open }).waitFor();
      expect(await page.evaluate(() => [document.documentElement.lang, document.documentElement.dir])).toEqual([
        code,
        code === 'ar' ? 'rtl' : 'ltr',
      ]);
      await look('home');

      await page.getByRole('button', { name: c.home.open }).click();
      await page.getByRole('heading', { name: c.share.heading }).waitFor();
      await look('share');
      await page.getByRole('textbox', { name: c.nameFields.name }).fill(code === 'ar' ? 'مريم' : 'Maria');
      await page.getByRole('button', { name: c.join.goIn }).click();
      await page.getByRole('status').filter({ hasText: c.room.connected }).waitFor();
      await look('empty room');

      const words =
        code === 'ar'
          ? 'لقد كان أسبوعا صعبا — https://example.org/ohjeet/itsehoito-ja-mielenterveys-2026'
          : 'Viikko oli raskas — https://example.org/ohjeet/itsehoito-ja-mielenterveys-2026';
      await page.locator('#composer-text').fill(words);
      await page.getByRole('button', { name: c.composer.add, exact: true }).click();
      await page.locator('article.contribution p.text', { hasText: 'itsehoito' }).waitFor();
      await page.getByRole('status').filter({ hasText: c.room.saved }).waitFor();
      await look('room with words');

      let dialog = await sheet();
      await look('more sheet');
      await dialog.getByRole('button', { name: c.more.network, exact: true }).click();
      await look('more the network');
      await closeSheet(dialog);
      dialog = await sheet();
      await dialog.getByRole('button', { name: c.more.invite, exact: true }).click();
      await look('more invite');
      await closeSheet(dialog);
      dialog = await sheet();
      await dialog.getByRole('button', { name: c.more.add, exact: true }).click();
      await look('more add a person');
      await closeSheet(dialog);

      dialog = await sheet();
      await dialog.getByRole('button', { name: c.more.readBack, exact: true }).click();
      await page.getByText(c.room.readBackIntro).waitFor();
      await look('read-back');
      await page.getByRole('link', { name: c.room.backToMeeting }).click();

      dialog = await sheet();
      await dialog.getByRole('button', { name: c.more.end, exact: true }).click();
      await look('more end the meeting');
      await dialog.getByRole('radio', { name: c.more.nextSkip }).check();
      await dialog.getByRole('button', { name: c.more.endNow, exact: true }).click();
      await page.getByText(c.room.ended).first().waitFor();
      await look('ended record');

      await page.getByRole('link', { name: c.room.replay, exact: true }).click();
      await page.locator('input[type=range]').waitFor();
      await look('replay');
      await page.getByRole('link', { name: c.room.theRecord, exact: true }).click();

      // Erasing is offered on the ended record itself; asking shows what will happen, once.
      await page.getByRole('button', { name: c.erasure.eraseMine }).click();
      dialog = page.getByRole('dialog', { name: c.erasure.askMine });
      await dialog.waitFor();
      await look('erase my words asked');
      await dialog.getByRole('button', { name: c.composer.cancel, exact: true }).click();
      await dialog.waitFor({ state: 'hidden' });

      await page.goto(await personalLink(page));
      await page.getByRole('heading', { name: c.personal.heading }).waitFor();
      await look('my meetings');

      await page.goto(`${server.url}/#/join/not-a-meeting/nor-a-link`);
      await page.getByRole('heading', { name: c.missing.heading }).waitFor();
      await look('a link that does not work');

      console.log(`[${code}] ${screens.length} screens walked: ${screens.join(', ')}`);
    }, 120_000);
  }
});
