/**
 * Store-level join cost (`npx tsx bench/store-join.ts [joins]`): the store work of one join (a
 * participant record and the browser's session, one transaction, durable) on an embedded store
 * holding 10 and then 10,000 meetings. A benchmark: it reports, it asserts nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomId } from '../shared/ids.js';
import { FileStore } from '../server/store/fileStore.js';
import type { MeetingRecord, ParticipantRecord } from '../server/store/types.js';

const joins = Number(process.argv[2] ?? 200);

function person(meetingId: string): ParticipantRecord {
  return {
    id: randomId(),
    meetingId,
    tokenHash: randomId() + randomId(),
    name: 'Someone with a longish name',
    relation: 'a friend of the family',
    aboutMe: false,
    joinedAt: Date.now(),
    revoked: false,
  };
}

async function fill(store: FileStore, meetings: number): Promise<MeetingRecord[]> {
  const out: MeetingRecord[] = [];
  for (let done = 0; done < meetings;) {
    const batch = Math.min(500, meetings - done);
    await Promise.all(
      Array.from({ length: batch }, async () => {
        const networkId = randomId();
        const m: MeetingRecord = {
          id: randomId(),
          networkId,
          previous: null,
          openedAt: Date.now(),
          joinHash: 'a'.repeat(64),
          status: 'open',
          locked: false,
          facilitators: [],
        };
        const people = [person(m.id), person(m.id), person(m.id)];
        await store.transaction((tx) => {
          tx.createMeeting({ id: networkId, name: '', firstContactAt: 0 }, m, people);
          for (const p of people) tx.addToSession(randomId() + randomId(), p.tokenHash, 0);
        });
        out.push(m);
      }),
    );
    done += batch;
  }
  return out;
}

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

for (const meetings of [10, 10_000]) {
  const dir = await mkdtemp(path.join(tmpdir(), 'polyphony-storebench-'));
  try {
    let store = await FileStore.open(dir);
    const t0 = performance.now();
    const all = await fill(store, meetings);
    const fillS = (performance.now() - t0) / 1000;
    await store.close();
    const o0 = performance.now();
    store = await FileStore.open(dir);
    const openMs = performance.now() - o0;
    const times: number[] = [];
    const cpu0 = process.cpuUsage();
    for (let j = 0; j < joins; j++) {
      const m = all[j % all.length]!;
      const p = person(m.id);
      const s = performance.now();
      await store.transaction((tx) => {
        tx.addParticipant(p);
        tx.addToSession(randomId() + randomId(), p.tokenHash, Date.now());
      });
      times.push(performance.now() - s);
    }
    const cpu = process.cpuUsage(cpu0);
    await store.close();
    process.stdout.write(
      `${meetings} meetings stored (filled in ${fillS.toFixed(1)} s, open ${openMs.toFixed(0)} ms): ` +
        `${joins} joins, p50 ${pct(times, 0.5).toFixed(2)} ms, p95 ${pct(times, 0.95).toFixed(2)} ms, ` +
        `CPU ${((cpu.user + cpu.system) / 1000 / joins).toFixed(2)} ms per join\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
