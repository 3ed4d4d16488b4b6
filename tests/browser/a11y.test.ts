/**
 * Accessibility (WCAG 2.2 A and AA, as far as axe-core can tell) of every page, on a phone and on
 * a desktop screen, including a busy room (answers, a different view, a proposal, words written
 * down for someone, changed and withdrawn words) and the "More" sheet. Also: the pages reflow at
 * 320 CSS pixels (a 640 px window at 200% zoom) with no sideways scrolling.
 */
import AxeBuilder from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers.js';
import {
  DESKTOP,
  connected,
  contribution,
  joinMeeting,
  launch,
  more,
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

const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

async function axe(page: Page, what: string): Promise<void> {
  const result = await new AxeBuilder({ page }).withTags(TAGS).analyze();
  const found = result.violations.map(
    (v) => `${what}: ${v.id} (${v.impact}) ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
  );
  expect(found).toEqual([]);
  // Sanity: axe really looked at the page.
  expect(result.passes.length).toBeGreaterThan(5);
}

/** No sideways scrolling: everything reflows into the viewport's width. */
async function reflows(page: Page, what: string): Promise<void> {
  const over = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(over, `${what} scrolls sideways`).toBeLessThanOrEqual(0);
}

describe('accessibility', () => {
  it('home, share, join and a busy room have no WCAG 2.2 A/AA violations, on a phone and a desktop', async () => {
    const fac = await person(browser, server.url, DESKTOP);
    await fac.page.goto(server.url);
    await fac.page.getByRole('button', { name: 'Open a meeting' }).waitFor();
    // lang and dir are set on <html>.
    expect(await fac.page.evaluate(() => [document.documentElement.lang, document.documentElement.dir])).toEqual([
      'en',
      'ltr',
    ]);
    await axe(fac.page, 'home');
    const joinUrl = await openMeeting(fac.page, server.url);
    await axe(fac.page, 'share');
    await shot(fac.page, 'share-desktop');
    await fac.page.getByRole('button', { name: 'Go to the meeting' }).click();
    await connected(fac.page);

    const anna = await person(browser, server.url);
    await anna.page.goto(joinUrl);
    await anna.page.getByRole('heading', { name: 'Before you join' }).waitFor();
    await axe(anna.page, 'join (phone)');
    const joinDesk = await person(browser, server.url, DESKTOP);
    await joinDesk.page.goto(joinUrl);
    await joinDesk.page.getByRole('heading', { name: 'Before you join' }).waitFor();
    await shot(joinDesk.page, 'join-desktop');
    await joinMeeting(anna.page, joinUrl, 'Anna', 'Mum');

    // A busy room: every kind of contribution.
    await write(fac.page, 'Shall we start with what happened this week?');
    await write(anna.page, 'He stopped eating on Monday.');
    await contribution(fac.page, 'stopped eating').getByRole('button', { name: 'Answer' }).click();
    await write(fac.page, 'Thank you for telling us.');
    await contribution(anna.page, 'start with what happened').getByRole('button', { name: 'A different view' }).click();
    await write(anna.page, 'I would rather start with how he is today.');
    let sheet = await more(fac.page);
    await sheet.getByRole('button', { name: 'Add a person without a device' }).click();
    await axe(fac.page, 'more: add a person');
    await sheet.getByRole('textbox', { name: 'Their name' }).fill('Grandpa');
    await sheet.getByRole('button', { name: 'Add this person' }).click();
    await sheet.getByRole('button', { name: 'Write down Grandpa’s words' }).click();
    await write(fac.page, 'He likes his tea with honey.');
    await fac.page.getByRole('combobox', { name: 'Writing for' }).selectOption({ label: 'Me' });
    sheet = await more(anna.page);
    await sheet.getByRole('button', { name: 'Put forward a proposal' }).click();
    await write(anna.page, 'We meet again on Thursday.');
    await contribution(anna.page, 'meet again on Thursday').getByRole('button', { name: 'Give my position' }).click();
    await axe(anna.page, 'room with a position form (phone)');
    await contribution(anna.page, 'meet again on Thursday').getByRole('radio', { name: 'Agree', exact: true }).check();
    await contribution(anna.page, 'meet again on Thursday').getByRole('button', { name: 'Save the position' }).click();
    const herRef = await contribution(anna.page, 'stopped eating').getAttribute('data-ref');
    const hers = anna.page.locator(`article[data-ref="${herRef}"]`);
    await saved(anna.page);
    await hers.getByRole('button', { name: 'More' }).click();
    await hers.getByRole('button', { name: 'Change my words' }).click();
    await hers.getByLabel('Change the words').fill('He stopped eating on Sunday.');
    await hers.getByRole('button', { name: 'Save the change' }).click();
    await contribution(fac.page, 'stopped eating on Sunday').getByText('Changed — see the earlier words').click();
    await contribution(anna.page, 'We meet again on Thursday')
      .getByText(/Anna:\s*Agree/)
      .waitFor();
    await write(anna.page, 'Sorry, wrong meeting.');
    // Taken back once the server has it (its place in the record is then fixed).
    await saved(anna.page);
    const slip = anna.page.locator(
      `article[data-ref="${await contribution(anna.page, 'wrong meeting').getAttribute('data-ref')}"]`,
    );
    await slip.getByRole('button', { name: 'More' }).click();
    await slip.getByRole('button', { name: 'Take back' }).click();
    await slip.getByRole('button', { name: 'Yes, take them back' }).click();
    await contribution(fac.page, 'wrong meeting')
      .getByText(/took these words back/)
      .waitFor();
    await fac.page.getByRole('button', { name: 'More details' }).click();

    // A skip link leads straight to the writing box.
    await anna.page.getByRole('link', { name: 'Skip to the writing box' }).focus();
    await anna.page.keyboard.press('Enter');
    expect(await anna.page.evaluate(() => document.activeElement?.id)).toBe('composer-text');

    await axe(fac.page, 'room (desktop)');
    await axe(anna.page, 'room (phone)');
    await shot(fac.page, 'room-desktop');
    await shot(anna.page, 'room-busy-phone');
    sheet = await more(fac.page);
    await axe(fac.page, 'more sheet (desktop)');
    await shot(fac.page, 'more-desktop');
    await sheet.getByRole('button', { name: 'End the meeting' }).click();
    await axe(fac.page, 'more: end the meeting');
    await sheet.getByRole('button', { name: 'Close' }).click();
    sheet = await more(anna.page);
    await axe(anna.page, 'more sheet (phone)');
    await shot(anna.page, 'more-phone');
    await sheet.getByRole('button', { name: 'Close' }).click();

    // 200% zoom of a 640 px window: 320 CSS pixels. Nothing scrolls sideways.
    await anna.page.setViewportSize({ width: 320, height: 640 });
    await reflows(anna.page, 'room at 320 px');
    await shot(anna.page, 'room-320');
    await anna.page.goto(server.url);
    await anna.page.getByRole('button', { name: 'Open a meeting' }).waitFor();
    await reflows(anna.page, 'home at 320 px');
    await anna.page.goto(joinUrl);
    await anna.page.getByRole('heading', { name: 'Before you join' }).waitFor();
    await reflows(anna.page, 'join at 320 px');
  }, 120_000);
});
