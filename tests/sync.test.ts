/**
 * One round trip fewer to synced (issue 11): a device says in its handshake which documents it
 * already holds (`have`); the server sends the whole state of every other one right after
 * `welcome`, in one frame, so a newcomer asks for nothing. A device that holds documents asks for
 * exactly those (sync step 1), as before; and drops its copy of another person's voice where it holds
 * more than the server (what a crash took back).
 */
import { describe, expect, it } from 'vitest';
import { MeetingConnection } from '../client/lib/connection.js';
import { bytesOf, decodeYMessage, yPairs } from '../shared/wire.js';
import type { Admission } from '../shared/protocol.js';
import * as Y from 'yjs';
import { randomEntryId } from '../shared/ids.js';
import { VOICE_LOG, type VoiceEntry } from '../shared/record.js';
import { connect, converged, join, joinAs, openMeeting, sameState, startServer, until, onCleanup } from './helpers.js';
import { craft } from './raw.js';

function counted(server: { url: string }, a: Admission) {
  const c = new MeetingConnection({
    url: server.url,
    meetingId: a.meetingId,
    token: a.personalToken,
    socket: { forceNew: true, transports: ['websocket'] },
  });
  onCleanup(() => c.close());
  const asked: string[] = [];
  const batches: number[] = [];
  c.socket.onAnyOutgoing((event: string, doc: unknown, message: unknown) => {
    if (event !== 'y' || !bytesOf(message)) return;
    if (decodeYMessage(bytesOf(message)!).kind === 'step1') asked.push(String(doc));
  });
  // For each frame that brought any: how many documents' whole state (sync step 2s) it brought.
  c.socket.on('y', (...args: unknown[]) => {
    const step2s = yPairs(args).filter(([, m]) => decodeYMessage(bytesOf(m)!).kind === 'step2').length;
    if (step2s > 0) batches.push(step2s);
  });
  return { c, asked, batches };
}

describe('synced in one round trip', () => {
  it('a newcomer asks for nothing: every document arrives in one frame after welcome', async () => {
    const server = await startServer();
    const opened = await openMeeting(server, 'Maria');
    const fac = await connect(server, opened);
    const people = [fac];
    for (let i = 0; i < 4; i++) people.push(await joinAs(server, opened, `Person ${i}`));
    people.forEach((p, i) => p.say(`words of ${i}`));
    await until(() => converged(people) && people.every((p) => p.saved), 'written and saved');

    const newcomer = counted(server, await join(server, opened, 'Newcomer'));
    await until(() => newcomer.c.synced, 'newcomer synced');
    expect(newcomer.asked, 'no sync step 1 from a device that holds nothing').toEqual([]);
    // One frame with the meeting document and all six voices (five writers and the newcomer's own),
    // the greeting's sync step 1s and awareness states with them.
    expect(newcomer.batches[0]).toBe(7);
    expect(newcomer.batches).toHaveLength(1);
    for (let i = 0; i < 5; i++)
      expect(newcomer.c.log(people[i]!.me!).map((e) => (e.t === 'say' ? e.text : ''))).toEqual([`words of ${i}`]);
    await until(() => converged([...people, newcomer.c]), 'everyone converged');

    // Reconnecting, it holds the others' documents: it asks for each of them; only its own (still
    // empty) voice comes by itself.
    newcomer.asked.length = 0;
    newcomer.batches.length = 0;
    newcomer.c.socket.disconnect();
    newcomer.c.socket.connect();
    await until(() => newcomer.c.synced && newcomer.asked.length >= 6, 'reconnected and synced');
    // (By number, as the server named them: 0 the meeting document, n the voice of person n.)
    const numbers = people.map((p) => newcomer.c.people.get(p.me!)?.n);
    expect(numbers).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(newcomer.asked)).toEqual(new Set(['0', ...numbers.map(String)]));
    expect(newcomer.batches.filter((n) => n > 1)).toEqual([]);
    // Words written meanwhile by others still arrive.
    fac.say('after the reconnection');
    await until(
      () => newcomer.c.log(fac.me!).some((e) => e.t === 'say' && e.text === 'after the reconnection'),
      'live words',
    );
  });
});

describe('a copy of someone else’s voice that holds what the server lost', () => {
  it('is dropped on reconnecting and synced afresh from the server', async () => {
    const server = await startServer();
    const opened = await openMeeting(server, 'Maria');
    const fac = await connect(server, opened);
    const anna = await joinAs(server, opened, 'Anna');
    anna.say('kept');
    await until(() => fac.log(anna.me!).length === 1 && anna.saved, 'Anna’s words everywhere, saved');
    // What a crash can leave on a device: Anna's words that reached it but not the server's disk,
    // written by a Yjs client of Anna's that her device has since given up (it started afresh).
    const copy = fac.voices.get(anna.me!)!;
    const lost = craft(copy, (d) =>
      d.getArray<VoiceEntry>(VOICE_LOG).push([{ t: 'say', id: randomEntryId(), text: 'lost', at: 1 }]),
    );
    Y.applyUpdate(copy, lost.update);
    expect(fac.log(anna.me!)).toHaveLength(2);

    fac.socket.disconnect();
    fac.socket.connect();
    const serverCopy = () => server.app.meetings.peek(opened.meetingId)!.voiceDocs().get(anna.me!)!;
    await until(
      () => fac.status === 'connected' && fac.synced && sameState(fac.voices.get(anna.me!)!, serverCopy()),
      'the copy is the server’s again',
    );
    expect(fac.log(anna.me!).map((e) => (e.t === 'say' ? e.text : ''))).toEqual(['kept']);
    // Live words still arrive in the new copy.
    anna.say('after');
    await until(() => fac.log(anna.me!).length === 2, 'live words');
  });
});

describe('voices that hold nothing', () => {
  it('have no document on the server, sync as empty, and get one with their first words', async () => {
    const server = await startServer();
    const opened = await openMeeting(server, 'Maria');
    const fac = await connect(server, opened);
    const silent = [await joinAs(server, opened, 'Anna'), await joinAs(server, opened, 'Bea')];
    const meeting = () => server.app.meetings.peek(opened.meetingId)!;
    await until(() => [fac, ...silent].every((c) => c.synced && c.voices.size === 3), 'everyone synced');
    expect(meeting().voiceDocs().size).toBe(0);

    // A newcomer is sent every voice's (empty) state in the one frame, and is synced.
    const newcomer = counted(server, await join(server, opened, 'Newcomer'));
    await until(() => newcomer.c.synced, 'newcomer synced');
    expect(newcomer.asked).toEqual([]);
    expect(newcomer.batches).toEqual([5]);
    expect(meeting().voiceDocs().size).toBe(0);

    // A copy of an empty voice holding words the server never had (what a crash took back) is
    // dropped on reconnecting, as for any other voice.
    const bea = silent[1]!;
    const copy = fac.voices.get(bea.me!)!;
    Y.applyUpdate(
      copy,
      craft(copy, (d) =>
        d.getArray<VoiceEntry>(VOICE_LOG).push([{ t: 'say', id: randomEntryId(), text: 'lost', at: 1 }]),
      ).update,
    );
    fac.socket.disconnect();
    fac.socket.connect();
    await until(() => fac.status === 'connected' && fac.synced && fac.log(bea.me!).length === 0, 'the copy dropped');

    // The first words make the document, and reach everyone.
    silent[0]!.say('my first words');
    const everyone = [fac, ...silent, newcomer.c];
    await until(
      () => everyone.every((c) => c.log(silent[0]!.me!).length === 1) && silent[0]!.saved,
      'first words everywhere, saved',
    );
    expect([...meeting().voiceDocs().keys()]).toEqual([silent[0]!.me]);
    await until(() => converged(everyone), 'converged');
  });
});
