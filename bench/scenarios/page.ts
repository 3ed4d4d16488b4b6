/**
 * Scenario 6 — what a phone downloads to open a room: the page is built (`vite build`), served by
 * Polyphony, and opened in Debian's Chromium from a personal link in each language, with nothing
 * cached. Reports the room page's scripts as they came over the wire (compressed) and unpacked.
 * Polyphony only (the plain server serves no page).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openMeeting } from '../lib/http.js';
import { launchChromium, PAGE_BUDGET_BYTES, PAGE_LOCALES, roomPageWeight, type PageWeight } from '../lib/page.js';
import { ROOT, startServer } from '../lib/proc.js';

export interface PageResult {
  budgetBytes: number;
  languages: PageWeight[];
}

export async function pageRun(ctx: { logDir: string; serverRoot?: string }): Promise<PageResult> {
  const root = ctx.serverRoot ?? ROOT;
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], {
    cwd: root,
    stdio: 'inherit',
  });
  const dataDir = await mkdtemp(path.join(tmpdir(), 'polyphony-bench-'));
  const server = await startServer('polyphony', {
    logFile: path.join(ctx.logDir, 'page-polyphony.log'),
    dataDir,
    clientDir: path.join(root, 'dist'),
    ...(ctx.serverRoot ? { serverRoot: ctx.serverRoot } : {}),
  });
  const browser = await launchChromium();
  try {
    const languages: PageWeight[] = [];
    for (const [locale, lang] of PAGE_LOCALES) {
      const admission = await openMeeting(server.url, 'Maria');
      languages.push(await roomPageWeight(browser, server.url, admission, locale, lang));
    }
    return { budgetBytes: PAGE_BUDGET_BYTES, languages };
  } finally {
    await browser.close();
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
