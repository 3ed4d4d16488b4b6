/**
 * An append-only log of Yjs updates for one meeting, one file per meeting.
 *
 * Record: [u32 LE payload length][u32 LE crc32(payload)][payload]
 * Payload: [u8 doc id length][doc id, ASCII][Yjs update]
 *
 * Appends are one write() and one fdatasync() per batch (the caller groups writes), so storage
 * work per edit grows with the edit, never with the meeting. A record cut short at the very end
 * of the file (a crash mid-write) was never acknowledged: it is dropped on load. A bad record
 * anywhere else means damage: loading refuses and leaves the file as it is.
 */
import { open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import path from 'node:path';
import { DamagedError, type DocUpdate } from './types.js';
import { fsyncDir } from './fsutil.js';

const HEADER = 8;

export function encodeRecords(updates: readonly DocUpdate[]): Buffer {
  const parts: Buffer[] = [];
  for (const { doc, update } of updates) {
    const id = Buffer.from(doc, 'ascii');
    const payload = Buffer.allocUnsafe(1 + id.length + update.length);
    payload[0] = id.length;
    id.copy(payload, 1);
    payload.set(update, 1 + id.length);
    const header = Buffer.allocUnsafe(HEADER);
    header.writeUInt32LE(payload.length, 0);
    header.writeUInt32LE(crc32(payload), 4);
    parts.push(header, payload);
  }
  return Buffer.concat(parts);
}

/** Appends are batches of updates; anything claiming to be larger than this is damage, not a tail. */
const MAX_RECORD = 64 * 1024 * 1024;

/** A whole, checksummed record starts at `off`. */
function recordAt(buf: Buffer, off: number): boolean {
  if (buf.length - off < HEADER) return false;
  const len = buf.readUInt32LE(off);
  if (len < 2 || off + HEADER + len > buf.length) return false;
  const idLen = buf[off + HEADER]!;
  if ((idLen !== 22 && idLen !== 7) || idLen + 1 > len) return false;
  return crc32(buf.subarray(off + HEADER, off + HEADER + len)) === buf.readUInt32LE(off + 4);
}

/**
 * Parse a log. Returns the updates and the byte length of the valid part. A record cut short at
 * the very end is a torn tail (a crash mid-append, never acknowledged); but if a whole record
 * follows it, or it claims an impossible size, a length was damaged: that is damage, never cut.
 */
export function decodeRecords(buf: Buffer, file: string): { updates: DocUpdate[]; validLength: number } {
  const updates: DocUpdate[] = [];
  let off = 0;
  while (off < buf.length) {
    const torn = () => {
      for (let at = off + 1; at + HEADER < buf.length; at++) {
        if (recordAt(buf, at)) throw new DamagedError(file, `bad record length at byte ${off}`);
      }
    };
    if (buf.length - off < HEADER) break; // torn header at the end
    const len = buf.readUInt32LE(off);
    const sum = buf.readUInt32LE(off + 4);
    if (len > MAX_RECORD) throw new DamagedError(file, `impossible record length at byte ${off}`);
    if (off + HEADER + len > buf.length) {
      torn();
      break; // torn record at the end
    }
    const payload = buf.subarray(off + HEADER, off + HEADER + len);
    if (crc32(payload) !== sum || len < 1 || payload[0]! + 1 > len) {
      throw new DamagedError(file, `bad record at byte ${off}`);
    }
    const idLen = payload[0]!;
    updates.push({
      doc: payload.subarray(1, 1 + idLen).toString('ascii'),
      update: new Uint8Array(payload.subarray(1 + idLen)),
    });
    off += HEADER + len;
  }
  return { updates, validLength: off };
}

export class UpdateLog {
  #fh: FileHandle | null = null;
  #opening: Promise<FileHandle> | null = null;
  #chain: Promise<void> = Promise.resolve();
  /** Length of the file's acknowledged part (once known); a failed append is cut back to it. */
  #size = 0;
  #sizeKnown = false;

  constructor(readonly file: string) {}

  async load(): Promise<DocUpdate[]> {
    let buf: Buffer;
    try {
      buf = await readFile(this.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const { updates, validLength } = decodeRecords(buf, this.file);
    this.#size = validLength;
    this.#sizeKnown = true;
    if (validLength < buf.length) {
      // A torn tail from a crash mid-append: never acknowledged, safe to cut.
      const fh = await open(this.file, 'r+');
      try {
        await fh.truncate(validLength);
        await fh.datasync();
      } finally {
        await fh.close();
      }
    }
    return updates;
  }

  /** Append and flush. Calls are serialised; each resolves once its bytes are on disk. */
  append(updates: readonly DocUpdate[]): Promise<void> {
    const buf = encodeRecords(updates);
    const run = this.#chain.then(async () => {
      const fh = await this.#handle();
      try {
        // A nearly full disk takes part of a write and reports a short count, not an error:
        // keep writing until every byte is taken (the next write then fails with ENOSPC).
        for (let done = 0; done < buf.length;) {
          const { bytesWritten } = await fh.write(buf, done, buf.length - done);
          if (bytesWritten <= 0) throw new Error('the disk took no bytes');
          done += bytesWritten;
        }
        await fh.datasync();
        this.#size += buf.length;
      } catch (e) {
        // A disk that filled up mid-write leaves part of a record: cut it off, so the next
        // successful append does not land after a torn record (which would read as damage).
        await fh.truncate(this.#size).catch(() => undefined);
        await this.#closeHandle().catch(() => undefined);
        throw e;
      }
    });
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** Replace the whole log atomically with `updates` (compaction, erasure). */
  replace(updates: readonly DocUpdate[]): Promise<void> {
    const run = this.#chain.then(async () => {
      await this.#closeHandle();
      const tmp = `${this.file}.tmp`;
      const fh = await open(tmp, 'w');
      try {
        await fh.write(encodeRecords(updates));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.file);
      await fsyncDir(path.dirname(this.file));
      this.#size = (await stat(this.file)).size;
      this.#sizeKnown = true;
    });
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async size(): Promise<number> {
    try {
      return (await stat(this.file)).size;
    } catch {
      return 0;
    }
  }

  async remove(): Promise<void> {
    await this.#chain;
    await this.#closeHandle();
    await rm(this.file, { force: true });
    await fsyncDir(path.dirname(this.file));
    this.#size = 0;
    this.#sizeKnown = false;
  }

  async close(): Promise<void> {
    await this.#chain;
    await this.#closeHandle();
  }

  async #handle(): Promise<FileHandle> {
    if (this.#fh) return this.#fh;
    this.#opening ??= (async () => {
      let existed = true;
      try {
        await stat(this.file);
      } catch {
        existed = false;
      }
      const fh = await open(this.file, 'a');
      try {
        const size = (await fh.stat()).size;
        if (!this.#sizeKnown) {
          this.#size = size;
          this.#sizeKnown = true;
        } else if (size > this.#size) {
          // An earlier failed append could not be cut back then: cut it now, before appending.
          await fh.truncate(this.#size);
        }
        if (!existed) await fsyncDir(path.dirname(this.file));
      } catch (e) {
        await fh.close();
        throw e;
      }
      return fh;
    })();
    try {
      this.#fh = await this.#opening;
    } finally {
      this.#opening = null;
    }
    return this.#fh;
  }

  async #closeHandle(): Promise<void> {
    const fh = this.#fh;
    this.#fh = null;
    if (fh) await fh.close();
  }
}
