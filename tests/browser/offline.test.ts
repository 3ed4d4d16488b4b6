/**
 * Issue 5 in a real browser: a poor connection. Anna's phone keeps a copy of the meeting. She goes
 * offline, is told so plainly, writes, and reloads the page while still offline: the service
 * worker opens the app and IndexedDB still holds her words. Back online, everyone sees her words
 * exactly once. A borrowed phone keeps no copy and says so; leaving removes the meeting from it.
 */
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers.js';
import {
  accessible,
  connected,
  contribution,
  launch,
  meetingIdOf,
  more,
  openMeeting,
  person,
  saved,
  shot,
  write,
} from './browser.js';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer({ clientDir: 'dist' }), launch()]);
});

const KEPT = 'Offline — your words are kept on this device and will be shared when you reconnect';
const NOT_KEPT = 'Offline — keep this page open; your words will be shared when you reconnect';

async function join(page: Page, joinUrl: string, name: string, shared: boolean): Promise<void> {
  await page.goto(joinUrl);
  await page.getByRole('textbox', { name: 'Your name' }).fill(name);
  if (shared) await page.getByLabel('This is a shared or borrowed phone').check();
  await page.getByRole('button', { name: 'Join the meeting' }).click();
  await connected(page);
}

/** The app is kept by the service worker, ready to open without a connection. */
async function appKept(page: Page): Promise<void> {
  await page.waitForFunction(() => document.documentElement.dataset.offline === 'ready', undefined, {
    timeout: 15_000,
  });
}

/** Names of this page's IndexedDB databases that hold a copy of the meeting. */
function copies(page: Page, meetingId: string): Promise<string[]> {
  return page.evaluate(
    async (id) => (await indexedDB.databases()).map((d) => d.name ?? '').filter((n) => n.includes(id)),
    meetingId,
  );
}

describe('offline', () => {
  it('words written offline survive a reload while offline and are shared exactly once on reconnecting', async () => {
    const maria = await person(browser, server.url);
    const joinUrl = await openMeeting(maria.page, server.url);
    await maria.page.getByRole('textbox', { name: 'Your name' }).fill('Maria');
    await maria.page.getByRole('button', { name: 'Go to the meeting' }).click();
    await connected(maria.page);
    const anna = await person(browser, server.url);
    await join(anna.page, joinUrl, 'Anna', false);
    const meetingId = meetingIdOf(anna.page);
    await appKept(anna.page);
    await write(anna.page, 'Before the connection went.');
    await saved(anna.page);
    await contribution(maria.page, 'Before the connection went.').waitFor();
    expect((await copies(anna.page, meetingId)).length).toBeGreaterThan(0);

    // Offline: said plainly; writing still works, and is not "Saved".
    await anna.context.setOffline(true);
    await anna.page.getByRole('status').filter({ hasText: KEPT }).waitFor({ timeout: 20_000 });
    await write(anna.page, 'Written in the kitchen, with no signal.');
    await anna.page.getByRole('status').filter({ hasText: 'Not saved yet' }).waitFor();
    expect(await anna.page.getByText(/· Saved/).count()).toBe(0);
    await contribution(anna.page, 'with no signal').getByText('Not sent yet').waitFor();
    await shot(anna.page, 'offline-phone');

    // Reload while still offline: the app opens from this phone, the words are still here.
    await anna.page.reload();
    await anna.page.getByRole('heading', { name: /^Meeting/ }).waitFor();
    await anna.page.getByRole('status').filter({ hasText: KEPT }).waitFor({ timeout: 20_000 });
    await contribution(anna.page, 'with no signal').waitFor();
    await contribution(anna.page, 'Before the connection went.').waitFor();
    // Still writable offline after the reload.
    await write(anna.page, 'And one more after the reload.');
    expect(await contribution(maria.page, 'with no signal').count()).toBe(0);
    await shot(anna.page, 'offline-reloaded-phone');

    // Back online: shared with everyone, exactly once, and saved.
    await anna.context.setOffline(false);
    await connected(anna.page);
    await saved(anna.page);
    for (const p of [maria.page, anna.page]) {
      await contribution(p, 'with no signal').waitFor();
      await contribution(p, 'And one more after the reload.').waitFor();
    }
    // A fresh look from the server's side: exactly once each, in the order they were written.
    await maria.page.reload();
    await connected(maria.page);
    await contribution(maria.page, 'And one more after the reload.').waitFor();
    for (const p of [maria.page, anna.page]) {
      expect(await contribution(p, 'with no signal').count()).toBe(1);
      expect(await contribution(p, 'And one more after the reload.').count()).toBe(1);
      expect(await contribution(p, 'Before the connection went.').count()).toBe(1);
    }

    // Leaving: "Remove this meeting from this device" takes the copy away.
    const sheet = await more(anna.page);
    await sheet.getByRole('button', { name: 'Leave this meeting' }).click();
    await sheet.getByRole('button', { name: 'Leave, and keep it on this device' }).waitFor();
    await accessible(anna.page, 'more: leave this meeting (phone)');
    await shot(anna.page, 'leave-phone');
    await sheet.getByRole('button', { name: 'Remove this meeting from this device' }).click();
    await anna.page.getByRole('button', { name: 'Open a meeting' }).waitFor();
    await expect.poll(() => copies(anna.page, meetingId)).toEqual([]);
    expect(
      await anna.page.evaluate((id) => Object.keys(localStorage).filter((k) => k.includes(id)), meetingId),
    ).toEqual([]);
  }, 120_000);

  it('a shared or borrowed phone keeps no copy, says so when offline, and leaves nothing behind', async () => {
    const maria = await person(browser, server.url);
    const joinUrl = await openMeeting(maria.page, server.url);
    await maria.page.getByRole('button', { name: 'Go to the meeting' }).click();
    await connected(maria.page);
    const borrowed = await person(browser, server.url);
    await join(borrowed.page, joinUrl, 'Grandad', true);
    const meetingId = meetingIdOf(borrowed.page);
    await write(borrowed.page, 'I am on my neighbour’s phone.');
    await saved(borrowed.page);
    expect(await copies(borrowed.page, meetingId)).toEqual([]);
    await borrowed.context.setOffline(true);
    await borrowed.page.getByRole('status').filter({ hasText: NOT_KEPT }).waitFor({ timeout: 20_000 });
    await write(borrowed.page, 'Still here, without signal.');
    await borrowed.context.setOffline(false);
    await connected(borrowed.page);
    await saved(borrowed.page);
    await contribution(maria.page, 'Still here, without signal.').waitFor();
    // Leaving offers only to remove the meeting from this phone.
    const sheet = await more(borrowed.page);
    await sheet.getByRole('button', { name: 'Leave this meeting' }).click();
    await sheet.getByRole('button', { name: 'Remove this meeting from this device' }).waitFor();
    expect(await sheet.getByRole('button', { name: 'Leave, and keep it on this device' }).count()).toBe(0);
    await sheet.getByRole('button', { name: 'Remove this meeting from this device' }).click();
    await borrowed.page.getByRole('button', { name: 'Open a meeting' }).waitFor();
    expect(await copies(borrowed.page, meetingId)).toEqual([]);
    expect(
      await borrowed.page.evaluate((id) => Object.keys(localStorage).filter((k) => k.includes(id)), meetingId),
    ).toEqual([]);
    expect(await borrowed.page.getByRole('heading', { name: 'My meetings' }).count()).toBe(0);
  }, 90_000);
});
