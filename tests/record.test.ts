/**
 * Issue 4: the record afterwards — access with real tokens, exports checked field by field,
 * replay at several points, the network's series, the access log, and erasure checked on disk.
 */
import { describe, expect, it } from 'vitest';
import { randomId } from '../shared/ids.js';
import type { Admission, ErasureResult, MyMeeting, NextMeetingOpened, Revoked } from '../shared/protocol.js';
import { buildRecord, stepAt } from '../shared/record.js';
import { MeetingConnection } from '../client/lib/connection.js';
import { api, bearer, everything, connect, join, openMeeting, startServer, until } from './helpers.js';

async function endedMeeting() {
  const server = await startServer();
  const opened = await openMeeting(server, 'Maria');
  const fac = await connect(server, opened);
  const annaAdm = await join(server, opened, 'Anna <b>bold</b>', 'about me', true);
  const anna = await connect(server, annaAdm);
  const dadAdm = await join(server, opened, 'Dad');
  const dad = await connect(server, dadAdm);
  fac.say('Welcome. There is no agenda today.');
  await until(() => anna.record().items.length === 1, 'first');
  anna.say('I have not slept for three nights. <script>alert(1)</script>');
  await until(() => fac.record().items.length === 2, 'second');
  const annaItem = fac.record().items[1]!;
  dad.say('I see it differently: she slept on Sunday.', { re: annaItem.ref, view: 'different' });
  await until(() => anna.record().byRef.size === 3, 'third');
  const dadItem = [...anna.record().byRef.values()].find((i) => i.view === 'different')!;
  anna.amend(annaItem.ref.split('/')[1]!, 'I have barely slept for three nights.');
  await fac.request('reflect', { action: 'start' });
  fac.say('I notice how tired everyone is.');
  await until(() => anna.record().byRef.size === 4, 'fourth');
  await fac.request('reflect', { action: 'end' });
  anna.say('It helps to hear that.');
  await until(() => fac.record().byRef.size === 5, 'fifth');
  await fac.request('response:close', { responded: true });
  fac.say('Shall we meet again on Thursday?', { proposal: true });
  await until(
    () => [anna, dad].every((c) => [...c.record().byRef.values()].some((i) => i.kind === 'proposal')),
    'proposal',
  );
  const proposal = [...anna.record().byRef.values()].find((i) => i.kind === 'proposal')!;
  anna.position(proposal.ref, 'agree', 'Yes, at home.');
  dad.position(proposal.ref, 'disagree', 'Thursday is hard for me.');
  await until(() => fac.record().byRef.get(proposal.ref)?.positions.length === 2, 'positions');
  await until(() => fac.saved && anna.saved && dad.saved, 'saved');
  const end = await fac.request('meeting:end', {
    next: { agreed: true, when: '2026-12-03T10:00', where: 'at home', who: 'everyone', arranger: '' },
  });
  expect(end.ok).toBe(true);
  await until(() => anna.state.status === 'ended', 'ended');
  return { server, opened, fac, anna, dad, annaAdm, dadAdm, annaItem, dadItem, proposal };
}

describe('who can read a record', () => {
  it('a stranger, a revoked link, a join link alone and a guessed id all fail the same way', async () => {
    const { server, opened, annaAdm } = await endedMeeting();
    const other = await openMeeting(server, 'Someone else');
    const paths = ['export.json', 'export.md', 'access', 'next.ics'];
    const outcomes: string[] = [];
    const attempt = async (meetingId: string, headers: Record<string, string>) => {
      for (const p of paths) {
        const r = await api<unknown>(`${server.url}/api/meetings/${meetingId}/${p}`, 'GET', undefined, headers);
        outcomes.push(`${r.status} ${JSON.stringify(r.body)}`);
      }
    };
    await attempt(opened.meetingId, bearer(other)); // a participant of another meeting
    await attempt(opened.meetingId, { authorization: `Bearer ${opened.joinToken}` }); // the join link alone
    await attempt(randomId(), bearer(annaAdm)); // a guessed id
    await attempt(opened.meetingId, {}); // nobody
    // A revoked personal link.
    const revoked = await api<Revoked>(`${server.url}/api/me/revoke`, 'POST', {}, bearer(annaAdm));
    expect(revoked.status).toBe(200);
    await attempt(opened.meetingId, bearer(annaAdm));
    expect(new Set(outcomes).size).toBe(1);
    expect(outcomes[0]).toMatch(/^404 .*no-access/);
    // The new link works.
    const ok = await api(
      `${server.url}/api/meetings/${opened.meetingId}/export.json`,
      'GET',
      undefined,
      bearer(revoked.body),
    );
    expect(ok.status).toBe(200);
    // And over Socket.IO the old one is refused with the same code as a stranger.
    const old = new MeetingConnection({
      url: server.url,
      meetingId: opened.meetingId,
      token: annaAdm.personalToken,
      socket: { forceNew: true, transports: ['websocket'] },
    });
    await until(() => old.status === 'refused', 'refused');
    expect(old.connectError?.code).toBe('no-access');
    old.close();
  });
});

describe('exports', () => {
  it('JSON holds every voice, amendments, different views, reflections, decisions, events and the next meeting', async () => {
    const { server, opened, anna, dad, annaAdm, annaItem, dadItem, proposal } = await endedMeeting();
    const r = await api<{
      format: string;
      version: number;
      people: Array<{ id: string; name: string; aboutMe: boolean }>;
      items: Array<Record<string, unknown>>;
      events: Array<{ t: string }>;
      nextMeeting: unknown;
      meeting: { status: string };
    }>(`${server.url}/api/meetings/${opened.meetingId}/export.json`, 'GET', undefined, bearer(annaAdm));
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    const x = r.body;
    expect(x.format).toBe('polyphony-record');
    expect(x.version).toBe(1);
    expect(x.meeting.status).toBe('ended');
    expect(x.people.map((p) => p.name).sort()).toEqual(['Anna <b>bold</b>', 'Dad', 'Maria']);
    expect(x.people.find((p) => p.id === anna.me)?.aboutMe).toBe(true);
    expect(x.items.map((i) => i.text)).toEqual([
      'Welcome. There is no agenda today.',
      'I have barely slept for three nights.',
      'I see it differently: she slept on Sunday.',
      'I notice how tired everyone is.',
      'It helps to hear that.',
      'Shall we meet again on Thursday?',
    ]);
    const a = x.items.find((i) => i.ref === annaItem.ref)!;
    expect(a.speaker).toBe(anna.me);
    expect(a.writtenBy).toBe(anna.me);
    expect((a.versions as Array<{ text: string }>).map((v) => v.text)).toEqual([
      'I have not slept for three nights. <script>alert(1)</script>',
      'I have barely slept for three nights.',
    ]);
    const d = x.items.find((i) => i.ref === dadItem.ref)!;
    expect(d).toMatchObject({ speaker: dad.me, answers: annaItem.ref, view: 'different' });
    expect(x.items[3]!.segment).toMatchObject({ kind: 'reflecting' });
    expect(x.items[4]!.segment).toMatchObject({ kind: 'response' });
    const p = x.items.find((i) => i.ref === proposal.ref)!;
    expect(p.kind).toBe('proposal');
    expect(p.decision).toBeNull();
    expect(
      (p.positions as Array<{ person: string; stance: string; text: string }>).map((q) => [q.person, q.stance, q.text]),
    ).toEqual([
      [anna.me, 'agree', 'Yes, at home.'],
      [dad.me, 'disagree', 'Thursday is hard for me.'],
    ]);
    expect(x.events.map((e) => e.t)).toEqual([
      'about',
      'reflecting-started',
      'reflecting-ended',
      'response-closed',
      'ended',
    ]);
    expect(x.nextMeeting).toEqual({
      agreed: true,
      when: '2026-12-03T10:00',
      where: 'at home',
      who: 'everyone',
      arranger: '',
    });
  });

  it('Markdown marks whose words are whose and renders every payload as text', async () => {
    const { server, opened, annaAdm } = await endedMeeting();
    const r = await fetch(`${server.url}/api/meetings/${opened.meetingId}/export.md`, { headers: bearer(annaAdm) });
    const md = await r.text();
    expect(r.headers.get('content-type')).toMatch(/text\/markdown/);
    expect(md).not.toContain('<script>');
    expect(md).not.toContain('<b>');
    expect(md).toContain('&lt;script&gt;');
    expect(md).toContain('**Maria (psychologist)**');
    expect(md).toContain('A different view from **Dad**');
    expect(md).toContain('Earlier words:');
    expect(md).toContain('Dad disagrees: "Thursday is hard for me."');
    expect(md).toContain('[during a reflecting conversation]');
    expect(md).toContain('Not decided yet');
    expect(md).toContain('Agreed: 2026-12-03 10:00, at home.');
  });

  it('the next meeting downloads as a calendar file with no health details', async () => {
    const { server, opened, annaAdm } = await endedMeeting();
    const r = await fetch(`${server.url}/api/meetings/${opened.meetingId}/next.ics`, { headers: bearer(annaAdm) });
    expect(r.status).toBe(200);
    const ics = await r.text();
    expect(ics).toContain('BEGIN:VEVENT');
    expect(ics).toContain('SUMMARY:Network meeting');
    expect(ics).toContain('DTSTART:20261203T100000');
    expect(ics).not.toMatch(/slept|Anna/);
  });
});

describe('replay', () => {
  it('shows the record as it stood at each point, in the order the server received it', async () => {
    const { anna } = await endedMeeting();
    const logs = new Map([...anna.voices].map(([id]) => [id, anna.log(id)]));
    const meeting = { order: anna.order, events: anna.events };
    const at = (k: number) => buildRecord(meeting, logs, { upTo: k });
    expect(at(0).byRef.size).toBe(0);
    expect(at(1).items.map((i) => i.text)).toEqual(['Welcome. There is no agenda today.']);
    // Anna's first words, before she amended them.
    expect(at(2).items[1]?.text).toBe('I have not slept for three nights. <script>alert(1)</script>');
    expect(at(4).items[1]?.text).toBe('I have barely slept for three nights.');
    expect(at(4).items[1]?.answers.map((a) => a.view)).toEqual(['different']);
    const full = at(anna.order.length);
    expect(full.timeline.at(-1)).toMatchObject({ kind: 'event', event: { t: 'ended' } });
    expect(full.items.find((i) => i.kind === 'proposal')?.positions.length).toBe(2);
    // Server time maps to a step.
    expect(stepAt(meeting, anna.order[2]!.at)).toBeGreaterThanOrEqual(3);
    expect(stepAt(meeting, 0)).toBe(0);
  });
});

describe("a network's meetings", () => {
  it('the next meeting keeps its people: they reach it from their personal links without joining afresh', async () => {
    const server = await startServer();
    const opened = await openMeeting(server, 'Maria');
    const annaAdm = await join(server, opened, 'Anna', '', true);
    const fac = await connect(server, opened);
    await fac.request('meeting:end', {
      next: { agreed: false, when: '', where: '', who: '', arranger: 'Maria will call' },
    });
    const next = await api<NextMeetingOpened>(
      `${server.url}/api/meetings/${opened.meetingId}/next`,
      'POST',
      {},
      bearer(opened),
    );
    expect(next.status).toBe(201);
    const denied = await api(`${server.url}/api/meetings/${opened.meetingId}/next`, 'POST', {}, bearer(annaAdm));
    expect(denied.status).toBe(403);
    const mine = await api<{ meetings: MyMeeting[] }>(`${server.url}/api/me`, 'GET', undefined, bearer(annaAdm));
    expect(mine.body.meetings.map((m) => m.meetingId)).toEqual([next.body.meetingId, opened.meetingId]);
    const anna2 = await connect(server, { ...annaAdm, meetingId: next.body.meetingId });
    await until(() => anna2.state.previous === opened.meetingId, 'previous link');
    expect([...anna2.people.values()].map((p) => p.name).sort()).toEqual(['Anna', 'Maria']);
    expect(anna2.state.network?.firstMeetingAt).toBeLessThanOrEqual(anna2.state.openedAt!);
    await until(() => fac.state.next === next.body.meetingId, 'next link on the first meeting');
  });
});

describe('access log', () => {
  it('shows who opened, exported and changed access to the record, and when', async () => {
    const { server, opened, annaAdm, dadAdm } = await endedMeeting();
    await fetch(`${server.url}/api/meetings/${opened.meetingId}/export.md`, { headers: bearer(dadAdm) });
    const later = await connect(server, dadAdm); // opening the record after the meeting
    await until(() => later.status === 'connected', 'connected');
    await api(`${server.url}/api/me/revoke`, 'POST', {}, bearer(annaAdm));
    const r = await api<{ log: Array<{ participantId: string; action: string; at: number }> }>(
      `${server.url}/api/meetings/${opened.meetingId}/access`,
      'GET',
      undefined,
      bearer(opened),
    );
    const actions = r.body.log.map(
      (e) =>
        `${e.participantId === annaAdm.participantId ? 'anna' : e.participantId === dadAdm.participantId ? 'dad' : '?'}:${e.action}`,
    );
    expect(actions).toEqual(
      expect.arrayContaining(['dad:exported-markdown', 'dad:opened-record', 'anna:revoked-link']),
    );
    expect(r.body.log.every((e) => typeof e.at === 'number')).toBe(true);
  });
});

describe('erasure', () => {
  it('with consent, a participant erases their own words: gone from the data directory, others intact', async () => {
    const { server, opened, dadAdm } = await endedMeeting();
    const before = await everything(server.dataDir);
    expect(before).toContain('Thursday is hard for me.');
    const r = await api<ErasureResult>(
      `${server.url}/api/meetings/${opened.meetingId}/erasure`,
      'POST',
      { scope: 'mine' },
      bearer(dadAdm),
    );
    expect(r.body).toEqual({ erased: true });
    const after = await everything(server.dataDir);
    expect(after).not.toContain('Thursday is hard for me.');
    expect(after).not.toContain('she slept on Sunday');
    expect(after).not.toContain('"Dad"');
    expect(after).toContain('I have barely slept for three nights.');
    // After a restart too.
    await server.stop();
    const again = await startServer({ dataDir: server.dataDir });
    const x = await api<{ items: Array<{ text: string }>; people: Array<{ name: string }> }>(
      `${again.url}/api/meetings/${opened.meetingId}/export.json`,
      'GET',
      undefined,
      bearer(opened),
    );
    expect(x.body.items.map((i) => i.text)).not.toContain('I see it differently: she slept on Sunday.');
    expect(x.body.items.map((i) => i.text)).toContain('Welcome. There is no agenda today.');
    const log = await api<{ log: Array<{ action: string }> }>(
      `${again.url}/api/meetings/${opened.meetingId}/access`,
      'GET',
      undefined,
      bearer(opened),
    );
    expect(log.body.log.map((e) => e.action)).toEqual(
      expect.arrayContaining(['erasure-requested', 'erased-own-words']),
    );
  });

  it('[S16] with consent, the person at the centre asks to erase the whole record; it goes once everyone else has erased their own words', async () => {
    const { server, opened, annaAdm, dadAdm } = await endedMeeting();
    const erasure = (who: Admission, scope: 'mine' | 'record') =>
      api<ErasureResult>(`${server.url}/api/meetings/${opened.meetingId}/erasure`, 'POST', { scope }, bearer(who));
    const notThem = await erasure(dadAdm, 'record');
    expect(notThem.status).toBe(403);
    expect(notThem.body).toEqual({ error: 'not-about-you' });
    const r = await erasure(annaAdm, 'record');
    // Anna's own words go at once; nobody else's words are removed without them.
    expect(r.body).toEqual({
      erased: false,
      waitingFor: expect.arrayContaining([opened.participantId, dadAdm.participantId]),
    });
    expect(r.body.waitingFor).toHaveLength(2);
    const pending = await api<{ items: Array<{ text: string }> }>(
      `${server.url}/api/meetings/${opened.meetingId}/export.json`,
      'GET',
      undefined,
      bearer(dadAdm),
    );
    const texts = pending.body.items.map((i) => i.text);
    expect(texts).toContain('Welcome. There is no agenda today.');
    expect(texts).not.toContain('I have barely slept for three nights.');
    expect(await erasure(dadAdm, 'mine')).toMatchObject({ body: { erased: true, waitingFor: [opened.participantId] } });
    expect((await erasure(opened, 'mine')).body).toEqual({ erased: true });
    const after = await everything(server.dataDir);
    for (const words of ['no agenda today', 'three nights', 'Thursday', 'tired everyone', 'Anna', 'Dad']) {
      expect(after).not.toContain(words);
    }
    const gone = await api(
      `${server.url}/api/meetings/${opened.meetingId}/export.json`,
      'GET',
      undefined,
      bearer(annaAdm),
    );
    expect(gone.status).toBe(404);
  });

  it('with a care record, the request and the reason for keeping it are recorded; nothing is erased', async () => {
    const server = await startServer({
      config: { recordBasis: 'care-record', keepReason: 'Kept under the health records act.' },
    });
    const opened = await openMeeting(server);
    const annaAdm = await join(server, opened, 'Anna', '', true);
    const anna = await connect(server, annaAdm);
    anna.say('Please keep this private.');
    await until(() => anna.saved && anna.record().items.length === 1, 'saved');
    const r = await api<ErasureResult>(
      `${server.url}/api/meetings/${opened.meetingId}/erasure`,
      'POST',
      { scope: 'record' },
      bearer(annaAdm),
    );
    expect(r.body).toEqual({ erased: false, reason: 'Kept under the health records act.' });
    expect(await everything(server.dataDir)).toContain('Please keep this private.');
    const log = await api<{ log: Array<{ action: string }> }>(
      `${server.url}/api/meetings/${opened.meetingId}/access`,
      'GET',
      undefined,
      bearer(annaAdm),
    );
    expect(log.body.log.map((e) => e.action)).toEqual(['erasure-requested', 'erasure-refused']);
  });
});

describe('a shared device holding several people', () => {
  it('revokes or forgets only the person asked for, and says which kind of record this is', async () => {
    const server = await startServer({ config: { recordBasis: 'care-record', keepReason: 'Kept by law.' } });
    const opened = await openMeeting(server, 'Maria');
    // One browser (one cookie) holds two people: the tablet on the coffee table.
    const first = await fetch(`${server.url}/api/meetings/${opened.meetingId}/join`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ joinToken: opened.joinToken, name: 'Anna' }),
    });
    const cookie = first.headers.get('set-cookie')!.split(';')[0]!;
    const anna = (await first.json()) as Admission;
    const dad = await api<Admission>(
      `${server.url}/api/meetings/${opened.meetingId}/join`,
      'POST',
      { joinToken: opened.joinToken, name: 'Dad' },
      { cookie },
    );
    const both = await api<{ meetings: MyMeeting[] }>(`${server.url}/api/me`, 'GET', undefined, { cookie });
    expect(both.body.meetings.map((m) => m.participantId).sort()).toEqual(
      [anna.participantId, dad.body.participantId].sort(),
    );

    const unclear = await api(`${server.url}/api/me/revoke`, 'POST', {}, { cookie });
    expect(unclear.status).toBe(400);
    const revoked = await api<Revoked>(
      `${server.url}/api/me/revoke`,
      'POST',
      { participantId: dad.body.participantId },
      { cookie },
    );
    expect(revoked.status).toBe(200);
    // Anna's link still works; Dad's old one does not; his new one does.
    expect(
      (await api(`${server.url}/api/meetings/${opened.meetingId}/access`, 'GET', undefined, bearer(anna))).status,
    ).toBe(200);
    expect(
      (await api(`${server.url}/api/meetings/${opened.meetingId}/access`, 'GET', undefined, bearer(dad.body))).status,
    ).toBe(404);
    expect(
      (await api(`${server.url}/api/meetings/${opened.meetingId}/access`, 'GET', undefined, bearer(revoked.body)))
        .status,
    ).toBe(200);

    // Forget Anna on this device: her meeting leaves this browser, her link still works.
    expect(
      (await api(`${server.url}/api/me/forget`, 'POST', { participantId: anna.participantId }, { cookie })).status,
    ).toBe(200);
    const left = await api<{ meetings: MyMeeting[] }>(`${server.url}/api/me`, 'GET', undefined, { cookie });
    expect(left.body.meetings.map((m) => m.participantId)).toEqual([dad.body.participantId]);
    expect(
      (await api(`${server.url}/api/meetings/${opened.meetingId}/access`, 'GET', undefined, bearer(anna))).status,
    ).toBe(200);

    const service = await api<{ recordBasis: string; keepReason: string }>(`${server.url}/api/service`, 'GET');
    expect(service.body).toMatchObject({ recordBasis: 'care-record', keepReason: 'Kept by law.' });
  });
});

describe('erasure reaches words written down for the person', () => {
  it("deletes a scribe's entries for them, everywhere and on disk; the scribe's device carries on", async () => {
    const server = await startServer();
    const opened = await openMeeting(server, 'Maria');
    const scribe = await connect(server, opened);
    const dadAdm = await join(server, opened, 'Dad');
    const dad = await connect(server, dadAdm);
    const other = await connect(server, await join(server, opened, 'Sister'));
    const id = scribe.say('Dad says the nights are the hardest part.', { forPerson: dad.me! });
    scribe.amend(id, 'Dad says the nights are the very hardest part.');
    scribe.say('My own words stay.');
    await until(() => other.record().byRef.size === 2 && scribe.saved, 'written');
    const r = await api<ErasureResult>(
      `${server.url}/api/meetings/${opened.meetingId}/erasure`,
      'POST',
      { scope: 'mine' },
      bearer(dadAdm),
    );
    expect(r.body).toEqual({ erased: true });
    await until(() => other.record().byRef.size === 1 && scribe.record().byRef.size === 1, 'gone from every screen');
    expect(other.record().items.map((i) => i.text)).toEqual(['My own words stay.']);
    const disk = await everything(server.dataDir);
    expect(disk).not.toContain('nights are the');
    expect(disk).toContain('My own words stay.');
    // The scribe's device reconnects (its sync carries the erasure it now knows) and keeps writing.
    scribe.socket.disconnect();
    scribe.socket.connect();
    await until(() => scribe.status === 'connected', 'reconnected');
    scribe.say('Still here.');
    await until(() => other.record().items.some((i) => i.text === 'Still here.') && scribe.saved, 'carries on');
    expect(scribe.refusals).toEqual([]);
  });
});
