/**
 * Fault test: a disk that fills up in the middle of one append. On Linux, write(2) then writes
 * what fits and returns a short count — it does not fail. The promise under test: a batch that
 * did not reach the disk whole is never acknowledged, and once space returns the log holds every
 * acknowledged batch and is not damaged. Needs root (it mounts a small tmpfs), like disk.test.ts.
 */
import { mkdtemp, open, readFile, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { randomId } from '../../shared/ids.js';
import { FileStore } from '../../server/store/fileStore.js';
import type { DocUpdate } from '../../server/store/types.js';
import { onCleanup } from '../helpers.js';
import { run } from './util.js';

async function tmpfs(size: string): Promise<string> {
  const dir = await mkdtemp('/tmp/polyphony-short-');
  const r = await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  if (r.code !== 0) throw new Error(`mount tmpfs failed (this test needs root): ${r.out}`);
  onCleanup(async () => {
    const u = await run('umount', [dir]);
    if (u.code !== 0) await run('umount', ['-l', dir]);
    await rmdir(dir).catch(() => undefined);
  });
  return dir;
}

/** Fill the file system with a filler file, then give back `free` bytes. */
async function fillLeaving(dir: string, free: number): Promise<string> {
  const filler = path.join(dir, 'filler');
  const fh = await open(filler, 'w');
  const chunk = Buffer.alloc(4096, 7);
  try {
    for (;;) {
      const { bytesWritten } = await fh.write(chunk);
      if (bytesWritten < chunk.length) break;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  }
  const size = (await fh.stat()).size;
  await fh.truncate(size - free);
  await fh.close();
  return filler;
}

const batch = (tag: number, bytes: number): DocUpdate[] => [
  { doc: 'meeting', update: new Uint8Array(bytes).fill(tag) },
];

describe('a disk that fills up in the middle of an append', () => {
  it(
    'a batch that only partly fits is not acknowledged; when space returns, every acknowledged batch loads and nothing is damaged',
    { timeout: 60_000 },
    async () => {
      const dir = await tmpfs('512k');
      const store = await FileStore.open(dir);
      onCleanup(() => store.close());
      const id = randomId();
      const acknowledged: number[] = [];
      const append = async (tag: number, bytes: number): Promise<string> => {
        try {
          await store.appendUpdates(id, batch(tag, bytes));
          acknowledged.push(tag);
          return 'acknowledged';
        } catch (e) {
          return `refused (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
        }
      };

      expect(await append(1, 1000)).toBe('acknowledged');
      const filler = await fillLeaving(dir, 8192);
      const logBefore = (await stat(path.join(dir, 'meetings', `${id}.ylog`))).size;

      // 64 KB into 8 KB of free space: the write is short.
      const partial = await append(2, 64 * 1024);
      const logAfter = (await stat(path.join(dir, 'meetings', `${id}.ylog`))).size;
      expect
        .soft({ partial, grewBy: logAfter - logBefore })
        .toEqual({ partial: expect.stringMatching(/^refused/), grewBy: 0 });

      // Space comes back; the next append succeeds.
      await rm(filler);
      expect(await append(3, 1000)).toBe('acknowledged');
      await store.close();

      // Everything acknowledged is there, in order, and the log is not damaged.
      const reopened = await FileStore.open(dir);
      onCleanup(() => reopened.close());
      const loaded = await reopened.loadUpdates(id).then(
        (u) => u.map((x) => x.update[0]!),
        (e: Error) => `load failed: ${e.message}`,
      );
      expect(loaded).toEqual(acknowledged);
      expect((await readFile(path.join(dir, 'meetings', `${id}.ylog`))).length).toBeGreaterThan(0);
    },
  );
});
