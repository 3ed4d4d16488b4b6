/**
 * A stock y-protocols sync handler just works: a client that answers every sync message with
 * `readSyncMessage` (as y-websocket's provider does) answers the server's sync step 1 for the
 * meeting document, and for any document it holds, with a step 2. One that carries nothing new is
 * a no-op — accepted, nothing applied, nothing refused — for every document; an update that does
 * carry something new for a document the connection does not own is still refused (SPEC 1, 2).
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { beforeAll, describe, expect, it } from 'vitest';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { MEETING_DOC, randomEntryId } from '../shared/ids.js';
import { Refusal, Y_MESSAGE } from '../shared/protocol.js';
import { VOICE_LOG, type VoiceEntry } from '../shared/record.js';
import { bytesOf, syncStep1, syncUpdate, yPairs, type DocTag } from '../shared/wire.js';
import { connect, converged, encoded, join, openMeeting, startServer, until, type TestServer } from './helpers.js';
import { RawClient } from './raw.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});

/** A client built only from y-protocols: every sync message goes through `readSyncMessage`. */
class StockClient {
  readonly docs = new Map<string, Y.Doc>();
  constructor(readonly raw: RawClient) {
    // (The raw client keeps the server's document numbers: `welcome.docs`, `voice`.)
    const id = (doc: DocTag) => raw.names.idOf(doc)!;
    raw.socket.on('y', (...args: unknown[]) => {
      for (const [doc, message] of yPairs(args)) this.#handle(id(doc as DocTag), message as string);
    });
  }

  doc(id: string): Y.Doc {
    let d = this.docs.get(id);
    if (!d) {
      d = new Y.Doc();
      this.docs.set(id, d);
      if (id === this.raw.me) {
        d.on('update', (update: Uint8Array, origin: unknown) => {
          if (origin !== this) this.raw.send(id, syncUpdate(update));
        });
      }
    }
    return d;
  }

  /** The y-websocket way: ask for every document's state. */
  start(ids: readonly string[]): void {
    for (const id of ids) this.raw.send(id, syncStep1(this.doc(id)));
  }

  #handle(docId: string, message: string): void {
    const decoder = decoding.createDecoder(bytesOf(message)!);
    if (decoding.readVarUint(decoder) !== Y_MESSAGE.sync) return;
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, Y_MESSAGE.sync);
    syncProtocol.readSyncMessage(decoder, encoder, this.doc(docId), this);
    if (encoding.length(encoder) > 1) this.raw.send(docId, encoding.toUint8Array(encoder));
  }
}

describe('[S1][S2] a stock y-protocols sync handler', () => {
  it("[S1][S2] answering the server's step 1 is a no-op for every document; new writes to others' documents are still refused", async () => {
    const opened = await openMeeting(server, 'Opener');
    const anna = await connect(server, opened);
    anna.say('Words already in the record.');
    const adm = await join(server, opened, 'Stock');
    const raw = await RawClient.connect(server.url, { meetingId: opened.meetingId, token: adm.personalToken });
    const stock = new StockClient(raw);
    await until(() => anna.people.has(raw.me), 'the stock client is in the meeting');
    stock.start([MEETING_DOC, anna.me!, raw.me]);
    await until(() => stock.doc(anna.me!).getArray(VOICE_LOG).length === 1, "Anna's words arrive");
    await raw.barrier();
    // The server sends step 1 for the meeting document and the own voice; the stock client answered each.
    for (const doc of [MEETING_DOC, raw.me]) {
      expect(raw.received.some((r) => r.doc === doc && r.msg.kind === 'step1')).toBe(true);
    }
    expect(raw.refusals).toEqual([]);
    // A full re-send of what the server has, for every document, is a no-op too.
    const meeting = server.app.meetings.peek(opened.meetingId)!;
    const before = [encoded(meeting.meetingDoc), encoded(meeting.voiceDocs().get(anna.me!))];
    for (const id of [MEETING_DOC, anna.me!]) raw.send(id, syncUpdate(Y.encodeStateAsUpdate(stock.doc(id))));
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, Y_MESSAGE.sync);
    syncProtocol.writeSyncStep2(e, stock.doc(MEETING_DOC), Y.encodeStateVector(meeting.meetingDoc));
    raw.send(MEETING_DOC, encoding.toUint8Array(e));
    await raw.barrier();
    expect(raw.refusals).toEqual([]);
    expect([encoded(meeting.meetingDoc), encoded(meeting.voiceDocs().get(anna.me!))]).toEqual(before);

    // Its own words go through, and everyone converges.
    stock
      .doc(raw.me)
      .getArray<VoiceEntry>(VOICE_LOG)
      .push([{ t: 'say', id: randomEntryId(), text: 'Stock words.', at: 1 }]);
    await until(() => anna.record().items.some((i) => i.text === 'Stock words.'), 'stock words reach Anna');

    // Anything new for a document it does not own is refused, and changes nothing.
    const forged = (doc: Y.Doc, change: (d: Y.Doc) => void) => {
      const copy = new Y.Doc();
      Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc));
      const sv = Y.encodeStateVector(copy);
      change(copy);
      return Y.encodeStateAsUpdate(copy, sv);
    };
    const beforeForged = [encoded(meeting.meetingDoc), encoded(meeting.voiceDocs().get(anna.me!))];
    raw.send(
      anna.me!,
      syncUpdate(
        forged(stock.doc(anna.me!), (d) =>
          d.getArray(VOICE_LOG).push([{ t: 'say', id: randomEntryId(), text: 'Not Anna.', at: 1 }]),
        ),
      ),
    );
    raw.send(MEETING_DOC, syncUpdate(forged(stock.doc(MEETING_DOC), (d) => d.getMap('state').set('locked', true))));
    await raw.barrier();
    expect(raw.refusals.map((r) => [r.doc, r.code])).toEqual([
      [anna.me!, Refusal.notYourDocument],
      [MEETING_DOC, Refusal.notYourDocument],
    ]);
    expect([encoded(meeting.meetingDoc), encoded(meeting.voiceDocs().get(anna.me!))]).toEqual(beforeForged);
    await until(() => converged([anna]) && anna.record().items.length === 2, 'Anna converged');
  });
});
