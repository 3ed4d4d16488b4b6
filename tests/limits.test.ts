/**
 * Limits on every channel: a Yjs message, a voice document, an awareness state, the message rate of
 * a connection, a Socket.IO packet, an HTTP body, meetings opened and joins attempted per address.
 * Each answers the sender clearly (a code) and does nothing to anyone else in the meeting.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { LIMITS } from '../shared/limits.js';
import { Refusal } from '../shared/protocol.js';
import { VOICE_LOG, type VoiceEntry } from '../shared/record.js';
import { awarenessMessage, syncStep1, syncUpdate } from '../shared/wire.js';
import { holdClock } from './clock.js';
import {
  api,
  connect,
  encoded,
  join,
  serverDoc,
  joinAs,
  openMeeting,
  startServer,
  until,
  type TestServer,
} from './helpers.js';
import { RawClient, awarenessVerbatim } from './raw.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer();
});

/** A meeting with a sender (raw), a bystander who writes (the page's module) and one who only listens (raw). */
async function room() {
  const opened = await openMeeting(srv, 'Facilitator');
  const senderAdmission = await join(srv, opened, 'Sender');
  const sender = await RawClient.connect(srv.url, {
    meetingId: opened.meetingId,
    token: senderAdmission.personalToken,
  });
  const writer = await joinAs(srv, opened, 'Bystander who writes');
  const listenerAdmission = await join(srv, opened, 'Bystander who listens');
  const listener = await RawClient.connect(srv.url, {
    meetingId: opened.meetingId,
    token: listenerAdmission.personalToken,
  });
  writer.say('words of a bystander');
  await until(() => writer.saved, 'bystander saved');
  const doc = (id: string) => encoded(serverDoc(srv.app, opened.meetingId, id));
  /** What the bystanders have received so far (to show that an attack sends them nothing). */
  const mark = () => ({
    listenerRefusals: listener.refusals.length,
    writerRefusals: writer.refusals.length,
    listenerAboutSender: [...listener.received, ...listener.undecodable].filter((y) => y.doc === sender.me).length,
  });
  const nothingToOthers = async (before: ReturnType<typeof mark>) => {
    await sender.barrier();
    await listener.barrier();
    expect(mark()).toEqual(before);
    expect(listener.disconnectReason).toBeNull();
    expect(writer.status).toBe('connected');
    // The bystander still writes and is saved.
    writer.say('the bystander carries on');
    await until(() => writer.saved, 'bystander saved after the attack');
  };
  return { opened, sender, senderAdmission, writer, listener, doc, mark, nothingToOthers };
}

/** A valid update adding `n` entries of `chars` characters to a copy of `base`. */
const entries = (base: Y.Doc, n: number, chars: number, tag: string) => {
  const d = new Y.Doc({ gc: false });
  Y.applyUpdate(d, Y.encodeStateAsUpdate(base));
  const sv = Y.encodeStateVector(d);
  d.getArray<VoiceEntry>(VOICE_LOG).push(
    Array.from({ length: n }, (_, i) => ({
      t: 'say' as const,
      id: `${tag}${String(i).padStart(6, '0')}`,
      text: `${tag} `.padEnd(chars, 'w'),
      at: 1,
    })),
  );
  Y.applyUpdate(base, Y.encodeStateAsUpdate(d, sv));
  return Y.encodeStateAsUpdate(d, sv);
};

describe('limits on every channel: a clear rejection to the sender, nothing to anyone else', () => {
  it(`Yjs message size (LIMITS.messageBytes = ${LIMITS.messageBytes} bytes): too-large, nothing applied`, async () => {
    const r = await room();
    const before = r.doc(r.sender.me);
    const seen = r.mark();
    // Just over the limit, and far over it (refused before decoding).
    r.sender.send(r.sender.me, syncUpdate(new Uint8Array(LIMITS.messageBytes - 4)));
    r.sender.send(r.sender.me, syncUpdate(new Uint8Array(LIMITS.messageBytes * 1.2)));
    await r.nothingToOthers(seen);
    expect(r.sender.refusals.map((x) => x.code)).toEqual([Refusal.tooLarge, Refusal.tooLarge]);
    expect(r.doc(r.sender.me)).toEqual(before);
    // A large update under the limit is fine.
    const base = new Y.Doc({ gc: false });
    r.sender.send(r.sender.me, syncUpdate(entries(base, 45, 5000, 'big')));
    await r.sender.barrier();
    expect(r.sender.refusals).toHaveLength(2);
  });

  it(
    `document size (LIMITS.documentBytes = ${LIMITS.documentBytes} bytes): too-large once a voice is full, nothing applied`,
    { timeout: 60_000 },
    async () => {
      const r = await room();
      const base = new Y.Doc({ gc: false });
      let sent = 0;
      // ~225 kB updates (45 entries of 5,000 characters) until the voice would pass the limit.
      for (let k = 0; k < 60 && r.sender.refusals.length === 0; k++) {
        r.sender.send(r.sender.me, syncUpdate(entries(base, 45, 5000, `d${k}x`)));
        sent++;
        await r.sender.barrier();
      }
      const refused = r.sender.refusals;
      expect(refused.map((x) => x.code)).toEqual([Refusal.tooLarge]);
      const size = r.doc(r.sender.me).length;
      console.log(
        `[limits] document limit reached after ${sent - 1} updates: voice holds ${size} bytes; refusal: ${refused[0]!.code}`,
      );
      expect(size).toBeLessThanOrEqual(LIMITS.documentBytes);
      expect(size).toBeGreaterThan(LIMITS.documentBytes - 300_000);
      const before = r.doc(r.sender.me);
      await r.listener.barrier();
      const seen = r.mark();
      // Any further update that would pass the limit is refused too (smaller ones still fit).
      const left = LIMITS.documentBytes - before.length;
      r.sender.send(r.sender.me, syncUpdate(entries(base, Math.ceil(left / 5000) + 1, 5000, 'over')));
      await r.nothingToOthers(seen);
      expect(r.sender.refusals.map((x) => x.code)).toEqual([Refusal.tooLarge, Refusal.tooLarge]);
      expect(r.doc(r.sender.me).equals(before)).toBe(true);
    },
  );

  it(`awareness state size (LIMITS.awarenessBytes = ${LIMITS.awarenessBytes} bytes): refused, nothing relayed`, async () => {
    const r = await room();
    const seen = r.mark();
    const sizes: number[] = [];
    const attempts = [
      // More than a presence state, over the limit.
      awarenessMessage([
        { clientID: 424242, clock: 1, state: { typing: true, name: 'x'.repeat(LIMITS.awarenessBytes) } },
      ]),
      // A presence state written in more than LIMITS.awarenessBytes bytes (JSON whitespace).
      awarenessVerbatim(424243, 1, `{"typing":true${' '.repeat(LIMITS.awarenessBytes * 4)}}`),
      awarenessVerbatim(424244, 1, `{${'\n'.repeat(20_000)}"typing":false}`),
    ];
    for (const msg of attempts) {
      sizes.push(msg.length);
      r.sender.send(r.sender.me, msg);
    }
    await r.sender.barrier();
    await r.listener.barrier();
    const relayed = r.listener.received.filter((y) => y.doc === r.sender.me && y.msg.kind === 'awareness');
    console.log(
      `[limits] awareness over ${LIMITS.awarenessBytes} bytes: ${attempts.length} sent (${sizes.join(', ')} bytes), ` +
        `refusals ${JSON.stringify(r.sender.refusals.map((x) => x.code))}, relayed to others: ${relayed.map((y) => y.bytes).join(', ') || 'none'}`,
    );
    expect(r.sender.refusals).toHaveLength(attempts.length);
    expect(r.sender.refusals.every((x) => x.code === Refusal.tooLarge || x.code === Refusal.invalid)).toBe(true);
    expect(relayed).toEqual([]);
    await r.nothingToOthers(seen);
  });

  it(`message rate per connection (LIMITS.messagesPerSecond = ${LIMITS.messagesPerSecond}/s): rate-limited refusals, others untouched`, async () => {
    const r = await room();
    const seen = r.mark();
    // The bucket holds five seconds' worth (a large meeting's first sync passes, tests/rate.test.ts).
    const burst = LIMITS.messagesPerSecond * 5 + 50;
    const step1 = syncStep1(new Y.Doc());
    // The limiter's clock is held: the burst meets exactly the bucket the connection starts with.
    const clock = holdClock();
    for (let i = 0; i < burst; i++) r.sender.send(r.sender.me, step1);
    await until(
      () =>
        r.sender.refusals.length +
          r.sender.received.filter((y) => y.doc === r.sender.me && y.msg.kind === 'step2').length >=
        burst,
      'every message answered',
    );
    const limited = r.sender.refusals.filter((x) => x.code === Refusal.rateLimited).length;
    console.log(
      `[limits] a burst of ${burst} messages: ${burst - limited} answered, ${limited} refused as rate-limited`,
    );
    expect(limited).toBe(50);
    expect(r.sender.refusals.every((x) => x.code === Refusal.rateLimited)).toBe(true);
    // A second later (one whole window: the bucket refills LIMITS.messagesPerSecond a second) the
    // sender may speak again.
    clock.advance(1000);
    const n = r.sender.refusals.length;
    await r.nothingToOthers(seen);
    expect(r.sender.refusals.length).toBe(n);
    expect(r.sender.socket.connected).toBe(true);
  });

  it(`Socket.IO packet size (maxHttpBufferSize = ${LIMITS.packetBytes} bytes): only the sender is disconnected`, async () => {
    const r = await room();
    const before = r.doc(r.sender.me);
    const seen = r.mark();
    r.sender.send(r.sender.me, new Uint8Array(LIMITS.packetBytes + 1000).fill(65));
    await until(() => r.sender.disconnectReason !== null, 'sender disconnected');
    expect(r.sender.disconnectReason).toMatch(/transport (close|error)/);
    await r.listener.barrier();
    expect(r.mark()).toEqual(seen);
    expect(r.listener.disconnectReason).toBeNull();
    expect(r.doc(r.sender.me)).toEqual(before);
    r.writer.say('still here');
    await until(() => r.writer.saved, 'bystander saved');
    // The sender may come back and is welcome (a too-large packet is not a ban).
    expect(
      await new RawClient(srv.url, { meetingId: r.opened.meetingId, token: r.senderAdmission.personalToken }).verdict(),
    ).toBe('welcome');
  });

  it(`HTTP body size (${LIMITS.httpBody}) on every JSON route: 413 with a JSON error`, async () => {
    const opened = await openMeeting(srv);
    const big = { name: 'x'.repeat(20 * 1024) };
    const auth = { authorization: `Bearer ${opened.personalToken}` };
    for (const [method, route] of [
      ['POST', '/api/meetings'],
      ['POST', `/api/meetings/${opened.meetingId}/join`],
      ['POST', '/api/session'],
      ['PATCH', `/api/meetings/${opened.meetingId}/me`],
      ['PATCH', `/api/meetings/${opened.meetingId}/network`],
      ['POST', `/api/meetings/${opened.meetingId}/erasure`],
      ['POST', '/api/me/revoke'],
    ] as const) {
      const res = await api<{ error: string; message: string }>(`${srv.url}${route}`, method, big, auth);
      expect({ route, status: res.status, body: res.body }).toEqual({
        route,
        status: 413,
        body: { error: 'too-large' },
      });
    }
  });

  it(
    `meetings opened (${LIMITS.opensPerMinute}) and joins attempted (${LIMITS.joinsPerMinute}) per address per minute: 429 with the code`,
    { timeout: 60_000 },
    async () => {
      const limited = await startServer({ config: { rateLimits: true } });
      const first = await openMeeting(limited);
      const live = await connect(limited, first);
      const statuses: number[] = [];
      for (let i = 1; i < LIMITS.opensPerMinute; i++)
        statuses.push((await api(`${limited.url}/api/meetings`, 'POST', {})).status);
      expect(statuses.every((s) => s === 201)).toBe(true);
      const over = await api<{ error: string; message: string }>(`${limited.url}/api/meetings`, 'POST', {});
      expect(over.status).toBe(429);
      expect(over.headers.get('content-type')).toMatch(/application\/json/);
      expect(over.body).toEqual({ error: 'rate-limited' });
      console.log(
        `[limits] open #${LIMITS.opensPerMinute + 1} within a minute: ${over.status} ${JSON.stringify(over.body)}`,
      );

      const joins: number[] = [];
      for (let i = 0; i < LIMITS.joinsPerMinute; i++) {
        joins.push(
          (
            await api(`${limited.url}/api/meetings/${first.meetingId}/join`, 'POST', {
              joinToken: first.joinToken,
              name: `P${i}`,
            })
          ).status,
        );
      }
      expect(joins.every((s) => s === 201)).toBe(true);
      const joinOver = await api<{ error: string; message: string }>(
        `${limited.url}/api/meetings/${first.meetingId}/join`,
        'POST',
        {
          joinToken: first.joinToken,
        },
      );
      expect(joinOver.status).toBe(429);
      expect(joinOver.body).toEqual({ error: 'rate-limited' });
      // Exchanging a link for a session counts as a join attempt too.
      expect((await api(`${limited.url}/api/session`, 'POST', { token: first.personalToken })).status).toBe(429);
      // Nothing changes for people already in: they keep writing and are saved.
      live.say('words while the address is limited');
      await until(() => live.saved, 'saved while limited');
      expect(await limited.app.store.participants(first.meetingId)).toHaveLength(LIMITS.joinsPerMinute + 1);
    },
  );
});
