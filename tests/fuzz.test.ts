/**
 * A seeded fuzz corpus of malformed sync and awareness messages (issue 5, SPEC rules 1–6), sent as
 * `y` events over real Socket.IO connections of participants holding valid tokens.
 *
 * The oracle runs inside the server's own event-loop turn: listeners around the server's `y`
 * handler snapshot the target document (Y.encodeStateAsUpdate of the server's copy) just before and
 * just after each message, and see every `refused` the handler emits. So, for each message:
 * - refused ⇒ the target document (and the sender's own) is byte-identical (never half-applied);
 * - not refused ⇒ it was allowed: it must not be of a kind that has to be refused, and whatever it
 *   changed must keep the voice document's rules (only plain, well-shaped entries in `log`, nothing
 *   deleted, nothing pending);
 * - the handler's synchronous time and the event-loop delay of the whole run
 *   (perf_hooks.monitorEventLoopDelay; this process hosts the server) are printed as figures, never
 *   asserted: a busy machine would make them flaky, and timings belong to `npm run bench`.
 * The server stays up, every sender receives each refusal, an untouched canary meeting keeps
 * working, and any input that breaks the oracle is saved to tests/fuzz-regressions/ (replayed first
 * on every run). Replay a run with FUZZ_SEED=<seed>; scale it with FUZZ_SCALE=<factor>.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { PerformanceObserver, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import * as encoding from 'lib0/encoding';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { MEETING_DOC, randomId } from '../shared/ids.js';
import { PROTOCOL_VERSION, Refusal, type Admission, type Refused } from '../shared/protocol.js';
import { VOICE_LOG, VoiceEntrySchema } from '../shared/record.js';
import {
  decodeAwareness,
  decodeYMessage,
  bytesOf,
  isPresenceState,
  parser,
  sendable,
  syncStep1,
  syncUpdate,
  yPairs,
} from '../shared/wire.js';
import { connect, join, onCleanup, openMeeting, startServer, until, type TestServer } from './helpers.js';
import { prng, seedFrom } from './faults/util.js';

const REGRESSIONS = path.resolve(import.meta.dirname, 'fuzz-regressions');
const SLOTS = 24;
const BASE_AT = 1_700_000_000_000;
/** Placeholder awareness client ids, bound at send time to the sender's own id / another connection's id. */
const OWN_AWARENESS = 7_777_777;
const FOREIGN_AWARENESS = 8_888_888;

/** Where a case is sent: 0 own voice, 1 another participant's voice, 2 the meeting document, 3 an unknown document id. */
type Target = 0 | 1 | 2 | 3;

interface Case {
  kind: string;
  /** Which participant sends it (the one whose base state it was made from). */
  slot: number;
  target: Target;
  /** A y-protocols message (sent as base64), or raw `y` arguments (wire-level junk). */
  bytes?: Uint8Array;
  wire?: unknown[];
  /** Must be refused whatever the server's state. */
  mustRefuse: boolean;
}

interface Slot {
  admission: Admission;
  socket: Socket;
  /** Deterministic base content of this participant's voice (same in every run). */
  base: Y.Doc;
  refusedSeen: Refused[];
  awarenessId: number;
}

// ── building messages ────────────────────────────────────────────────────────────────────

function baseDoc(slot: number): Y.Doc {
  const d = new Y.Doc({ gc: false });
  d.clientID = 1000 + slot;
  d.getArray(VOICE_LOG).push(
    [0, 1, 2].map((k) => ({ t: 'say', id: `base${slot}x${k}abc`, text: `base words ${slot}.${k}`, at: BASE_AT })),
  );
  return d;
}

/** The update a change makes to a copy of `base` (written by a new Yjs client id). */
function change(base: Y.Doc, fn: (doc: Y.Doc) => void, clientID: number): Uint8Array {
  const d = new Y.Doc({ gc: false });
  d.clientID = clientID;
  Y.applyUpdate(d, Y.encodeStateAsUpdate(base));
  const sv = Y.encodeStateVector(d);
  fn(d);
  return Y.encodeStateAsUpdate(d, sv);
}

function awareness(entries: Array<{ id: number; clock: number; json: string }>): Uint8Array {
  const inner = encoding.createEncoder();
  encoding.writeVarUint(inner, entries.length);
  for (const e of entries) {
    encoding.writeVarUint(inner, e.id);
    encoding.writeVarUint(inner, e.clock);
    encoding.writeVarString(inner, e.json);
  }
  const outer = encoding.createEncoder();
  encoding.writeVarUint(outer, 1);
  encoding.writeVarUint8Array(outer, encoding.toUint8Array(inner));
  return encoding.toUint8Array(outer);
}

function frame(type: number, sub: number | null, payload: Uint8Array): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, type);
  if (sub !== null) encoding.writeVarUint(e, sub);
  encoding.writeVarUint8Array(e, payload);
  return encoding.toUint8Array(e);
}

function generate(seed: number, scale: number): Case[] {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const cid = () => 10_000 + int(2 ** 30);
  const bases = Array.from({ length: SLOTS }, (_, i) => baseDoc(i));
  /** The sender of the cases being made: set by `base()` (sticky) or `anySlot()`. */
  let slot = 0;
  const base = () => bases[(slot = int(SLOTS))]!;
  const anySlot = () => void (slot = int(SLOTS));
  let n = 0;
  const entry = () => ({
    t: 'say',
    id: `fz${(n++).toString(36).padStart(8, '0')}`,
    text: `fuzz words ${n}`,
    at: BASE_AT + n,
  });
  const valid = (b: Y.Doc, count = 1 + int(2)) =>
    change(b, (d) => d.getArray(VOICE_LOG).push(Array.from({ length: count }, entry)), cid());
  const flip = (u: Uint8Array) => {
    const c = Uint8Array.from(u);
    for (let k = 0, m = 1 + int(3); k < m && c.length; k++) c[int(c.length)]! ^= 1 << int(8);
    return c;
  };
  const times = (count: number) => Math.max(1, Math.round(count * scale));
  const out: Case[] = [];
  const add = (kind: string, b: Uint8Array, mustRefuse: boolean, target: Target = 0) =>
    out.push({ kind, slot, target, bytes: b, mustRefuse });

  // Random bytes: bare, or behind a sync / awareness header so that they reach the deeper decoders.
  for (let k = 0; k < times(1200); k++) {
    anySlot();
    const r = bytes(int(256));
    const form = int(3);
    add('random-bytes', form === 0 ? r : form === 1 ? frame(0, int(3), r) : frame(1, null, r), false);
  }
  // Valid sync messages cut at every offset (every proper prefix must be refused).
  for (let k = 0; k < times(32); k++) {
    const m = syncUpdate(valid(base()));
    for (let cut = 0; cut < m.length; cut++) add('cut-message', m.subarray(0, cut), true);
  }
  // Valid updates cut at every offset, framed correctly.
  for (let k = 0; k < times(20); k++) {
    const u = valid(base());
    for (let cut = 0; cut < u.length; cut++) add('cut-update', syncUpdate(u.subarray(0, cut)), false);
  }
  // Bit flips of valid updates (framed) and of whole messages.
  for (let k = 0; k < times(1600); k++) add('bitflip-update', syncUpdate(flip(valid(base()))), false);
  for (let k = 0; k < times(500); k++) add('bitflip-message', flip(syncUpdate(valid(base()))), false);
  // Unknown message types, unknown sync sub-types, trailing bytes.
  for (let k = 0; k < times(300); k++) {
    anySlot();
    const form = int(3);
    if (form === 0) add('unknown-type', frame(2 + int(300), null, bytes(int(40))), true);
    else if (form === 1) add('unknown-sync-type', frame(0, 3 + int(250), bytes(int(40))), true);
    else {
      const m = syncUpdate(valid(base()));
      const t = new Uint8Array(m.length + 1 + int(8));
      t.set(m);
      t.set(bytes(t.length - m.length), m.length);
      add('trailing-bytes', t, true);
    }
  }
  // Updates with missing dependencies: a clock gap, or an origin the server does not have.
  for (let k = 0; k < times(300); k++) {
    const b = base();
    const d = new Y.Doc({ gc: false });
    Y.applyUpdate(d, Y.encodeStateAsUpdate(b));
    d.clientID = cid();
    d.getArray(VOICE_LOG).push([entry()]);
    const sv = Y.encodeStateVector(d);
    if (int(2) === 1) d.clientID = cid();
    d.getArray(VOICE_LOG).push([entry()]);
    add('missing-dependencies', syncUpdate(Y.encodeStateAsUpdate(d, sv)), true);
  }
  // Updates that delete: a base entry, or an entry inserted in the same update.
  for (let k = 0; k < times(200); k++) {
    const b = base();
    const form = int(3);
    const u = change(
      b,
      (d) => {
        const log = d.getArray(VOICE_LOG);
        if (form === 0) log.delete(int(3), 1);
        else if (form === 1) {
          log.push([entry(), entry()]);
          log.delete(log.length - 1, 1);
        } else {
          log.delete(0, 3);
          log.push([entry()]);
        }
      },
      cid(),
    );
    add('delete', syncUpdate(u), true);
  }
  // Nested types, map keys, text, binary and other content.
  const nested: Array<(d: Y.Doc) => void> = [
    (d) => d.getArray(VOICE_LOG).push([new Y.Map()]),
    (d) => d.getArray(VOICE_LOG).push([new Y.Array()]),
    (d) => d.getArray(VOICE_LOG).push([new Y.Text('hidden')]),
    (d) => d.getArray(VOICE_LOG).push([new Y.XmlFragment()]),
    (d) => d.getArray(VOICE_LOG).push([new Uint8Array([1, 2, 3])]),
    (d) => d.getMap('notes').set('k', { t: 'say' }),
    (d) => d.getText('notes').insert(0, 'text outside the log'),
    (d) => d.getArray('other').push([entry()]),
  ];
  for (let k = 0; k < times(300); k++)
    add('nested-or-foreign-type', syncUpdate(change(base(), pick(nested), cid())), true);
  // A map key on the log itself: the update is made in a document whose `log` is a map.
  for (let k = 0; k < times(50); k++) {
    anySlot();
    const d = new Y.Doc();
    d.clientID = cid();
    d.getMap(VOICE_LOG).set(pick(['__proto__', 'constructor', 'k', 'log']), entry());
    add('map-key', syncUpdate(Y.encodeStateAsUpdate(d)), true);
  }
  // Entries that do not have the record's shape (alone, or beside valid ones).
  const bad: Array<() => unknown> = [
    () => ({ t: 'say' }),
    () => ({ ...entry(), t: 'delete' }),
    () => ({ ...entry(), text: 'x'.repeat(5001) }),
    () => ({ ...entry(), text: '   ' }),
    () => ({ ...entry(), id: '../../etc' }),
    () => ({ ...entry(), extra: true }),
    () => ({ ...entry(), at: -1 }),
    () => ({ ...entry(), at: 1.5 }),
    () => ({ ...entry(), re: 'not-a-ref' }),
    () => ({ ...entry(), for: '__proto__' }),
    () => ({ t: 'amend', id: 'abcdefgh', of: 'x', text: 'y', at: 1 }),
    () => ({ t: 'position', id: 'abcdefgh', of: 'bad', stance: 'yes', at: 1 }),
    () => null,
    () => 42,
    () => 'a plain string',
    () => [entry()],
    () => JSON.parse('{"__proto__": {"polluted": true}, "t": "say"}') as unknown,
  ];
  for (let k = 0; k < times(400); k++) {
    const items = int(2) === 0 ? [pick(bad)()] : [entry(), pick(bad)(), entry()];
    add('bad-entry', syncUpdate(change(base(), (d) => d.getArray(VOICE_LOG).push(items), cid())), true);
  }
  // Awareness: other connections' client ids, oversize states, bad JSON, more than a presence state.
  for (let k = 0; k < times(800); k++) {
    anySlot();
    const form = int(8);
    const own = { id: OWN_AWARENESS, clock: 1 + int(1000) }; // replaced by the sender's own awareness id at send time
    if (form === 0)
      add(
        'awareness-foreign-id',
        awareness([{ id: FOREIGN_AWARENESS, clock: 1000 + int(1000), json: '{"typing":true}' }]),
        true,
      );
    else if (form === 1)
      add(
        'awareness-oversize',
        awareness([{ ...own, json: JSON.stringify({ typing: true, pad: 'x'.repeat(600 + int(4000)) }) }]),
        true,
      );
    else if (form === 2)
      add(
        'awareness-bad-json',
        awareness([
          { ...own, json: pick(['{', '{"typing":', 'undefined', '', '{"typing":true}}', "{'typing':true}"]) },
        ]),
        true,
      );
    else if (form === 3)
      add(
        'awareness-not-presence',
        awareness([
          {
            ...own,
            json: pick([
              '{"typing":"yes"}',
              '{"name":"Boss"}',
              '[]',
              '42',
              '"x"',
              '{"typing":true,"role":"facilitator"}',
              '{"__proto__":{"typing":true}}',
            ]),
          },
        ]),
        true,
      );
    else if (form === 4)
      add(
        'awareness-too-many',
        awareness(
          Array.from({ length: 17 + int(20) }, (_, i) => ({ id: 900_000 + i, clock: 1, json: '{"typing":false}' })),
        ),
        true,
      );
    else if (form === 5) add('awareness-other-doc', awareness([{ ...own, json: '{"typing":true}' }]), true, 1);
    else if (form === 6) add('awareness-valid', awareness([{ ...own, json: `{"typing":${int(2) === 0}}` }]), false);
    else {
      const m = awareness([{ ...own, json: '{"typing":true}' }]);
      add('awareness-mangled', int(2) === 0 ? m.subarray(0, int(m.length)) : flip(m), false);
    }
  }
  // Writes to documents that are not the sender's own.
  for (let k = 0; k < times(400); k++) add('other-voice', syncUpdate(valid(base())), true, 1);
  for (let k = 0; k < times(300); k++)
    add('meeting-document', int(2) === 0 ? syncUpdate(valid(base())) : frame(0, 1, valid(base())), true, 2);
  for (let k = 0; k < times(150); k++) add('unknown-document', syncUpdate(valid(base())), true, 3);
  // Sync step 1 with garbage state vectors: answered or refused, never a change.
  for (let k = 0; k < times(200); k++, anySlot())
    add('step1-garbage', frame(0, 0, bytes(int(64))), false, pick([0, 1, 2] as const));
  // Valid updates (the state moves on, so mutations meet more than the base state).
  for (let k = 0; k < times(200); k++) add('valid', syncUpdate(valid(base())), false);
  // Wire-level junk in the `y` event itself.
  const junk: Array<() => unknown[]> = [
    () => [42, 'AAAA'],
    () => ['__proto__', 'AAAA'],
    () => [{ toString: 'x' }, { length: 3 }],
    () => [],
    () => [null, null],
    () => ['own', 123],
    () => ['own', '!!!! not base64 ~~~~'],
    () => ['own', ['AAAA']],
    () => ['own', 'A'.repeat(360_000)],
    () => ['own', new Uint8Array(360_000)],
    () => [new Uint8Array([1, 2]), new Uint8Array([0, 0, 0])],
  ];
  for (let k = 0; k < times(100); k++) {
    anySlot();
    out.push({ kind: 'wire-junk', slot, target: 0, wire: pick(junk)(), mustRefuse: true });
  }

  // Deterministic shuffle.
  for (let i = out.length - 1; i > 0; i--) {
    const j = int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  // One large valid update (1,000 entries, ~70 kB), last, so that the documents stay small while fuzzing.
  add('valid-large', syncUpdate(valid(base(), 1000)), false);
  return out;
}

/** Every voice-document rule an allowed message must have kept. Returns what is wrong, or null. */
function voiceProblem(doc: Y.Doc): string | null {
  if (doc.store.pendingStructs !== null || doc.store.pendingDs !== null)
    return 'part of an update is pending (half-applied)';
  if (Y.createDeleteSetFromStructStore(doc.store).clients.size > 0) return 'something was deleted';
  for (const [name, type] of doc.share) {
    if (name === VOICE_LOG) continue;
    if (type._start !== null || type._map.size > 0) return `root type "${name}" holds content`;
  }
  const log = doc.share.get(VOICE_LOG);
  if (!log) return null;
  if (log._map.size > 0) return 'the log has map keys';
  for (let item = log._start; item !== null; item = item.right) {
    if (!(item.content instanceof Y.ContentAny)) return `the log holds ${item.content.constructor.name}`;
    for (const e of item.content.arr)
      if (!v.is(VoiceEntrySchema, e)) return `an entry has the wrong shape: ${JSON.stringify(e).slice(0, 80)}`;
  }
  return null;
}

function saveRegression(c: Case, bytes: Uint8Array, why: string): string {
  mkdirSync(REGRESSIONS, { recursive: true });
  const name = `${c.kind}-${Buffer.from(bytes).toString('hex').slice(0, 16)}-${bytes.length}.bin`;
  writeFileSync(path.join(REGRESSIONS, name), Buffer.concat([Buffer.from([c.target]), Buffer.from(bytes)]));
  return `${name}: ${why}`;
}

function rawParticipant(server: TestServer, admission: Admission): Promise<Socket> {
  const socket = io(server.url, {
    auth: { protocol: PROTOCOL_VERSION, meetingId: admission.meetingId, token: admission.personalToken },
    parser,
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  onCleanup(() => {
    socket.disconnect();
  });
  return new Promise((resolve, reject) => {
    socket.once('welcome', () => resolve(socket));
    socket.once('connect_error', (e) => reject(e));
  });
}

/** Everything this socket sent before has been handled by the server (a sync step 1 is answered in order). */
async function barrier(socket: Socket): Promise<void> {
  let answered = false;
  const fn = (...args: unknown[]) => {
    // (The server names the meeting document by its number, 0.)
    for (const [doc, message] of yPairs(args))
      if (doc === 0 && decodeYMessage(bytesOf(message)!).kind === 'step2') answered = true;
  };
  socket.on('y', fn);
  socket.emit('y', MEETING_DOC, sendable(syncStep1(new Y.Doc())));
  await until(() => answered, 'barrier', 20_000);
  socket.off('y', fn);
}

describe('fuzzing the data plane', () => {
  it(
    'malformed sync and awareness messages: refused without any change, the canary keeps working',
    { timeout: 120_000 },
    async () => {
      const seed = seedFrom('FUZZ_SEED');
      const scale = Number(process.env.FUZZ_SCALE ?? 1);
      const corpus = generate(seed, scale);
      const regressions = (() => {
        try {
          return readdirSync(REGRESSIONS)
            .filter((f) => f.endsWith('.bin'))
            .sort();
        } catch {
          return [];
        }
      })();
      console.log(
        `[fuzz] seed ${seed} (replay with FUZZ_SEED=${seed}): ${corpus.length} generated cases + ${regressions.length} saved regressions`,
      );

      const server = await startServer();
      const fuzzMeeting = await openMeeting(server, 'Opener');
      const canaryMeeting = await openMeeting(server, 'Canary');
      const canary = await connect(server, canaryMeeting);
      canary.say('canary words before the fuzzing');
      await until(() => canary.saved, 'canary saved');

      // ── the oracle, inside the server's own `y` handling ──
      const stats = {
        cases: 0,
        refused: 0,
        allowed: 0,
        rateLimited: 0,
        changedAllowed: 0,
        maxHandlerMs: 0,
        maxHandlerKind: '',
        byCode: new Map<string, number>(),
        byKind: new Map<string, { sent: number; refused: number }>(),
      };
      const violations: string[] = [];
      const slow: Array<{ kind: string; dt: number }> = [];
      const queues = new Map<string, Array<{ c: Case; bytes: Uint8Array | null }>>();
      const serverRefusals = new Map<string, number>();
      const docOf = (id: string): Y.Doc | undefined => {
        const m = server.app.meetings.peek(fuzzMeeting.meetingId);
        return id === MEETING_DOC ? m?.meetingDoc : m?.voiceDocs().get(id);
      };
      const snap = (id: string) => {
        const d = docOf(id);
        return d ? Buffer.from(Y.encodeStateAsUpdate(d)) : null;
      };
      const same = (a: Buffer | null, b: Buffer | null) => (a === null ? b === null : b !== null && a.equals(b));
      server.app.io.on('connection', (socket) => {
        const sid = socket.id;
        const own = socket.data.participantId;
        const refusedNow: Refused[] = [];
        const emit = socket.emit.bind(socket) as (ev: string, ...args: unknown[]) => boolean;
        (socket as unknown as { emit: typeof emit }).emit = (ev, ...args) => {
          if (ev === 'refused') {
            refusedNow.push(args[0] as Refused);
            serverRefusals.set(sid, (serverRefusals.get(sid) ?? 0) + 1);
          }
          return emit(ev, ...args);
        };
        let ctx: {
          item: { c: Case; bytes: Uint8Array | null } | undefined;
          target: string;
          before: Buffer | null;
          beforeOwn: Buffer | null;
          t0: number;
        } | null = null;
        socket.prependListener('y', (doc: unknown) => {
          const item = queues.get(sid)?.shift();
          const target = typeof doc === 'string' && docOf(doc) ? doc : own;
          refusedNow.length = 0;
          const before = snap(target);
          ctx = { item, target, before, beforeOwn: target === own ? before : snap(own), t0: performance.now() };
        });
        socket.on('y', () => {
          const dt = performance.now() - ctx!.t0;
          const { item, target, before, beforeOwn } = ctx!;
          ctx = null;
          if (!item) return; // set-up messages and barriers
          const { c, bytes } = item;
          stats.cases++;
          const k = stats.byKind.get(c.kind) ?? { sent: 0, refused: 0 };
          k.sent++;
          stats.byKind.set(c.kind, k);
          if (dt > stats.maxHandlerMs) {
            stats.maxHandlerMs = dt;
            stats.maxHandlerKind = c.kind;
          }
          const codes = refusedNow.map((r) => r.code);
          if (codes.includes(Refusal.rateLimited)) {
            stats.rateLimited++;
            return;
          }
          const afterTarget = snap(target);
          const changed = !same(before, afterTarget) || !same(beforeOwn, target === own ? afterTarget : snap(own));
          if (dt > 20) slow.push({ kind: c.kind, dt });
          const record = (why: string) =>
            violations.push(
              bytes ? saveRegression(c, bytes, why) : `${c.kind} (wire ${JSON.stringify(c.wire).slice(0, 60)}): ${why}`,
            );
          if (codes.length > 1) record(`${codes.length} refusals for one message`);
          if (codes.length > 0) {
            stats.refused++;
            k.refused++;
            for (const code of codes) stats.byCode.set(code, (stats.byCode.get(code) ?? 0) + 1);
            if (changed) record(`refused (${codes.join()}) but the document changed`);
            return;
          }
          stats.allowed++;
          if (c.mustRefuse) record('allowed, but a message of this kind must be refused');
          if (changed) {
            stats.changedAllowed++;
            for (const id of new Set([target, own])) {
              if (id === MEETING_DOC) {
                record('the meeting document changed');
                continue;
              }
              const problem = voiceProblem(docOf(id)!);
              if (problem) record(`allowed and broke the voice rules: ${problem}`);
            }
          }
        });
      });

      const slots: Slot[] = [];
      const admissions = [fuzzMeeting];
      for (let i = 1; i < SLOTS; i++) admissions.push(await join(server, fuzzMeeting, `Fuzzer ${i}`));
      for (const [i, admission] of admissions.entries()) {
        const socket = await rawParticipant(server, admission);
        const slot: Slot = { admission, socket, base: baseDoc(i), refusedSeen: [], awarenessId: 5000 + i };
        socket.on('refused', (r: Refused) => slot.refusedSeen.push(r));
        // The deterministic base content, and an awareness client id bound to this connection.
        socket.emit('y', admission.participantId, sendable(syncUpdate(Y.encodeStateAsUpdate(slot.base))));
        socket.emit(
          'y',
          admission.participantId,
          sendable(awareness([{ id: slot.awarenessId, clock: 1, json: '{"typing":false}' }])),
        );
        slots.push(slot);
      }
      await Promise.all(slots.map((s) => barrier(s.socket)));
      for (const s of slots) {
        expect(s.refusedSeen).toEqual([]);
        expect(voiceProblem(docOf(s.admission.participantId)!)).toBeNull();
        expect(docOf(s.admission.participantId)!.getArray(VOICE_LOG).length).toBe(3);
      }
      // An observer: every awareness state anyone is shown must be a presence state.
      const observer = await rawParticipant(server, await join(server, fuzzMeeting, 'Observer'));
      let awarenessSeen = 0;
      observer.on('y', (...args: unknown[]) => {
        for (const [, message] of yPairs(args)) {
          const msg = decodeYMessage(bytesOf(message)!);
          if (msg.kind !== 'awareness') continue;
          for (const e of decodeAwareness(msg.update)) {
            awarenessSeen++;
            if (!isPresenceState(e.state))
              violations.push(`an awareness state reached others: ${JSON.stringify(e.state).slice(0, 80)}`);
          }
        }
      });

      const send = (c: Case) => {
        const s = slots[c.slot]!;
        const me = s.admission.participantId;
        const next = slots[(c.slot + 1) % SLOTS]!;
        const doc =
          c.target === 0
            ? me
            : c.target === 1
              ? next.admission.participantId
              : c.target === 2
                ? MEETING_DOC
                : randomId();
        let bytes = c.bytes ?? null;
        // Bind awareness placeholders to the sender's own client id, or to the next connection's.
        if (bytes && c.kind.startsWith('awareness')) bytes = rebindAwareness(bytes, s.awarenessId, next.awarenessId);
        queues.get(s.socket.id!)!.push({ c, bytes });
        if (c.wire) {
          const args = c.wire.map((x) => (x === 'own' ? me : x));
          (s.socket as unknown as { emit(ev: string, ...a: unknown[]): void }).emit('y', ...args);
        } else s.socket.emit('y', doc, sendable(bytes!));
      };
      for (const s of slots) queues.set(s.socket.id!, []);
      const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

      // Saved regressions first, from the first participant (whose base state they were found on): each
      // broke the rules once, so each must now be refused (and change nothing).
      for (const f of regressions) {
        const b = readFileSync(path.join(REGRESSIONS, f));
        send({
          kind: `regression:${f}`,
          slot: 0,
          target: (b[0]! & 3) as Target,
          bytes: new Uint8Array(b.subarray(1)),
          mustRefuse: true,
        });
        await pause(8);
      }
      await barrier(slots[0]!.socket);
      const regressionViolations = violations.length;

      // The corpus: every participant sends its next case every 8 ms. This paces the sending under
      // the per-connection rate limit (a real-time token bucket); it waits for nothing.
      const perSlot = slots.map(() => [] as Case[]);
      for (const c of corpus) perSlot[c.slot]!.push(c);
      const gcPauses: number[] = [];
      const gcObserver = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) gcPauses.push(e.duration);
      });
      gcObserver.observe({ entryTypes: ['gc'] });
      const eld = monitorEventLoopDelay({ resolution: 10 });
      eld.enable();
      const t0 = Date.now();
      const ticks = Math.max(...perSlot.map((l) => l.length));
      for (let t = 0; t < ticks; t++) {
        for (const list of perSlot) if (list[t]) send(list[t]!);
        await pause(8);
      }
      // The barriers are the awaited condition: each answer comes after the server handled
      // everything its connection sent, and after every refusal it sent for it.
      // One connection after another: 24 barriers at once would be 24 full syncs of the meeting
      // document in one burst (each a few ms), a load of the harness's making, not of any fuzz case.
      for (const sl of slots) await barrier(sl.socket);
      eld.disable();
      gcObserver.disconnect();
      const seconds = (Date.now() - t0) / 1000;

      // The server is up; every participant got each refusal the server sent; the canary works.
      expect(slots.every((s) => s.socket.connected)).toBe(true);
      for (const s of slots) expect(s.refusedSeen.length).toBe(serverRefusals.get(s.socket.id!) ?? 0);
      canary.say('canary words after the fuzzing');
      await until(() => canary.saved, 'canary saved after the fuzzing');
      expect(canary.refusals).toEqual([]);
      const late = await connect(server, canaryMeeting);
      await until(() => late.log(canary.me!).length === 2, 'a new device sees the canary words');
      const health = await fetch(`${server.url}/api/health`);
      expect(health.status).toBe(200);

      const maxEld = eld.max / 1e6;
      const load = loadavg()[0]! / cpus().length;
      const kinds = [...stats.byKind].map(([k, x]) => `${k} ${x.refused}/${x.sent}`).join(', ');
      console.log(
        `[fuzz] ${stats.cases} cases in ${seconds.toFixed(1)} s over ${SLOTS} connections: ${stats.refused} refused, ${stats.allowed} allowed ` +
          `(${stats.changedAllowed} changed a document, each checked against the voice rules), ${stats.rateLimited} rate-limited; ` +
          `refusal codes ${JSON.stringify(Object.fromEntries(stats.byCode))}`,
      );
      console.log(`[fuzz] refused/sent by kind: ${kinds}`);
      console.log(
        `[fuzz] event loop (monitorEventLoopDelay, 10 ms sampling): max ${maxEld.toFixed(1)} ms, p99 ${(eld.percentile(99) / 1e6).toFixed(1)} ms during the run; ` +
          `longest GC pause ${Math.max(0, ...gcPauses).toFixed(1)} ms; ` +
          `machine load ${load.toFixed(2)} per core`,
      );
      console.log(
        `[fuzz] longest single message handling: ${stats.maxHandlerMs.toFixed(2)} ms wall (${stats.maxHandlerKind}); ` +
          `${slow.length} messages over 20 ms (${slow
            .sort((x, y) => y.dt - x.dt)
            .slice(0, 5)
            .map((x) => `${x.kind} ${x.dt.toFixed(0)}`)
            .join(', ')}); ` +
          `awareness states shown to others: ${awarenessSeen}`,
      );
      for (const x of violations.slice(0, 20)) console.log(`[fuzz] VIOLATION ${x}`);
      expect(violations.slice(0, regressionViolations), 'saved regressions').toEqual([]);
      expect(violations).toEqual([]);
      expect(stats.cases).toBeGreaterThanOrEqual(Math.min(10_000, corpus.length));
      expect(stats.rateLimited).toBeLessThan(stats.cases / 100);
    },
  );
});

/** Rewrite the placeholder client ids of an awareness message to real ones. Keeps mangled input as it is. */
function rebindAwareness(bytes: Uint8Array, own: number, foreign: number): Uint8Array {
  try {
    const msg = decodeYMessage(bytes);
    if (msg.kind !== 'awareness') return bytes;
    const entries = decodeRawAwareness(msg.update);
    if (!entries) return bytes;
    return awareness(
      entries.map((e) => ({ ...e, id: e.id === OWN_AWARENESS ? own : e.id === FOREIGN_AWARENESS ? foreign : e.id })),
    );
  } catch {
    return bytes;
  }
}

/** Decode an awareness payload keeping the JSON text as it is (it may be invalid on purpose). */
function decodeRawAwareness(update: Uint8Array): Array<{ id: number; clock: number; json: string }> | null {
  const d = { arr: update, pos: 0 };
  const readVarUint = (): number => {
    let num = 0;
    let mult = 1;
    for (;;) {
      const r = d.arr[d.pos++];
      if (r === undefined) throw new Error('end');
      num += (r & 127) * mult;
      if (r < 128) return num;
      mult *= 128;
    }
  };
  const n = readVarUint();
  const out: Array<{ id: number; clock: number; json: string }> = [];
  for (let i = 0; i < n; i++) {
    const id = readVarUint();
    const clock = readVarUint();
    const len = readVarUint();
    const json = new TextDecoder().decode(d.arr.subarray(d.pos, d.pos + len));
    d.pos += len;
    out.push({ id, clock, json });
  }
  return d.pos === d.arr.length ? out : null;
}
