/**
 * Scenario 4 — loading the replay of a long meeting (issue 4: a 2-hour meeting with 2,000
 * contributions from 12 people must load in under a second). Twelve participants write the
 * contributions (with amendments, a proposal and everyone's position), the meeting ends, then a
 * participant opens the record afresh from their personal link: connect, sync every document,
 * fold the whole record and the replay's middle step. Polyphony only (the baseline has no replay).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MeetingConnection } from '../../client/lib/connection.js';
import { buildRecord } from '../../shared/record.js';
import { PolyphonyClient, entry } from '../lib/clients.js';
import { joinMeeting, openMeeting } from '../lib/http.js';
import { startServer } from '../lib/proc.js';
import { median, pool, sleep, until } from '../lib/util.js';

export interface ReplayResult {
  contributions: number;
  people: number;
  /** Entries in all (contributions, amendments, positions). */
  entries: number;
  samples: Array<{ totalMs: number; syncMs: number; foldMs: number; serverCpuMs: number }>;
  median: { totalMs: number; syncMs: number; foldMs: number; serverCpuMs: number };
}

export async function replayRun(
  p: { contributions: number; people: number; openings: number },
  ctx: { logDir: string; serverRoot?: string; log: (s: string) => void },
): Promise<ReplayResult> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'polyphony-bench-'));
  const server = await startServer('polyphony', {
    logFile: path.join(ctx.logDir, 'replay-polyphony.log'),
    dataDir,
    ...(ctx.serverRoot ? { serverRoot: ctx.serverRoot } : {}),
  });
  const clients: PolyphonyClient[] = [];
  try {
    const first = await openMeeting(server.url, 'P0');
    const admissions = [
      first,
      ...(await pool(
        Array.from({ length: p.people - 1 }, (_, i) => i + 1),
        6,
        (i) => joinMeeting(server.url, first, `P${i}`),
      )),
    ];
    clients.push(...(await pool(admissions, 6, (a, i) => PolyphonyClient.connect(server.url, a, i, null))));
    // The contributions, in small bursts as people talk; every tenth one amended.
    const share = Math.ceil(p.contributions / p.people);
    await Promise.all(
      clients.map(async (c, ci) => {
        for (let done = 0; done < share && ci * share + done < p.contributions; done += 10) {
          const batch = Array.from({ length: Math.min(10, share - done) }, (_, j) =>
            entry(`P${ci}, point ${done + j}: what I noticed, and what I hope for.`),
          );
          c.writeMany(batch);
          await sleep(10);
        }
      }),
    );
    const reference = clients[0]!.conn;
    await until(() => reference.record().byRef.size >= p.contributions, 'contributions everywhere', 120_000, 20);
    let amended = 0;
    for (const c of clients) {
      for (const e of c.conn
        .log(c.conn.me!)
        .filter((x) => x.t === 'say')
        .slice(0, Math.ceil(share / 10))) {
        c.conn.amend(e.id, `${(e as { text: string }).text} (changed)`);
        amended++;
      }
    }
    const proposalId = reference.say('Meet again next week, at home.', { proposal: true });
    const proposal = `${reference.me}/${proposalId}`;
    await until(() => clients.every((c) => c.conn.record().byRef.has(proposal)), 'the proposal', 60_000, 20);
    clients.forEach((c, i) =>
      c.conn.position(proposal, (['agree', 'disagree', 'unsure'] as const)[i % 3]!, `position of P${i}`),
    );
    await until(
      () => clients.every((c) => c.conn.saved) && reference.record().byRef.get(proposal)!.positions.length === p.people,
      'everything saved',
      120_000,
      20,
    );
    const ended = await reference.request('meeting:end', { next: null });
    if (!ended.ok) throw new Error(`could not end the meeting: ${ended.error}`);
    const entries = reference.order.length;
    ctx.log(
      `    ${p.contributions} contributions, ${amended} amendments, ${p.people} positions by ${p.people} people (${entries} entries); meeting ended`,
    );
    await sleep(500);

    const samples: ReplayResult['samples'] = [];
    for (let k = 0; k < p.openings; k++) {
      const cpu0 = server.cpuMs();
      const t0 = performance.now();
      const conn = new MeetingConnection({
        url: server.url,
        meetingId: first.meetingId,
        token: admissions[k % admissions.length]!.personalToken,
        socket: { forceNew: true, transports: ['websocket'] },
      });
      try {
        await until(
          () =>
            conn.order.length >= entries &&
            conn.voices.size >= p.people &&
            [...conn.voices.values()].reduce((n, d) => n + d.getArray('log').length, 0) >= entries,
          'the record loaded',
          60_000,
          2,
        );
        const t1 = performance.now();
        const logs = new Map([...conn.voices.keys()].map((id) => [id, conn.log(id)] as const));
        const meeting = { order: conn.order, events: conn.events };
        const full = buildRecord(meeting, logs);
        const middle = buildRecord(meeting, logs, { upTo: Math.floor(meeting.order.length / 2) });
        const t2 = performance.now();
        if (full.byRef.size < p.contributions || middle.byRef.size === 0) throw new Error('the replay folded short');
        samples.push({ totalMs: t2 - t0, syncMs: t1 - t0, foldMs: t2 - t1, serverCpuMs: server.cpuMs() - cpu0 });
      } finally {
        conn.close();
      }
      await sleep(300);
    }
    const m = (f: (s: ReplayResult['samples'][number]) => number) => median(samples.map(f));
    return {
      contributions: p.contributions,
      people: p.people,
      entries,
      samples,
      median: {
        totalMs: m((s) => s.totalMs),
        syncMs: m((s) => s.syncMs),
        foldMs: m((s) => s.foldMs),
        serverCpuMs: m((s) => s.serverCpuMs),
      },
    };
  } finally {
    for (const c of clients) c.close();
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
