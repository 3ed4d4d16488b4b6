/**
 * The storage contract: one suite that every `Store` implementation must pass, run over every
 * harness at the bottom of this file (the embedded `FileStore` and `PgStore` on a real PostgreSQL).
 *
 * A harness makes an empty store and can reopen it on the same storage (durability across
 * restarts). Implementations with a log of their own on disk also provide `faults`, so the suite can
 * tear and corrupt it the way crashes and bad disks do.
 */
import { readFile, readdir, truncate, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { randomId } from '../shared/ids.js';
import { FileStore } from '../server/store/fileStore.js';
import { MIGRATIONS } from '../server/store/pgMigrations.js';
import { PgStore } from '../server/store/pgStore.js';
import {
  DamagedError,
  type DocUpdate,
  type MeetingRecord,
  type NetworkRecord,
  type ParticipantRecord,
  type Store,
} from '../server/store/types.js';
import { onCleanup, tempDir } from './helpers.js';
import { freshSchema } from './setup/pg.js';

export interface LogFaults {
  /** The raw bytes of a meeting's stored log (to check "left untouched"). */
  bytes(meetingId: string): Promise<Buffer>;
  /** Cut the last record short, inside its payload or inside its header (a crash mid-append). */
  tearTail(meetingId: string, where: 'payload' | 'header'): Promise<void>;
  /** Flip one bit inside record number `index` (0-based): `where` is its payload or its length field. */
  corrupt(meetingId: string, index: number, where: 'payload' | 'length'): Promise<void>;
}

export interface StoreUnderTest {
  store: Store;
  /** Close the store and open a new one on the same storage. */
  reopen(): Promise<Store>;
  faults?: LogFaults;
}

export interface StoreHarness {
  name: string;
  create(): Promise<StoreUnderTest>;
  /** The store keeps a log of its own that the suite can damage (`faults` is then always given). */
  damageable: boolean;
}

// ── records ──────────────────────────────────────────────────────────────────────────────

function network(over: Partial<NetworkRecord> = {}): NetworkRecord {
  return { id: randomId(), name: '', firstContactAt: 1_000, ...over };
}

function meeting(networkId: string, over: Partial<MeetingRecord> = {}): MeetingRecord {
  return {
    id: randomId(),
    networkId,
    previous: null,
    openedAt: 2_000,
    joinHash: 'a'.repeat(64),
    status: 'open',
    locked: false,
    facilitators: [],
    ...over,
  };
}

function participant(meetingId: string, over: Partial<ParticipantRecord> = {}): ParticipantRecord {
  return {
    id: randomId(),
    meetingId,
    tokenHash: randomId() + randomId(),
    name: 'Anna',
    relation: 'it is about me',
    aboutMe: true,
    joinedAt: 3_000,
    revoked: false,
    ...over,
  };
}

function update(doc: string, ...bytes: number[]): DocUpdate {
  return { doc, update: new Uint8Array(bytes) };
}

/** Updates as comparable plain values. */
function plain(updates: readonly DocUpdate[]): Array<[string, number[]]> {
  return updates.map((u) => [u.doc, [...u.update]]);
}

async function seeded(store: Store): Promise<{ net: NetworkRecord; m: MeetingRecord; fac: ParticipantRecord }> {
  const net = network();
  const m = meeting(net.id);
  const fac = participant(m.id, { name: 'Facilitator', aboutMe: false });
  m.facilitators = [fac.id];
  await store.transaction((tx) => tx.createMeeting(net, structuredClone(m), [structuredClone(fac)]));
  return { net, m, fac };
}

/** A promise-returning call must report failure as a rejected promise, never as a synchronous throw. */
async function rejects(call: () => Promise<unknown>): Promise<void> {
  let p: Promise<unknown> | undefined;
  expect(() => {
    p = call();
  }).not.toThrow();
  await expect(p).rejects.toThrow();
}

// ── the contract ─────────────────────────────────────────────────────────────────────────

export function storeContract(harness: StoreHarness): void {
  {
    const open = () => harness.create();

    describe('meetings, networks and participants', () => {
      it('creates a meeting with its network and first participants, and reads them back', async () => {
        const { store } = await open();
        const net = network({ name: "Anna's network" });
        const m = meeting(net.id);
        const fac = participant(m.id, { name: 'Maria', relation: 'psychologist', aboutMe: false });
        const anna = participant(m.id);
        m.facilitators = [fac.id];
        await store.transaction((tx) =>
          tx.createMeeting(net, structuredClone(m), [structuredClone(fac), structuredClone(anna)]),
        );
        expect(await store.meeting(m.id)).toEqual(m);
        expect(await store.network(net.id)).toEqual(net);
        expect(await store.participant(fac.id)).toEqual(fac);
        expect(await store.participant(anna.id)).toEqual(anna);
        expect((await store.participants(m.id)).sort((a, b) => a.id.localeCompare(b.id))).toEqual(
          [fac, anna].sort((a, b) => a.id.localeCompare(b.id)),
        );
      });

      it('optional fields round-trip exactly: absent stays absent, set stays set', async () => {
        const { store } = await open();
        const { m, fac } = await seeded(store);
        const helper = participant(m.id, { addedBy: fac.id, removed: false, erased: false });
        await store.transaction((tx) => tx.addParticipant(structuredClone(helper)));
        expect(await store.participant(helper.id)).toStrictEqual(helper);
        expect(await store.participant(fac.id)).toStrictEqual(fac);
        expect(await store.meeting(m.id)).toStrictEqual(m);
        await store.transaction((tx) => tx.updateMeeting(m.id, { erased: true, endedAt: 5 }));
        expect(await store.meeting(m.id)).toStrictEqual({ ...m, erased: true, endedAt: 5 });
      });

      it("a network's meetings come oldest first; a later meeting joins the same network", async () => {
        const { store } = await open();
        const net = network();
        const second = meeting(net.id, { openedAt: 5_000 });
        const first = meeting(net.id, { openedAt: 4_000 });
        await store.transaction((tx) => tx.createMeeting(net, structuredClone(second), [participant(second.id)]));
        await store.transaction((tx) => tx.createMeeting(null, structuredClone(first), [participant(first.id)]));
        const other = network();
        await store.transaction((tx) => tx.createMeeting(other, meeting(other.id), []));
        expect((await store.meetingsOfNetwork(net.id)).map((x) => x.id)).toEqual([first.id, second.id]);
        expect(await store.meetingsOfNetwork(randomId())).toEqual([]);
      });

      it('unknown ids and object-prototype keys find nothing', async () => {
        const { store } = await open();
        await seeded(store);
        for (const key of [randomId(), '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', '']) {
          expect(await store.meeting(key)).toBeUndefined();
          expect(await store.network(key)).toBeUndefined();
          expect(await store.participant(key)).toBeUndefined();
          expect(await store.session(key)).toBeUndefined();
          expect(await store.participants(key)).toEqual([]);
          expect(await store.participantsByTokenHash(key)).toEqual([]);
          expect(await store.meetingsOfNetwork(key)).toEqual([]);
          expect(await store.accessLog(key)).toEqual([]);
        }
      });

      it('a transaction fenced by its meeting commits as any other on a store no lease guards', async () => {
        const { store } = await open();
        const { m } = await seeded(store);
        const anna = participant(m.id);
        await store.transaction((tx) => tx.addParticipant(structuredClone(anna)), { fence: m.id });
        expect(await store.participant(anna.id)).toEqual(anna);
      });

      it('updates change only what they name', async () => {
        const { store } = await open();
        const { net, m, fac } = await seeded(store);
        await store.transaction((tx) => tx.updateMeeting(m.id, { status: 'ended', endedAt: 9_000 }));
        await store.transaction((tx) => tx.updateMeeting(m.id, { locked: true }));
        expect(await store.meeting(m.id)).toEqual({ ...m, status: 'ended', endedAt: 9_000, locked: true });
        await store.transaction((tx) => tx.updateNetwork(net.id, { name: 'The Virtanens' }));
        expect(await store.network(net.id)).toEqual({ ...net, name: 'The Virtanens' });
        await store.transaction((tx) => tx.updateParticipant(fac.id, { name: 'Maria V.', revoked: true }));
        expect(await store.participant(fac.id)).toEqual({ ...fac, name: 'Maria V.', revoked: true });
        await store.transaction((tx) => tx.updateMeeting(m.id, { facilitators: [fac.id, 'x'.repeat(22)] }));
        expect((await store.meeting(m.id))?.facilitators).toEqual([fac.id, 'x'.repeat(22)]);
      });

      it('updating something that does not exist fails and creates nothing', async () => {
        const { store } = await open();
        const ghost = randomId();
        await rejects(() => store.transaction((tx) => tx.updateMeeting(ghost, { locked: true })));
        await rejects(() => store.transaction((tx) => tx.updateParticipant(ghost, { name: 'x' })));
        await rejects(() => store.transaction((tx) => tx.updateNetwork(ghost, { name: 'x' })));
        expect(await store.meeting(ghost)).toBeUndefined();
        expect(await store.participant(ghost)).toBeUndefined();
        expect(await store.network(ghost)).toBeUndefined();
      });

      it('records must refer to records that exist: a meeting to its network, a participant to its meeting', async () => {
        const { store } = await open();
        const orphan = meeting(randomId());
        await rejects(() => store.transaction((tx) => tx.createMeeting(null, orphan, [])));
        expect(await store.meeting(orphan.id)).toBeUndefined();
        const stray = participant(randomId());
        await rejects(() => store.transaction((tx) => tx.addParticipant(stray)));
        expect(await store.participant(stray.id)).toBeUndefined();
        expect(await store.participantsByTokenHash(stray.tokenHash)).toEqual([]);
      });

      it('ids are unique, and a personal-link hash is unique within a meeting', async () => {
        const { store } = await open();
        const { net, m, fac } = await seeded(store);
        await rejects(() => store.transaction((tx) => tx.createMeeting(null, { ...m, networkId: net.id }, [])));
        await rejects(() => store.transaction((tx) => tx.addParticipant({ ...fac, name: 'Impostor' })));
        const twin = participant(m.id, { tokenHash: fac.tokenHash });
        await rejects(() => store.transaction((tx) => tx.addParticipant(twin)));
        expect(await store.participant(fac.id)).toEqual(fac);
        expect(await store.participant(twin.id)).toBeUndefined();
        expect((await store.participantsByTokenHash(fac.tokenHash)).map((p) => p.id)).toEqual([fac.id]);
      });

      it('a short code finds its meeting, is unique, and finds nothing else', async () => {
        const { store } = await open();
        const { net } = await seeded(store);
        const coded = meeting(net.id, { codeHash: 'c'.repeat(64), codeUntil: 9_000 });
        await store.transaction((tx) => tx.createMeeting(null, structuredClone(coded), []));
        expect(await store.meetingByCode('c'.repeat(64))).toStrictEqual(coded);
        expect(await store.meetingByCode('d'.repeat(64))).toBeUndefined();
        const twin = meeting(net.id, { codeHash: 'c'.repeat(64), codeUntil: 9_000 });
        await rejects(() => store.transaction((tx) => tx.createMeeting(null, twin, [])));
        expect(await store.meeting(twin.id)).toBeUndefined();
        expect((await store.meetingByCode('c'.repeat(64)))?.id).toBe(coded.id);
      });

      it('records read back are copies: changing one changes nothing stored', async () => {
        const { store } = await open();
        const { m, fac } = await seeded(store);
        const readMeeting = (await store.meeting(m.id))!;
        readMeeting.status = 'ended';
        readMeeting.facilitators.push('someone');
        const readPerson = (await store.participant(fac.id))!;
        readPerson.revoked = true;
        expect(await store.meeting(m.id)).toEqual(m);
        expect(await store.participant(fac.id)).toEqual(fac);
      });

      it('records written are copies: changing the object after the transaction changes nothing stored', async () => {
        const { store } = await open();
        const net = network();
        const m = meeting(net.id);
        const p = participant(m.id);
        await store.transaction((tx) => tx.createMeeting(net, m, [p]));
        const want = structuredClone(m);
        m.facilitators.push('later');
        m.locked = true;
        p.name = 'changed';
        expect(await store.meeting(m.id)).toEqual(want);
        expect((await store.participant(p.id))?.name).toBe('Anna');
      });
    });

    describe('transactions', () => {
      it('reads after the transaction resolves see every write of it', async () => {
        const { store } = await open();
        const { net, m, fac } = await seeded(store);
        const anna = participant(m.id);
        const session = 'b'.repeat(64);
        await store.transaction((tx) => {
          tx.addParticipant(structuredClone(anna));
          tx.updateMeeting(m.id, { facilitators: [fac.id, anna.id] });
          tx.updateNetwork(net.id, { name: 'Anna and family' });
          tx.addToSession(session, anna.tokenHash, 42);
          tx.logAccess({ meetingId: m.id, participantId: anna.id, action: 'opened-record', at: 43 });
        });
        expect(await store.participant(anna.id)).toEqual(anna);
        expect((await store.meeting(m.id))?.facilitators).toEqual([fac.id, anna.id]);
        expect((await store.network(net.id))?.name).toBe('Anna and family');
        expect(await store.session(session)).toEqual({ hash: session, members: [anna.tokenHash], createdAt: 42 });
        expect(await store.accessLog(m.id)).toEqual([
          { meetingId: m.id, participantId: anna.id, action: 'opened-record', at: 43 },
        ]);
      });

      it('a later write in a transaction sees the earlier ones (a meeting created and then updated)', async () => {
        const { store } = await open();
        const net = network();
        const m = meeting(net.id);
        const p = participant(m.id);
        await store.transaction((tx) => {
          tx.createMeeting(net, m, []);
          tx.addParticipant(p);
          tx.updateParticipant(p.id, { name: 'Anna K.' });
          tx.updateMeeting(m.id, { facilitators: [p.id] });
          tx.logAccess({ meetingId: m.id, participantId: p.id, action: 'opened-record', at: 1 });
        });
        expect((await store.participant(p.id))?.name).toBe('Anna K.');
        expect((await store.meeting(m.id))?.facilitators).toEqual([p.id]);
      });

      it('all or none: a transaction whose second write targets an unknown id leaves nothing of the first', async () => {
        const t = await open();
        const { net, m, fac } = await seeded(t.store);
        const anna = participant(m.id);
        const session = '9'.repeat(64);
        const later = meeting(net.id, { openedAt: 9_000 });
        await rejects(() =>
          t.store.transaction((tx) => {
            tx.addParticipant(structuredClone(anna));
            tx.updateMeeting(randomId(), { locked: true });
          }),
        );
        await rejects(() =>
          t.store.transaction((tx) => {
            tx.updateMeeting(m.id, { locked: true, facilitators: [] });
            tx.updateNetwork(net.id, { name: 'half-written' });
            tx.createMeeting(null, later, [participant(later.id)]);
            tx.addToSession(session, fac.tokenHash, 1);
            tx.logAccess({ meetingId: m.id, participantId: fac.id, action: 'revoked-link', at: 2 });
            tx.updateParticipant(randomId(), { revoked: true });
          }),
        );
        const check = async (store: Store) => {
          expect(await store.participant(anna.id)).toBeUndefined();
          expect(await store.participants(m.id)).toEqual([fac]);
          expect(await store.participantsByTokenHash(anna.tokenHash)).toEqual([]);
          expect(await store.meeting(m.id)).toEqual(m);
          expect(await store.network(net.id)).toEqual(net);
          expect(await store.meeting(later.id)).toBeUndefined();
          expect((await store.meetingsOfNetwork(net.id)).map((x) => x.id)).toEqual([m.id]);
          expect(await store.session(session)).toBeUndefined();
          expect(await store.accessLog(m.id)).toEqual([]);
        };
        await check(t.store);
        // And the store still works, on disk too.
        await t.store.transaction((tx) => tx.addParticipant(structuredClone(anna)));
        const store = await t.reopen();
        expect(await store.participant(anna.id)).toEqual(anna);
        expect(await store.meeting(m.id)).toEqual(m);
        expect(await store.network(net.id)).toEqual(net);
        expect(await store.session(session)).toBeUndefined();
      });

      it('a write callback that throws writes nothing', async () => {
        const { store } = await open();
        const { m } = await seeded(store);
        const anna = participant(m.id);
        await expect(
          store.transaction((tx) => {
            tx.addParticipant(anna);
            throw new Error('changed my mind');
          }),
        ).rejects.toThrow('changed my mind');
        expect(await store.participant(anna.id)).toBeUndefined();
      });

      it('an empty transaction resolves and changes nothing', async () => {
        const { store } = await open();
        const { m } = await seeded(store);
        await store.transaction(() => undefined);
        expect(await store.meeting(m.id)).toEqual(m);
      });

      it('concurrent transactions all land; a failing one among them takes only itself down', async () => {
        const t = await open();
        const { m, fac } = await seeded(t.store);
        const people = Array.from({ length: 30 }, (_, i) => participant(m.id, { name: `P${i}`, joinedAt: i }));
        const session = '3'.repeat(64);
        const results = await Promise.allSettled(
          people.map((p, i) =>
            t.store.transaction((tx) => {
              tx.addParticipant(structuredClone(p));
              tx.addToSession(session, p.tokenHash, i);
              tx.logAccess({ meetingId: m.id, participantId: fac.id, action: 'opened-record', at: i });
              if (i % 10 === 7) tx.updateParticipant(randomId(), { name: 'nobody' });
            }),
          ),
        );
        const failed = new Set(people.flatMap((_, i) => (i % 10 === 7 ? [i] : [])));
        expect(results.map((r) => r.status)).toEqual(people.map((_, i) => (failed.has(i) ? 'rejected' : 'fulfilled')));
        const landed = people.filter((_, i) => !failed.has(i));
        const check = async (store: Store) => {
          const stored = await store.participants(m.id);
          expect(stored.map((p) => p.id).sort()).toEqual([fac.id, ...landed.map((p) => p.id)].sort());
          const members = (await store.session(session))?.members ?? [];
          expect([...members].sort()).toEqual(landed.map((p) => p.tokenHash).sort());
          expect(await store.accessLog(m.id)).toHaveLength(landed.length);
        };
        await check(t.store);
        await check(await t.reopen());
      });

      it('concurrent transactions on one record apply one after another, none lost', async () => {
        const { store } = await open();
        const s = '4'.repeat(64);
        const members = Array.from({ length: 25 }, (_, i) => `member-${i}`);
        await Promise.all(members.map((mem, i) => store.transaction((tx) => tx.addToSession(s, mem, i))));
        expect([...((await store.session(s))?.members ?? [])].sort()).toEqual([...members].sort());
      });
    });

    describe('personal links and sessions', () => {
      it('finds every participant record of a person by the hash of their personal link', async () => {
        const { store } = await open();
        const { m } = await seeded(store);
        const hash = 'f'.repeat(64);
        const inFirst = participant(m.id, { tokenHash: hash });
        await store.transaction((tx) => tx.addParticipant(structuredClone(inFirst)));
        const { m: m2 } = await seeded(store);
        const inSecond = participant(m2.id, { tokenHash: hash });
        await store.transaction((tx) => tx.addParticipant(structuredClone(inSecond)));
        const found = await store.participantsByTokenHash(hash);
        expect(found.map((p) => p.id).sort()).toEqual([inFirst.id, inSecond.id].sort());
        expect(await store.participantsByTokenHash('e'.repeat(64))).toEqual([]);
      });

      it('a new link hash replaces the old one for lookup', async () => {
        const { store } = await open();
        const { m } = await seeded(store);
        const p = participant(m.id, { tokenHash: '1'.repeat(64) });
        await store.transaction((tx) => tx.addParticipant(structuredClone(p)));
        await store.transaction((tx) => tx.updateParticipant(p.id, { tokenHash: '2'.repeat(64) }));
        expect(await store.participantsByTokenHash('1'.repeat(64))).toEqual([]);
        expect((await store.participantsByTokenHash('2'.repeat(64))).map((x) => x.id)).toEqual([p.id]);
      });

      it('sessions are created, extended without duplicates, narrowed, and found by hash', async () => {
        const { store } = await open();
        const s = 'c'.repeat(64);
        await store.transaction((tx) => tx.addToSession(s, 'member-1', 100));
        await store.transaction((tx) => tx.addToSession(s, 'member-2', 200));
        await store.transaction((tx) => tx.addToSession(s, 'member-1', 300));
        expect(await store.session(s)).toEqual({ hash: s, members: ['member-1', 'member-2'], createdAt: 100 });
        await store.transaction((tx) => tx.removeFromSession(s, 'member-1'));
        await store.transaction((tx) => tx.removeFromSession(s, 'not-a-member'));
        await store.transaction((tx) => tx.removeFromSession('d'.repeat(64), 'member-2'));
        expect((await store.session(s))?.members).toEqual(['member-2']);
        expect(await store.session('d'.repeat(64))).toBeUndefined();
      });
    });

    describe('access log', () => {
      it("keeps each meeting's entries in order", async () => {
        const { store } = await open();
        const { m: a, fac: p1 } = await seeded(store);
        const { m: b, fac: p2 } = await seeded(store);
        await store.transaction((tx) =>
          tx.logAccess({ meetingId: a.id, participantId: p1.id, action: 'opened-record', at: 1 }),
        );
        await store.transaction((tx) =>
          tx.logAccess({ meetingId: b.id, participantId: p2.id, action: 'exported-json', at: 2 }),
        );
        await store.transaction((tx) =>
          tx.logAccess({
            meetingId: a.id,
            participantId: p1.id,
            action: 'exported-markdown',
            at: 3,
            note: 'printed',
          }),
        );
        expect(await store.accessLog(a.id)).toEqual([
          { meetingId: a.id, participantId: p1.id, action: 'opened-record', at: 1 },
          { meetingId: a.id, participantId: p1.id, action: 'exported-markdown', at: 3, note: 'printed' },
        ]);
        expect((await store.accessLog(b.id)).map((e) => e.action)).toEqual(['exported-json']);
      });

      it('an entry about a meeting or participant that does not exist is refused', async () => {
        const { store } = await open();
        const { m, fac } = await seeded(store);
        await rejects(() =>
          store.transaction((tx) =>
            tx.logAccess({ meetingId: randomId(), participantId: fac.id, action: 'opened-record', at: 1 }),
          ),
        );
        await rejects(() =>
          store.transaction((tx) =>
            tx.logAccess({ meetingId: m.id, participantId: randomId(), action: 'opened-record', at: 1 }),
          ),
        );
        expect(await store.accessLog(m.id)).toEqual([]);
      });
    });

    describe('update logs', () => {
      it('a meeting with nothing stored loads no updates', async () => {
        const { store } = await open();
        expect(await store.loadUpdates(randomId())).toEqual([]);
      });

      it('loads appended updates in the order they were appended, byte for byte', async () => {
        const { store } = await open();
        const id = randomId();
        const voice = randomId();
        await store.appendUpdates(id, [update('meeting', 1, 2, 3), update(voice, 4)]);
        await store.appendUpdates(id, []);
        await store.appendUpdates(id, [update(voice, 5, 6)]);
        const big = new Uint8Array(1024 * 1024).map((_, i) => i % 251);
        await store.appendUpdates(id, [{ doc: voice, update: big }, update('meeting', 0)]);
        const loaded = await store.loadUpdates(id);
        expect(plain(loaded.slice(0, 3))).toEqual([
          ['meeting', [1, 2, 3]],
          [voice, [4]],
          [voice, [5, 6]],
        ]);
        expect(loaded[3]?.doc).toBe(voice);
        expect(Buffer.from(loaded[3]!.update).equals(Buffer.from(big))).toBe(true);
        expect(plain(loaded.slice(4))).toEqual([['meeting', [0]]]);
        // Each meeting has its own log.
        expect(await store.loadUpdates(randomId())).toEqual([]);
      });

      it('concurrent appends all land, in call order', async () => {
        const { store } = await open();
        const id = randomId();
        await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            store.appendUpdates(id, [update('meeting', i), update('meeting', i, i)]),
          ),
        );
        const loaded = plain(await store.loadUpdates(id));
        expect(loaded).toEqual(
          Array.from({ length: 50 }, (_, i) => [
            ['meeting', [i]] as [string, number[]],
            ['meeting', [i, i]] as [string, number[]],
          ]).flat(),
        );
      });

      it('compaction replaces the log; later appends follow it', async () => {
        const { store } = await open();
        const id = randomId();
        await store.appendUpdates(id, [update('meeting', 1), update('meeting', 2), update('meeting', 3)]);
        await store.compact(id, [update('meeting', 9, 9)]);
        expect(plain(await store.loadUpdates(id))).toEqual([['meeting', [9, 9]]]);
        await store.appendUpdates(id, [update('meeting', 4)]);
        expect(plain(await store.loadUpdates(id))).toEqual([
          ['meeting', [9, 9]],
          ['meeting', [4]],
        ]);
      });

      it("removing a meeting's updates leaves nothing to load", async () => {
        const { store } = await open();
        const id = randomId();
        await store.appendUpdates(id, [update('meeting', 1)]);
        await store.removeUpdates(id);
        expect(await store.loadUpdates(id)).toEqual([]);
        await store.appendUpdates(id, [update('meeting', 2)]);
        expect(plain(await store.loadUpdates(id))).toEqual([['meeting', [2]]]);
      });

      it('meeting ids that are not ids are refused (as a rejected promise) and create nothing', async () => {
        const { store } = await open();
        for (const bad of ['../escape', '..', '__proto__', '', 'a/b', `${randomId()}x`]) {
          await rejects(() => store.appendUpdates(bad, [update('meeting', 1)]));
          await rejects(() => store.compact(bad, [update('meeting', 1)]));
          await rejects(() => store.loadUpdates(bad));
        }
      });
    });

    describe('durability across a restart', () => {
      it('everything written is there after reopening', async () => {
        const t = await open();
        const { net, m, fac } = await seeded(t.store);
        const other = participant(m.id, { tokenHash: '7'.repeat(64) });
        await t.store.transaction((tx) => tx.addParticipant(structuredClone(other)));
        await t.store.transaction((tx) => tx.updateMeeting(m.id, { locked: true }));
        await t.store.transaction((tx) => {
          tx.addToSession('5'.repeat(64), '7'.repeat(64), 6);
          tx.logAccess({ meetingId: m.id, participantId: fac.id, action: 'opened-record', at: 7 });
        });
        await t.store.appendUpdates(m.id, [update('meeting', 1), update(fac.id, 2)]);
        await t.store.appendUpdates(m.id, [update(fac.id, 3)]);
        const store = await t.reopen();
        expect(await store.meeting(m.id)).toEqual({ ...m, locked: true });
        expect(await store.network(net.id)).toEqual(net);
        expect(await store.participant(other.id)).toEqual(other);
        expect((await store.participantsByTokenHash('7'.repeat(64))).map((p) => p.id)).toEqual([other.id]);
        expect((await store.session('5'.repeat(64)))?.members).toEqual(['7'.repeat(64)]);
        expect(await store.accessLog(m.id)).toHaveLength(1);
        expect(plain(await store.loadUpdates(m.id))).toEqual([
          ['meeting', [1]],
          [fac.id, [2]],
          [fac.id, [3]],
        ]);
        await store.appendUpdates(m.id, [update(fac.id, 4)]);
        expect(plain(await store.loadUpdates(m.id)).at(-1)).toEqual([fac.id, [4]]);
      });
    });

    if (!harness.damageable) return;
    const damageable = async (): Promise<StoreUnderTest & { faults: LogFaults }> => {
      const t = await open();
      if (!t.faults) throw new Error(`${harness.name} says it is damageable but gives no faults`);
      return {
        ...t,
        faults: t.faults,
        reopen: t.reopen,
        get store() {
          return t.store;
        },
      };
    };

    describe('damage', () => {
      it('a torn tail (a crash mid-append) loads without the torn record; appending then works', async () => {
        const t = await damageable();
        const id = randomId();
        await t.store.appendUpdates(id, [update('meeting', 1, 1, 1)]);
        await t.store.appendUpdates(id, [update('meeting', 2, 2, 2)]);
        await t.store.appendUpdates(id, [update('meeting', 3, 3, 3, 3, 3, 3, 3, 3)]);
        let store = await t.reopen();
        await t.faults.tearTail(id, 'payload');
        store = await t.reopen();
        expect(plain(await store.loadUpdates(id))).toEqual([
          ['meeting', [1, 1, 1]],
          ['meeting', [2, 2, 2]],
        ]);
        await store.appendUpdates(id, [update('meeting', 4)]);
        store = await t.reopen();
        expect(plain(await store.loadUpdates(id))).toEqual([
          ['meeting', [1, 1, 1]],
          ['meeting', [2, 2, 2]],
          ['meeting', [4]],
        ]);
      });

      it('a tail torn inside a record header is dropped too', async () => {
        const t = await damageable();
        const id = randomId();
        await t.store.appendUpdates(id, [update('meeting', 1)]);
        await t.store.appendUpdates(id, [update('meeting', 2)]);
        await t.reopen();
        await t.faults.tearTail(id, 'header');
        const store = await t.reopen();
        expect(plain(await store.loadUpdates(id))).toEqual([['meeting', [1]]]);
      });

      it.each(['payload', 'length'] as const)(
        'a record corrupted in the middle (%s) throws DamagedError and leaves the log untouched',
        async (where) => {
          const t = await damageable();
          const id = randomId();
          for (let i = 0; i < 4; i++) await t.store.appendUpdates(id, [update('meeting', i, i, i, i)]);
          await t.reopen();
          await t.faults.corrupt(id, 1, where);
          const damaged = await t.faults.bytes(id);
          let store = await t.reopen();
          await expect(store.loadUpdates(id)).rejects.toBeInstanceOf(DamagedError);
          expect((await t.faults.bytes(id)).equals(damaged)).toBe(true);
          // Still damaged the next time: nothing was "repaired" by dropping acknowledged records.
          store = await t.reopen();
          await expect(store.loadUpdates(id)).rejects.toBeInstanceOf(DamagedError);
          expect((await t.faults.bytes(id)).equals(damaged)).toBe(true);
          // Other meetings are unaffected.
          const fine = randomId();
          await store.appendUpdates(fine, [update('meeting', 7)]);
          expect(plain(await store.loadUpdates(fine))).toEqual([['meeting', [7]]]);
        },
      );
    });
  }
}

// ── implementations ──────────────────────────────────────────────────────────────────────

const HEADER = 8;

/** Offsets of the records in a FileStore log: [u32 length][u32 crc32][payload]. */
function recordOffsets(buf: Buffer): number[] {
  const out: number[] = [];
  let off = 0;
  while (off + HEADER <= buf.length) {
    out.push(off);
    off += HEADER + buf.readUInt32LE(off);
  }
  return out;
}

const fileStore: StoreHarness = {
  name: 'FileStore (lowdb + append-only update logs)',
  damageable: true,
  async create() {
    const dir = await tempDir('polyphony-store-');
    let store = await FileStore.open(dir);
    onCleanup(() => store.close());
    const logFile = (meetingId: string) => path.join(dir, 'meetings', `${meetingId}.ylog`);
    return {
      get store() {
        return store;
      },
      async reopen() {
        await store.close();
        store = await FileStore.open(dir);
        return store;
      },
      faults: {
        bytes: (meetingId) => readFile(logFile(meetingId)),
        async tearTail(meetingId, where) {
          const buf = await readFile(logFile(meetingId));
          const last = recordOffsets(buf).at(-1);
          if (last === undefined) throw new Error('no record to tear');
          const keep = where === 'header' ? 3 : HEADER + Math.floor(buf.readUInt32LE(last) / 2);
          await truncate(logFile(meetingId), last + keep);
        },
        async corrupt(meetingId, index, where) {
          const buf = await readFile(logFile(meetingId));
          const off = recordOffsets(buf)[index];
          if (off === undefined) throw new Error(`no record ${index}`);
          // The payload's last byte, or the high byte of the length field.
          const at = where === 'payload' ? off + HEADER + buf.readUInt32LE(off) - 1 : off + 3;
          buf[at] = buf[at]! ^ 0x40;
          await writeFile(logFile(meetingId), buf);
        },
      },
    };
  },
};

const pgStore: StoreHarness = {
  name: 'PgStore (PostgreSQL)',
  damageable: false,
  async create() {
    const { connectionString, schema } = freshSchema();
    let store = await PgStore.open({ connectionString, schema, max: 2 });
    onCleanup(() => store.close());
    return {
      get store() {
        return store;
      },
      async reopen() {
        await store.close();
        store = await PgStore.open({ connectionString, schema, max: 2 });
        return store;
      },
    };
  },
};

describe.each([fileStore, pgStore])('Store contract: $name', (harness) => storeContract(harness));

describe('FileStore start-up with damaged metadata', () => {
  it("invalid JSON in a network's file: opening fails with DamagedError and the file is left as it was", async () => {
    const dir = await tempDir('polyphony-store-');
    const first = await FileStore.open(dir);
    const { net } = await seeded(first);
    await first.close();
    const file = path.join(dir, 'networks', `${net.id}.json`);
    const good = await readFile(file);
    const cut = good.subarray(0, Math.floor(good.length / 2));
    await writeFile(file, cut);
    await expect(FileStore.open(dir)).rejects.toBeInstanceOf(DamagedError);
    expect((await readFile(file)).equals(cut)).toBe(true);
    await writeFile(file, '{"version": 2, "meetings": []}');
    await expect(FileStore.open(dir)).rejects.toBeInstanceOf(DamagedError);
    expect(await readFile(file, 'utf8')).toBe('{"version": 2, "meetings": []}');
  });

  it('an old db.json that cannot be read: opening fails with DamagedError and the file is left as it was', async () => {
    const dir = await tempDir('polyphony-store-');
    const file = path.join(dir, 'db.json');
    await writeFile(file, '{"version": 1, "meetin');
    await expect(FileStore.open(dir)).rejects.toBeInstanceOf(DamagedError);
    expect(await readFile(file, 'utf8')).toBe('{"version": 1, "meetin');
  });

  it('a stale temp file from a crash mid-write is ignored; the last good data loads', async () => {
    const dir = await tempDir('polyphony-store-');
    const first = await FileStore.open(dir);
    const { net, m } = await seeded(first);
    await first.close();
    await writeFile(path.join(dir, 'networks', `${net.id}.json.tmp`), '{"version": 2, "meetin');
    const store = await FileStore.open(dir);
    onCleanup(() => store.close());
    expect((await store.meeting(m.id))?.id).toBe(m.id);
    // And the next write replaces the stale temp file rather than tripping over it.
    await store.transaction((tx) => tx.updateMeeting(m.id, { locked: true }));
    const reopened = await FileStore.open(dir);
    onCleanup(() => reopened.close());
    expect((await reopened.meeting(m.id))?.locked).toBe(true);
  });

  it('a damaged meeting log keeps a copy for recovery beside the untouched original', async () => {
    const dir = await tempDir('polyphony-store-');
    const store = await FileStore.open(dir);
    onCleanup(() => store.close());
    const id = randomId();
    await store.appendUpdates(id, [update('meeting', 1)]);
    await store.appendUpdates(id, [update('meeting', 2)]);
    await store.close();
    const file = path.join(dir, 'meetings', `${id}.ylog`);
    const buf = await readFile(file);
    buf[HEADER + 1] = buf[HEADER + 1]! ^ 1;
    await writeFile(file, buf);
    const again = await FileStore.open(dir);
    onCleanup(() => again.close());
    await expect(again.loadUpdates(id)).rejects.toBeInstanceOf(DamagedError);
    const files = await readdir(path.join(dir, 'meetings'));
    const copy = files.find((f) => f.startsWith(`${id}.ylog.damaged-`));
    expect(copy).toBeDefined();
    expect((await readFile(path.join(dir, 'meetings', copy!))).equals(buf)).toBe(true);
    expect((await readFile(file)).equals(buf)).toBe(true);
  });
});

describe('PgStore: schema, erasure and failures', () => {
  const rows = async (connectionString: string, schema: string, sql: string, values: unknown[] = []) => {
    const c = new pg.Client({ connectionString, options: `-c search_path=${schema}` });
    await c.connect();
    try {
      return (await c.query(sql, values)).rows as Array<Record<string, unknown>>;
    } finally {
      await c.end();
    }
  };

  it('migrations started by two instances at once apply once; reopening applies nothing again', async () => {
    const { connectionString, schema } = freshSchema();
    const [a, b] = await Promise.all([
      PgStore.open({ connectionString, schema, max: 2 }),
      PgStore.open({ connectionString, schema, max: 2 }),
    ]);
    onCleanup(() => a.close());
    onCleanup(() => b.close());
    const { m } = await seeded(a);
    expect((await b.meeting(m.id))?.id).toBe(m.id);
    const versions = await rows(connectionString, schema, 'SELECT version FROM schema_migrations ORDER BY version');
    expect(versions.map((r) => r.version)).toEqual(MIGRATIONS.map((x) => x.version));
    const c = await PgStore.open({ connectionString, schema, max: 1 });
    await c.close();
    expect(await rows(connectionString, schema, 'SELECT version FROM schema_migrations')).toHaveLength(
      MIGRATIONS.length,
    );
  });

  it('a database migrated by a newer server is refused, not downgraded', async () => {
    const { connectionString, schema } = freshSchema();
    const s = await PgStore.open({ connectionString, schema, max: 1 });
    await s.close();
    await rows(
      connectionString,
      schema,
      "INSERT INTO schema_migrations (version, name) VALUES (9999, 'from the future')",
    );
    await expect(PgStore.open({ connectionString, schema, max: 1 })).rejects.toThrow(/newer/);
  });

  it('compaction deletes exactly the rows it folded; erasure deletes the rows (not flagged)', async () => {
    const { connectionString, schema } = freshSchema();
    const store = await PgStore.open({ connectionString, schema, max: 2 });
    onCleanup(() => store.close());
    const id = randomId();
    const other = randomId();
    await store.appendUpdates(id, [update('meeting', 1), update('meeting', 2)]);
    await store.appendUpdates(id, [update('meeting', 3)]);
    await store.appendUpdates(other, [update('meeting', 7)]);
    const count = async (meetingId: string) =>
      Number(
        (
          await rows(connectionString, schema, 'SELECT count(*) AS n FROM doc_updates WHERE meeting_id = $1', [
            meetingId,
          ])
        )[0]!.n,
      );
    expect(await count(id)).toBe(3);
    await store.compact(id, [update('meeting', 1, 2, 3)]);
    expect(await count(id)).toBe(1);
    expect(await count(other)).toBe(1);
    await store.removeUpdates(id);
    expect(await count(id)).toBe(0);
    expect(await count(other)).toBe(1);
  });

  it('an unreachable database is an error at open, never a silently empty store', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as { port: number };
        srv.close(() => resolve(port));
      });
    });
    await expect(
      PgStore.open({ connectionString: `postgres://postgres@127.0.0.1:${port}/nothing`, max: 1 }),
    ).rejects.toThrow();
  });

  it('a store whose connections are cut reports the failure to the caller, then works again', async () => {
    const { connectionString, schema } = freshSchema();
    const applicationName = `cut-${schema}`;
    const store = await PgStore.open({ connectionString, schema, max: 1, applicationName });
    onCleanup(() => store.close());
    const { m } = await seeded(store);
    // Cut this store's connections from the server side.
    const admin = new pg.Client({ connectionString });
    await admin.connect();
    const cut = await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
      [applicationName],
    );
    await admin.end();
    expect(cut.rowCount).toBeGreaterThan(0);
    // Whether the cut lands in this call or was noticed while idle, nothing is swallowed: either it
    // fails loudly or it really wrote. Then the next call works.
    const first = await store
      .transaction((tx) => tx.updateMeeting(m.id, { locked: true }))
      .then(
        () => 'ok',
        () => 'failed',
      );
    if (first === 'failed') await store.transaction((tx) => tx.updateMeeting(m.id, { locked: true }));
    expect((await store.meeting(m.id))?.locked).toBe(true);
  });
});

describe('FileStore layout: a file per network, a journal across files, the old db.json', () => {
  it('a write touches only its own network: other networks’ files are not rewritten', async () => {
    const dir = await tempDir('polyphony-store-');
    const store = await FileStore.open(dir);
    onCleanup(() => store.close());
    const a = await seeded(store);
    const b = await seeded(store);
    const fileB = path.join(dir, 'networks', `${b.net.id}.json`);
    const before = await readFile(fileB, 'utf8');
    await store.transaction((tx) => {
      tx.addParticipant(participant(a.m.id));
      tx.addToSession('6'.repeat(64), 'someone', 1);
    });
    expect(await readFile(fileB, 'utf8')).toBe(before);
    expect(await readdir(dir)).not.toContain('journal.json');
  });

  it('a crash after the journal was written: opening completes the whole transaction', async () => {
    const dir = await tempDir('polyphony-store-');
    const first = await FileStore.open(dir);
    const { net, m } = await seeded(first);
    await first.close();
    const rel = path.join('networks', `${net.id}.json`);
    const old = JSON.parse(await readFile(path.join(dir, rel), 'utf8')) as {
      txn: number;
      meetings: Record<string, MeetingRecord>;
    };
    // What the flusher would have written: the meeting locked, and a session in another file.
    const next = { ...old, txn: old.txn + 1, meetings: { [m.id]: { ...old.meetings[m.id]!, locked: true } } };
    const session = { version: 2, txn: old.txn + 1, sessions: { s: { hash: 's', members: ['x'], createdAt: 1 } } };
    const shardFile = path.join('sessions', 'zz.json');
    await writeFile(
      path.join(dir, 'journal.json'),
      JSON.stringify({
        version: 2,
        txn: old.txn + 1,
        files: [
          { file: rel, text: JSON.stringify(next) },
          { file: shardFile, text: JSON.stringify(session) },
        ],
      }),
    );
    const store = await FileStore.open(dir);
    onCleanup(() => store.close());
    expect((await store.meeting(m.id))?.locked).toBe(true);
    expect(JSON.parse(await readFile(path.join(dir, shardFile), 'utf8'))).toEqual(session);
    expect(await readdir(dir)).not.toContain('journal.json');
  });

  it('a stale journal (its removal was lost) rewrites nothing newer', async () => {
    const dir = await tempDir('polyphony-store-');
    const first = await FileStore.open(dir);
    const { net, m } = await seeded(first);
    const rel = path.join('networks', `${net.id}.json`);
    const stale = await readFile(path.join(dir, rel), 'utf8');
    await first.transaction((tx) => tx.updateMeeting(m.id, { locked: true }));
    await first.close();
    const staleTxn = (JSON.parse(stale) as { txn: number }).txn;
    await writeFile(
      path.join(dir, 'journal.json'),
      JSON.stringify({ version: 2, txn: staleTxn, files: [{ file: rel, text: stale }] }),
    );
    const store = await FileStore.open(dir);
    onCleanup(() => store.close());
    expect((await store.meeting(m.id))?.locked).toBe(true);
  });

  it('an old single db.json is split at open and then removed; everything in it reads back', async () => {
    const dir = await tempDir('polyphony-store-');
    const net = network({ name: 'Old' });
    const m = meeting(net.id);
    const p = participant(m.id);
    const q = participant(m.id, { addedBy: p.id });
    const session = { hash: 'a'.repeat(64), members: [p.tokenHash], createdAt: 5 };
    const entry = { meetingId: m.id, participantId: p.id, action: 'opened-record', at: 6 };
    await writeFile(
      path.join(dir, 'db.json'),
      JSON.stringify({
        version: 1,
        networks: { [net.id]: net },
        meetings: { [m.id]: m },
        participants: { [p.id]: p, [q.id]: q },
        sessions: { [session.hash]: session },
        access: [entry],
      }),
    );
    for (let round = 0; round < 2; round++) {
      const store = await FileStore.open(dir);
      expect(await store.network(net.id)).toEqual(net);
      expect(await store.meeting(m.id)).toEqual(m);
      expect((await store.participants(m.id)).map((x) => x.id).sort()).toEqual([p.id, q.id].sort());
      expect((await store.participantsByTokenHash(p.tokenHash)).map((x) => x.id)).toEqual([p.id]);
      expect(await store.session(session.hash)).toEqual(session);
      expect(await store.accessLog(m.id)).toEqual([entry]);
      await store.close();
      expect(await readdir(dir)).not.toContain('db.json');
    }
  });
});
