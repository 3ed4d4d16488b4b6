/**
 * Fault test: the data directory on a small tmpfs that fills up (ENOSPC) while a meeting is
 * running, and a data directory that becomes read-only.
 *
 * Promised: while storage fails, no new edit is shown "saved", the server does not crash, every
 * client is told `storage: 'failing'`; once storage works again everything is saved by itself
 * (`saved` true, `storage: 'ok'`) and nothing is lost after a restart. Throughout, every time a
 * client shows "saved", everything it wrote is readable in the meeting's log on disk.
 */
import { mkdir, mkdtemp, open, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MeetingConnection } from '../../client/lib/connection.js';
import type { Admission } from '../../shared/protocol.js';
import { api, join, onCleanup, openMeeting, until } from '../helpers.js';
import { connected, device, readLog, run, said, saidOnDisk, sleep, spawnServer, type Child } from './util.js';

/** A fresh tmpfs of `size`, unmounted after the file's tests (after the servers using it are gone). */
async function tmpfs(size: string): Promise<string> {
  const dir = await mkdtemp('/tmp/polyphony-tmpfs-');
  const r = await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  if (r.code !== 0) throw new Error(`mount tmpfs failed: ${r.out}`);
  onCleanup(async () => {
    await run('mount', ['-o', 'remount,rw', dir]);
    const u = await run('umount', [dir]);
    if (u.code !== 0) await run('umount', ['-l', dir]);
    await rmdir(dir).catch(() => undefined);
  });
  return dir;
}

interface Writer {
  conn: MeetingConnection;
  admission: Admission;
  written: string[];
  /** Markers written while storage was known to be failing. */
  writtenWhileFailing: number;
  /** "saved" shown while storage was failing and this writer had unsaved words from that time. */
  savedWhileFailing: string[];
}

/** Everything a client wrote must be on disk whenever it shows "saved" (checked at that moment). */
function watchSaved(w: Writer, dataDir: string, meetingId: string, violations: string[], failing: () => boolean): void {
  let wasSaved = w.conn.saved;
  w.conn.subscribe(() => {
    const now = w.conn.saved;
    if (now && !wasSaved && w.written.length > 0) {
      let disk: string[];
      try {
        disk = saidOnDisk(dataDir, meetingId).get(w.admission.participantId) ?? [];
      } catch (e) {
        violations.push(`"saved" shown while the log on disk is unreadable: ${(e as Error).message}`);
        disk = [];
      }
      const have = new Set(disk);
      const missing = w.written.filter((m) => !have.has(m));
      if (missing.length)
        violations.push(`"saved" shown but ${missing.length} edits are not on disk (e.g. ${missing[0]!.slice(0, 40)})`);
      if (failing() && w.writtenWhileFailing > 0)
        w.savedWhileFailing.push(w.written[w.written.length - 1]!.slice(0, 40));
    }
    wasSaved = now;
  });
}

/** A marker too large to fit in what is left of a tmpfs page: every write of it needs a new page. */
const big = (marker: string) => `${marker} ${'x'.repeat(4500)}`;

async function health(url: string): Promise<number> {
  try {
    return (await api(`${url}/api/health`, 'GET')).status;
  } catch {
    return 0;
  }
}

describe('storage that fails while a meeting is running', () => {
  it(
    'disk full (ENOSPC): no "saved", no crash, clients warned; recovers by itself and loses nothing',
    { timeout: 240_000 },
    async () => {
      const mnt = await tmpfs('16m');
      const dataDir = path.join(mnt, 'data');
      await mkdir(dataDir);
      let child: Child = await spawnServer({ dataDir });
      const opened = await openMeeting(child);
      const admissions = [opened];
      for (let i = 1; i < 4; i++) admissions.push(await join(child, opened, `Person ${i}`));
      const meetingId = opened.meetingId;
      const violations: string[] = [];
      let failing = false;
      const writers: Writer[] = admissions.map((admission) => ({
        conn: device(child.url, admission),
        admission,
        written: [],
        writtenWhileFailing: 0,
        savedWhileFailing: [],
      }));
      await Promise.all(writers.map((w) => connected(w.conn)));
      for (const w of writers) watchSaved(w, dataDir, meetingId, violations, () => failing);

      let n = 0;
      let large = false;
      const say = (w: Writer, i: number) => {
        const marker = `disk-${i}-${n++}`;
        const text = large ? big(marker) : marker;
        w.conn.say(text);
        w.written.push(text);
        if (failing) w.writtenWhileFailing++;
      };
      // Writing steadily: every writer every 30 ms.
      const timer = setInterval(() => writers.forEach((w, i) => say(w, i)), 30);
      onCleanup(() => clearInterval(timer));
      try {
        await until(() => writers.every((w) => w.written.length > 10 && w.conn.saved), 'first words saved', 20_000);

        // Fill the disk while the meeting runs: big chunks, then pages, then single bytes.
        const filler = path.join(mnt, 'filler');
        const fh = await open(filler, 'w');
        let filled = 0;
        for (const chunk of [1 << 20, 64 << 10, 4 << 10, 1]) {
          const buf = Buffer.alloc(chunk, 0x5a);
          for (let k = 0; k < 100_000; k++) {
            try {
              const { bytesWritten } = await fh.write(buf);
              filled += bytesWritten;
              if (bytesWritten < chunk) break;
            } catch (e) {
              if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
              break;
            }
          }
        }
        await fh.close();
        // From now on every edit is larger than what is left of any page of the log.
        large = true;
        await until(
          () => writers.every((w) => w.conn.storage === 'failing'),
          'every client warned: storage failing',
          20_000,
        );
        failing = true;
        const savedBefore = writers.map((w) => w.written.length);
        // Five seconds of writing on a full disk: the server stays up and nothing new shows "saved".
        for (let t = 0; t < 10; t++) {
          await sleep(500);
          expect(child.alive(), `server crashed:\n${child.output()}`).toBe(true);
          expect(await health(child.url)).toBe(200);
        }
        const stillFailing = writers.filter((w) => w.conn.storage === 'failing').length;
        const savedWhileFull = writers.filter((w) => w.conn.saved).length;
        console.log(
          `[disk] filled ${filled} bytes; ${writers.reduce((k, w) => k + w.writtenWhileFailing, 0)} edits written while full; ` +
            `clients still warned: ${stillFailing}/4; clients showing "saved" while full: ${savedWhileFull}/4`,
        );
        expect(writers.map((w, i) => w.written.length > savedBefore[i]!)).toEqual([true, true, true, true]);
        expect.soft(savedWhileFull, 'no client shows "saved" while the disk is full').toBe(0);
        expect.soft(stillFailing, 'every client is still warned while the disk is full').toBe(4);
        expect.soft(writers.flatMap((w) => w.savedWhileFailing)).toEqual([]);

        // Free the space: everything is saved by itself, and the warning goes away.
        await rm(filler);
        failing = false;
        large = false;
        await until(
          () => writers.every((w) => w.conn.storage === 'ok' && w.conn.saved),
          'saved and storage ok once space is free',
          30_000,
        );
      } finally {
        clearInterval(timer);
      }
      await until(() => writers.every((w) => w.conn.saved), 'last words saved', 20_000);
      for (const v of violations) console.log(`[disk] VIOLATION ${v.slice(0, 300)}`);
      expect.soft(violations, 'whenever a client shows "saved", everything it wrote is whole on disk').toEqual([]);
      // The log is whole (no torn record in the middle) and holds every edit.
      let missingOnDisk: string[];
      try {
        const disk = saidOnDisk(dataDir, meetingId);
        missingOnDisk = writers.flatMap((w) =>
          w.written.filter((m) => !(disk.get(w.admission.participantId) ?? []).includes(m)),
        );
      } catch (e) {
        missingOnDisk = [`the log cannot be read: ${(e as Error).message}`];
      }
      expect
        .soft(
          missingOnDisk.map((m) => m.slice(0, 120)),
          'every edit is in a readable log',
        )
        .toEqual([]);

      await child.kill('SIGKILL');
      child = await spawnServer({ dataDir, port: child.port });
      const fresh = device(child.url, opened);
      await until(
        () => fresh.status === 'connected' || fresh.status === 'refused',
        'fresh device connected or refused',
        20_000,
      );
      const { body: afterRestart } = await api<{ damaged: unknown[] }>(`${child.url}/api/health`, 'GET');
      console.log(
        `[disk] after the restart: connect ${fresh.connectError ? `refused (${fresh.connectError.code})` : 'ok'}; health damaged: ${JSON.stringify(afterRestart.damaged)}`,
      );
      expect(fresh.connectError, 'the meeting opens after the restart').toBeNull();
      expect(afterRestart.damaged).toEqual([]);
      await until(
        () => writers.every((w) => w.written.every((m) => said(fresh, w.admission.participantId).includes(m))),
        'a fresh device loads every edit after a restart',
        20_000,
      );
      console.log(
        `[disk] after the restart: ${writers.reduce((k, w) => k + w.written.length, 0)} edits, none lost; log ${readLog(dataDir, meetingId).bytes} bytes`,
      );
      fresh.close();
      for (const w of writers) w.conn.close();
      await child.kill('SIGTERM');
    },
  );

  it(
    'read-only data directory: no "saved", no crash, clients warned; recovers once writable; loses nothing',
    { timeout: 180_000 },
    async () => {
      const mnt = await tmpfs('16m');
      const dataDir = path.join(mnt, 'data');
      await mkdir(dataDir);
      let child: Child = await spawnServer({ dataDir });
      const port = child.port;
      const opened = await openMeeting(child);
      const admissions = [opened];
      for (let i = 1; i < 4; i++) admissions.push(await join(child, opened, `Person ${i}`));
      const meetingId = opened.meetingId;
      const violations: string[] = [];
      let failing = false;
      const writers: Writer[] = admissions.map((admission) => ({
        conn: device(child.url, admission),
        admission,
        written: [],
        writtenWhileFailing: 0,
        savedWhileFailing: [],
      }));
      await Promise.all(writers.map((w) => connected(w.conn)));
      for (const w of writers) watchSaved(w, dataDir, meetingId, violations, () => failing);
      let n = 0;
      const sayAll = () =>
        writers.forEach((w, i) => {
          const m = `ro-${i}-${n++}`;
          w.conn.say(m);
          w.written.push(m);
          if (failing) w.writtenWhileFailing++;
        });
      for (let k = 0; k < 5; k++) sayAll();
      await until(() => writers.every((w) => w.conn.saved), 'first words saved', 20_000);

      // A live `remount,ro` is refused by the kernel while the server holds its log open for writing.
      let ro = await run('mount', ['-o', 'remount,ro', mnt]);
      console.log(
        `[disk] remount,ro while the server runs: ${ro.code === 0 ? 'done' : `refused (${ro.out.trim().split('\n')[0]})`}`,
      );
      if (ro.code !== 0) {
        // So: the operator stops the server (SIGTERM), the storage comes back read-only, the server
        // starts on it. The open clients stay open and reconnect by themselves.
        expect(await child.kill('SIGTERM')).toEqual({ code: 0, signal: null });
        ro = await run('mount', ['-o', 'remount,ro', mnt]);
        expect(ro.code, ro.out).toBe(0);
        child = await spawnServer({ dataDir, port });
      }
      await until(() => writers.every((w) => w.conn.status === 'connected'), 'clients reconnected', 20_000);
      // Writing on read-only storage.
      for (let k = 0; k < 3; k++) sayAll();
      await until(
        () => writers.every((w) => w.conn.storage === 'failing'),
        'every client warned: storage failing',
        20_000,
      );
      failing = true;
      for (let t = 0; t < 8; t++) {
        sayAll();
        await sleep(500);
        expect(child.alive(), `server crashed:\n${child.output()}`).toBe(true);
        expect(await health(child.url)).toBe(200);
      }
      expect(writers.filter((w) => w.conn.saved)).toHaveLength(0);
      expect(writers.filter((w) => w.conn.storage === 'failing')).toHaveLength(4);
      expect(writers.flatMap((w) => w.savedWhileFailing)).toEqual([]);

      const rw = await run('mount', ['-o', 'remount,rw', mnt]);
      expect(rw.code, rw.out).toBe(0);
      failing = false;
      await until(() => writers.every((w) => w.conn.storage === 'ok' && w.conn.saved), 'saved once writable', 30_000);
      expect(violations).toEqual([]);

      await child.kill('SIGKILL');
      child = await spawnServer({ dataDir, port });
      const fresh = device(child.url, opened);
      await connected(fresh);
      await until(
        () => writers.every((w) => w.written.every((m) => said(fresh, w.admission.participantId).includes(m))),
        'a fresh device loads every edit after a restart',
        20_000,
      );
      console.log(
        `[disk] read-only: ${writers.reduce((k, w) => k + w.writtenWhileFailing, 0)} edits written while read-only, none lost`,
      );
      fresh.close();
      for (const w of writers) w.conn.close();
      await child.kill('SIGTERM');
    },
  );
});
