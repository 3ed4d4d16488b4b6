/**
 * Long words, long links, right-to-left and mixed scripts, emoji: nothing people write ever makes
 * a page wider than the screen (record, people, sheets, read-back, ended record, replay, print),
 * at 320, 360 and 1280 px, and the controls still work. Also: "Writing for" goes back to "me"
 * after each entry, and a second tab of the same person does not show a draft already sent.
 */
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers.js';
import {
  connected,
  contribution,
  endMeeting,
  joinMeeting,
  launch,
  meetingIdOf,
  more,
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

const LONG_WORD = 'Pneumonoultramicroscopicsilicovolcanoconiosis'.repeat(4);
const LONG_LINK = `https://example.org/${'a-very-long-path-segment/'.repeat(8)}?q=${'x'.repeat(60)}`;
const ARABIC = 'أشعر بالتعب الشديد هذا الأسبوع ولا أستطيع النوم جيداً';
const EMOJI = '😀😃😄😁😆😅🤣😂🙂🙃😉😊😇🥰😍🤩😘😗😚😙🥲😋😛😜🤪😝🤑🤗🤭🤫🤔🤐🤨😐😑😶';
const MIXED = `Äiti sanoi: «${ARABIC}» ja sitten 你好世界你好世界你好世界 ${LONG_WORD}`;
const SAMPLES = [LONG_WORD, LONG_LINK, ARABIC, EMOJI, MIXED];

const WIDTHS = [320, 360, 1280];

/** The page is no wider than the screen; nor is an open sheet wider than itself. */
async function noOverflow(page: Page, what: string): Promise<void> {
  const r = await page.evaluate(() => {
    const s = document.scrollingElement ?? document.documentElement;
    const dialog = document.querySelector('dialog[open]');
    return {
      page: s.scrollWidth - window.innerWidth,
      sheet: dialog ? dialog.scrollWidth - dialog.clientWidth : 0,
    };
  });
  expect(r.page, `${what}: the page is wider than the screen`).toBeLessThanOrEqual(0);
  expect(r.sheet, `${what}: the sheet is wider than itself`).toBeLessThanOrEqual(0);
}

async function everyWidth(page: Page, what: string, shotName?: string): Promise<void> {
  const size = page.viewportSize() ?? { width: 360, height: 740 };
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: size.height });
    await noOverflow(page, `${what} at ${width} px`);
    if (shotName && width === 320) await shot(page, `${shotName}-320`);
  }
  await page.setViewportSize(size);
}

describe('long words and mixed scripts', () => {
  it('never make a page wider than the screen, and the controls still work', async () => {
    const phone = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true };
    const fac = await person(browser, server.url, phone);
    const joinUrl = await openMeeting(fac.page, server.url);
    await fac.page.getByRole('textbox', { name: 'Your name' }).fill(`Maria${LONG_WORD}`);
    await fac.page.getByRole('textbox', { name: /How you are connected/ }).fill(LONG_LINK);
    await everyWidth(fac.page, 'share page');
    await fac.page.getByRole('button', { name: 'Go to the meeting' }).click();
    await connected(fac.page);

    const anna = await person(browser, server.url, phone);
    await joinMeeting(anna.page, joinUrl, `محمد ${LONG_WORD}`, ARABIC);

    for (const text of SAMPLES) await write(anna.page, text);
    // An answer and a different view quote the long words back.
    await contribution(fac.page, LONG_WORD.slice(0, 30)).first().getByRole('button', { name: 'Answer' }).click();
    await everyWidth(fac.page, 'answer box');
    await write(fac.page, `${EMOJI}${LONG_LINK}`);
    for (const text of SAMPLES) await contribution(fac.page, text.slice(0, 20)).first().waitFor();

    await everyWidth(fac.page, 'record', 'overflow-record');
    await everyWidth(anna.page, 'record (phone 2)');
    await fac.page.getByRole('button', { name: 'More details' }).click();
    await everyWidth(fac.page, 'people list');

    // The More sheet still opens and works.
    const sheet = await more(fac.page);
    await everyWidth(fac.page, 'more sheet', 'overflow-more');
    await sheet.getByRole('button', { name: 'Close', exact: true }).click();

    // Read-back.
    await fac.page.goto(`${server.url}/#/m/${meetingIdOf(fac.page)}/read-back`);
    await fac.page.getByRole('heading', { name: /Reading back the record/ }).waitFor();
    await everyWidth(fac.page, 'read-back', 'overflow-read-back');
    await write(fac.page, `${LONG_WORD} at the end`);

    // The ended record, the print, the replay.
    await endMeeting(fac.page, { where: LONG_LINK, who: `${ARABIC} ${LONG_WORD}` });
    await fac.page.goto(`${server.url}/#/m/${meetingIdOf(fac.page)}`);
    await contribution(fac.page, ARABIC).first().waitFor();
    await everyWidth(fac.page, 'ended record', 'overflow-ended');
    await fac.page.emulateMedia({ media: 'print' });
    await everyWidth(fac.page, 'print');
    await fac.page.emulateMedia({ media: 'screen' });
    await fac.page.getByRole('link', { name: 'Replay' }).click();
    await fac.page.getByRole('main', { name: 'Replay of the record' }).waitFor();
    await everyWidth(fac.page, 'replay', 'overflow-replay');
  }, 120_000);

  it('"Writing for" goes back to me after each entry', async () => {
    const fac = await person(browser, server.url);
    await openMeeting(fac.page, server.url);
    await fac.page.getByRole('textbox', { name: 'Your name' }).fill('Maria');
    await fac.page.getByRole('button', { name: 'Go to the meeting' }).click();
    await connected(fac.page);
    const sheet = await more(fac.page);
    await sheet.getByRole('button', { name: 'Add a person without a device' }).click();
    await sheet.getByRole('textbox', { name: 'Their name' }).fill('Grandpa');
    await sheet.getByRole('button', { name: 'Add this person' }).click();
    await sheet.getByRole('button', { name: 'Write down Grandpa’s words' }).click();
    await write(fac.page, 'He likes his tea with honey.');
    await expect.poll(() => fac.page.getByRole('combobox', { name: 'Writing for' }).inputValue()).toBe('');
    await write(fac.page, 'And I like coffee.');
    await expect
      .poll(() => contribution(fac.page, 'And I like coffee.').locator('.who').textContent())
      .toMatch(/^Maria/);
    await expect.poll(() => contribution(fac.page, 'tea with honey').locator('.who').textContent()).toMatch(/^Grandpa/);
  }, 60_000);

  it('a second tab of the same person does not keep a draft that the first tab sent', async () => {
    const fac = await person(browser, server.url);
    await openMeeting(fac.page, server.url);
    await fac.page.getByRole('button', { name: 'Go to the meeting' }).click();
    await connected(fac.page);
    // An empty room offers its join link right away (the facilitator's device holds it).
    await fac.page.getByRole('heading', { name: 'Invite the others' }).waitFor();
    await shot(fac.page, 'room-empty-invite');
    await fac.page.locator('#composer-text').fill('Words typed in the first tab.');
    const second = await fac.context.newPage();
    await second.goto(fac.page.url());
    await connected(second);
    await expect.poll(() => second.locator('#composer-text').inputValue()).toBe('Words typed in the first tab.');
    await fac.page.getByRole('button', { name: 'Add to the record' }).click();
    await contribution(second, 'Words typed in the first tab.').waitFor();
    await expect.poll(() => second.locator('#composer-text').inputValue()).toBe('');
    // And a tab opened afterwards starts empty too.
    const third = await fac.context.newPage();
    await third.goto(fac.page.url());
    await connected(third);
    await expect.poll(() => third.locator('#composer-text').inputValue()).toBe('');
  }, 60_000);

  it('says "New words below" when someone adds words while I read further up, and takes me there', async () => {
    const small = { viewport: { width: 360, height: 560 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true };
    const fac = await person(browser, server.url, small);
    const joinUrl = await openMeeting(fac.page, server.url);
    await fac.page.getByRole('button', { name: 'Go to the meeting' }).click();
    await connected(fac.page);
    const anna = await person(browser, server.url, small);
    await joinMeeting(anna.page, joinUrl, 'Anna');
    for (let i = 1; i <= 8; i++) await write(fac.page, `Line ${i} of a long beginning, so that the page scrolls.`);
    await contribution(anna.page, 'Line 8 of').waitFor();
    await anna.page.evaluate(() => window.scrollTo(0, 0));
    await write(fac.page, 'Something new at the end.');
    await contribution(anna.page, 'Something new at the end.').waitFor({ state: 'attached' });
    const button = anna.page.getByRole('button', { name: 'New words below' });
    // It sits above the part of the page one writes in, never over it.
    await button.waitFor();
    const [pill, composer] = await Promise.all([
      button.boundingBox(),
      anna.page.locator('.composer-wrap').boundingBox(),
    ]);
    expect(pill!.y + pill!.height).toBeLessThanOrEqual(composer!.y);
    await button.click();
    await button.waitFor({ state: 'detached' });
    await expect
      .poll(() =>
        contribution(anna.page, 'Something new at the end.').evaluate((el) => {
          const r = el.getBoundingClientRect();
          return r.top >= 0 && r.top < window.innerHeight;
        }),
      )
      .toBe(true);
  }, 60_000);
});
