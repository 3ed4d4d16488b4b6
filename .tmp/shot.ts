import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openMeeting, joinMeeting } from '../bench/lib/http.js';
import { MeetingConnection } from '../client/lib/connection.js';

const port = 4567;
const dataDir = await mkdtemp(path.join(tmpdir(), 'shot-'));
const url = `http://127.0.0.1:${port}`;
const srv = spawn('node', ['--import', 'tsx', 'server/main.ts'], {
  env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, CLIENT_DIR: 'dist', PUBLIC_URL: url },
  stdio: 'ignore',
});
for (let i = 0; i < 100; i++) { try { await fetch(url + '/api/health'); break; } catch { await new Promise((r) => setTimeout(r, 200)); } }
const opened = await openMeeting(url, 'Maria');
const anna = await joinMeeting(url, opened, 'Anna');
const silent = await joinMeeting(url, opened, 'Bea');
const c = new MeetingConnection({ url, meetingId: anna.meetingId, token: anna.personalToken, socket: { forceNew: true, transports: ['websocket'] } });
await new Promise((r) => setTimeout(r, 1500));
c.say('I think we should talk about the weekend first.');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
const page = await browser.newPage({ viewport: { width: 320, height: 640 } });
await page.goto(`${url}/#/me/${opened.personalToken}`);
await page.waitForTimeout(1500);
const go = page.getByRole('button', { name: /open now|Go to the meeting/i }).or(page.getByRole('link', { name: /open now|Go to the meeting/i }));
if (await go.count()) await go.first().click();
await page.waitForTimeout(2000);
const box = page.getByRole('textbox').first();
await box.fill('Thank you. Let us start there.');
await page.getByRole('button', { name: 'Add to the record' }).click();
await page.waitForTimeout(1500);
c.say('And Bea has not said anything yet, that is fine.');
await page.waitForTimeout(1500);
await page.screenshot({ path: '/tmp/shot320.png', fullPage: false });
console.log(c.record().items.map((i) => i.text));
void silent;
await browser.close();
c.close();
srv.kill();
process.exit(0);
