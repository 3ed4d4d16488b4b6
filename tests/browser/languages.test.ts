/**
 * The interface in the person's own language, per device: Finnish from the browser's languages,
 * Arabic (right to left) chosen on the join page and remembered. Two people in one meeting read
 * two languages; nobody's words are translated. At 360 px, with screenshots and axe on every
 * screen tested.
 */
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers.js';
import { accessible, contribution, launch, person, shot } from './browser.js';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer({ clientDir: 'dist' }), launch()]);
});

const PHONE_360 = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true };

async function langDir(page: Page): Promise<[string, string]> {
  return page.evaluate(() => [document.documentElement.lang, document.documentElement.dir] as [string, string]);
}

async function status(page: Page, text: RegExp): Promise<void> {
  await page.getByRole('status').filter({ hasText: text }).first().waitFor();
}

async function noOverflow(page: Page, what: string): Promise<void> {
  const over = await page.evaluate(
    () => (document.scrollingElement ?? document.documentElement).scrollWidth - window.innerWidth,
  );
  expect(over, `${what} is wider than the screen`).toBeLessThanOrEqual(0);
}

describe('the interface in Finnish and in Arabic', () => {
  it('follows each device’s language, mirrors for Arabic, and never translates people’s words', async () => {
    // ── A Finnish phone: the browser says Finnish ──────────────────────────────────────
    const fi = await person(browser, server.url, { ...PHONE_360, locale: 'fi-FI' });
    await fi.page.goto(server.url);
    await fi.page.getByRole('button', { name: 'Avaa tapaaminen' }).waitFor();
    expect(await langDir(fi.page)).toEqual(['fi', 'ltr']);
    await accessible(fi.page, 'home (fi)');
    await shot(fi.page, 'fi-home-360');
    // The skip link (first in the page, shown when focused) moves focus to the page's main part.
    const skip = fi.page.getByRole('link', { name: 'Siirry pääsisältöön' });
    await skip.focus();
    expect(await skip.evaluate((el) => el.getBoundingClientRect().top >= 0)).toBe(true);
    await fi.page.keyboard.press('Enter');
    expect(await fi.page.evaluate(() => document.activeElement?.tagName)).toBe('MAIN');
    expect(fi.page.url(), 'the address is not changed').toBe(`${server.url}/`);
    await fi.page.getByRole('button', { name: 'Avaa tapaaminen' }).click();
    await fi.page.getByRole('heading', { name: 'Tapaamisesi on auki' }).waitFor();
    const joinUrl = await fi.page.getByRole('link', { name: /Liittymislinkki/ }).getAttribute('href');
    if (!joinUrl) throw new Error('no join link');
    await fi.page.getByRole('textbox', { name: 'Nimesi' }).fill('Maria');
    await fi.page.getByRole('textbox', { name: /Miten liityt asiaan/ }).fill('psykiatri');
    await accessible(fi.page, 'share (fi)');
    await fi.page.getByRole('button', { name: 'Siirry tapaamiseen' }).click();
    await status(fi.page, /^Yhteys toimii/);

    // A refusal is said from its code, in Finnish (never the server's own words).
    const stranger = await person(browser, server.url, { ...PHONE_360, locale: 'fi-FI' });
    await stranger.page.goto(joinUrl.replace(/\/[A-Za-z0-9_-]{22}$/, `/${'A'.repeat(22)}`));
    await stranger.page.getByRole('button', { name: 'Liity tapaamiseen' }).click();
    await stranger.page
      .getByRole('alert')
      .filter({ hasText: 'Tällä linkillä ei pääse sisään. Se voi olla vanha tai siitä voi puuttua osa.' })
      .waitFor();
    await stranger.context.close();

    // ── An English phone whose owner chooses Arabic on the join page ───────────────────
    const ar = await person(browser, server.url, PHONE_360);
    await ar.page.goto(joinUrl);
    await ar.page.getByRole('heading', { name: 'Before you join' }).waitFor();
    expect(await langDir(ar.page)).toEqual(['en', 'ltr']);
    await ar.page.getByRole('combobox', { name: 'Language' }).selectOption('ar');
    await ar.page.getByRole('heading', { name: 'قبل الانضمام' }).waitFor();
    expect(await langDir(ar.page)).toEqual(['ar', 'rtl']);
    await accessible(ar.page, 'join (ar)');
    await shot(ar.page, 'ar-join-360');
    await ar.page.getByRole('textbox', { name: 'اسمك' }).fill('ليلى');
    await ar.page.getByRole('textbox', { name: /صلتك بالاجتماع/ }).fill('أخت');
    await ar.page.getByRole('button', { name: 'الانضمام إلى الاجتماع' }).click();
    await status(ar.page, /^متصل/);

    // Both write; each reads the other's words exactly as written.
    await ar.page.locator('#composer-text').fill('أنا قلقة على أخي. He is not sleeping.');
    await ar.page.getByRole('button', { name: 'إضافة إلى السجلّ' }).click();
    await fi.page.locator('#composer-text').fill('Kiitos, että kerroit. Mitä yöt ovat olleet?');
    await fi.page.getByRole('button', { name: 'Lisää muistiinpanoihin' }).click();
    for (const p of [fi.page, ar.page]) {
      await contribution(p, 'أنا قلقة على أخي').waitFor();
      await contribution(p, 'Kiitos, että kerroit.').waitFor();
      await status(p, /(Tallennettu|محفوظ)$/);
    }
    // People's words and names carry their own direction.
    expect(await contribution(fi.page, 'أنا قلقة').locator('p.text').getAttribute('dir')).toBe('auto');
    expect(
      await contribution(fi.page, 'أنا قلقة')
        .locator('.name')
        .evaluate((el) => el.tagName),
    ).toBe('BDI');
    expect(await contribution(fi.page, 'أنا قلقة').locator('.who').textContent()).toBe('ليلى · أخت');
    // Finnish plural and dates in the interface language; the Arabic page is mirrored.
    await fi.page.getByText('Muistiinpanoissa on 2 puheenvuoroa.').waitFor({ state: 'attached' });
    await ar.page.getByText('مساهمتان في السجلّ.').waitFor({ state: 'attached' });
    const more = await ar.page.getByRole('banner').getByRole('button', { name: 'المزيد' }).boundingBox();
    expect(more && more.x + more.width < 180, 'the More button sits at the start (left) in Arabic').toBe(true);
    // An answer in Arabic: "Cancel" in the answer box, the quote in Arabic marks.
    await contribution(ar.page, 'Kiitos, että kerroit.').getByRole('button', { name: 'ردّ' }).click();
    await ar.page.getByRole('form', { name: 'إضافة إلى السجلّ' }).getByText('«Kiitos, että kerroit.').waitFor();
    await ar.page.getByRole('button', { name: 'إلغاء' }).click();

    for (const [p, code] of [
      [fi.page, 'fi'],
      [ar.page, 'ar'],
    ] as const) {
      await noOverflow(p, `room (${code})`);
      await accessible(p, `room (${code})`);
      await shot(p, `${code}-room-360`);
      await p.getByRole('button', { name: code === 'fi' ? 'Lisää tietoja' : 'تفاصيل أكثر' }).click();
      await accessible(p, `people list (${code})`);
      await p
        .getByRole('banner')
        .getByRole('button', { name: code === 'fi' ? 'Lisää' : 'المزيد' })
        .click();
      await p.getByRole('dialog').waitFor();
      await noOverflow(p, `more sheet (${code})`);
      await accessible(p, `more sheet (${code})`);
      await shot(p, `${code}-more-360`);
      await p
        .getByRole('dialog')
        .getByRole('button', { name: code === 'fi' ? 'Sulje' : 'إغلاق', exact: true })
        .click();
    }

    // The choice is remembered on this device; switching back from the room works too.
    await ar.page.reload();
    await status(ar.page, /^متصل/);
    expect(await langDir(ar.page)).toEqual(['ar', 'rtl']);
    await ar.page.getByRole('banner').getByRole('button', { name: 'المزيد' }).click();
    await ar.page.getByRole('dialog').getByRole('combobox', { name: 'اللغة' }).selectOption('sv');
    await ar.page.getByRole('dialog').getByRole('heading', { name: 'Mer' }).waitFor();
    expect(await langDir(ar.page)).toEqual(['sv', 'ltr']);
    await ar.page.getByRole('dialog').getByRole('button', { name: 'Stäng', exact: true }).click();
    await contribution(ar.page, 'أنا قلقة على أخي').waitFor();
    await accessible(ar.page, 'room (sv)');
    await shot(ar.page, 'sv-room-360');
  }, 120_000);
});
