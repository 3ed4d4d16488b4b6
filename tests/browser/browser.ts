/**
 * Browser-test factories: Debian's chromium driven by playwright-core, phone-sized and desktop
 * contexts (each one a separate person with its own cookies and storage), screenshots under
 * tests/output/.
 */
import AxeBuilder from '@axe-core/playwright';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Locator,
  type Page,
} from 'playwright-core';
import { expect, onTestFailed } from 'vitest';
import { launchChromium } from '../../bench/lib/page.js';
import { onCleanup } from '../helpers.js';

export const PHONE: BrowserContextOptions = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
};
export const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 900 } };
export const OUTPUT = path.resolve('tests/output');

export async function launch(): Promise<Browser> {
  const browser = await launchChromium();
  onCleanup(() => browser.close());
  return browser;
}

/** A new person: a fresh browser context (own cookies and storage) with one page. */
export async function person(
  browser: Browser,
  url: string,
  options: BrowserContextOptions = PHONE,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ locale: 'en-GB', timezoneId: 'Europe/Helsinki', ...options });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url });
  // Every wait names what it waited for when it fails, well before the test's own timeout. CI runs
  // several browser files at once on two cores (and the suite twice): a word that reaches every
  // page in a second here may take many seconds there, so each wait allows 20 s.
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  const errors: string[] = [];
  const said: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
    said.push(`${new Date().toISOString().slice(11, 23)} ${m.type()}: ${m.text()}`);
  });
  // When a test fails, what each page said in its console helps to find out why.
  onTestFailed(() => {
    if (said.length) console.error(`console of ${page.url()}:\n  ${said.slice(-30).join('\n  ')}`);
  });
  onCleanup(async () => {
    await context.close();
    // Any script error or CSP violation on the page fails the test run.
    expect(errors, 'errors in the page console').toEqual([]);
  });
  return { context, page };
}

/**
 * A screenshot of the whole page. The viewport is stretched to the page's height first, so a
 * sticky composer sits at the end instead of covering the middle of a "full page" capture.
 */
export async function shot(page: Page, name: string): Promise<void> {
  await mkdir(OUTPUT, { recursive: true });
  const size = page.viewportSize();
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  if (size && height > size.height) await page.setViewportSize({ width: size.width, height });
  await page.screenshot({ path: path.join(OUTPUT, `${name}.png`), fullPage: true });
  if (size && height > size.height) await page.setViewportSize(size);
}

/** The contribution whose words include `text` (the one component every contribution is rendered by). */
export function contribution(page: Page, text: string): Locator {
  return page.locator('article.contribution').filter({ has: page.locator('p.text', { hasText: text }) });
}

/** Open a meeting from the home page; returns the join link shown on the share page. */
export async function openMeeting(page: Page, url: string): Promise<string> {
  await page.goto(url);
  await page.getByRole('button', { name: 'Open a meeting' }).click();
  await page.getByRole('heading', { name: 'Your meeting is open' }).waitFor();
  const link = await page.getByRole('link', { name: /Join link/ }).getAttribute('href');
  if (!link) throw new Error('no join link');
  return link;
}

/** Join from the join link as a new person; waits until connected in the room. */
export async function joinMeeting(
  page: Page,
  joinUrl: string,
  name: string,
  relation = '',
  aboutMe = false,
): Promise<void> {
  await page.goto(joinUrl);
  await page.getByRole('heading', { name: 'Before you join' }).waitFor();
  await page.getByRole('textbox', { name: 'Your name' }).fill(name);
  await page.getByRole('textbox', { name: /How you are connected/ }).fill(relation);
  if (aboutMe) await page.getByLabel('This meeting is about me').check();
  await page.getByRole('button', { name: 'Join the meeting' }).click();
  await connected(page);
}

export async function connected(page: Page): Promise<void> {
  await page
    .getByRole('status')
    .filter({ hasText: /^Connected/ })
    .waitFor();
}

/** Write in the composer and add it to the record; waits until it shows. */
export async function write(page: Page, text: string): Promise<void> {
  await page.locator('#composer-text').fill(text);
  await page.getByRole('button', { name: /^(Add to the record|Put forward the proposal)$/ }).click();
  await contribution(page, text).first().waitFor();
}

/** Saved means the server has it on durable storage. */
export async function saved(page: Page): Promise<void> {
  await page
    .getByRole('status')
    .filter({ hasText: /· Saved$/ })
    .waitFor();
}

/** Open the room's "More" sheet. */
export async function more(page: Page): Promise<Locator> {
  await page.getByRole('banner').getByRole('button', { name: 'More' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  return dialog;
}

/** The computed styles that make a contribution look the way it does. */
export const STYLE_PROPERTIES = [
  'font-family',
  'font-size',
  'font-weight',
  'font-style',
  'line-height',
  'color',
  'background-color',
  'padding-top',
  'padding-right',
  'padding-bottom',
  'padding-left',
  'border-top-width',
  'border-top-style',
  'border-top-color',
  'border-left-width',
  'border-left-style',
  'border-left-color',
  'border-radius',
  'margin-left',
  'margin-right',
  'width',
  'opacity',
  'box-shadow',
  'text-align',
] as const;

/** Computed styles of a contribution, of its name line and of its words. */
export async function stylesOf(article: Locator): Promise<Record<string, Record<string, string>>> {
  return article.evaluate(
    (el, props) => {
      const pick = (node: Element | null) => {
        if (!node) return {};
        const cs = getComputedStyle(node);
        return Object.fromEntries(props.map((p) => [p, cs.getPropertyValue(p)]));
      };
      return {
        article: pick(el),
        name: pick(el.querySelector('.name')),
        text: pick(el.querySelector('p.text')),
        meta: pick(el.querySelector('.meta')),
      };
    },
    [...STYLE_PROPERTIES],
  );
}

/** This person's personal link, as the page remembers it (the one shown under "My name and my link"). */
export async function personalLink(page: Page): Promise<string> {
  const link = await page.evaluate(() => {
    const id = /#\/m\/([A-Za-z0-9_-]{22})/.exec(location.hash)?.[1];
    const raw = id ? localStorage.getItem(`polyphony:meeting:${id}`) : null;
    const token = raw ? (JSON.parse(raw) as { personalToken?: string }).personalToken : undefined;
    return token ? `${location.origin}/#/me/${token}` : '';
  });
  if (!link) throw new Error('no personal link on this page');
  return link;
}

/** The meeting id of the room on this page. */
export function meetingIdOf(page: Page): string {
  const id = /#\/m\/([A-Za-z0-9_-]{22})/.exec(page.url())?.[1];
  if (!id) throw new Error(`not in a room: ${page.url()}`);
  return id;
}

/** A facilitator ends the meeting from the "More" sheet. */
export async function endMeeting(
  page: Page,
  next: { when?: string; where?: string; who?: string } | 'not-agreed' | 'none',
): Promise<void> {
  const sheet = await more(page);
  await sheet.getByRole('button', { name: 'End the meeting' }).click();
  if (next === 'none') {
    await sheet.getByRole('radio', { name: /We will not meet again/ }).check();
  } else if (next === 'not-agreed') {
    await sheet.getByRole('radio', { name: /Not agreed yet/ }).check();
  } else {
    await sheet.getByRole('radio', { name: /We will meet again/ }).check();
    if (next.when) await sheet.getByLabel('When?').fill(next.when);
    if (next.where) await sheet.getByRole('textbox', { name: 'Where?' }).fill(next.where);
    if (next.who) await sheet.getByRole('textbox', { name: 'Who will come?' }).fill(next.who);
  }
  await sheet.getByRole('button', { name: 'End the meeting now' }).click();
  await page.getByText('This meeting has ended. Its record can no longer change.').waitFor();
}

const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

/** No WCAG 2.2 A/AA violations that axe-core can find on the page as it is now. */
export async function accessible(page: Page, what: string): Promise<void> {
  const result = await new AxeBuilder({ page }).withTags(WCAG).analyze();
  const found = result.violations.map(
    (v) => `${what}: ${v.id} (${v.impact}) ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
  );
  expect(found).toEqual([]);
  expect(result.passes.length).toBeGreaterThan(5);
}
