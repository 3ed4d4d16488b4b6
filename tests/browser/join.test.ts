/**
 * The join page, as someone with a join link on a phone (360 px) sees it: it says which meeting
 * and who opened it, the name field is on the first screen, and someone arriving after the end
 * is told so before typing anything.
 */
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { connect, openMeeting, startServer, type TestServer } from '../helpers.js';
import { accessible, connected, launch, more, person, shot } from './browser.js';

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  [server, browser] = await Promise.all([startServer({ clientDir: 'dist' }), launch()]);
});

const AT_360 = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true };

describe('the join page', () => {
  it('names who opened the meeting, keeps the name field on the first screen, and tells a late joiner it has ended', async () => {
    const opened = await openMeeting(server, 'Maria Virtanen');
    const link = `${server.url}/#/join/${opened.meetingId}/${opened.joinToken}`;
    const { page } = await person(browser, server.url, AT_360);
    await page.goto(link);
    await page.getByText('Maria Virtanen opened this meeting on').waitFor();
    const name = page.getByRole('textbox', { name: 'Your name' });
    const box = (await name.boundingBox())!;
    expect(box.y + box.height, 'the name field is on the first screen at 360 × 740').toBeLessThanOrEqual(740);
    // What joining means is still read before the button.
    const notice = (await page.getByRole('heading', { name: 'Before you join' }).boundingBox())!;
    const button = (await page.getByRole('button', { name: 'Join the meeting' }).boundingBox())!;
    expect(notice.y).toBeLessThan(button.y);
    await accessible(page, 'join page (360 px)');

    const facilitator = await connect(server, opened);
    expect(await facilitator.request('meeting:end', { next: null })).toEqual({ ok: true });
    await page.reload();
    await page.getByText('This meeting has ended, so you cannot join it any more.').waitFor();
    expect(await page.getByRole('textbox', { name: 'Your name' }).count()).toBe(0);
    await shot(page, 'join-ended-360');
    await accessible(page, 'join page of an ended meeting (360 px)');
  }, 60_000);

  it('a short code read aloud leads from the home page to the join page, and in', async () => {
    const { page: opener } = await person(browser, server.url, AT_360);
    await opener.goto(server.url);
    await opener.getByRole('button', { name: 'Open a meeting' }).click();
    await opener.getByRole('heading', { name: 'Your meeting is open' }).waitFor();
    const spoken = (await opener.locator('strong.code').textContent())!;
    expect(spoken).toMatch(/^\d{3} \d{3} \d{4}$/);
    await shot(opener, 'share-code-360');

    const { page } = await person(browser, server.url, AT_360);
    await page.goto(server.url);
    await page.getByRole('textbox', { name: /The code you were given/ }).fill('000 000 0000');
    await page.getByRole('button', { name: 'Go to the meeting' }).click();
    await page.getByText('There is no open meeting with this code.').waitFor();
    await accessible(page, 'home page with the code form and its error (360 px)');
    await page.getByRole('textbox', { name: /The code you were given/ }).fill(spoken);
    await page.getByRole('button', { name: 'Go to the meeting' }).click();
    await page.getByRole('heading', { name: 'Join a meeting' }).waitFor();
    await page.getByRole('textbox', { name: 'Your name' }).fill('Anna');
    await page.getByRole('button', { name: 'Join the meeting' }).click();
    await connected(page);
    // In the room, the code is what this person can invite with: never the code posing as a link.
    const sheet = await more(page);
    await sheet.getByRole('button', { name: 'Invite someone' }).click();
    expect(await sheet.locator('strong.code').textContent()).toBe(spoken);
    expect(await sheet.getByRole('button', { name: 'Copy link' }).count(), 'no join link to copy').toBe(0);
    await accessible(page, 'invite panel of someone who came in with the code (360 px)');
  }, 60_000);
});
