/**
 * Issue 3, "same standing, proven": attack tests with raw clients that hold valid tokens.
 *
 * Each attempt must be refused with a clear reason (a `refused` event with the right code), the
 * target document's encoded state must be byte-identical before and after — on the server and on
 * every honest client — and the honest clients must carry on (write, converge, be saved).
 * `[S1]` in a test name is SPEC.md's rule 1.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { MeetingConnection } from '../client/lib/connection.js';
import { MEETING_DOC } from '../shared/ids.js';
import { ConnectError, Refusal, type Admission, type RefusalCode } from '../shared/protocol.js';
import { VOICE_LOG, type VoiceEntry } from '../shared/record.js';
import { awarenessMessage, syncStep2, syncUpdate } from '../shared/wire.js';
import {
  api,
  connect,
  converged,
  encoded,
  join,
  serverDoc as serverDocOf,
  joinAs,
  openMeeting,
  until,
  type TestServer,
} from './helpers.js';
import { RawClient, barrier, craft } from './raw.js';

/**
 * Where the honest people and the attacker connect: one instance for both, or (several instances)
 * the attacker on another instance than the one that serves the meeting, so that every rule is
 * enforced whichever instance a writer is on.
 */
export interface AttackServers {
  /** The honest people connect here; it serves the meeting. */
  server: TestServer;
  /** The attacker connects here. */
  attackerServer: TestServer;
}

let server: TestServer;
let attackerServer: TestServer;

/** The SPEC rule attacks, against the servers `start` gives. */
export function attackSuite(start: () => Promise<AttackServers>): void {
  beforeAll(async () => {
    ({ server, attackerServer } = await start());
  });

  type Role = 'participant' | 'facilitator';

  interface Scene {
    opened: Admission;
    attacker: RawClient;
    attackerToken: string;
    /** The honest person whose words are attacked. */
    victim: MeetingConnection;
    /** Every honest connection (the victim included). */
    honest: MeetingConnection[];
    serverDoc(id: string): Y.Doc;
  }

  /** A meeting with two honest people who have spoken, and an attacker holding a valid token. */
  async function scene(role: Role): Promise<Scene> {
    const opened = await openMeeting(server, 'Opener');
    let attackerAdmission: Admission;
    const honest: MeetingConnection[] = [];
    if (role === 'facilitator') {
      attackerAdmission = opened;
    } else {
      honest.push(await connect(server, opened));
      attackerAdmission = await join(server, opened, 'Attacker');
    }
    const victim = await joinAs(server, opened, 'Anna', 'it is about me');
    const bystander = await joinAs(server, opened, 'Ben', 'brother');
    honest.push(victim, bystander);
    victim.say('I do not want to go to hospital.');
    victim.say('I want to stay at home with my brother.');
    bystander.say('I can stay with her this week.');
    const attacker = await RawClient.connect(attackerServer.url, {
      meetingId: opened.meetingId,
      token: attackerAdmission.personalToken,
    });
    expect(attacker.me).toBe(attackerAdmission.participantId);
    if (role === 'facilitator') {
      await until(() => honest.every((c) => c.state.facilitators?.includes(attacker.me) === true), 'facilitator known');
    }
    await until(
      () => converged(honest) && honest.every((c) => c.log(victim.me!).length === 2),
      'honest people converged',
    );
    await attacker.pull(victim.me!);
    await attacker.pull(attacker.me);
    await attacker.pull(MEETING_DOC);
    expect(attacker.replica(victim.me!).getArray(VOICE_LOG).length).toBe(2);
    const serverDoc = (id: string): Y.Doc => serverDocOf(server.app, opened.meetingId, id);
    return { opened, attacker, attackerToken: attackerAdmission.personalToken, victim, honest, serverDoc };
  }

  /** Encoded state of a document on the server and on every honest client. */
  function snapshot(s: Scene, doc: string): Map<string, Buffer> {
    const out = new Map<string, Buffer>([['server', encoded(s.serverDoc(doc))]]);
    for (const c of s.honest) out.set(c.me!, encoded(doc === MEETING_DOC ? c.meetingDoc : c.voices.get(doc)));
    return out;
  }

  /** Send `attempts` and check each got exactly the expected refusal and changed no document anywhere. */
  async function expectRefused(
    s: Scene,
    attempts: Array<{ doc: string; message: Uint8Array }>,
    expected: RefusalCode | readonly RefusalCode[],
    watch: readonly string[],
  ): Promise<void> {
    const before = new Map(watch.map((d) => [d, snapshot(s, d)]));
    const from = s.attacker.refusals.length;
    for (const a of attempts) s.attacker.send(a.doc, a.message);
    await s.attacker.barrier();
    for (const c of s.honest) await barrier(c.socket);
    const got = s.attacker.refusalsSince(from);
    const codes = Array.isArray(expected) ? expected : [expected];
    expect(got.map((r) => r.doc)).toEqual(attempts.map((a) => a.doc.slice(0, 40)));
    for (const r of got) {
      expect(codes).toContain(r.code);
      // A code only: the page owns every sentence a person reads.
      expect(Object.keys(r).sort()).toEqual(['code', 'doc']);
    }
    for (const [doc, snap] of before) expect(snapshot(s, doc)).toEqual(snap);
  }

  /** The honest people write again, converge with the server and are saved. */
  async function carryOn(s: Scene): Promise<void> {
    const ids = s.honest.map((c, i) => c.say(`carrying on ${i}`));
    await until(
      () =>
        converged(s.honest) &&
        s.honest.every((c) => s.honest.every((w, i) => c.log(w.me!).some((e) => e.id === ids[i]))) &&
        s.honest.every((c) => c.saved),
      'honest people carry on',
    );
    for (const c of s.honest) {
      const server = s.serverDoc(c.me!);
      expect(Buffer.from(Y.encodeStateVector(server))).toEqual(Buffer.from(Y.encodeStateVector(c.voices.get(c.me!)!)));
    }
    expect(s.honest.every((c) => c.status === 'connected')).toBe(true);
  }

  const forgedSay = (text: string): VoiceEntry => ({
    t: 'say',
    id: `forged${Math.random().toString(36).slice(2, 10)}`,
    text,
    at: Date.now(),
  });

  describe.each(['participant', 'facilitator'] as const)(
    "a %s with a valid token cannot touch another person's words",
    (role) => {
      it("[S1] inserting into another person's voice document is refused (as an update and as a sync step 2)", async () => {
        const s = await scene(role);
        const target = s.attacker.replica(s.victim.me!);
        const insert = craft(target, (d) =>
          d.getArray<VoiceEntry>(VOICE_LOG).push([forgedSay('Actually I agree to go to hospital.')]),
        );
        const prepend = craft(target, (d) =>
          d.getArray<VoiceEntry>(VOICE_LOG).insert(0, [forgedSay('I am a danger to myself.')]),
        );
        await expectRefused(
          s,
          [
            { doc: s.victim.me!, message: syncUpdate(insert.update) },
            { doc: s.victim.me!, message: syncUpdate(prepend.update) },
            { doc: s.victim.me!, message: syncStep2(insert.doc) },
          ],
          Refusal.notYourDocument,
          [s.victim.me!, MEETING_DOC],
        );
        for (const c of s.honest)
          expect(c.record().items.map((i) => i.text)).not.toContain('Actually I agree to go to hospital.');
        await carryOn(s);
      });

      it("[S1] deleting from another person's voice document is refused", async () => {
        const s = await scene(role);
        const target = s.attacker.replica(s.victim.me!);
        const deleteOne = craft(target, (d) => d.getArray(VOICE_LOG).delete(0, 1));
        const deleteAll = craft(target, (d) => d.getArray(VOICE_LOG).delete(0, d.getArray(VOICE_LOG).length));
        await expectRefused(
          s,
          [
            { doc: s.victim.me!, message: syncUpdate(deleteOne.update) },
            { doc: s.victim.me!, message: syncUpdate(deleteAll.update) },
          ],
          Refusal.notYourDocument,
          [s.victim.me!],
        );
        for (const c of s.honest) expect(c.log(s.victim.me!)).toHaveLength(2);
        await carryOn(s);
      });

      it("[S1] overwriting a map key in another person's voice document is refused", async () => {
        const s = await scene(role);
        const target = s.attacker.replica(s.victim.me!);
        const mapKey = craft(target, (d) => d.getMap('meta').set('name', 'Someone else'));
        const replaceEntry = craft(target, (d) => {
          const log = d.getArray<VoiceEntry>(VOICE_LOG);
          const first = log.get(0);
          log.delete(0, 1);
          log.insert(0, [{ ...first, text: 'I want to go to hospital.' } as VoiceEntry]);
        });
        await expectRefused(
          s,
          [
            { doc: s.victim.me!, message: syncUpdate(mapKey.update) },
            { doc: s.victim.me!, message: syncUpdate(replaceEntry.update) },
          ],
          Refusal.notYourDocument,
          [s.victim.me!],
        );
        await carryOn(s);
      });

      it('[S2] renaming someone, ending the meeting or making oneself facilitator through the meeting document is refused', async () => {
        const s = await scene(role);
        const base = s.attacker.replica(MEETING_DOC);
        const rename = craft(base, (d) =>
          d.getMap('people').set(s.victim.me!, { name: 'Not Anna', relation: '', aboutMe: false, joinedAt: 0 }),
        );
        const crown = craft(base, (d) => d.getMap('state').set('facilitators', [s.attacker.me]));
        const end = craft(base, (d) => d.getMap('state').set('status', 'ended'));
        const erasePeople = craft(base, (d) => d.getMap('people').delete(s.victim.me!));
        await expectRefused(
          s,
          [rename, crown, end, erasePeople].map((u) => ({ doc: MEETING_DOC, message: syncUpdate(u.update) })),
          Refusal.notYourDocument,
          [MEETING_DOC],
        );
        for (const c of s.honest) expect(c.people.get(s.victim.me!)?.name).toBe('Anna');
        await carryOn(s);
      });

      it("[S1] an update carrying another person's Yjs client id is refused, even in one's own document", async () => {
        const s = await scene(role);
        const victimClient = s.victim.voices.get(s.victim.me!)!.clientID;
        // The victim's client id is visible to everyone in the victim's document.
        expect(Y.decodeStateVector(Y.encodeStateVector(s.attacker.replica(s.victim.me!))).has(victimClient)).toBe(true);
        const own = s.attacker.replica(s.attacker.me);
        const forged = craft(
          own,
          (d) => d.getArray<VoiceEntry>(VOICE_LOG).push([forgedSay("Written under Anna's client id.")]),
          victimClient,
        );
        await expectRefused(
          s,
          [{ doc: s.attacker.me, message: syncUpdate(forged.update) }],
          [Refusal.notYourDocument, Refusal.malformed],
          [s.attacker.me, s.victim.me!],
        );
        await carryOn(s);
      });

      it('[S6] an awareness message on another person\'s document is refused; nobody sees them "writing"', async () => {
        const s = await scene(role);
        const victimClient = s.victim.voices.get(s.victim.me!)!.clientID;
        const fake = awarenessMessage([{ clientID: victimClient, clock: 1, state: { typing: true } }]);
        const fakeOwnId = awarenessMessage([{ clientID: 424242, clock: 1, state: { typing: true } }]);
        await expectRefused(
          s,
          [
            { doc: s.victim.me!, message: fake },
            { doc: s.victim.me!, message: fakeOwnId },
          ],
          Refusal.notYourAwareness,
          [s.victim.me!],
        );
        for (const c of s.honest) expect(c.writing(s.victim.me!)).toBe(false);
        // The victim's own indicator still works.
        s.victim.setTyping(true);
        await until(
          () => s.honest.filter((c) => c !== s.victim).every((c) => c.writing(s.victim.me!)),
          'victim typing seen',
        );
        await carryOn(s);
      });

      it('[S6] an awareness client id bound to another connection is refused: it can neither show nor hide them', async () => {
        const s = await scene(role);
        const victimClient = s.victim.voices.get(s.victim.me!)!.clientID;
        s.victim.setTyping(true);
        const others = s.honest.filter((c) => c !== s.victim);
        await until(() => others.every((c) => c.writing(s.victim.me!)), 'victim typing seen');
        await until(
          () => s.attacker.received.some((r) => r.msg.kind === 'awareness' && r.doc === s.victim.me),
          'attacker sees it',
        );
        await expectRefused(
          s,
          [
            // Claim the victim's client id on one's own document, to hide their indicator…
            { doc: s.attacker.me, message: awarenessMessage([{ clientID: victimClient, clock: 99, state: null }]) },
            // …or to show it as one's own.
            {
              doc: s.attacker.me,
              message: awarenessMessage([{ clientID: victimClient, clock: 100, state: { typing: false } }]),
            },
          ],
          Refusal.notYourAwareness,
          [s.victim.me!],
        );
        await barrier(s.victim.socket);
        for (const c of others) expect(c.writing(s.victim.me!)).toBe(true);
        expect(others.every((c) => !c.writing(s.attacker.me))).toBe(true);
        await carryOn(s);
      });

      it("[S6] another person's Yjs client id cannot be claimed for awareness before they use it", async () => {
        const s = await scene(role);
        // Anna has written (so her client id is in her document, for everyone to read) but has not typed yet.
        const victimClient = s.victim.voices.get(s.victim.me!)!.clientID;
        await expectRefused(
          s,
          [
            {
              doc: s.attacker.me,
              message: awarenessMessage([{ clientID: victimClient, clock: 1, state: { typing: false } }]),
            },
          ],
          Refusal.notYourAwareness,
          [s.victim.me!, s.attacker.me],
        );
        await carryOn(s);
      });

      it('[S6] claiming another person\'s Yjs client id first cannot block their own "is writing…"', async () => {
        const s = await scene(role);
        const victimClient = s.victim.voices.get(s.victim.me!)!.clientID;
        // Whether or not the server refuses this claim, it must not take Anna's indicator away from her.
        s.attacker.send(
          s.attacker.me,
          awarenessMessage([{ clientID: victimClient, clock: 1, state: { typing: false } }]),
        );
        await s.attacker.barrier();
        const refusedBefore = s.victim.refusals.length;
        s.victim.setTyping(true);
        await barrier(s.victim.socket);
        expect(s.victim.refusals.slice(refusedBefore)).toEqual([]);
        const others = s.honest.filter((c) => c !== s.victim);
        await until(() => others.every((c) => c.writing(s.victim.me!)), 'victim typing seen');
        await carryOn(s);
      });
      it('[S6] an awareness state that says more than "typing" (a name, a role) is refused', async () => {
        const s = await scene(role);
        await expectRefused(
          s,
          [
            {
              doc: s.attacker.me,
              message: awarenessMessage([{ clientID: 777001, clock: 1, state: { typing: true, name: 'Anna' } }]),
            },
            {
              doc: s.attacker.me,
              message: awarenessMessage([{ clientID: 777002, clock: 1, state: { user: { name: 'Dr Anna' } } }]),
            },
            { doc: s.attacker.me, message: awarenessMessage([{ clientID: 777003, clock: 1, state: 'typing' }]) },
          ],
          Refusal.invalid,
          [s.attacker.me],
        );
        await carryOn(s);
      });
    },
  );

  describe("[S3][S4] one's own voice is append-only, whole or nothing", () => {
    it.each(['participant', 'facilitator'] as const)(
      'a %s cannot delete from, restructure or half-write their own log',
      async (role) => {
        const s = await scene(role);
        const base = s.attacker.replica(s.attacker.me);
        const mine = craft(base, (d) =>
          d.getArray<VoiceEntry>(VOICE_LOG).push([forgedSay('My first words.'), forgedSay('My second words.')]),
        );
        // A legitimate write first: the attacker's log has entries to attack.
        s.attacker.send(s.attacker.me, syncUpdate(mine.update));
        await s.attacker.barrier();
        expect(s.attacker.refusals).toEqual([]);
        await until(() => s.honest.every((c) => c.log(s.attacker.me).length === 2), 'own words arrive');
        const own = mine.doc;

        const deletion = craft(own, (d) => d.getArray(VOICE_LOG).delete(0, 1));
        const nested = craft(own, (d) => d.getArray<unknown>(VOICE_LOG).push([new Y.Map()]));
        const nestedArray = craft(own, (d) => d.getArray<unknown>(VOICE_LOG).push([Y.Array.from([1, 2])]));
        const text = craft(own, (d) => d.getText('notes').insert(0, 'a hidden note'));
        const mapKey = craft(own, (d) => d.getMap('meta').set('role', 'psychiatrist'));
        const badShape = craft(own, (d) => d.getArray<unknown>(VOICE_LOG).push([{ t: 'say', id: 'short', text: '' }]));
        const mixed = craft(own, (d) => {
          d.getArray<VoiceEntry>(VOICE_LOG).push([forgedSay('A valid entry riding along.')]);
          d.getArray(VOICE_LOG).delete(0, 1);
        });
        // Missing dependencies: the second of two updates, without the first.
        const first = craft(own, (d) => d.getArray<VoiceEntry>(VOICE_LOG).push([forgedSay('never sent')]));
        const second = craft(first.doc, (d) =>
          d.getArray<VoiceEntry>(VOICE_LOG).push([forgedSay('depends on what was never sent')]),
        );

        await expectRefused(
          s,
          [deletion, nested, nestedArray, text, mapKey, badShape, mixed].map((u) => ({
            doc: s.attacker.me,
            message: syncUpdate(u.update),
          })),
          Refusal.malformed,
          [s.attacker.me],
        );
        await expectRefused(
          s,
          [{ doc: s.attacker.me, message: syncUpdate(second.update) }],
          Refusal.missingDependencies,
          [s.attacker.me],
        );
        for (const c of s.honest) {
          expect(c.log(s.attacker.me).map((e) => (e.t === 'say' ? e.text : e.t))).toEqual([
            'My first words.',
            'My second words.',
          ]);
        }
        // A clean write after all that is still accepted, and everyone converges.
        const clean = craft(own, (d) => d.getArray<VoiceEntry>(VOICE_LOG).push([forgedSay('Clean again.')]));
        s.attacker.send(s.attacker.me, syncUpdate(clean.update));
        await s.attacker.barrier();
        await until(() => s.honest.every((c) => c.log(s.attacker.me).length === 3), 'clean write arrives');
        await carryOn(s);
      },
    );
  });

  describe('a removed participant', () => {
    it('[S14] is disconnected at once, cannot come back by token or cookie, and their words stay, marked', async () => {
      const s = await scene('participant');
      const [facilitator] = s.honest;
      const own = craft(s.attacker.replica(s.attacker.me), (d) =>
        d.getArray<VoiceEntry>(VOICE_LOG).push([forgedSay('Words before removal.')]),
      );
      s.attacker.send(s.attacker.me, syncUpdate(own.update));
      await until(() => s.honest.every((c) => c.log(s.attacker.me).length === 1), 'words arrive');
      const session = await api(`${server.url}/api/session`, 'POST', { token: s.attackerToken });
      expect(session.status).toBe(200);
      const cookie = session.headers.getSetCookie()[0]!.split(';')[0]!;
      let disconnected = false;
      s.attacker.socket.on('disconnect', () => (disconnected = true));

      const result = await facilitator!.request('participant:remove', { who: s.attacker.me });
      expect(result).toEqual({ ok: true });
      await until(() => disconnected, 'removed connection closed');
      await until(
        () => s.honest.every((c) => c.people.get(s.attacker.me)?.removed === true && !c.here.includes(s.attacker.me)),
        'removal seen',
      );
      for (const c of s.honest)
        expect(c.log(s.attacker.me).map((e) => (e.t === 'say' ? e.text : ''))).toEqual(['Words before removal.']);

      const member = (await server.app.store.participant(s.attacker.me))!;
      expect(member.revoked).toBe(true);
      const byToken = new RawClient(attackerServer.url, { meetingId: s.opened.meetingId, token: s.attackerToken });
      expect(await byToken.outcome()).toMatchObject({ code: ConnectError.noAccess });
      const byCookie = new RawClient(attackerServer.url, { meetingId: s.opened.meetingId, headers: { cookie } });
      expect(await byCookie.outcome()).toMatchObject({ code: ConnectError.noAccess });
      expect((await api(`${server.url}/api/session`, 'POST', { token: s.attackerToken })).status).toBe(404);
      await carryOn(s);
    });
  });
}
