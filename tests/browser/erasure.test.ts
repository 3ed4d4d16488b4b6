/**
 * Erasure in a real browser, both ways a service may keep records (RECORD_BASIS):
 * - consent: Anna erases her own words and they disappear from every screen (everyone else's
 *   words stay); then Leo, the person the meeting is about, erases the whole record;
 * - care-record: the request is answered with the reason the record is kept, and the person is
 *   offered to add a correction or statement instead (in the meeting while it is open; once it
 *   has ended, they are told where they can).
 */
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers.js';
import {
  accessible,
  connected,
  contribution,
  endMeeting,
  joinMeeting,
  launch,
  more,
  openMeeting,
  person,
  shot,
  write,
} from './browser.js';

let consent: TestServer;
let care: TestServer;
let browser: Browser;

beforeAll(async () => {
  [consent, care, browser] = await Promise.all([
    startServer({ clientDir: 'dist' }),
    startServer({
      clientDir: 'dist',
      config: {
        recordBasis: 'care-record',
        keepReason: 'This service keeps meeting records in the health-care record.',
      },
    }),
    launch(),
  ]);
});

async function allSee(pages: Page[], text: string | RegExp): Promise<void> {
  for (const p of pages) await p.getByText(text).first().waitFor();
}

async function start(server: TestServer) {
  const maria = await person(browser, server.url);
  const joinUrl = await openMeeting(maria.page, server.url);
  await maria.page.getByRole('textbox', { name: 'Your name' }).fill('Maria');
  await maria.page.getByRole('button', { name: 'Go to the meeting' }).click();
  await connected(maria.page);
  const anna = await person(browser, server.url);
  await joinMeeting(anna.page, joinUrl, 'Anna', 'Mum');
  const leo = await person(browser, server.url);
  await joinMeeting(leo.page, joinUrl, 'Leo', '', true);
  return { maria, anna, leo };
}

describe('erasure', () => {
  it('[S16] by consent: my words disappear from every screen; the whole record goes when everyone with words in it has erased theirs', async () => {
    const { maria, anna, leo } = await start(consent);
    const pages = [maria.page, anna.page, leo.page];
    await write(anna.page, 'My private worry about money.');
    await allSee(pages, 'private worry about money');
    await write(maria.page, 'Thank you for saying it.');
    await write(leo.page, 'I am here.');
    await allSee(pages, 'I am here.');
    await endMeeting(maria.page, 'none');
    await allSee(pages, 'This meeting has ended. Its record can no longer change.');

    // Only the person the meeting is about is offered the whole record.
    expect(await maria.page.getByRole('button', { name: 'Erase the whole record…' }).count()).toBe(0);
    expect(await anna.page.getByRole('button', { name: 'Erase the whole record…' }).count()).toBe(0);
    await leo.page.getByRole('button', { name: 'Erase the whole record…' }).waitFor();

    // Anna erases her own words: a clear confirmation first.
    await anna.page.getByRole('button', { name: 'Erase my words…' }).click();
    const dialog = anna.page.getByRole('dialog', { name: 'Erase my words?' });
    await dialog.getByText(/erased\s+for\s+good/).waitFor();
    await dialog.getByText(/Everyone\s+else’s\s+words\s+stay/).waitFor();
    await accessible(anna.page, 'erase confirmation (phone)');
    await shot(anna.page, 'erase-confirm-phone');
    await dialog.getByRole('button', { name: 'Yes, erase my words' }).click();
    await anna.page.getByText('Your words were erased.').waitFor();
    // Gone from every screen; everyone else's words stay; her name is gone too.
    for (const p of pages) {
      await expect.poll(() => contribution(p, 'private worry').count()).toBe(0);
      await contribution(p, 'Thank you for saying it.').waitFor();
      await contribution(p, 'I am here.').waitFor();
      await p
        .getByText(/Someone \(erased\)/)
        .first()
        .waitFor();
      expect(await p.getByText('Anna', { exact: true }).count()).toBe(0);
    }
    // A fresh look at the record (a reload) does not bring them back.
    await maria.page.reload();
    await contribution(maria.page, 'I am here.').waitFor();
    expect(await contribution(maria.page, 'private worry').count()).toBe(0);
    // The request is in the access log.
    const log = maria.page.getByRole('region', { name: 'Who has looked at this record' });
    await log.getByText('Someone (erased) erased their own words').waitFor();
    await shot(maria.page, 'record-after-erasure-phone');

    // Leo asks for the whole record to be erased (SPEC 16): his own words go at once; everyone
    // sees the request; the record goes when the others with words in it have erased theirs.
    await leo.page.getByRole('button', { name: 'Erase the whole record…' }).click();
    const whole = leo.page.getByRole('dialog', { name: 'Erase the whole record?' });
    await whole.getByText(/each\s+of\s+them\s+has\s+erased\s+their\s+own\s+words/).waitFor();
    await accessible(leo.page, 'erase the whole record: confirmation (phone)');
    await whole.getByRole('button', { name: 'Yes, erase the whole record' }).click();
    await leo.page.getByText(/once these people have erased their own words: Maria/).waitFor();
    await expect.poll(() => contribution(maria.page, 'I am here.').count()).toBe(0);
    await contribution(maria.page, 'Thank you for saying it.').waitFor();
    await maria.page.getByText(/asked for the whole record of this meeting to be erased/).waitFor();
    await shot(maria.page, 'erasure-requested-phone');
    await maria.page.getByRole('button', { name: 'Erase my words too…' }).click();
    await maria.page
      .getByRole('dialog', { name: 'Erase my words?' })
      .getByRole('button', { name: 'Yes, erase my words' })
      .click();
    for (const p of [maria.page, leo.page]) await p.getByRole('heading', { name: 'This record was erased' }).waitFor();
    for (const p of pages) expect(await contribution(p, 'I am here.').count()).toBe(0);
    // It is no longer among anyone's meetings.
    await maria.page.goto(consent.url);
    await maria.page.getByRole('button', { name: 'Open a meeting' }).waitFor();
    expect(await maria.page.getByRole('heading', { name: 'My meetings' }).count()).toBe(0);
  }, 120_000);

  it('in a care record: the reason is shown, and a statement can be added instead', async () => {
    const { maria, leo } = await start(care);
    await write(leo.page, 'I did not say I wanted the ward.');
    // While the meeting is open: add a statement instead.
    const sheet = await more(leo.page);
    await sheet.getByRole('button', { name: 'Erasing words' }).click();
    await sheet.getByRole('button', { name: 'Erase my words…' }).click();
    await leo.page
      .getByRole('dialog', { name: 'Erase my words?' })
      .getByRole('button', { name: 'Yes, erase my words' })
      .click();
    await sheet.getByText('The record is kept.', { exact: true }).waitFor();
    await sheet.getByText('This service keeps meeting records in the health-care record.').waitFor();
    await sheet.getByRole('button', { name: 'Add a correction or statement' }).click();
    await expect.poll(() => leo.page.evaluate(() => document.activeElement?.id)).toBe('composer-text');
    await write(leo.page, 'My statement: I want to stay at home.');
    await contribution(maria.page, 'My statement: I want to stay at home.').waitFor();
    await contribution(maria.page, 'I did not say I wanted the ward.').waitFor();

    // After the meeting has ended: told plainly where a statement can go.
    await endMeeting(maria.page, 'not-agreed');
    await leo.page.getByText('This meeting has ended. Its record can no longer change.').waitFor();
    await leo.page.getByRole('button', { name: 'Erase the whole record…' }).click();
    await leo.page
      .getByRole('dialog', { name: 'Erase the whole record?' })
      .getByRole('button', { name: 'Yes, erase the whole record' })
      .click();
    const answer = leo.page.getByRole('region', { name: 'Erasing words' });
    await answer.getByText('The record is kept.', { exact: true }).waitFor();
    await answer.getByText(/You can add your correction or statement when the network meets\s+again/).waitFor();
    await contribution(leo.page, 'I did not say I wanted the ward.').waitFor();
    const log = maria.page.getByRole('region', { name: 'Who has looked at this record' });
    await log.getByRole('button', { name: 'Show the latest' }).click();
    await log.getByText('Leo asked for words to be erased').first().waitFor();
    await log.getByText('Leo was told the record must be kept').first().waitFor();
    await accessible(leo.page, 'ended record after a refused erasure (phone)');
    await shot(leo.page, 'erasure-kept-phone');
  }, 120_000);
});
