/**
 * Issue 3: every voice with the same standing — scribes, different views, reflecting
 * conversations, decisions together, facilitation without power over words. Real server, real
 * clients; the rules quoted are SPEC.md's.
 */
import { describe, expect, it } from 'vitest';
import { MeetingConnection } from '../client/lib/connection.js';
import { notYetStated, type ItemView } from '../shared/record.js';
import { api, connect, converged, join, joinAs, openMeeting, startServer, until } from './helpers.js';

const find = (c: MeetingConnection, text: string): ItemView | undefined =>
  [...c.record().byRef.values()].find((i) => i.text === text || i.versions.some((v) => v.text === text));

describe('[S11] speaking through someone else', () => {
  it('a scribe writes for a person without a device; the words are theirs, unconfirmed until they confirm', async () => {
    const server = await startServer();
    const opened = await openMeeting(server, 'Maria');
    const scribe = await connect(server, opened);
    const mum = await joinAs(server, opened, 'Liisa', 'Mum');

    const added = await scribe.request('person:add', { name: 'Grandma', relation: 'grandmother' });
    expect(added.ok).toBe(true);
    if (!added.ok) return;
    const { participantId: grandma, personalToken } = added as unknown as {
      participantId: string;
      personalToken: string;
    };

    scribe.say('I worry about the nights.', { forPerson: grandma });
    await until(() => find(mum, 'I worry about the nights.') !== undefined, 'scribed words reach others');
    const seen = find(mum, 'I worry about the nights.')!;
    expect(seen.speaker).toBe(grandma);
    expect(seen.voice).toBe(opened.participantId);
    expect(seen.scribed?.status).toBe('unconfirmed');
    await until(() => mum.people.has(grandma), 'grandma listed');
    expect(mum.people.get(grandma)?.addedBy).toBe(opened.participantId);

    // Grandma confirms, as on the shared device: her own connection, her own document.
    const asGrandma = await connect(server, { ...opened, participantId: grandma, personalToken });
    await until(() => find(asGrandma, 'I worry about the nights.') !== undefined, 'grandma sees it');
    asGrandma.confirm(seen.ref);
    await until(() => find(mum, 'I worry about the nights.')?.scribed?.status === 'confirmed', 'confirmed everywhere');

    // Once confirmed, the scribe can no longer change her words.
    scribe.amend(seen.ref.split('/')[1]!, 'Changed by the scribe');
    scribe.say('a marker after the amend');
    await until(() => find(mum, 'a marker after the amend') !== undefined, 'marker');
    await until(() => converged([scribe, mum, asGrandma]), 'converged');
    expect(find(mum, 'I worry about the nights.')?.text).toBe('I worry about the nights.');
  });

  it("the speaker's correction stands", async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const scribe = await connect(server, opened);
    const anna = await joinAs(server, opened, 'Anna', 'it is about me');
    scribe.say('Anna says she sleeps fine.', { forPerson: anna.me! });
    await until(() => find(anna, 'Anna says she sleeps fine.') !== undefined, 'arrives');
    const item = find(anna, 'Anna says she sleeps fine.')!;
    anna.correct(item.ref, 'I do not sleep well at all.');
    await until(() => find(scribe, 'Anna says she sleeps fine.')?.scribed?.status === 'corrected', 'corrected');
    const after = find(scribe, 'Anna says she sleeps fine.')!;
    expect(after.text).toBe('I do not sleep well at all.');
    expect(after.versions.map((v) => v.by)).toEqual([opened.participantId, anna.me]);
  });
});

describe('disagreement is kept', () => {
  it('a different view stands beside what it answers', async () => {
    const server = await startServer();
    const opened = await openMeeting(server, 'Dr Virtanen');
    const doctor = await connect(server, opened);
    const nurse = await joinAs(server, opened, 'Jussi', 'nurse');
    doctor.say('I think medication would help now.');
    await until(() => find(nurse, 'I think medication would help now.') !== undefined, 'arrives');
    const target = find(nurse, 'I think medication would help now.')!;
    nurse.say('I see it differently: let us wait a week.', { re: target.ref, view: 'different' });
    await until(() => find(doctor, 'I think medication would help now.')?.answers.length === 1, 'answer attached');
    const [answer] = find(doctor, 'I think medication would help now.')!.answers;
    expect(answer?.view).toBe('different');
    expect(answer?.text).toBe('I see it differently: let us wait a week.');
  });
});

describe('[S13] reflecting conversations', () => {
  it('marks contributions during a reflection and links the response to it', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const a = await connect(server, opened);
    const b = await joinAs(server, opened, 'Sister');
    a.say('before');
    await until(() => find(b, 'before')?.seq !== null && find(b, 'before') !== undefined, 'before');
    expect((await b.request('reflect', { action: 'start' })).ok).toBe(true);
    await until(() => a.state.phase === 'reflecting', 'phase');
    expect((await a.request('reflect', { action: 'start' })).ok).toBe(false);
    a.say('during');
    await until(() => find(b, 'during')?.seq != null, 'during');
    expect((await a.request('reflect', { action: 'end' })).ok).toBe(true);
    await until(() => b.state.phase === 'response', 'response phase');
    b.say('our response');
    await until(() => find(a, 'our response')?.seq != null, 'response');
    expect((await b.request('response:close', { responded: true })).ok).toBe(true);
    a.say('after');
    await until(() => find(b, 'after')?.seq != null && b.state.phase === 'open', 'after');

    const rec = b.record();
    const start = b.events.find((e) => e.t === 'reflecting-started')!;
    expect(find(b, 'before')?.segment).toBeNull();
    expect(find(b, 'during')?.segment).toEqual({ kind: 'reflecting', reflection: start.id });
    expect(find(b, 'our response')?.segment).toEqual({ kind: 'response', reflection: start.id });
    expect(find(b, 'after')?.segment).toBeNull();
    const kinds = rec.timeline.map((t) => (t.kind === 'event' ? t.event.t : t.item.text));
    expect(kinds).toEqual([
      'before',
      'reflecting-started',
      'during',
      'reflecting-ended',
      'our response',
      'response-closed',
      'after',
    ]);
  });

  it('records that the network chose not to respond', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const a = await connect(server, opened);
    await a.request('reflect', { action: 'start' });
    await a.request('reflect', { action: 'end' });
    expect((await a.request('response:close', { responded: false })).ok).toBe(true);
    await until(() => a.events.some((e) => e.t === 'response-closed'), 'event');
    expect(a.events.find((e) => e.t === 'response-closed')).toMatchObject({
      responded: false,
      by: opened.participantId,
    });
  });
});

describe('[S12] decisions made together', () => {
  it('shows every position, dissent included, and who has not yet said', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const fac = await connect(server, opened);
    const anna = await joinAs(server, opened, 'Anna', 'about me');
    const dad = await joinAs(server, opened, 'Dad');
    const gid = ((await fac.request('person:add', { name: 'Grandma' })) as unknown as { participantId: string })
      .participantId;

    anna.say('Meet again on Thursday at home.', { proposal: true });
    await until(
      () =>
        find(fac, 'Meet again on Thursday at home.') !== undefined &&
        find(dad, 'Meet again on Thursday at home.') !== undefined,
      'proposal',
    );
    const ref = find(fac, 'Meet again on Thursday at home.')!.ref;
    anna.position(ref, 'agree');
    dad.position(ref, 'disagree', 'Thursday I work late.');
    fac.position(ref, 'unsure', '', gid); // written for Grandma by the scribe
    await until(() => find(anna, 'Meet again on Thursday at home.')?.positions.length === 3, 'three positions');
    let p = find(anna, 'Meet again on Thursday at home.')!;
    expect(p.kind).toBe('proposal');
    expect(p.decision).toBeNull();
    expect(Object.fromEntries(p.positions.map((x) => [x.person, [x.stance, x.confirmed]]))).toEqual({
      [anna.me!]: ['agree', true],
      [dad.me!]: ['disagree', true],
      [gid]: ['unsure', false],
    });
    expect(notYetStated(p, new Map(anna.people.entries()))).toEqual([opened.participantId]);

    dad.position(ref, 'agree', 'I can change my shift.');
    await until(
      () =>
        find(anna, 'Meet again on Thursday at home.')?.positions.find((x) => x.person === dad.me)?.stance === 'agree',
      'changed',
    );
    p = find(anna, 'Meet again on Thursday at home.')!;
    expect(p.positions.find((x) => x.person === dad.me)?.history.map((h) => h.stance)).toEqual(['disagree', 'agree']);
  });
});

describe('[S14] facilitation without power over words', () => {
  it('only facilitators lock, hand over, remove and end; each action is in the record; words stay', async () => {
    const server = await startServer();
    const opened = await openMeeting(server, 'Maria');
    const fac = await connect(server, opened);
    const other = await joinAs(server, opened, 'Jussi', 'nurse');
    const intruder = await joinAs(server, opened, 'Not invited');
    intruder.say('I should not be here.');
    await until(() => find(fac, 'I should not be here.') !== undefined, 'arrives');

    const denied = await other.request('meeting:lock', { locked: true });
    expect(denied).toMatchObject({ ok: false, error: 'not-facilitator' });
    expect((await fac.request('meeting:lock', { locked: true })).ok).toBe(true);
    const refused = await api(`${server.url}/api/meetings/${opened.meetingId}/join`, 'POST', {
      joinToken: opened.joinToken,
      name: 'Late',
    });
    expect(refused.status).toBe(409);

    expect((await fac.request('participant:remove', { who: intruder.me! })).ok).toBe(true);
    await until(() => intruder.status !== 'connected', 'intruder disconnected');
    await until(() => fac.people.get(intruder.me!)?.removed === true, 'marked removed');
    expect(find(fac, 'I should not be here.')?.text).toBe('I should not be here.');

    expect((await fac.request('facilitation', { to: other.me!, mode: 'share' })).ok).toBe(true);
    await until(() => other.state.facilitators?.includes(other.me!) === true, 'shared');
    expect(
      (
        await other.request('meeting:end', {
          next: { agreed: true, when: '2026-12-03T10:00', where: 'at home', who: 'everyone', arranger: '' },
        })
      ).ok,
    ).toBe(true);
    await until(() => fac.state.status === 'ended', 'ended');

    const types = fac.events.map((e) => e.t);
    expect(types).toEqual(['locked', 'removed', 'facilitation', 'ended']);
    // An ended meeting is read-only (SPEC 8).
    const before = fac.record().items.length;
    fac.say('too late');
    await until(() => fac.refusals.some((r) => r.code === 'meeting-ended'), 'refused');
    expect(other.record().items.length).toBe(before);
  });
});

describe('[S1][S14] a facilitator cannot change another person’s words', () => {
  it('has no request that touches a voice document', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const fac = await connect(server, opened);
    const anna = await join(server, opened, 'Anna');
    const annaConn = await connect(server, anna);
    annaConn.say('My words.');
    await until(() => find(fac, 'My words.') !== undefined && annaConn.saved, 'arrives');
    await until(() => converged([fac, annaConn]), 'converged');
    expect(fac.record().items.map((i) => i.text)).toEqual(['My words.']);
  });
});
