/**
 * Several instances over one PostgreSQL and one Redis (issue 9): any instance accepts any
 * participant of any meeting; the meeting's owner checks every write, and everyone converges.
 */
import { describe, expect, it } from 'vitest';
import { MEETING_DOC } from '../shared/ids.js';
import { Refusal } from '../shared/errors.js';
import { VOICE_LOG, type VoiceEntry } from '../shared/record.js';
import { syncUpdate } from '../shared/wire.js';
import { api, connect, converged, join, openMeeting, until } from './helpers.js';
import { RawClient, craft } from './raw.js';
import { startCluster } from './setup/cluster.js';
import { freshDatabase } from './setup/pg.js';
import * as Y from 'yjs';
import pg from 'pg';
import { randomId } from '../shared/ids.js';
import { silentLog } from '../server/context.js';
import { Leases } from '../server/cluster/leases.js';
import { NotOwner } from '../server/cluster/placement.js';
import { PgStore } from '../server/store/pgStore.js';
import { FencedError } from '../server/store/types.js';

describe('three instances, one meeting', () => {
  it('participants spread over the instances write and converge; one order for everyone', async () => {
    const { servers } = await startCluster(3);
    const [a, b, c] = servers as [(typeof servers)[0], (typeof servers)[0], (typeof servers)[0]];
    const opened = await openMeeting(a, 'Facilitator');
    // Joins through every instance (each is sent to the meeting's owner).
    const admissions = [opened];
    for (let i = 1; i < 6; i++) admissions.push(await join(servers[i % 3]!, opened, `Person ${i}`));
    const conns = await Promise.all(admissions.map((adm, i) => connect(servers[i % 3]!, adm)));
    const owners = servers.filter((s) => s.app.meetings.peek(opened.meetingId));
    expect(owners).toHaveLength(1);

    const ids = conns.map((conn, i) => [conn.say(`words ${i} one`), conn.say(`words ${i} two`)]);
    await until(
      () =>
        converged(conns) &&
        conns.every((x) => ids.every((pair, i) => pair.every((id) => x.log(conns[i]!.me!).some((e) => e.id === id)))) &&
        conns.every((x) => x.saved),
      () =>
        `everyone has every word, in one order, saved: ${conns
          .map((x) => `${x.status} items=${x.record().byRef.size} saved=${x.saved} voices=${x.voices.size}`)
          .join('; ')} converged=${converged(conns)}`,
      20_000,
    );
    const order = (x: (typeof conns)[0]) => x.order.map((mk) => `${mk.v}/${mk.id}`).join();
    for (const x of conns) expect(order(x)).toBe(order(conns[0]!));
    expect(conns[0]!.order).toHaveLength(12);

    // Presence reaches everyone, wherever they are connected.
    await until(
      () => conns.every((x) => x.here.length === 6),
      () =>
        `everyone sees six people here: ${conns.map((x, i) => `#${i} on ${i % 3} ${x.status} here=${x.here.length}`).join('; ')}; owner ${servers.indexOf(owners[0]!)}`,
    );

    // A control event from a connection on another instance than the owner: the rules hold.
    const ownerIndex = servers.indexOf(owners[0]!);
    const elsewhere = conns.findIndex((_, i) => i % 3 !== ownerIndex && i !== 0);
    expect(await conns[elsewhere]!.request('meeting:lock', { locked: true })).toEqual({
      ok: false,
      error: 'not-facilitator',
    });
    const facilitator = conns[0]!;
    expect(await facilitator.request('meeting:lock', { locked: true })).toEqual({ ok: true });
    for (const s of [a, b, c]) {
      const r = await api(`${s.url}/api/meetings/${opened.meetingId}/join`, 'POST', {
        joinToken: opened.joinToken,
        name: 'Late',
        relation: '',
      });
      expect(r).toMatchObject({ status: 409, body: { error: 'locked' } });
    }
    await until(() => conns.every((x) => x.state.locked === true), 'everyone sees it locked');
  }, 60_000);

  it('people who connect through another instance while someone writes miss none of it', async () => {
    // Between the owner's answer to a relay's attach (the state the newcomer starts from) and the
    // relayed connection joining the meeting's rooms, the owner keeps broadcasting: none of that
    // may be lost, or the newcomer's copy of that voice stalls until it reconnects.
    const { servers } = await startCluster(2);
    const [owner, other] = servers as [(typeof servers)[0], (typeof servers)[0]];
    const opened = await openMeeting(owner, 'Facilitator');
    const writer = await connect(owner, opened);
    expect(owner.app.meetings.peek(opened.meetingId)).toBeDefined();
    const admissions = [];
    for (let i = 0; i < 8; i++) admissions.push(await join(other, opened, `Newcomer ${i}`));
    let writing = true;
    let written = 0;
    const writes = (async () => {
      while (writing && written < 2000) {
        writer.say(`words ${written++}`);
        await new Promise((r) => setImmediate(r));
      }
    })();
    const newcomers = [];
    for (const adm of admissions) newcomers.push(await connect(other, adm));
    writing = false;
    await writes;
    const all = [writer, ...newcomers];
    // Everyone's copy converges: the entries, and their order marks (the writer holds its own
    // entries at once, their marks only once the owner's answer arrives).
    await until(
      () => all.every((x) => x.log(writer.me!).length === written) && converged(all),
      () =>
        `everyone holds all ${written} entries, in one order: ${all.map((x) => `${x.log(writer.me!).length} marks=${x.orderLength}`).join(', ')}; converged=${converged(all)}`,
      20_000,
    );
    expect(converged(all)).toBe(true);
  }, 60_000);

  it('a forged write from an instance that is not the owner is refused and changes nothing anywhere', async () => {
    const { servers } = await startCluster(2);
    const [owner, other] = servers as [(typeof servers)[0], (typeof servers)[0]];
    const opened = await openMeeting(owner, 'Facilitator');
    const victimAdm = await join(owner, opened, 'Anna', 'it is about me');
    const attackerAdm = await join(other, opened, 'Attacker');
    const victim = await connect(owner, victimAdm);
    const reader = await connect(owner, opened);
    victim.say('I do not want to go to hospital.');
    await until(() => converged([victim, reader]) && victim.saved, 'victim saved');
    expect(owner.app.meetings.peek(opened.meetingId)).toBeDefined();
    expect(other.app.meetings.peek(opened.meetingId)).toBeUndefined();

    const attacker = await RawClient.connect(other.url, {
      meetingId: opened.meetingId,
      token: attackerAdm.personalToken,
    });
    const target = await attacker.pull(victim.me!);
    expect(target.getArray(VOICE_LOG).length).toBe(1);
    const forged = craft(target, (d) =>
      d
        .getArray<VoiceEntry>(VOICE_LOG)
        .push([{ t: 'say', id: 'forged00000001', text: 'I agree to go.', at: 1 } as unknown as VoiceEntry]),
    );
    const before = reader.log(victim.me!).length;
    attacker.send(victim.me!, syncUpdate(forged.update));
    attacker.send(MEETING_DOC, syncUpdate(forged.update));
    await attacker.barrier();
    expect(attacker.refusals.map((r) => r.code)).toEqual([Refusal.notYourDocument, Refusal.notYourDocument]);
    expect(reader.log(victim.me!)).toHaveLength(before);
    expect(owner.app.meetings.peek(opened.meetingId)!.voiceDocs().get(victim.me!)!.getArray(VOICE_LOG).length).toBe(1);
  }, 60_000);
});

describe('leases and fencing', () => {
  it("the database itself refuses a stale owner's writes once another instance took the meeting over", async () => {
    const url = await freshDatabase();
    const [one, two] = await Promise.all([
      PgStore.open({ connectionString: url }),
      PgStore.open({ connectionString: url }),
    ]);
    // Long leases: no renewal runs during the test; the takeover is forced in the database.
    const l1 = new Leases(one.pool, 'one', 60_000, silentLog);
    const l2 = new Leases(two.pool, 'two', 60_000, silentLog);
    one.setFence((id) => l1.fence(id));
    two.setFence((id) => l2.fence(id));
    const update = (text: string) => {
      const d = new Y.Doc();
      d.getArray<string>('x').push([text]);
      return [{ doc: 'meeting', update: Y.encodeStateAsUpdate(d) }];
    };
    const id = randomId();
    // The meeting's rows, for the record writes below (joins and erasures write rows first).
    const networkId = randomId();
    await one.transaction((tx) =>
      tx.createMeeting(
        { id: networkId, name: '', firstContactAt: 1 },
        {
          id,
          networkId,
          previous: null,
          openedAt: 2,
          joinHash: 'a'.repeat(64),
          status: 'open',
          locked: false,
          facilitators: [],
        },
        [],
      ),
    );
    const person = (name: string) => ({
      id: randomId(),
      meetingId: id,
      tokenHash: randomId() + randomId(),
      name,
      relation: '',
      aboutMe: false,
      joinedAt: 3,
      revoked: false,
    });
    const first = await l1.claim(id);
    expect(first.valid()).toBe(true);
    await one.appendUpdates(id, update('by one'));
    await expect(l2.claim(id)).rejects.toBeInstanceOf(NotOwner);
    // One stalls past its lease (it still believes it holds it); two takes over.
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query("UPDATE meeting_leases SET expires_at = now() - interval '1 second' WHERE meeting_id = $1", [id]);
    const second = await l2.claim(id);
    expect(second.token).toBe(first.token + 1);
    await expect(one.appendUpdates(id, update('stale'))).rejects.toBeInstanceOf(FencedError);
    await expect(one.compact(id, update('stale compaction'))).rejects.toBeInstanceOf(FencedError);
    await expect(one.removeUpdates(id)).rejects.toBeInstanceOf(FencedError);
    // A join (or an erasure) on the stale owner writes no row either; on the new owner it does.
    const stale = person('joined on the stale owner');
    await expect(one.transaction((tx) => tx.addParticipant(stale), { fence: id })).rejects.toBeInstanceOf(FencedError);
    await expect(
      one.transaction((tx) => tx.updateMeeting(id, { erased: true, status: 'ended' }), { fence: id }),
    ).rejects.toBeInstanceOf(FencedError);
    const fresh = person('joined on the new owner');
    await two.transaction((tx) => tx.addParticipant(fresh), { fence: id });
    expect((await two.participants(id)).map((p) => p.name)).toEqual(['joined on the new owner']);
    expect((await two.meeting(id))?.erased).toBeFalsy();
    await two.appendUpdates(id, update('by two'));
    const texts = (await two.loadUpdates(id)).map((u) => {
      const d = new Y.Doc();
      Y.applyUpdate(d, u.update);
      return d.getArray<string>('x').toArray().join();
    });
    expect(texts).toEqual(['by one', 'by two']);
    await admin.end();
    await l1.close();
    await l2.close();
    await Promise.all([one.close(), two.close()]);
  });
});
