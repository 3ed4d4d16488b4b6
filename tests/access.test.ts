/**
 * Access: unknown meetings and bad tokens create nothing and all look alike; strict headers on every
 * response; foreign origins, removed people and revoked links are kept out, and the people removed
 * or revoked are disconnected before the request that did it is answered.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomId } from '../shared/ids.js';
import { PROTOCOL_VERSION } from '../shared/protocol.js';
import {
  api,
  connect,
  join,
  openMeeting,
  startServer,
  tempDir,
  until,
  type TestServer,
  recordFiles,
} from './helpers.js';
import { RawClient } from './raw.js';

let srv: TestServer;
beforeAll(async () => {
  const root = await tempDir('polyphony-access-');
  await mkdir(path.join(root, 'public'), { recursive: true });
  await writeFile(path.join(root, 'public', 'index.html'), '<!doctype html><title>Polyphony</title>PUBLIC-INDEX');
  srv = await startServer({ dataDir: path.join(root, 'data'), clientDir: path.join(root, 'public') });
});

describe('unknown meetings and bad tokens', () => {
  it('never create state, and every "no such meeting / bad token" answer is the same', async () => {
    // A server of its own: nobody else writes there, and opening a meeting is answered only once its
    // writes are on disk, so the "before" picture needs no waiting for writes to settle.
    const own = await startServer();
    const real = await openMeeting(own, 'Real');
    const stranger = await openMeeting(own, 'Stranger');

    const meetingsDir = path.join(own.dataDir, 'meetings');
    const dbBefore = await recordFiles(own.dataDir);
    const filesBefore = existsSync(meetingsDir) ? readdirSync(meetingsDir).sort() : [];
    const loadedBefore = own.app.meetings.size;

    const unknownIds = [
      randomId(),
      randomId(),
      '__proto__',
      'constructor',
      '..%2f..%2fdb.json',
      'x'.repeat(22),
      'AAAAAAAAAAAAAAAAAAAAAA',
    ];
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    const answers: Array<{ what: string; status: number; body: string }> = [];
    const ask = async (
      what: string,
      method: string,
      route: string,
      body?: unknown,
      headers: Record<string, string> = {},
    ) => {
      const res = await fetch(`${own.url}${route}`, {
        method,
        headers: { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      answers.push({ what, status: res.status, body: await res.text() });
    };
    for (const id of unknownIds) {
      await ask(`join ${id}`, 'POST', `/api/meetings/${id}/join`, { joinToken: randomId(), name: 'x' });
      for (const sub of ['export.md', 'export.json', 'access', 'next.ics'])
        await ask(`${sub} ${id}`, 'GET', `/api/meetings/${id}/${sub}`, undefined, bearer(real.personalToken));
      await ask(`me ${id}`, 'PATCH', `/api/meetings/${id}/me`, { name: 'y' }, bearer(real.personalToken));
      await ask(`erasure ${id}`, 'POST', `/api/meetings/${id}/erasure`, { scope: 'mine' }, bearer(real.personalToken));
      await ask(`next ${id}`, 'POST', `/api/meetings/${id}/next`, {}, bearer(real.personalToken));
    }
    // A real meeting with a wrong join token, with no token, with another meeting's token, with a made-up token.
    await ask('join real, wrong join token', 'POST', `/api/meetings/${real.meetingId}/join`, {
      joinToken: randomId(),
      name: 'x',
    });
    await ask('export real, no token', 'GET', `/api/meetings/${real.meetingId}/export.md`);
    await ask(
      'export real, another meeting’s token',
      'GET',
      `/api/meetings/${real.meetingId}/export.md`,
      undefined,
      bearer(stranger.personalToken),
    );
    await ask(
      'export real, made-up token',
      'GET',
      `/api/meetings/${real.meetingId}/export.md`,
      undefined,
      bearer(randomId()),
    );
    await ask(
      'access real, made-up token',
      'GET',
      `/api/meetings/${real.meetingId}/access`,
      undefined,
      bearer(randomId()),
    );
    await ask('session, made-up token', 'POST', '/api/session', { token: randomId() });
    await ask('revoke, made-up token', 'POST', '/api/me/revoke', {}, bearer(randomId()));

    const distinct = new Set(answers.map((a) => `${a.status} ${a.body}`));
    console.log(
      `[access] ${answers.length} "no such meeting / bad token" requests, ${distinct.size} distinct answer(s): ${[...distinct].join(' | ')}`,
    );
    expect([...distinct]).toHaveLength(1);
    expect(answers[0]!.status).toBe(404);

    // Socket.IO handshakes: unknown meeting, made-up token, another meeting's token — one code.
    const codes = await Promise.all(
      [
        { meetingId: randomId(), token: real.personalToken },
        { meetingId: real.meetingId, token: randomId() },
        { meetingId: real.meetingId, token: stranger.personalToken },
        { meetingId: randomId(), token: randomId() },
      ].map(async (o) => {
        const p = new RawClient(own.url, o);
        await p.verdict();
        return `${p.connectError?.code} ${p.connectError?.message}`;
      }),
    );
    expect(new Set(codes).size).toBe(1);
    expect(codes[0]).toMatch(/^no-access /);

    // Nothing was created: no meeting loaded, no file, every record file byte for byte the same.
    expect(own.app.meetings.size).toBeLessThanOrEqual(loadedBefore);
    for (const id of unknownIds) expect(own.app.meetings.peek(id)).toBeUndefined();
    expect(existsSync(meetingsDir) ? readdirSync(meetingsDir).sort() : []).toEqual(filesBefore);
    expect(await recordFiles(own.dataDir)).toEqual(dbBefore);
  });
});

describe('security headers', () => {
  it('a strict Content-Security-Policy (no third-party source, no inline script) and no-store for record data', async () => {
    const opened = await openMeeting(srv);
    const responses = {
      page: await fetch(`${srv.url}/`),
      health: await fetch(`${srv.url}/api/health`),
      apiNotFound: await fetch(`${srv.url}/api/nothing-here`),
      apiError: await fetch(`${srv.url}/api/meetings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{',
      }),
      exportMd: await fetch(`${srv.url}/api/meetings/${opened.meetingId}/export.md`, {
        headers: { authorization: `Bearer ${opened.personalToken}` },
      }),
      exportJson: await fetch(`${srv.url}/api/meetings/${opened.meetingId}/export.json`, {
        headers: { authorization: `Bearer ${opened.personalToken}` },
      }),
      me: await fetch(`${srv.url}/api/me`, { headers: { authorization: `Bearer ${opened.personalToken}` } }),
    };
    expect(await responses.page.clone().text()).toContain('PUBLIC-INDEX');
    for (const [name, res] of Object.entries(responses)) {
      const csp = res.headers.get('content-security-policy') ?? '';
      const directives = new Map(
        csp
          .split(';')
          .map((d) => d.trim())
          .filter(Boolean)
          .map((d) => {
            const [k, ...v] = d.split(/\s+/);
            return [k!, v] as const;
          }),
      );
      expect({ name, hasCsp: directives.size > 0 }).toEqual({ name, hasCsp: true });
      for (const [k, sources] of directives) {
        for (const s of sources)
          expect({ name, directive: k, source: s }).toEqual({
            name,
            directive: k,
            source: expect.stringMatching(/^'(self|none)'$/),
          });
      }
      for (const needed of ['default-src', 'script-src', 'object-src', 'base-uri', 'frame-ancestors'])
        expect(directives.has(needed)).toBe(true);
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*|data:|https?:/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-powered-by')).toBeNull();
      if (name !== 'page')
        expect({ name, cacheControl: res.headers.get('cache-control') }).toEqual({ name, cacheControl: 'no-store' });
      await res.arrayBuffer();
    }
  });
});

describe('who may connect', () => {
  it('a Socket.IO connection from a foreign Origin is refused with bad-origin; the page’s own origin is welcome', async () => {
    const opened = await openMeeting(srv);
    const outcomes: Record<string, string> = {};
    for (const origin of [
      'https://evil.example',
      'null',
      'http://127.0.0.1.evil.example',
      'file://',
      `http://localhost:1`,
    ]) {
      outcomes[origin] = await new RawClient(srv.url, {
        meetingId: opened.meetingId,
        token: opened.personalToken,
        headers: { origin },
      }).verdict();
    }
    outcomes['polling from evil'] = await new RawClient(srv.url, {
      meetingId: opened.meetingId,
      token: opened.personalToken,
      headers: { origin: 'https://evil.example' },
      polling: true,
    }).verdict();
    expect(Object.values(outcomes).every((o) => o === 'bad-origin')).toBe(true);
    expect(
      await new RawClient(srv.url, {
        meetingId: opened.meetingId,
        token: opened.personalToken,
        headers: { origin: srv.url },
      }).verdict(),
    ).toBe('welcome');
    expect(srv.app.meetings.peek(opened.meetingId)!.here()).toEqual([opened.participantId]);
  });

  it('a participant removed by the facilitator is disconnected at once and cannot reconnect in any way', async () => {
    const opened = await openMeeting(srv, 'Facilitator');
    const f = await connect(srv, opened);
    const removedAdmission = await join(srv, opened, 'To be removed');
    const removed = await connect(srv, removedAdmission);
    removed.say('words that stay');
    await until(() => removed.saved, 'saved');
    const session = await api(`${srv.url}/api/session`, 'POST', { token: removedAdmission.personalToken });
    const cookie = session.headers.getSetCookie()[0]!.split(';')[0]!;
    const second = new RawClient(srv.url, { meetingId: opened.meetingId, headers: { cookie } });
    expect(await second.verdict()).toBe('welcome');

    expect(await f.request('participant:remove', { who: removed.me! })).toEqual({ ok: true });
    // At once: by the time the facilitator's request is answered, the server has closed both devices.
    expect(srv.app.meetings.peek(opened.meetingId)!.here()).toEqual([opened.participantId]);
    await until(() => removed.status !== 'connected' && second.disconnectReason !== null, 'disconnected at once');
    expect(second.disconnectReason).toBe('io server disconnect');

    // Reconnecting: the page's own module, by token, by cookie, over polling, and with recovery data.
    removed.socket.connect();
    await until(() => removed.status === 'refused', 'refused on reconnect');
    expect(removed.connectError?.code).toBe('no-access');
    const tries = [
      new RawClient(srv.url, { meetingId: opened.meetingId, token: removedAdmission.personalToken }),
      new RawClient(srv.url, { meetingId: opened.meetingId, headers: { cookie } }),
      new RawClient(srv.url, { meetingId: opened.meetingId, token: removedAdmission.personalToken, polling: true }),
      new RawClient(srv.url, {
        meetingId: opened.meetingId,
        auth: {
          protocol: PROTOCOL_VERSION,
          meetingId: opened.meetingId,
          token: removedAdmission.personalToken,
          pid: second.socket.id ?? 'x',
          offset: '0',
        },
      }),
    ];
    const outcomes = await Promise.all(tries.map((p) => p.verdict()));
    expect(outcomes).toEqual(['no-access', 'no-access', 'no-access', expect.stringMatching(/^(no-access|invalid)$/)]);
    expect(srv.app.meetings.peek(opened.meetingId)!.here()).toEqual([opened.participantId]);
    // Their words stay, marked.
    expect(f.log(removedAdmission.participantId).map((e) => (e.t === 'say' ? e.text : ''))).toEqual([
      'words that stay',
    ]);
    await until(() => f.people.get(removedAdmission.participantId)?.removed === true, 'marked removed');
  });

  it('a revoked personal link disconnects every device at once; the old link and its sessions no longer work', async () => {
    const opened = await openMeeting(srv, 'Facilitator');
    const admission = await join(srv, opened, 'Lost a phone');
    const phone = await connect(srv, admission);
    const session = await api(`${srv.url}/api/session`, 'POST', { token: admission.personalToken });
    const cookie = session.headers.getSetCookie()[0]!.split(';')[0]!;
    const laptop = new RawClient(srv.url, { meetingId: opened.meetingId, headers: { cookie } });
    expect(await laptop.verdict()).toBe('welcome');

    const revoked = await api<{ personalToken: string }>(
      `${srv.url}/api/me/revoke`,
      'POST',
      {},
      { authorization: `Bearer ${admission.personalToken}` },
    );
    expect(revoked.status).toBe(200);
    // At once: by the time the request is answered, the server has closed every device of theirs.
    expect(srv.app.meetings.peek(opened.meetingId)?.here() ?? []).toEqual([]);
    await until(
      () => phone.status !== 'connected' && laptop.disconnectReason !== null,
      'every device disconnected at once',
    );

    phone.socket.connect();
    await until(() => phone.status === 'refused', 'old link refused');
    expect(phone.connectError?.code).toBe('no-access');
    expect(await new RawClient(srv.url, { meetingId: opened.meetingId, headers: { cookie } }).verdict()).toBe(
      'no-access',
    );
    expect(
      await new RawClient(srv.url, {
        meetingId: opened.meetingId,
        token: admission.personalToken,
        polling: true,
      }).verdict(),
    ).toBe('no-access');
    expect((await api(`${srv.url}/api/session`, 'POST', { token: admission.personalToken })).status).toBe(404);
    // The new link works, as the same participant.
    const fresh = new RawClient(srv.url, { meetingId: opened.meetingId, token: revoked.body.personalToken });
    expect(await fresh.verdict()).toBe('welcome');
    expect(fresh.me).toBe(admission.participantId);
  });
});
