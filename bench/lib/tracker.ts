/**
 * Edit-to-everyone latency: every contribution carries a unique marker and the writer's send
 * time (`performance.now()` of this process, which all load clients share). A contribution is
 * delivered when every other client of its meeting has it; its latency is the last arrival
 * minus the embedded send time.
 */
import { performance } from 'node:perf_hooks';

interface Rec {
  writer: number;
  t0: number;
  measured: boolean;
  expect: number;
  receivers: Set<number>;
  last: number;
  marked: Set<number>;
  lastMark: number;
}

const MARKER = /^\[bench (\S+) (\d+(?:\.\d+)?)\]/;

export class Tracker {
  readonly #recs = new Map<string, Rec>();
  readonly #byEntry = new Map<string, Rec>();
  /** Entries seen that carry no known marker (should stay 0). */
  strays = 0;

  /** `expectFor(writer)`: how many other clients must receive what this writer writes. */
  constructor(readonly expectFor: (writer: number) => number) {}

  /** A new contribution's text, registered with its send time (now). Write it right away. */
  compose(
    writer: number,
    seq: number,
    measured: boolean,
    words = 'a short contribution to the record',
  ): { marker: string; text: string } {
    const marker = `${writer}.${seq}`;
    const t0 = performance.now();
    this.#recs.set(marker, {
      writer,
      t0,
      measured,
      expect: this.expectFor(writer),
      receivers: new Set(),
      last: 0,
      marked: new Set(),
      lastMark: 0,
    });
    return { marker, text: `[bench ${marker} ${t0.toFixed(3)}] ${words}` };
  }

  /** The writer's entry id for a marker (to match Polyphony's order marks, which carry ids). */
  bindEntry(marker: string, entryId: string): void {
    const rec = this.#recs.get(marker);
    if (rec) this.#byEntry.set(entryId, rec);
  }

  /** Client `client` now holds an entry with this text. */
  received(client: number, text: string): void {
    const m = MARKER.exec(text);
    const rec = m ? this.#recs.get(m[1]!) : undefined;
    if (!m || !rec) {
      this.strays++;
      return;
    }
    if (client === rec.writer || rec.receivers.has(client)) return;
    rec.receivers.add(client);
    const now = performance.now();
    // The embedded send time is the reference (it equals rec.t0; parsing it keeps us honest).
    rec.t0 = Number(m[2]);
    if (now > rec.last) rec.last = now;
  }

  /** Client `client` now holds the server's order mark for this entry (Polyphony only). */
  marked(client: number, entryId: string): void {
    const rec = this.#byEntry.get(entryId);
    if (!rec || client === rec.writer || rec.marked.has(client)) return;
    rec.marked.add(client);
    const now = performance.now();
    if (now > rec.lastMark) rec.lastMark = now;
  }

  get sent(): number {
    return this.#recs.size;
  }

  #select(measuredOnly: boolean): Rec[] {
    return [...this.#recs.values()].filter((r) => !measuredOnly || r.measured);
  }

  /** True when every contribution so far has reached every other client of its meeting. */
  allDelivered(withMarks = false): boolean {
    for (const r of this.#recs.values()) {
      if (r.receivers.size < r.expect) return false;
      if (withMarks && r.marked.size < r.expect) return false;
    }
    return true;
  }

  /** Edit-to-everyone latencies (ms) of complete contributions, and how many are incomplete. */
  latencies(measuredOnly = true): { values: number[]; incomplete: number } {
    const values: number[] = [];
    let incomplete = 0;
    for (const r of this.#select(measuredOnly)) {
      if (r.expect === 0) continue;
      if (r.receivers.size < r.expect) incomplete++;
      else values.push(r.last - r.t0);
    }
    return { values, incomplete };
  }

  /** Latency until every other client also holds the server's order mark (ms). */
  markLatencies(measuredOnly = true): number[] {
    const values: number[] = [];
    for (const r of this.#select(measuredOnly)) {
      if (r.expect > 0 && r.marked.size >= r.expect && r.receivers.size >= r.expect) {
        values.push(Math.max(r.last, r.lastMark) - r.t0);
      }
    }
    return values;
  }

  /** Deliveries (one contribution reaching one other client). */
  deliveries(measuredOnly = true): number {
    let n = 0;
    for (const r of this.#select(measuredOnly)) n += r.receivers.size;
    return n;
  }
}
