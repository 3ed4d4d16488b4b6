/**
 * Issue 4 in a real browser: closing a meeting and the record afterwards.
 * The room reads the record back (someone still adds a word), the facilitator names the network,
 * notes first contact and closes with the next meeting agreed. Anna then reviews the record on
 * her laptop from her personal link (read-only), replays it, downloads it, prints it and sees
 * who has looked at it; the facilitator opens the network's next meeting and everyone reaches it.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers.js';
import {
  DESKTOP,
  OUTPUT,
  accessible,
  connected,
  contribution,
  endMeeting,
  joinMeeting,
  launch,
  meetingIdOf,
  more,
  openMeeting,
  person,
  personalLink,
  saved,
  shot,
  write,
} from './browser.js';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer({ clientDir: 'dist' }), launch()]);
});

async function allSee(pages: Page[], text: string | RegExp): Promise<void> {
  for (const p of pages) await p.getByText(text).first().waitFor();
}

/** The words of every contribution on the page, in order. */
function words(page: Page): Promise<string[]> {
  return page.locator('article.contribution p.text').allTextContents();
}

describe('closing a meeting, and the record afterwards', () => {
  it('read-back, next meeting, review from a personal link, replay, export, print, access log, the next meeting', async () => {
    // ── A short meeting ───────────────────────────────────────────────────────────────
    const maria = await person(browser, server.url);
    const joinUrl = await openMeeting(maria.page, server.url);
    await maria.page.getByRole('textbox', { name: 'Your name' }).fill('Maria');
    await maria.page.getByRole('textbox', { name: /How you are connected/ }).fill('psychiatrist');
    await maria.page.getByRole('button', { name: 'Go to the meeting' }).click();
    await connected(maria.page);
    const anna = await person(browser, server.url);
    await joinMeeting(anna.page, joinUrl, 'Anna', 'Mum');
    const leo = await person(browser, server.url);
    await joinMeeting(leo.page, joinUrl, 'Leo', '', true);
    const pages = [maria.page, anna.page, leo.page];
    const meetingId = meetingIdOf(maria.page);

    await write(maria.page, 'Welcome, everyone. Thank you for coming.');
    await allSee(pages, 'Welcome, everyone.');
    await write(anna.page, 'He slept better this week.');
    await allSee(pages, 'He slept better this week.');
    await write(leo.page, 'I want to go back to school.');
    await allSee(pages, 'I want to go back to school.');
    const hers = contribution(anna.page, 'He slept better this week.');
    await hers.getByRole('button', { name: 'More' }).click();
    await hers.getByRole('button', { name: 'Change my words' }).click();
    await anna.page.getByLabel('Change the words').fill('He slept better these two weeks.');
    await anna.page.getByRole('button', { name: 'Save the change' }).click();
    await allSee(pages, 'He slept better these two weeks.');

    // ── The network: a name (anyone), first contact (facilitator) and the 24-hour aim ──
    let sheet = await more(anna.page);
    await sheet.getByRole('button', { name: 'The network' }).click();
    await sheet.getByText('This network has no name yet.').waitFor();
    // Only facilitators can change first contact.
    expect(await sheet.getByLabel(/first contact the service/).count()).toBe(0);
    await sheet.getByRole('textbox', { name: 'Name of the network' }).fill('Anna’s network');
    await sheet.getByRole('button', { name: 'Save the name' }).click();
    await sheet.getByText('Anna’s network', { exact: true }).waitFor();
    await sheet.getByRole('button', { name: 'Close' }).click();
    await allSee(pages, /Meeting · Anna’s network/);
    sheet = await more(maria.page);
    await sheet.getByRole('button', { name: 'The network' }).click();
    const sixHoursAgo = await maria.page.evaluate(() => {
      const d = new Date(Date.now() - 6 * 3600_000);
      const p = (n: number) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
    });
    await sheet.getByLabel('When did the network first contact the service?').fill(sixHoursAgo);
    await sheet.getByRole('button', { name: 'Save the first contact time' }).click();
    await sheet.getByText('First meeting 6 hours after first contact — within the 24-hour aim.').waitFor();
    await accessible(maria.page, 'more: the network (phone)');
    await sheet.getByRole('button', { name: 'Close' }).click();

    // ── Read-back before closing: large calm text, and anyone can still add ────────────
    for (const p of [maria.page, anna.page]) {
      sheet = await more(p);
      await sheet.getByRole('button', { name: 'Read back the record' }).click();
      await p.getByRole('heading', { name: /Reading back the record/ }).waitFor();
    }
    expect(maria.page.url()).toMatch(/#\/m\/[A-Za-z0-9_-]{22}\/read-back$/);
    // Words only, no buttons on the contributions; large text, the same for every voice.
    const back = contribution(maria.page, 'Welcome, everyone.');
    expect(await back.getByRole('button').count()).toBe(0);
    const size = (p: Page, text: string) =>
      contribution(p, text).evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
    expect(await size(maria.page, 'Welcome, everyone.')).toBeGreaterThanOrEqual(21);
    expect(await size(maria.page, 'I want to go back to school.')).toBe(await size(maria.page, 'Welcome, everyone.'));
    await anna.page.getByLabel('I’d like to add…').fill('I’d like to add: thank you all for listening.');
    await anna.page.getByRole('button', { name: 'Add to the record' }).click();
    await allSee([maria.page, anna.page], 'thank you all for listening');
    await accessible(maria.page, 'read-back (phone)');
    await shot(maria.page, 'read-back-phone');
    await saved(anna.page);
    await maria.page.getByRole('link', { name: 'Back to the meeting' }).click();
    await maria.page.getByRole('heading', { name: /^Meeting/ }).waitFor();

    // ── Closing, with the next meeting agreed ─────────────────────────────────────────
    await endMeeting(maria.page, { when: '2026-12-04T10:00', where: 'At Anna’s home', who: 'Everyone here' });
    await allSee(pages, 'This meeting has ended. Its record can no longer change.');
    for (const p of pages) {
      await p.locator('#composer-text').waitFor({ state: 'detached' });
      const next = p.getByRole('region', { name: 'The next meeting' });
      await next
        .getByText(
          /Next meeting agreed — when: Fri 4 December.* 10:00; where: \u2068At Anna’s home\u2069; who: \u2068Everyone here\u2069\./,
        )
        .waitFor();
      // The next meeting is at the top, above the record.
      const nextTop = (await next.boundingBox())?.y ?? Infinity;
      const firstWords = (await contribution(p, 'Welcome, everyone.').boundingBox())?.y ?? -Infinity;
      expect(nextTop).toBeLessThan(firstWords);
    }
    // "Add to my calendar" is a real calendar file.
    const calendar = leo.page.getByRole('link', { name: 'Add to my calendar' });
    expect(await calendar.getAttribute('download')).not.toBeNull();
    const ics = await leo.page.evaluate(
      async (href) => {
        const r = await fetch(href);
        return { type: r.headers.get('content-type'), text: await r.text() };
      },
      (await calendar.getAttribute('href')) ?? '',
    );
    expect(ics.type).toMatch(/text\/calendar/);
    expect(ics.text).toContain('BEGIN:VEVENT');
    expect(ics.text).toContain('At Anna’s home');
    await accessible(leo.page, 'ended record (phone)');
    await shot(leo.page, 'record-ended-phone');

    // ── Review on another device, from Anna's personal link: read-only ────────────────
    const annasLink = await personalLink(anna.page);
    const laptop = await person(browser, server.url, DESKTOP);
    await laptop.page.goto(annasLink);
    await laptop.page.getByRole('heading', { name: 'My meetings' }).waitFor();
    const listed = laptop.page.getByRole('link', { name: /Anna’s network: meeting opened .*Ended — read the record/ });
    await listed.waitFor();
    await accessible(laptop.page, 'my meetings (desktop)');
    await shot(laptop.page, 'my-meetings-desktop');
    await listed.click();
    await connected(laptop.page);
    await laptop.page.getByText('This meeting has ended. Its record can no longer change.').waitFor();
    await contribution(laptop.page, 'He slept better these two weeks.').waitFor();
    expect(await laptop.page.locator('#composer-text').count()).toBe(0);
    // Nothing that writes: no answer, change, position or facilitation buttons on the record.
    expect(await laptop.page.locator('article.contribution button').count()).toBe(0);
    await laptop.page.getByText('First meeting 6 hours after first contact — within the 24-hour aim.').waitFor();
    expect(await words(laptop.page)).toEqual([
      'Welcome, everyone. Thank you for coming.',
      'He slept better these two weeks.',
      'I want to go back to school.',
      'I’d like to add: thank you all for listening.',
    ]);
    await accessible(laptop.page, 'ended record (desktop)');
    await shot(laptop.page, 'record-ended-desktop');

    // ── Replay ────────────────────────────────────────────────────────────────────────
    await laptop.page.getByRole('link', { name: 'Replay' }).click();
    const slider = laptop.page.getByRole('slider', { name: 'Replay step' });
    await slider.waitFor();
    const steps = Number(await slider.getAttribute('max'));
    expect(steps).toBe(5); // four contributions and one change, in server order
    const at = async (step: number, expected: string[]) => {
      await slider.fill(String(step));
      await laptop.page.getByText(new RegExp(`^Step ${step} of ${steps}`)).waitFor();
      await expect.poll(() => words(laptop.page)).toEqual(expected);
    };
    await at(0, []);
    await at(1, ['Welcome, everyone. Thank you for coming.']);
    await at(2, ['Welcome, everyone. Thank you for coming.', 'He slept better this week.']);
    await laptop.page.getByText(/^Step 2 of 5, at \d\d:\d\d: Anna added words\.$/).waitFor();
    await at(3, [
      'Welcome, everyone. Thank you for coming.',
      'He slept better this week.',
      'I want to go back to school.',
    ]);
    await at(4, [
      'Welcome, everyone. Thank you for coming.',
      'He slept better these two weeks.',
      'I want to go back to school.',
    ]);
    await laptop.page.getByText(/Anna changed their words\./).waitFor();
    // The step's item is marked, and the contribution carries its time.
    await contribution(laptop.page, 'these two weeks').and(laptop.page.locator('.latest')).waitFor();
    expect(await contribution(laptop.page, 'these two weeks').locator('time').count()).toBeGreaterThan(0);
    await accessible(laptop.page, 'replay (desktop)');
    await shot(laptop.page, 'replay-desktop');
    // Play from the start runs to the end by itself.
    await at(0, []);
    await laptop.page.getByRole('button', { name: 'Play' }).click();
    await laptop.page.getByText(/^Step 5 of 5/).waitFor({ timeout: 15_000 });
    await laptop.page.getByRole('button', { name: 'Play from the start' }).waitFor();
    expect(await words(laptop.page)).toHaveLength(4);
    await laptop.page.getByText(/Maria ended the meeting/).waitFor();

    // Replay on a phone too.
    await leo.page.getByRole('link', { name: 'Replay' }).click();
    await leo.page.getByRole('slider', { name: 'Replay step' }).fill('3');
    await leo.page.getByText(/^Step 3 of 5/).waitFor();
    await accessible(leo.page, 'replay (phone)');
    await shot(leo.page, 'replay-phone');
    // 200% zoom of a 640 px window: nothing scrolls sideways, on the replay or the record.
    await leo.page.setViewportSize({ width: 320, height: 640 });
    const sideways = () =>
      leo.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(await sideways()).toBeLessThanOrEqual(0);
    await leo.page.getByRole('link', { name: 'The record' }).click();
    await leo.page.getByRole('heading', { name: 'Keep a copy' }).waitFor();
    expect(await sideways()).toBeLessThanOrEqual(0);
    await shot(leo.page, 'record-ended-320');

    // ── Export: Markdown and JSON downloads ───────────────────────────────────────────
    await laptop.page.getByRole('link', { name: 'The record' }).click();
    const md = laptop.page.getByRole('link', { name: 'Download as text (Markdown)' });
    const [download] = await Promise.all([laptop.page.waitForEvent('download'), md.click()]);
    expect(download.suggestedFilename()).toBe(`meeting-${meetingId}.md`);
    const mdText = await readFile((await download.path()) ?? '', 'utf8');
    expect(mdText).toContain('He slept better these two weeks.');
    expect(mdText).toContain('Anna');
    const json = await laptop.page.evaluate(
      async (href) => {
        const r = await fetch(href);
        return (await r.json()) as { format: string; items: Array<{ text: string }> };
      },
      (await laptop.page.getByRole('link', { name: 'Download as data (JSON)' }).getAttribute('href')) ?? '',
    );
    expect(json.format).toBe('polyphony-record');
    expect(json.items.map((i) => i.text)).toContain('I want to go back to school.');

    // ── Print: the page asks the browser to print; on paper, words only, black on white ─
    await laptop.page.evaluate(() => {
      (window as unknown as { printed: number }).printed = 0;
      window.print = () => {
        (window as unknown as { printed: number }).printed++;
      };
    });
    await laptop.page.getByRole('button', { name: 'Print, or save as PDF' }).click();
    expect(await laptop.page.evaluate(() => (window as unknown as { printed: number }).printed)).toBe(1);
    await laptop.page.emulateMedia({ media: 'print' });
    expect(await laptop.page.getByRole('button', { name: 'More' }).isVisible()).toBe(false);
    expect(await laptop.page.getByRole('link', { name: 'Replay' }).isVisible()).toBe(false);
    expect(await laptop.page.getByRole('heading', { name: 'Who has looked at this record' }).isVisible()).toBe(false);
    await laptop.page.getByText('People in this meeting').waitFor();
    const paper = contribution(laptop.page, 'these two weeks');
    expect(await paper.isVisible()).toBe(true);
    const looks = await paper.evaluate((el) => {
      const cs = getComputedStyle(el);
      return { color: cs.color, background: cs.backgroundColor, breakInside: cs.breakInside };
    });
    expect(looks).toEqual({ color: 'rgb(0, 0, 0)', background: 'rgb(255, 255, 255)', breakInside: 'avoid' });
    // The earlier words are on paper too.
    expect(await paper.getByText('He slept better this week.').isVisible()).toBe(true);
    await shot(laptop.page, 'record-print');
    const pdf = await laptop.page.pdf({ path: path.join(OUTPUT, 'record.pdf'), format: 'A4' });
    expect(pdf.subarray(0, 4).toString()).toBe('%PDF');
    await laptop.page.emulateMedia({ media: 'screen' });

    // ── The access log: opening and downloading, by whom ──────────────────────────────
    const log = laptop.page.getByRole('region', { name: 'Who has looked at this record' });
    await log.getByRole('button', { name: 'Show the latest' }).click();
    await log.getByText('Anna downloaded the record (text file)').waitFor();
    await log.getByText('Anna downloaded the record (JSON file)').waitFor();
    await log.getByText('Anna opened the record').first().waitFor();
    await log.getByText('Leo added the next meeting to a calendar').waitFor();

    // ── The network's next meeting: the facilitator opens it, everyone reaches it ─────
    await maria.page.getByRole('button', { name: 'Open the next meeting' }).click();
    await maria.page.waitForURL((url) => !url.hash.includes(meetingId));
    await maria.page.getByRole('heading', { name: /^Meeting · / }).waitFor();
    await connected(maria.page);
    expect(meetingIdOf(maria.page)).not.toBe(meetingId);
    await maria.page.getByRole('link', { name: 'Previous meeting', exact: true }).waitFor();
    // From the ended meeting, everyone has a way to it.
    await anna.page.getByRole('link', { name: 'Go to the next meeting' }).click();
    await connected(anna.page);
    expect(meetingIdOf(anna.page)).toBe(meetingIdOf(maria.page));
    await write(anna.page, 'Hello again.');
    await allSee([maria.page], 'Hello again.');
    // And from her personal link: both meetings, newest first.
    await laptop.page.goto(annasLink);
    await laptop.page.getByRole('heading', { name: 'My meetings' }).waitFor();
    const rows = laptop.page.locator('ul.mine li');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.nth(0).textContent()).toMatch(/Open now/);
    expect(await rows.nth(1).textContent()).toMatch(/Ended — read the record/);
    // "Previous meeting" is one tap away.
    await laptop.page.getByRole('link', { name: 'Go to the meeting that is open now' }).click();
    await contribution(laptop.page, 'Hello again.').waitFor();
    await laptop.page.getByRole('link', { name: 'Previous meeting', exact: true }).click();
    await contribution(laptop.page, 'He slept better these two weeks.').waitFor();
    await laptop.page.getByRole('link', { name: 'Next meeting', exact: true }).waitFor();

    // ── Lost phone: a new personal link; the old one stops working everywhere ─────────
    await laptop.page.goto(annasLink);
    await laptop.page.getByRole('heading', { name: 'My meetings' }).waitFor();
    await laptop.page.getByRole('button', { name: 'Get a new personal link' }).click();
    await laptop.page.getByRole('button', { name: 'Yes, get a new link' }).click();
    await laptop.page.getByText('Here is your new personal link.').waitFor();
    const newLink =
      (await laptop.page.getByRole('link', { name: /Your new personal link/ }).getAttribute('href')) ?? '';
    expect(newLink).toMatch(/\/#\/me\/[A-Za-z0-9_-]{22}$/);
    expect(newLink).not.toBe(annasLink);
    await expect.poll(() => laptop.page.locator('svg.qr').count()).toBe(1);
    expect(laptop.page.url()).toBe(newLink);
    await accessible(laptop.page, 'new personal link (desktop)');
    await shot(laptop.page, 'new-link-desktop');
    // Her phone is the "lost" one: its connection is closed, and it cannot come back in.
    await anna.page.getByRole('heading', { name: 'You cannot take part in this meeting from here' }).waitFor();
    // It says why: the server named the reason before closing the connection.
    await anna.page.getByText('Your personal link was replaced. Open your new link on this device.').waitFor();
    // The laptop that asked keeps access.
    await laptop.page.getByRole('link', { name: 'Go to the meeting that is open now' }).click();
    await connected(laptop.page);
    const stranger = await person(browser, server.url);
    await stranger.page.goto(annasLink);
    await stranger.page.getByRole('heading', { name: 'This link does not work' }).waitFor();
    await stranger.page.goto(newLink);
    await stranger.page.getByRole('heading', { name: 'My meetings' }).waitFor();
    await expect.poll(() => stranger.page.locator('ul.mine li').count()).toBe(2);
  }, 180_000);
});
