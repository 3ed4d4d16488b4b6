/**
 * The short code read aloud in the room (issue 10): ten digits that lead to the join page while
 * the meeting is open and for 12 hours after it opened; unknown codes get the one "no access",
 * and guessing is limited per address and for the whole service.
 */
import { describe, expect, it } from 'vitest';
import { CODE_LIFETIME_MS } from '../shared/ids.js';
import type { Admission, Invitation, Opened } from '../shared/protocol.js';
import { api, connect, startServer } from './helpers.js';

/** The server's clock, moved only when told. */
function testClock() {
  let now = Date.now();
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

async function open(url: string): Promise<Opened> {
  const r = await api<Opened>(`${url}/api/meetings`, 'POST', { name: 'Maria', relation: 'psychologist' });
  expect(r.status).toBe(201);
  return r.body;
}

describe('short codes', () => {
  it('lead to the join page and admit to the meeting while it is open and fresh; then no longer', async () => {
    const clock = testClock();
    const server = await startServer({ clock });
    const opened = await open(server.url);
    expect(opened.code).toMatch(/^\d{10}$/);
    const found = await api<{ meetingId: string }>(`${server.url}/api/codes`, 'POST', { code: opened.code });
    expect(found).toMatchObject({ status: 200, body: { meetingId: opened.meetingId } });
    const invitation = await api(`${server.url}/api/meetings/${opened.meetingId}/invitation`, 'POST', {
      joinToken: opened.code,
    });
    expect(invitation).toMatchObject({
      status: 200,
      body: { openedBy: 'Maria', status: 'open', codeUntil: opened.codeUntil },
    });
    expect(opened.codeUntil).toBe(clock.now() + CODE_LIFETIME_MS);
    const joined = await api<Admission>(`${server.url}/api/meetings/${opened.meetingId}/join`, 'POST', {
      joinToken: opened.code,
      name: 'Anna',
      relation: 'daughter',
    });
    expect(joined.status).toBe(201);
    // Who came in with the code is given back that code and when it stops working, never the
    // join link's secret (the server keeps only its hash) nor the code as if it were a link.
    expect(joined.body.code).toBe(opened.code);
    expect(joined.body.codeUntil).toBe(opened.codeUntil);
    expect(joined.body.joinToken).toBeUndefined();
    const byLink = await api<Admission>(`${server.url}/api/meetings/${opened.meetingId}/join`, 'POST', {
      joinToken: opened.joinToken,
      name: 'Pekka',
    });
    expect(byLink.body.joinToken).toBe(opened.joinToken);
    expect(byLink.body.code, 'the code is given only to the opener and to who came in with it').toBeUndefined();
    const byLinkInvitation = await api<Invitation>(
      `${server.url}/api/meetings/${opened.meetingId}/invitation`,
      'POST',
      {
        joinToken: opened.joinToken,
      },
    );
    expect(byLinkInvitation.body.codeUntil).toBeUndefined();

    // Unknown, malformed, another meeting's: the same answers as for a bad join link.
    const other = await open(server.url);
    const wrong = String((Number(opened.code) + 1) % 1e10).padStart(10, '0');
    expect(await api(`${server.url}/api/codes`, 'POST', { code: wrong })).toMatchObject({
      status: 404,
      body: { error: 'no-access' },
    });
    expect(await api(`${server.url}/api/codes`, 'POST', { code: '12345' })).toMatchObject({
      status: 400,
      body: { error: 'invalid' },
    });
    expect(
      await api(`${server.url}/api/meetings/${opened.meetingId}/join`, 'POST', { joinToken: other.code, name: 'X' }),
    ).toMatchObject({ status: 404, body: { error: 'no-access' } });

    // Twelve hours after opening, the code admits no one; the join link still does.
    clock.advance(CODE_LIFETIME_MS + 1);
    expect((await api(`${server.url}/api/codes`, 'POST', { code: opened.code })).status).toBe(404);
    expect(
      (await api(`${server.url}/api/meetings/${opened.meetingId}/join`, 'POST', { joinToken: opened.code, name: 'Y' }))
        .status,
    ).toBe(404);
    expect(
      (
        await api(`${server.url}/api/meetings/${opened.meetingId}/join`, 'POST', {
          joinToken: opened.joinToken,
          name: 'Z',
        })
      ).status,
    ).toBe(201);
  });

  it('an ended meeting’s code leads nowhere', async () => {
    const server = await startServer();
    const opened = await open(server.url);
    const fac = await connect(server, opened);
    expect(await fac.request('meeting:end', { next: null })).toEqual({ ok: true });
    expect((await api(`${server.url}/api/codes`, 'POST', { code: opened.code })).status).toBe(404);
  });

  it('past 300 unknown codes in a minute, no code is looked up for anyone until the next minute', async () => {
    const clock = testClock();
    const server = await startServer({ clock });
    const opened = await open(server.url);
    const statuses: number[] = [];
    for (let i = 0; statuses.length < 300; i++) {
      const code = String(i).padStart(10, '0');
      if (code === opened.code) continue;
      statuses.push((await api(`${server.url}/api/codes`, 'POST', { code })).status);
    }
    expect(new Set(statuses)).toEqual(new Set([404]));
    const r = await api(`${server.url}/api/codes`, 'POST', { code: opened.code });
    expect(r).toMatchObject({ status: 429, body: { error: 'rate-limited' } });
    clock.advance(60_000);
    expect((await api(`${server.url}/api/codes`, 'POST', { code: opened.code })).status).toBe(200);
  });
});
