/**
 * A refused update does not poison a device's voice (issue 8, #9): the device learns which of its
 * changes was refused and gives those words back (a draft), starts again from the server's state
 * with a new Yjs client id, and sends everything else again. Nothing written afterwards is lost.
 * Real clients: the page's own MeetingConnection.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { randomEntryId } from '../shared/ids.js';
import { LIMITS } from '../shared/limits.js';
import { Refusal } from '../shared/protocol.js';
import { VOICE_LOG } from '../shared/record.js';
import { connect, converged, joinAs, openMeeting, startServer, until, type TestServer } from './helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});

const texts = (c: { record(): { byRef: Map<string, { text: string }> } }) =>
  [...c.record().byRef.values()].map((i) => i.text);

describe('[S4] a refused change is given back, and the device carries on', () => {
  it('[S4][S5] after a refusal every later entry reaches the server and everyone; the refused words come back', async () => {
    const opened = await openMeeting(server, 'Opener');
    const a = await connect(server, opened);
    const b = await joinAs(server, opened, 'Ben');
    const given: string[][] = [];
    a.onRefusedWords((t) => given.push(t));
    a.say('Before anything went wrong.');
    await until(() => texts(b).includes('Before anything went wrong.'), 'first words arrive');
    const clientBefore = a.voices.get(a.me!)!.clientID;
    // Whenever the device says "saved", every word it holds to send is on the server: a reset
    // under way (the old words waiting to be sent again) is never "saved".
    const onServerNow = () =>
      new Set(
        server.app.meetings
          .peek(opened.meetingId)!
          .voiceDocs()
          .get(a.me!)!
          .getArray<{ text?: string }>(VOICE_LOG)
          .toArray()
          .map((e) => e.text),
      );
    const savedTooEarly: string[] = [];
    const written: string[] = ['Before anything went wrong.'];
    a.subscribe(() => {
      if (!a.saved) return;
      const there = onServerNow();
      for (const t of written) if (!there.has(t)) savedTooEarly.push(t);
    });

    // Over the size limit, written straight into the local document (the page would not let it through).
    const tooLong = 'x'.repeat(LIMITS.textChars + 1);
    a.voices
      .get(a.me!)!
      .getArray(VOICE_LOG)
      .push([{ t: 'say', id: randomEntryId(), text: tooLong, at: Date.now() }]);
    // Written at once, before the refusal arrives: it depends on the refused change.
    a.say('Written right after.');
    written.push('Written right after.');
    await until(() => given.length === 1, 'the refused words are given back');
    expect(given).toEqual([[tooLong]]);
    expect(a.refusals.map((r) => r.code)).toContain(Refusal.malformed);
    // After the refusal: more words, a proposal and a position.
    a.say('Written after the refusal.');
    const proposal = a.say('Shall we meet on Friday?', { proposal: true });
    a.position(`${a.me!}/${proposal}`, 'agree');
    const want = [
      'Before anything went wrong.',
      'Written right after.',
      'Written after the refusal.',
      'Shall we meet on Friday?',
    ];
    await until(
      () => want.every((t) => texts(b).includes(t)) && converged([a, b]),
      () => `b has ${JSON.stringify(texts(b))}`,
    );
    expect(texts(b).sort()).toEqual([...want].sort());
    expect(texts(a).sort()).toEqual([...want].sort());
    expect(
      b
        .record()
        .byRef.get(`${a.me!}/${proposal}`)
        ?.positions.map((p) => p.stance),
    ).toEqual(['agree']);
    expect(a.voices.get(a.me!)!.clientID).not.toBe(clientBefore);
    // The server holds exactly these words, each once, and they are saved.
    const server_ = server.app.meetings.peek(opened.meetingId)!;
    const onServer = server_.voiceDocs().get(a.me!)!.getArray<{ text?: string }>(VOICE_LOG).toArray();
    expect(
      onServer
        .filter((e) => e.text)
        .map((e) => e.text)
        .sort(),
    ).toEqual([...want].sort());
    await until(() => a.saved, 'saved');
    expect(given).toHaveLength(1);
    expect(savedTooEarly, '"saved" while words were still waiting to be sent again').toEqual([]);
  });

  it('[S4] words written offline after a bad change arrive on reconnecting (the sync step 2 is refused whole)', async () => {
    const opened = await openMeeting(server, 'Opener');
    const a = await connect(server, opened);
    const b = await joinAs(server, opened, 'Ben');
    const given: string[][] = [];
    a.onRefusedWords((t) => given.push(t));
    a.say('Online first.');
    await until(() => texts(b).includes('Online first.') && a.saved, 'online words saved');
    a.socket.disconnect();
    await until(() => a.status === 'offline', 'offline');
    const tooLong = 'y'.repeat(LIMITS.textChars + 10);
    a.voices
      .get(a.me!)!
      .getArray(VOICE_LOG)
      .push([{ t: 'say', id: randomEntryId(), text: tooLong, at: Date.now() }]);
    a.say('Written offline, after the bad change.');
    a.socket.connect();
    await until(
      () => texts(b).includes('Written offline, after the bad change.') && converged([a, b]) && a.saved,
      () => `b has ${JSON.stringify(texts(b))}`,
    );
    expect(given).toEqual([[tooLong]]);
    a.say('And after reconnecting.');
    await until(() => texts(b).includes('And after reconnecting.') && converged([a, b]), 'later words arrive');
    expect(texts(b).sort()).toEqual(
      ['And after reconnecting.', 'Online first.', 'Written offline, after the bad change.'].sort(),
    );
  });

  it('[S4] a malformed entry with no words is dropped; what follows still arrives', async () => {
    const opened = await openMeeting(server, 'Opener');
    const a = await connect(server, opened);
    const b = await joinAs(server, opened, 'Ben');
    const given: string[][] = [];
    a.onRefusedWords((t) => given.push(t));
    a.voices
      .get(a.me!)!
      .getArray(VOICE_LOG)
      .push([{ t: 'nonsense' }]);
    a.say('After the nonsense.');
    await until(() => texts(b).includes('After the nonsense.') && converged([a, b]), 'words arrive');
    a.say('And later.');
    await until(() => texts(b).includes('And later.') && converged([a, b]), 'later words arrive');
    expect(given).toEqual([]);
  });
  it('two devices of one person that drew the same entry id offline: both words stay, under two ids', async () => {
    const opened = await openMeeting(server, 'Opener');
    const phone = await connect(server, opened);
    const laptop = await connect(server, opened);
    const b = await joinAs(server, opened, 'Ben');
    const given: string[][] = [];
    laptop.onRefusedWords((t) => given.push(t));
    laptop.socket.disconnect();
    await until(() => laptop.status === 'offline', 'laptop offline');
    const id = 'same1234';
    phone.voices
      .get(phone.me!)!
      .getArray(VOICE_LOG)
      .push([{ t: 'say', id, text: 'From the phone.', at: Date.now() }]);
    await until(() => texts(b).includes('From the phone.') && phone.saved, 'phone words saved');
    laptop.voices
      .get(laptop.me!)!
      .getArray(VOICE_LOG)
      .push([{ t: 'say', id, text: 'From the laptop.', at: Date.now() }]);
    laptop.socket.connect();
    await until(
      () => texts(b).includes('From the laptop.') && converged([phone, laptop, b]) && laptop.saved,
      () => `b has ${JSON.stringify(texts(b))}`,
    );
    // The server refused the repeated id; the laptop sent its words again under a new one.
    expect(laptop.refusals.map((r) => r.code)).toContain(Refusal.malformed);
    expect(given).toEqual([]);
    expect(texts(b).sort()).toEqual(['From the laptop.', 'From the phone.']);
    const onServer = server.app.meetings
      .peek(opened.meetingId)!
      .voiceDocs()
      .get(phone.me!)!
      .getArray<{ id: string; text: string }>(VOICE_LOG)
      .toArray();
    expect(new Set(onServer.map((e) => e.id)).size).toBe(2);
    expect(onServer.find((e) => e.id === id)?.text).toBe('From the phone.');
  });
});
