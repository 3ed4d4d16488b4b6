/**
 * What a device downloads to open a room: every script the room page loads, as the browser
 * received it (after the server's compression), measured in a real Chromium. Shared by the
 * benchmark's `page` scenario and the browser test that holds the budget.
 */
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium, headless, as this machine can run it (the tests and the bench launch it so). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

export interface PageWeight {
  locale: string;
  /** Scripts loaded until the room was ready: each one's name, bytes on the wire and unpacked. */
  scripts: Array<{ name: string; wireBytes: number; bytes: number; encoding: string | null; cacheControl: string }>;
  /** Sum of the scripts' bytes on the wire (the compressed bodies). */
  wireBytes: number;
  /** Sum of the scripts' bytes unpacked. */
  bytes: number;
}

/**
 * Open a room from a personal link as a new person whose browser speaks `locale` (a fresh context:
 * nothing cached), and sum the scripts it loaded by the time the composer shows in that language.
 */
export async function roomPageWeight(
  browser: Browser,
  url: string,
  admission: { meetingId: string; personalToken: string },
  locale: string,
  lang: string,
): Promise<PageWeight> {
  const context = await browser.newContext({ locale, viewport: { width: 360, height: 740 }, serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    const pending: Array<Promise<PageWeight['scripts'][number]>> = [];
    page.on('requestfinished', (req) => {
      if (req.resourceType() !== 'script') return;
      pending.push(
        (async () => {
          const res = await req.response();
          const sizes = await req.sizes();
          const body = res ? await res.body() : Buffer.alloc(0);
          const headers = res ? await res.allHeaders() : {};
          return {
            name: new URL(req.url()).pathname,
            wireBytes: sizes.responseBodySize,
            bytes: body.length,
            encoding: headers['content-encoding'] ?? null,
            cacheControl: headers['cache-control'] ?? '',
          };
        })(),
      );
    });
    // The personal link lets this browser in and lists the person's meetings; the room opens from there.
    await page.goto(`${url}/#/me/${admission.personalToken}`);
    await page.locator(`a[href="#/m/${admission.meetingId}"]`).first().click({ timeout: 20_000 });
    await page.locator('#composer-text').waitFor({ timeout: 20_000 });
    await page.waitForFunction((l) => document.documentElement.lang === l, lang, { timeout: 20_000 });
    await page.waitForLoadState('networkidle', { timeout: 20_000 }).catch(() => undefined);
    const scripts = await Promise.all(pending);
    return {
      locale,
      scripts,
      wireBytes: scripts.reduce((s, x) => s + x.wireBytes, 0),
      bytes: scripts.reduce((s, x) => s + x.bytes, 0),
    };
  } finally {
    await context.close();
  }
}

/** The page's languages, as a browser asks for them, and the `lang` the page then takes. */
export const PAGE_LOCALES: ReadonlyArray<readonly [locale: string, lang: string]> = [
  ['en-GB', 'en'],
  ['fi-FI', 'fi'],
  ['sv-SE', 'sv'],
  ['ar', 'ar'],
];

/** The budget: the room page's JavaScript, compressed, in every language. */
export const PAGE_BUDGET_BYTES = 150 * 1024;
