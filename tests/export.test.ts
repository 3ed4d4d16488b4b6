/**
 * The exports (server/record/export.ts), read the way another system would read them: over HTTP
 * from a real server, with nothing but the documented JSON (README, "The JSON export").
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { MeetingConnection } from '../client/lib/connection.js';
import type { Admission } from '../shared/protocol.js';
import { api, connect, joinAs, openMeeting, startServer, until, type TestServer } from './helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});

interface Exported {
  items: Array<{ ref: string; pos: number; text: string; answers: string | null; at: number | null }>;
  events: Array<{ id: string; t: string; pos: number; seq: number }>;
}

const bearer = (a: Admission) => ({ authorization: `Bearer ${a.personalToken}` });

async function exportJson(opened: Admission): Promise<Exported> {
  const r = await api<Exported>(
    `${server.url}/api/meetings/${opened.meetingId}/export.json`,
    'GET',
    undefined,
    bearer(opened),
  );
  expect(r.status).toBe(200);
  return r.body;
}

async function exportMd(opened: Admission): Promise<string> {
  const res = await fetch(`${server.url}/api/meetings/${opened.meetingId}/export.md`, { headers: bearer(opened) });
  expect(res.status).toBe(200);
  return res.text();
}

/** Wait until `c` holds `n` items and the server has placed them all. */
async function items(c: MeetingConnection, n: number): Promise<void> {
  await until(
    () => c.record().byRef.size === n && [...c.record().byRef.values()].every((i) => i.seq !== null),
    `${n} items`,
  );
}

describe('the JSON export places events among items', () => {
  it('items and events share one position, in the order they happened, although entries of every kind are counted', async () => {
    const opened = await openMeeting(server, 'Maria');
    const fac = await connect(server, opened);
    const anna = await joinAs(server, opened, 'Anna');
    const proposal = fac.say('Shall we meet on Thursday?', { proposal: true });
    await items(anna, 1);
    // Entries that are not items (positions, amendments) are counted by the server's `seq` too.
    anna.position(`${fac.me!}/${proposal}`, 'agree', 'Yes.');
    anna.position(`${fac.me!}/${proposal}`, 'unsure', 'Maybe not.');
    const first = anna.say('Before the reflection.');
    anna.amend(first, 'Before the reflection, amended.');
    await until(() => fac.order.length === 5, 'five entries placed');
    expect((await fac.request('reflect', { action: 'start' })).ok).toBe(true);
    fac.say('During the reflection.');
    await items(anna, 3);
    expect((await fac.request('reflect', { action: 'end' })).ok).toBe(true);
    anna.say('In response.', { re: `${anna.me!}/${first}` });
    await items(fac, 4);
    expect((await fac.request('response:close', { responded: true })).ok).toBe(true);
    await until(() => fac.events.length === 3, 'three events');

    const body = await exportJson(opened);
    // One sequence, no position twice.
    const all = [
      ...body.items.map((i) => ({ pos: i.pos, what: i.text })),
      ...body.events.map((e) => ({ pos: e.pos, what: e.t })),
    ].sort((a, b) => a.pos - b.pos);
    expect(all.map((x) => x.pos)).toEqual([...all.keys()]);
    expect(all.map((x) => x.what)).toEqual([
      'Shall we meet on Thursday?',
      'Before the reflection, amended.',
      'reflecting-started',
      'During the reflection.',
      'reflecting-ended',
      'In response.',
      'response-closed',
    ]);
    // Items and events are each listed in that order; `seq` still counts every received entry.
    expect(body.items.map((i) => i.pos)).toEqual([...body.items.map((i) => i.pos)].sort((a, b) => a - b));
    expect(body.events.map((e) => [e.t, e.seq])).toEqual([
      ['reflecting-started', 5],
      ['reflecting-ended', 6],
      ['response-closed', 7],
    ]);
    // The screen's timeline is the same sequence.
    const timeline = fac.record().timeline.map((t) => (t.kind === 'item' ? t.item.text : t.event.t));
    expect(timeline).toEqual(all.map((x) => x.what).filter((w) => w !== 'In response.'));
  });
});

describe('the Markdown export', () => {
  it('keeps the outcome note of a proposal left "not decided yet"', async () => {
    const opened = await openMeeting(server, 'Maria');
    const fac = await connect(server, opened);
    const open = fac.say('Shall Anna move back home?', { proposal: true });
    const done = fac.say('Shall we meet on Thursday?', { proposal: true });
    fac.decide(open, 'open', 'We will ask the housing office first.');
    fac.decide(done, 'decided', 'Thursday at ten.');
    await until(() => fac.order.length === 4 && fac.saved, 'placed and saved');
    const md = await exportMd(opened);
    expect(md).toContain('- Not decided yet: We will ask the housing office first.');
    expect(md).toContain('- Decided: Thursday at ten.');
  });
});

describe('the text file and the calendar file are written in the reader’s language', () => {
  it('every label comes from the catalog of ?lang=, dates follow its locale, people’s words are never translated', async () => {
    const opened = await openMeeting(server, 'Maria');
    const fac = await connect(server, opened);
    const anna = await joinAs(server, opened, 'Anna', 'daughter');
    const proposal = fac.say('Shall we meet on Thursday?', { proposal: true });
    await items(anna, 1);
    anna.position(`${fac.me!}/${proposal}`, 'disagree', 'Thursday is hard.');
    anna.say('I want to stay at home.');
    await until(() => fac.order.length === 3 && fac.saved && anna.saved, 'placed and saved');
    expect(
      (await fac.request('meeting:end', { next: { agreed: true, when: '2026-12-10T10:00', where: 'at home' } })).ok,
    ).toBe(true);
    const file = async (path: string, lang?: string) => {
      const res = await fetch(
        `${server.url}/api/meetings/${opened.meetingId}/${path}${lang ? `?lang=${lang}&tz=Europe/Helsinki` : ''}`,
        { headers: bearer(opened) },
      );
      expect(res.status).toBe(200);
      return res.text();
    };
    const { en } = await import('../shared/i18n/en.js');
    const { catalog: fi } = await import('../shared/i18n/fi.js');
    const { catalog: ar } = await import('../shared/i18n/ar.js');
    const english = await file('export.md');
    for (const [lang, t, locale] of [
      ['fi', fi, 'fi-FI'],
      ['ar', ar, 'ar'],
      ['en', en, 'en-GB'],
    ] as const) {
      const md = await file('export.md', lang);
      for (const heading of [t.file.title, t.file.next, t.file.people, t.file.record])
        expect(md, `${lang}: heading`).toContain(heading);
      expect(md).toContain(t.file.stances.disagree);
      expect(md).toContain(t.file.statusEnded);
      // The words stay exactly as written, whatever the language of the file.
      for (const words of ['Shall we meet on Thursday?', 'Thursday is hard.', 'I want to stay at home.'])
        expect(md).toContain(words);
      const opening = new Intl.DateTimeFormat(locale, {
        dateStyle: 'medium',
        timeStyle: 'short',
        timeZone: 'Europe/Helsinki',
      }).format(fac.state.openedAt!);
      expect(md, `${lang}: dates in the locale`).toContain(opening);
      if (lang !== 'en') {
        expect(md).not.toContain(en.file.people);
        expect(md).not.toContain(en.file.intro);
      }
      const ics = await file('next.ics', lang);
      expect(ics).toContain(`SUMMARY:${t.file.calendarTitle}`);
    }
    // Without ?lang=, English: the file a script downloads stays as it was.
    expect(english).toContain(`# ${en.file.title}`);
  });
});
