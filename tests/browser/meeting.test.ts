/**
 * Issue 3 in a real browser: a whole Open Dialogue meeting.
 * A psychiatrist facilitates from a phone; the mother and the person at the centre use their own
 * phones; a nurse takes notes on a shared tablet on the table, where she adds Grandma (no device)
 * and writes down her words, which Grandma confirms there. A colleague's different view stands
 * beside what it answers. A reflecting conversation gets the network's response. A proposal
 * collects every person's position. Then the same-standing proof: the psychiatrist's, the
 * mother's and the person's words look exactly alike and stand in time order.
 */
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers.js';
import {
  connected,
  contribution,
  joinMeeting,
  launch,
  more,
  openMeeting,
  person,
  saved,
  shot,
  stylesOf,
  write,
} from './browser.js';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer({ clientDir: 'dist' }), launch()]);
});

const TABLET = { viewport: { width: 1024, height: 768 }, deviceScaleFactor: 1, hasTouch: true };

/** Wait until every page shows `text` somewhere. */
async function allSee(pages: Page[], text: string | RegExp): Promise<void> {
  for (const p of pages) await p.getByText(text).first().waitFor();
}

describe('a whole meeting, every voice with the same standing', () => {
  it('scribe on a shared device, different view, reflecting conversation with a response, a proposal with every position', async () => {
    // ── Opening and joining ──────────────────────────────────────────────────────────
    const maria = await person(browser, server.url);
    const joinUrl = await openMeeting(maria.page, server.url);
    await maria.page.getByRole('textbox', { name: 'Your name' }).fill('Maria');
    await maria.page.getByRole('textbox', { name: /How you are connected/ }).fill('psychiatrist');
    await maria.page.getByRole('button', { name: 'Go to the meeting' }).click();
    await connected(maria.page);

    const anna = await person(browser, server.url);
    await joinMeeting(anna.page, joinUrl, 'Anna', 'Mum');
    const leo = await person(browser, server.url);
    await joinMeeting(leo.page, joinUrl, 'Leo', "it's about me", true);
    const tablet = await person(browser, server.url, TABLET);
    await joinMeeting(tablet.page, joinUrl, 'Tuula', 'nurse');
    const pages = [maria.page, anna.page, leo.page, tablet.page];

    // ── Time order, and the words of three people ──────────────────────────────────────
    await write(maria.page, 'Thank you for having us in your home today.');
    await allSee(pages, 'Thank you for having us');
    await write(anna.page, 'He has not slept for four nights.');
    await allSee(pages, 'not slept for four nights');
    await write(leo.page, 'Everything is too loud in my head.');
    await allSee(pages, 'too loud in my head');

    // ── A scribe on the shared device writes for Grandma, who has no device ────────────
    let sheet = await more(tablet.page);
    await sheet.getByRole('button', { name: 'Add a person without a device' }).click();
    await sheet.getByRole('textbox', { name: 'Their name' }).fill('Grandma');
    await sheet.getByRole('textbox', { name: /How they are connected/ }).fill("Leo's grandmother");
    await sheet.getByRole('button', { name: 'Add this person' }).click();
    await sheet.getByText('Grandma is now in the meeting.').waitFor();
    // Her own personal link, as text and QR code, for her own phone later.
    const grandmasLink =
      (await sheet.getByRole('link', { name: /Grandma’s personal link/ }).getAttribute('href')) ?? '';
    expect(grandmasLink).toMatch(/\/#\/me\/[A-Za-z0-9_-]{22}$/);
    await expect.poll(() => sheet.locator('svg.qr').count()).toBe(1);
    await shot(tablet.page, 'more-added-person-tablet');
    await sheet.getByRole('button', { name: 'Write down Grandma’s words' }).click();
    await tablet.page.getByRole('combobox', { name: 'Writing for' }).waitFor();
    expect(await tablet.page.getByRole('combobox', { name: 'Writing for' }).inputValue()).not.toBe('');
    await tablet.page.getByLabel('Grandma’s words').fill('He always looked after the garden with me.');
    await tablet.page.getByRole('button', { name: 'Add to the record' }).click();
    await allSee(pages, /added Grandma, who has no device here/);
    for (const p of pages) {
      const c = contribution(p, 'looked after the garden');
      await c.waitFor();
      // Her words, under her own name and relation; written down by Tuula; not yet confirmed.
      expect(await c.locator('.who').textContent()).toBe("Grandma · Leo's grandmother");
      await c.getByText(/Written down by Tuula\.\s*Not yet confirmed by Grandma\./).waitFor();
    }
    // On the shared device, Grandma confirms (her own voice, through her own link's credentials).
    await contribution(tablet.page, 'looked after the garden')
      .getByRole('button', { name: 'Confirm as Grandma' })
      .click();
    for (const p of pages)
      await contribution(p, 'looked after the garden')
        .getByText(/Written down by Tuula\.\s*Confirmed by Grandma\./)
        .waitFor();
    // Later, from her own phone (her personal link), Grandma corrects other words written for her.
    // (After each entry the box is the writer's own again: choose Grandma once more.)
    await tablet.page.getByRole('combobox', { name: 'Writing for' }).selectOption({ label: 'Grandma' });
    await tablet.page.getByLabel('Grandma’s words').fill('She says the nights are the worst.');
    await tablet.page.getByRole('button', { name: 'Add to the record' }).click();
    await contribution(tablet.page, 'nights are the worst')
      .getByText(/Not yet confirmed/)
      .waitFor();
    const grandma = await person(browser, server.url);
    await grandma.page.goto(grandmasLink);
    await grandma.page.getByRole('link', { name: 'Go to the meeting that is open now' }).click();
    await connected(grandma.page);
    const scribed = contribution(grandma.page, 'nights are the worst');
    await scribed.getByText('Tuula wrote this down for you. Are these your words?').waitFor();
    const scribedRef = await scribed.getAttribute('data-ref');
    await scribed.getByRole('button', { name: 'Correct them' }).click();
    const editing = grandma.page.locator(`article[data-ref="${scribedRef}"]`);
    await editing.getByLabel('Correct the words').fill('I said the evenings are the worst, not the nights.');
    await editing.getByRole('button', { name: 'Save the correction' }).click();
    for (const p of [...pages, grandma.page]) {
      const c = contribution(p, 'the evenings are the worst');
      await c.getByText(/Written down by Tuula\.\s*Corrected by Grandma\./).waitFor();
      await c.getByText('Changed — see the earlier words').waitFor();
    }
    // Her correction stands: the scribe can no longer change those words.
    await expect
      .poll(() => contribution(tablet.page, 'the evenings are the worst').getByRole('button', { name: 'More' }).count())
      .toBe(0);
    await grandma.context.close();
    // Back to writing in her own voice.
    await tablet.page.getByRole('combobox', { name: 'Writing for' }).selectOption({ label: 'Me' });

    // ── A different view stands beside what it answers ────────────────────────────────
    await write(maria.page, 'I think a few days on the ward would help Leo rest.');
    const ward = contribution(tablet.page, 'a few days on the ward');
    await ward.waitFor();
    await ward.getByRole('button', { name: 'A different view' }).click();
    await tablet.page
      .getByLabel('Your different view on Maria’s words')
      .fill('I see it differently: Leo could rest at home if we visit every day.');
    await tablet.page.getByRole('button', { name: 'Add to the record' }).click();
    for (const p of pages) {
      const pair = p.getByRole('group', { name: /Different views: Maria and Tuula/ });
      await pair.waitFor();
      await contribution(p, 'Leo could rest at home').getByText('A different view from Maria’s').waitFor();
    }
    // On the tablet: side by side, the same size, neither above the other.
    const a = await contribution(tablet.page, 'a few days on the ward').boundingBox();
    const b = await contribution(tablet.page, 'Leo could rest at home').boundingBox();
    if (!a || !b) throw new Error('no boxes');
    expect(Math.abs(a.y - b.y)).toBeLessThan(1);
    expect(Math.abs(a.width - b.width)).toBeLessThan(1);
    expect(b.x).toBeGreaterThan(a.x + a.width - 1);
    // On a phone: a labelled pair, both at the same width.
    const pa = await contribution(anna.page, 'a few days on the ward').boundingBox();
    const pb = await contribution(anna.page, 'Leo could rest at home').boundingBox();
    expect(Math.abs((pa?.width ?? 0) - (pb?.width ?? 1))).toBeLessThan(1);

    // ── A reflecting conversation, and the network's response ─────────────────────────
    sheet = await more(maria.page);
    await sheet.getByRole('button', { name: 'Start a reflecting conversation' }).click();
    await allSee(pages, 'A reflecting conversation is under way.');
    await allSee(pages, 'Maria started a reflecting conversation.');
    await write(tablet.page, 'I hear how much Anna carries. I wonder what Leo needs tonight.');
    for (const p of pages)
      await contribution(p, 'how much Anna carries').getByText('During a reflecting conversation').waitFor();
    await shot(leo.page, 'room-reflecting-phone');
    // Ending it shows in the record for everyone: asked once, and "Not yet" changes nothing.
    await maria.page.getByRole('button', { name: 'End reflection' }).click();
    await maria.page.getByText('Everyone will see this in the record. Go ahead?').waitFor();
    await maria.page.getByRole('button', { name: 'Not yet' }).click();
    await maria.page.getByRole('button', { name: 'End reflection' }).click();
    await maria.page.getByRole('button', { name: 'Yes', exact: true }).click();
    await allSee(pages, 'The network’s response.');
    await write(leo.page, 'It helps to hear you disagree out loud.');
    for (const p of pages) await contribution(p, 'hear you disagree').getByText('Response to the reflection').waitFor();
    await anna.page.getByRole('button', { name: 'We’ve responded' }).click();
    await anna.page.getByRole('button', { name: 'Yes', exact: true }).click();
    await allSee(pages, /The network has responded \(Anna noted it\)\./);
    for (const p of pages) await p.getByText('The network’s response.').waitFor({ state: 'detached' });

    // ── A proposal, with every person's own position ─────────────────────────────────
    sheet = await more(anna.page);
    await sheet.getByRole('button', { name: 'Put forward a proposal' }).click();
    await anna.page.getByLabel('Your proposal').fill('Leo stays at home this week, and the team visits every day.');
    await anna.page.getByRole('button', { name: 'Put forward the proposal' }).click();
    const proposal = (p: Page) => contribution(p, 'Leo stays at home this week');
    for (const p of pages) {
      await proposal(p).getByText('Not decided yet.').waitFor();
      await proposal(p)
        .getByText(/Not said yet: Maria, Anna, Leo, Tuula, Grandma/)
        .waitFor();
    }
    const give = async (p: Page, stance: string, words: string, forWhom?: string) => {
      const card = proposal(p);
      await card.getByRole('button', { name: /^(Give|Change) my position$/ }).click();
      if (forWhom)
        await card
          .getByRole('combobox', { name: 'Whose position?' })
          .selectOption({ label: `${forWhom} (I write it down for them)` });
      await card.getByRole('radio', { name: stance, exact: true }).check();
      if (words) await card.getByRole('textbox', { name: /own words/ }).fill(words);
      await card.getByRole('button', { name: 'Save the position' }).click();
    };
    await give(maria.page, 'Disagree', 'I am worried about the nights.');
    await give(anna.page, 'Agree', '');
    await give(leo.page, 'Agree', 'I want to stay home.');
    await give(tablet.page, 'Unsure', '');
    await give(tablet.page, 'Agree', 'He is better at home.', 'Grandma');
    for (const p of pages) {
      const card = proposal(p);
      const stands = (who: string, what: RegExp) =>
        card.locator('li', { hasText: new RegExp(`^\\s*${who}:\\s*${what.source}`) }).waitFor();
      await stands('Maria', /Disagree — “I am worried about the nights\.”/);
      await stands('Anna', /Agree\s*$/);
      await stands('Leo', /Agree — “I want to stay home\.”/);
      await stands('Tuula', /Unsure\s*$/);
      await stands('Grandma', /Agree — “He is better at home\.”\s*Written down by Tuula, not yet confirmed\./);
    }
    await proposal(tablet.page).getByRole('button', { name: 'Confirm as Grandma' }).click();
    for (const p of pages) {
      const card = proposal(p);
      await card
        .locator('li', { hasText: 'Grandma:' })
        .getByText('Written down by Tuula, confirmed by Grandma.')
        .waitFor();
      await card.getByText(/Not said yet/).waitFor({ state: 'detached' });
      // Every position is shown; nothing is counted, totalled or turned into a score.
      const text = (await card.locator('.proposal').textContent()) ?? '';
      expect(text).not.toMatch(/\d|%|total|votes?\b|majority/i);
      expect(await card.locator('progress, meter, [role=progressbar], [role=meter]').count()).toBe(0);
    }
    // Leo changes his mind: only he can, and the history is kept.
    await give(leo.page, 'Unsure', 'Maybe one night on the ward is fine.');
    for (const p of pages)
      await proposal(p).locator('li', { hasText: 'Leo:' }).getByText('Changed — see earlier positions').waitFor();
    await shot(anna.page, 'room-proposal-phone');

    // ── Facilitation: every action shows in the record for everyone ───────────────────
    sheet = await more(maria.page);
    await sheet.getByRole('button', { name: 'Close the meeting to new people' }).click();
    await sheet.getByText('The meeting is now closed to new people.').waitFor();
    await sheet.getByRole('button', { name: 'Hand over or share facilitation' }).click();
    await sheet.getByRole('combobox', { name: 'Who?' }).selectOption({ label: 'Tuula' });
    await sheet.getByRole('button', { name: 'Share facilitation' }).click();
    await allSee(pages, 'Maria closed the meeting to new people.');
    await allSee(pages, 'Maria now shares facilitation with Tuula.');
    // Facilitator actions are offered only to facilitators: Tuula now, Anna never.
    sheet = await more(anna.page);
    expect(await sheet.getByText('Facilitation', { exact: true }).count()).toBe(0);
    await sheet.getByRole('button', { name: 'Close' }).click();
    sheet = await more(tablet.page);
    await sheet.getByRole('heading', { name: 'Facilitation' }).waitFor();
    await sheet.getByRole('button', { name: 'Close' }).click();

    // ── Same standing: the psychiatrist, the mother and the person at the centre ───────
    for (const p of [anna.page, tablet.page, maria.page]) {
      const psychiatrist = contribution(p, 'Thank you for having us');
      const mother = contribution(p, 'not slept for four nights');
      const centre = contribution(p, 'too loud in my head');
      const [s1, s2, s3] = await Promise.all([stylesOf(psychiatrist), stylesOf(mother), stylesOf(centre)]);
      expect(s2).toEqual(s1);
      expect(s3).toEqual(s1);
      // Time order only: as they were written.
      const tops = await Promise.all([psychiatrist, mother, centre].map(async (c) => (await c.boundingBox())?.y ?? -1));
      expect(tops[0]).toBeLessThan(tops[1]!);
      expect(tops[1]).toBeLessThan(tops[2]!);
      // No role anywhere: the one component never carries the relation or the facilitator in its classes.
      const classes = await p
        .locator('article.contribution')
        .evaluateAll((els) => [...new Set(els.map((e) => e.className))]);
      expect(classes.length).toBe(1);
    }
    for (const p of pages) await saved(p);
    await shot(tablet.page, 'room-tablet');
    await shot(maria.page, 'room-full-phone');

    // ── Ending, with what was agreed about the next meeting ──────────────────────────
    sheet = await more(maria.page);
    await sheet.getByRole('button', { name: 'End the meeting' }).click();
    await sheet.getByRole('radio', { name: /We will meet again/ }).check();
    await sheet.getByLabel('When?').fill('2026-12-04T10:00');
    await sheet.getByRole('textbox', { name: 'Where?' }).fill("At Anna's home");
    await sheet.getByRole('button', { name: 'End the meeting now' }).click();
    await allSee(pages, 'This meeting has ended.');
    await allSee(pages, 'Maria ended the meeting. The record can still be read.');
    for (const p of pages) {
      await p
        .getByText(/Next meeting agreed — when: Fri 4 December.* 10:00; where: \u2068At Anna's home\u2069\./)
        .first()
        .waitFor();
      await p.locator('#composer-text').waitFor({ state: 'detached' });
    }
    await shot(leo.page, 'room-ended-phone');
  }, 180_000);
});
