/**
 * The per-connection message limit, on an injected clock: a burst of five seconds' worth passes
 * (the first sync of a large meeting sends a step 1 for every voice at once), then the rate holds.
 */
import { io as ioClient } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { Refusal } from '../shared/errors.js';
import { LIMITS } from '../shared/limits.js';
import { PROTOCOL_VERSION, type Refused, type Welcome } from '../shared/protocol.js';
import { parser, sendable, syncStep1, yPairs } from '../shared/wire.js';
import { connect, join, onCleanup, openMeeting, startServer, until } from './helpers.js';

describe('messages per connection', () => {
  it('a burst of 5 s worth is answered, then the rate is held; time restores it', async () => {
    let now = 1_000_000;
    const server = await startServer({ clock: { now: () => now } });
    const opened = await openMeeting(server);
    const s = ioClient(server.url, {
      forceNew: true,
      reconnection: false,
      parser,
      transports: ['websocket'],
      auth: { protocol: PROTOCOL_VERSION, meetingId: opened.meetingId, token: opened.personalToken },
    });
    onCleanup(() => void s.close());
    let answered = 0;
    const refused: Refused[] = [];
    // Documents are named by number on the data plane (`welcome.docs`).
    let docs: string[] = [];
    s.on('welcome', (w: Welcome) => (docs = w.docs));
    const own = (doc: unknown) => (typeof doc === 'number' ? docs[doc] : doc) === opened.participantId;
    // One frame per answer; the greeting (a sync step 1 for one's own voice among them) is one too.
    s.on('y', (...args: unknown[]) => {
      if (yPairs(args).some(([doc]) => own(doc))) answered++;
    });
    s.on('refused', (r: Refused) => refused.push(r));
    await new Promise<void>((resolve) => s.on('welcome', () => resolve()));
    await until(() => answered === 1, 'greeting');
    answered = 0;
    const step1 = sendable(syncStep1(new Y.Doc()));
    const burst = LIMITS.messagesPerSecond * 5;
    for (let i = 0; i < burst + 100; i++) s.emit('y', opened.participantId, step1);
    await until(() => answered + refused.length === burst + 100, 'all answered');
    expect(answered).toBe(burst);
    expect(refused.map((r) => r.code)).toEqual(Array(100).fill(Refusal.rateLimited));
    now += 1000;
    answered = 0;
    refused.length = 0;
    for (let i = 0; i < LIMITS.messagesPerSecond + 10; i++) s.emit('y', opened.participantId, step1);
    await until(() => answered + refused.length === LIMITS.messagesPerSecond + 10, 'all answered again');
    expect(answered).toBe(LIMITS.messagesPerSecond);
    expect(refused).toHaveLength(10);
  });

  it('the first sync of a 200-person meeting is never rate-limited', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const people = [];
    for (let i = 0; i < 199; i++) people.push(await join(server, opened, `Person ${i}`));
    const c = await connect(server, people[0]!);
    await until(() => c.people.size === 200, 'everyone listed');
    // The device now asks for every voice at once; a request behind those messages is answered
    // only after all of them were handled (one connection's messages are handled in order).
    expect(await c.request('reflect', { action: 'start' })).toEqual({ ok: true });
    expect(c.refusals).toEqual([]);
  });
});
