/**
 * Fault test: SIGKILL the real server (a child process) at many seeded moments while 20
 * participants write steadily, each edit carrying a unique marker.
 *
 * A marker is *acknowledged* once its writer's client has shown "saved" (`MeetingConnection.saved`,
 * true when the server's durably-stored state vector covers everything the client wrote) at any
 * moment after writing it. The promise under test: no acknowledged marker is ever missing from the
 * disk, at any kill point; after every restart the clients (never reloaded or recreated) reconnect
 * by themselves and converge; nothing is duplicated. Replay a run with KILL_SEED=<seed>; change the
 * number of kill points with KILL_POINTS=<n>.
 */
import { describe, expect, it } from 'vitest';
import type { MeetingConnection } from '../../client/lib/connection.js';
import type { Admission } from '../../shared/protocol.js';
import { join, openMeeting, tempDir, until } from '../helpers.js';
import {
  connected,
  countOf,
  device,
  prng,
  readLog,
  said,
  saidOnDisk,
  seedFrom,
  sleep,
  spawnServer,
  steadyWriters,
  voicesConverged,
  type Child,
} from './util.js';

describe('kill -9 at seeded moments, 20 participants writing steadily', () => {
  it(
    'loses no acknowledged edit, duplicates none, and every client converges by itself',
    { timeout: 295_000 },
    async () => {
      const seed = seedFrom('KILL_SEED');
      const rand = prng(seed);
      const killPoints = Number(process.env.KILL_POINTS ?? 30);
      console.log(`[kill] seed ${seed} (replay with KILL_SEED=${seed}), ${killPoints} kill points`);

      const dataDir = await tempDir('polyphony-kill-');
      let child: Child = await spawnServer({ dataDir });
      const port = child.port;
      const opened = await openMeeting(child, 'Facilitator');
      const admissions: Admission[] = [opened];
      for (let i = 1; i < 20; i++) admissions.push(await join(child, opened, `Person ${i}`));
      // Someone who only reads: a fresh device on their link loads the record after each restart.
      const reader = await join(child, opened, 'Reader');
      const meetingId = opened.meetingId;

      const {
        writers,
        start: startWriting,
        stop: stopWriting,
      } = steadyWriters(admissions, child.url, () => 40 + Math.floor(rand() * 120), `-${seed}`);
      await Promise.all(writers.map((w) => connected(w.conn)));
      const voices = writers.map((w) => w.admission.participantId);

      const stats = {
        killPoints: 0,
        /** Acknowledged markers looked up on disk, summed over the kill points. */
        checkedOnDisk: 0,
        /** Edits written but not yet acknowledged at the kill, summed over the kill points. */
        inFlightAtKills: 0,
        ackedLost: 0,
        duplicated: 0,
        damaged: 0,
        fullChecks: 0,
        meetingDocDiverged: 0,
        written: 0,
        acked: 0,
      };
      const problems: string[] = [];

      /** Pause writing; wait until every client is back, saved and converged; check a fresh device. */
      const fullCheck = async (label: string) => {
        stopWriting();
        stats.fullChecks++;
        const fresh = device(child.url, reader);
        await connected(fresh);
        const all = [...writers.map((w) => w.conn), fresh];
        try {
          await until(
            () => writers.every((w) => w.conn.status === 'connected' && w.conn.saved) && voicesConverged(all, voices),
            `${label}: every client reconnected, saved and converged`,
            40_000,
          );
        } catch (e) {
          problems.push((e as Error).message);
          throw e;
        }
        for (const w of writers) {
          const counts = countOf(said(fresh, w.admission.participantId));
          const missing = w.written.filter((m) => !counts.has(m));
          const dup = [...counts].filter(([, n]) => n > 1);
          if (missing.length)
            problems.push(
              `${label}: ${w.tag} misses ${missing.length} markers after reload: ${missing.slice(0, 3).join(', ')}`,
            );
          if (dup.length) problems.push(`${label}: ${w.tag} has duplicated markers: ${dup.slice(0, 3).join(', ')}`);
          stats.duplicated += dup.length;
        }
        // The server-written meeting document (order marks) should be the same on every device too.
        const marksOf = (c: MeetingConnection) => c.order.map((mk) => `${mk.v}/${mk.id}`);
        const freshMarks = marksOf(fresh);
        const dupMarks = freshMarks.length - new Set(freshMarks).size;
        if (dupMarks) problems.push(`${label}: ${dupMarks} entries carry more than one order mark on a fresh device`);
        try {
          await until(
            () => writers.every((w) => marksOf(w.conn).join() === marksOf(fresh).join()),
            'meeting docs converge',
            3_000,
          );
        } catch {
          const diverged = writers.filter((w) => marksOf(w.conn).join() !== marksOf(fresh).join());
          stats.meetingDocDiverged = Math.max(stats.meetingDocDiverged, diverged.length);
          const w = diverged[0]!;
          problems.push(
            `${label}: the meeting document (order marks) differs from a fresh device on ${diverged.length} of 20 open clients ` +
              `(e.g. ${w.tag}: ${marksOf(w.conn).length} marks, ${marksOf(w.conn).length - new Set(marksOf(w.conn)).size} duplicated; fresh: ${freshMarks.length})`,
          );
        }
        fresh.close();
      };

      startWriting();
      const started = Date.now();
      const report = () => {
        stats.written = writers.reduce((n, w) => n + w.written.length, 0);
        stats.acked = writers.reduce((n, w) => n + w.acked, 0);
        const { updates, bytes } = readLog(dataDir, meetingId);
        console.log(
          `[kill] seed ${seed}: ${stats.killPoints} kill points in ${((Date.now() - started) / 1000).toFixed(1)} s, ` +
            `${stats.written} edits written, ${stats.acked} acknowledged as saved, ` +
            `${stats.checkedOnDisk} acknowledged markers looked up on disk over all kill points ` +
            `(and ${stats.inFlightAtKills} unacknowledged edits in flight at the kills), ` +
            `acknowledged edits lost: ${stats.ackedLost}, duplicated: ${stats.duplicated}, damaged logs: ${stats.damaged}, ` +
            `full convergence checks: ${stats.fullChecks}, open clients whose meeting document diverged: ${stats.meetingDocDiverged}; ` +
            `log now ${updates.length} records, ${bytes} bytes`,
        );
        for (const p of problems) console.log(`[kill] PROBLEM ${p}`);
      };
      try {
        for (let k = 0; k < killPoints; k++) {
          if (k % 4 === 3) {
            await fullCheck(`after restart ${k}`);
            startWriting();
          }
          // A third of the kills land while clients are still reconnecting and re-sending (and while a
          // long log is compacted on load); the rest during steady writing.
          const delay = rand() < 0.35 ? Math.floor(rand() * 400) : 400 + Math.floor(rand() * 1800);
          await sleep(delay);
          const acked = writers.map((w) => w.written.slice(0, w.acked));
          await child.kill('SIGKILL');
          stats.killPoints++;

          // Straight from the disk, before anything can repair it: every acknowledged marker is there.
          let disk: Map<string, string[]>;
          try {
            disk = saidOnDisk(dataDir, meetingId);
          } catch (e) {
            stats.damaged++;
            problems.push(`kill ${k}: the log cannot be read: ${(e as Error).message}`);
            disk = new Map();
          }
          stats.checkedOnDisk += acked.reduce((n, a) => n + a.length, 0);
          stats.inFlightAtKills += writers.reduce((n, w, i) => n + w.written.length - acked[i]!.length, 0);
          writers.forEach((w, i) => {
            const counts = countOf(disk.get(w.admission.participantId) ?? []);
            const missing = acked[i]!.filter((m) => !counts.has(m));
            if (missing.length) {
              stats.ackedLost += missing.length;
              problems.push(
                `kill ${k} (after ${delay} ms): ${missing.length} acknowledged markers of ${w.tag} missing on disk: ${missing.slice(0, 3).join(', ')}`,
              );
            }
            const dup = [...counts].filter(([, n]) => n > 1);
            if (dup.length) {
              stats.duplicated += dup.length;
              problems.push(`kill ${k}: ${w.tag} markers stored twice: ${dup.slice(0, 3).join(', ')}`);
            }
          });
          child = await spawnServer({ dataDir, port });
        }

        await fullCheck('final');
      } finally {
        stopWriting();
        report();
      }

      expect(stats.killPoints).toBeGreaterThanOrEqual(Math.min(25, killPoints));
      expect.soft(stats.ackedLost, 'acknowledged edits lost').toBe(0);
      expect.soft(stats.duplicated, 'duplicated markers').toBe(0);
      expect.soft(stats.damaged, 'logs that could not be read after a kill').toBe(0);
      expect
        .soft(
          problems.filter((p) => p.includes('meeting document')),
          'every open client converges with a fresh device on the meeting document too',
        )
        .toEqual([]);
      expect(problems.filter((p) => !p.includes('meeting document'))).toEqual([]);
      for (const w of writers) w.conn.close();
      await child.kill('SIGTERM');
    },
  );

  it('SIGTERM flushes pending writes of 20 participants before the process exits', { timeout: 120_000 }, async () => {
    const dataDir = await tempDir('polyphony-term-');
    // A long group-commit window, so that the writes are certainly still pending at the signal.
    const child = await spawnServer({ dataDir, env: { FLUSH_WINDOW_MS: '4000' } });
    const opened = await openMeeting(child, 'Facilitator');
    const admissions: Admission[] = [opened];
    for (let i = 1; i < 20; i++) admissions.push(await join(child, opened, `Person ${i}`));
    const observerAdmission = await join(child, opened, 'Observer');
    const conns = admissions.map((a) => device(child.url, a));
    const observer = device(child.url, observerAdmission);
    await Promise.all([...conns, observer].map((c) => connected(c)));
    await until(() => conns.every((c) => c.saved), 'everyone starts saved', 20_000);

    const written = conns.map((c, i) =>
      Array.from({ length: 5 }, (_, k) => `pending ${i}-${k}`).map((t) => (c.say(t), t)),
    );
    // The server has applied every one of them (the observer has them all), not yet written them.
    await until(
      () => conns.every((c, i) => written[i]!.every((t) => said(observer, c.me!).includes(t))),
      'observer has every pending edit',
      20_000,
    );
    expect(conns.filter((c) => c.saved)).toHaveLength(0);

    const exit = await child.kill('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    for (const c of [...conns, observer]) c.close();

    const disk = saidOnDisk(dataDir, opened.meetingId);
    const missing = admissions.flatMap((a, i) =>
      written[i]!.filter((t) => !(disk.get(a.participantId) ?? []).includes(t)),
    );
    console.log(
      `[kill] SIGTERM: ${written.flat().length} pending edits at the signal, ${missing.length} missing on disk after exit`,
    );
    expect(missing).toEqual([]);

    const again = await spawnServer({ dataDir });
    const fresh = device(again.url, observerAdmission);
    await connected(fresh);
    await until(
      () => admissions.every((a, i) => written[i]!.every((t) => said(fresh, a.participantId).includes(t))),
      'a fresh device loads every edit',
      20_000,
    );
    fresh.close();
    await again.kill('SIGTERM');
  });
});
