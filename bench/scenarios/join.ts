/**
 * Scenario 3 — joining a large meeting: W participants write C contributions in bulk (many
 * entries per Yjs update), the meeting stays loaded, then new joiners one after another join over
 * HTTP, connect and load the whole record. Measures the time until the joiner's record holds all
 * C contributions, and the server CPU time consumed meanwhile (its share of the wait).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as Y from 'yjs';
import { BaselineClient, PolyphonyClient, entry, processCpuMs, type BenchClient } from '../lib/clients.js';
import { joinMeeting, openMeeting } from '../lib/http.js';
import { startServer, type Side } from '../lib/proc.js';
import { median, pool, sleep, until } from '../lib/util.js';
import { withTimeout } from '../lib/probe.js';
import { MEETING_DOC, isId } from '../../shared/ids.js';
import { VOICE_LOG } from '../../shared/record.js';

export interface JoinParams {
  contributions: number;
  writers: number;
  bulkBatch: number;
  joiners: number;
  connectBatch: number;
}

export interface JoinSample {
  /** HTTP join (Polyphony only). */
  httpMs: number | null;
  /** Until the server welcomed the connection (Polyphony) / the socket opened (baseline: n/a). */
  connectMs: number | null;
  /** From the start of the join until the joiner's record holds every contribution. */
  totalMs: number;
  /** Polyphony: one `record()` fold of the full record on the joiner (included in totalMs). */
  foldMs: number | null;
  serverCpuMs: number;
  serverSharePct: number;
  clientCpuMs: number;
  /** connect → synced (ms): from creating the client until it held every document's sync step 2 (and applied it). */
  syncedMs?: number;
  /** The server's part (ms): time during which a sync step 1 of the joiner's was unanswered (see probe.ts). */
  serverPartMs?: number;
  /** WebSocket payload bytes the joiner received until synced. */
  downloadBytes?: number;
  /** Polyphony: of which for the meeting document, and for the voice documents. */
  meetingDocBytes?: number | null;
  voicesBytes?: number | null;
}

export interface JoinResult {
  side: Side;
  /** Which run (ctx.run). */
  run?: string;
  contributions: number;
  writers: number;
  /** Encoded size of every document of the meeting (what a joiner downloads, before framing). */
  recordKB: number;
  /** One plain Yjs document holding the same entries (one Y.Array, pushed in the same batches), encoded (KB). */
  plainDocKB?: number;
  buildMs: number;
  samples: JoinSample[];
  /** The joins, in µs of CLOCK_MONOTONIC (for windowing a CPU profile). */
  windowUs: [number, number];
  median: {
    totalMs: number;
    httpMs: number | null;
    connectMs: number | null;
    foldMs: number | null;
    serverCpuMs: number;
    serverSharePct: number;
    clientCpuMs: number;
    syncedMs?: number | null;
    serverPartMs?: number | null;
    downloadBytes?: number | null;
    meetingDocBytes?: number | null;
    voicesBytes?: number | null;
  };
}

const words = (i: number, w: number) =>
  `contribution ${i} from participant ${w}: what I noticed this week, and what I would like us to try next.`;

export async function joinRun(
  side: Side,
  p: JoinParams,
  ctx: { run: string; logDir: string; serverRoot?: string; cpuProfDir?: string; log: (s: string) => void },
): Promise<JoinResult> {
  const C = p.contributions;
  const W = p.writers;
  const dataDir = side === 'polyphony' ? await mkdtemp(path.join(tmpdir(), 'polyphony-bench-')) : undefined;
  const server = await startServer(side, {
    logFile: path.join(ctx.logDir, `join-${side}-${ctx.run}.log`),
    ...(dataDir ? { dataDir } : {}),
    ...(ctx.serverRoot ? { serverRoot: ctx.serverRoot } : {}),
    ...(ctx.cpuProfDir ? { cpuProfDir: ctx.cpuProfDir } : {}),
  });
  const writers: BenchClient[] = [];
  try {
    // ── build the meeting: W writers, C contributions, pushed in bulk ──
    const first = side === 'polyphony' ? await openMeeting(server.url, 'W0') : null;
    const admissions = first
      ? [
          first,
          ...(await pool(
            Array.from({ length: W - 1 }, (_, i) => i + 1),
            10,
            (i) => joinMeeting(server.url, first, `W${i}`),
          )),
        ]
      : [];
    writers.push(
      ...(await pool(
        Array.from({ length: W }, (_, i) => i),
        p.connectBatch,
        (i): Promise<BenchClient> =>
          side === 'polyphony'
            ? PolyphonyClient.connect(server.url, admissions[i]!, i, null)
            : BaselineClient.connect(server.url, 'large', i, null),
      )),
    );
    const t0 = performance.now();
    await Promise.all(
      writers.map(async (w, wi) => {
        const share = Math.floor(C / W) + (wi < C % W ? 1 : 0);
        for (let done = 0; done < share;) {
          const n = Math.min(p.bulkBatch, share - done);
          w.writeMany(Array.from({ length: n }, (_, j) => entry(words(done + j, wi))));
          done += n;
          await sleep(5);
        }
      }),
    );
    const reference = writers[0]!;
    if (reference instanceof PolyphonyClient) {
      await until(
        () =>
          reference.entries() === C &&
          reference.conn.order.length >= C &&
          writers.every((w) => (w as PolyphonyClient).conn.saved),
        'the large meeting to be written, ordered and saved',
        180_000,
        20,
      );
    } else {
      await until(() => reference.entries() === C, 'the large document to be written', 180_000, 20);
    }
    const buildMs = performance.now() - t0;
    let recordBytes = 0;
    let plainDocBytes = 0;
    if (reference instanceof PolyphonyClient) {
      recordBytes += Y.encodeStateAsUpdate(reference.conn.meetingDoc).length;
      for (const d of reference.conn.voices.values()) recordBytes += Y.encodeStateAsUpdate(d).length;
      // The same words in one plain document, pushed as the baseline's writers push them.
      const plain = new Y.Doc();
      const arr = plain.getArray<unknown>('log');
      for (const d of reference.conn.voices.values()) {
        const entries = d.getArray<unknown>(VOICE_LOG).toArray();
        for (let i = 0; i < entries.length; i += p.bulkBatch) arr.push(entries.slice(i, i + p.bulkBatch));
      }
      plainDocBytes = Y.encodeStateAsUpdate(plain).length;
      plain.destroy();
    } else if (reference instanceof BaselineClient) {
      recordBytes = Y.encodeStateAsUpdate(reference.doc).length;
      plainDocBytes = recordBytes;
    }
    ctx.log(
      `    ${C} contributions by ${W} writers in ${(buildMs / 1000).toFixed(1)} s (${(recordBytes / 1024).toFixed(0)} KB)`,
    );
    await sleep(1000);

    // ── joiners, one after another ──
    const samples: JoinSample[] = [];
    const hr0 = Number(process.hrtime.bigint() / 1000n);
    for (let j = 0; j < p.joiners; j++) {
      const cpu0 = server.cpuMs();
      const client0 = processCpuMs();
      const start = performance.now();
      let httpMs: number | null = null;
      let connectMs: number | null = null;
      let foldMs: number | null = null;
      let joiner: BenchClient;
      if (first) {
        const admission = await joinMeeting(server.url, first, `Joiner ${j}`);
        httpMs = performance.now() - start;
        const pc = await PolyphonyClient.connect(server.url, admission, W + j, null, 30_000, { probe: 'split' });
        joiner = pc;
        connectMs = performance.now() - start - httpMs;
        // Event-driven: check on every change of the joiner's documents (a cheap count first).
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            unsubscribe();
            reject(new Error(`joiner ${j} did not load the record within 120 s`));
          }, 120_000);
          const check = () => {
            if (pc.entries() < C) return;
            const f0 = performance.now();
            const items = pc.conn.record().items.length;
            foldMs = performance.now() - f0;
            if (items < C) return;
            clearTimeout(timer);
            unsubscribe();
            resolve();
          };
          const unsubscribe = pc.conn.subscribe(check);
          check();
        });
      } else {
        const bc = await BaselineClient.connect(server.url, 'large', W + j, null, {
          timeoutMs: 120_000,
          probe: 'split',
        });
        joiner = bc;
        await until(() => bc.entries() >= C, `baseline joiner ${j} to hold the document`, 120_000, 1);
      }
      const totalMs = performance.now() - start;
      const serverCpuMs = server.cpuMs() - cpu0;
      const clientCpuMs = processCpuMs() - client0;
      const probe = (joiner as PolyphonyClient | BaselineClient).probe;
      const sync: Partial<JoinSample> = {};
      if (probe) {
        await withTimeout(probe.synced, 60_000, `joiner ${j} to sync`);
        let meetingDocBytes: number | null = null;
        let voicesBytes: number | null = null;
        if (first) {
          meetingDocBytes = probe.bytesByDoc.get(MEETING_DOC) ?? 0;
          voicesBytes = 0;
          for (const [doc, b] of probe.bytesByDoc) if (isId(doc)) voicesBytes += b;
        }
        Object.assign(sync, {
          syncedMs: probe.connectToSyncedMs!,
          serverPartMs: probe.serverMs(),
          downloadBytes: probe.bytesToSynced!,
          meetingDocBytes,
          voicesBytes,
        });
      }
      samples.push({
        ...sync,
        httpMs,
        connectMs,
        totalMs,
        foldMs,
        serverCpuMs,
        serverSharePct: (100 * serverCpuMs) / totalMs,
        clientCpuMs,
      });
      joiner.close();
      await sleep(1000);
    }
    const hr1 = Number(process.hrtime.bigint() / 1000n);
    const med = (f: (s: JoinSample) => number | null): number | null => {
      const v = samples.map(f).filter((x): x is number => x !== null);
      return v.length ? median(v) : null;
    };
    return {
      side,
      run: ctx.run,
      contributions: C,
      writers: W,
      recordKB: recordBytes / 1024,
      plainDocKB: plainDocBytes / 1024,
      buildMs,
      samples,
      windowUs: [hr0, hr1],
      median: {
        totalMs: med((s) => s.totalMs) ?? NaN,
        httpMs: med((s) => s.httpMs),
        connectMs: med((s) => s.connectMs),
        foldMs: med((s) => s.foldMs),
        serverCpuMs: med((s) => s.serverCpuMs) ?? NaN,
        serverSharePct: med((s) => s.serverSharePct) ?? NaN,
        clientCpuMs: med((s) => s.clientCpuMs) ?? NaN,
        syncedMs: med((s) => s.syncedMs ?? null),
        serverPartMs: med((s) => s.serverPartMs ?? null),
        downloadBytes: med((s) => s.downloadBytes ?? null),
        meetingDocBytes: med((s) => s.meetingDocBytes ?? null),
        voicesBytes: med((s) => s.voicesBytes ?? null),
      },
    };
  } finally {
    for (const w of writers) w.close();
    await sleep(300);
    const code = await server.stop();
    if (code !== 0 && code !== null) ctx.log(`  (${side} server exited with code ${code})`);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}
