/**
 * What a phone downloads to open a room, in every language: under the budget of 150 KB of
 * JavaScript on the wire, every script compressed, and the built ones (hashed names) kept by the
 * device for good while the page itself is asked for again each time.
 */
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { PAGE_BUDGET_BYTES, PAGE_LOCALES, roomPageWeight } from '../../bench/lib/page.js';
import { openMeeting, startServer, type TestServer } from '../helpers.js';
import { launch } from './browser.js';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer({ clientDir: 'dist' }), launch()]);
});

describe('the room page', () => {
  for (const [locale, lang] of PAGE_LOCALES) {
    it(`${lang}: its scripts come compressed, within the budget, and the built ones are kept`, async () => {
      const admission = await openMeeting(server, 'Maria');
      const w = await roomPageWeight(browser, server.url, admission, locale, lang);
      const list = w.scripts.map((s) => `${s.name} ${s.wireBytes}/${s.bytes} ${s.encoding ?? 'identity'}`).join('\n');
      // The entry, the room's own chunk, and (but for English) the language's catalog.
      expect(w.scripts.length, list).toBeGreaterThanOrEqual(lang === 'en' ? 2 : 3);
      for (const s of w.scripts) {
        if (s.bytes < 1024) continue; // too small to be worth compressing (the server's threshold)
        expect(s.encoding, `${s.name} was sent uncompressed`).toMatch(/^(br|gzip)$/);
        expect(s.wireBytes, `${s.name}: ${s.wireBytes} bytes on the wire for ${s.bytes}`).toBeLessThan(s.bytes / 2);
        if (s.name.startsWith('/assets/')) expect(s.cacheControl, s.name).toContain('immutable');
      }
      expect(w.wireBytes, list).toBeLessThan(PAGE_BUDGET_BYTES);
    });
  }

  it('itself is revalidated each time, and a client that asks for no compression gets none', async () => {
    const page = await fetch(`${server.url}/`, { headers: { 'accept-encoding': 'identity' } });
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-encoding')).toBeNull();
    const html = await page.text();
    const entry = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(entry).toBeDefined();
    const plain = await fetch(`${server.url}${entry}`, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers.get('content-encoding')).toBeNull();
    const packed = await fetch(`${server.url}${entry}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(packed.headers.get('content-encoding')).toBe('gzip');
    expect(packed.headers.get('vary')).toMatch(/accept-encoding/i);
    // fetch unpacks it: the same file either way.
    expect(await packed.text()).toBe(await plain.text());
  });
});
