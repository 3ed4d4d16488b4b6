/**
 * What operators see: health and readiness, Prometheus metrics behind a token, and structured
 * logs that never hold anyone's words, names or secrets.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { jsonLog } from '../server/context.js';
import type { Admission } from '../shared/protocol.js';
import { api, connect, join, openMeeting, startServer, until } from './helpers.js';

const bearer = (a: Pick<Admission, 'personalToken'>) => ({ authorization: `Bearer ${a.personalToken}` });

describe('operations', () => {
  it('healthz, readyz and metrics (only with the token; no meeting ids, names or words as labels)', async () => {
    const server = await startServer({ config: { metricsToken: 'metrics-secret-token' } });
    expect((await api(`${server.url}/healthz`, 'GET')).body).toEqual({ ok: true });
    expect((await api(`${server.url}/readyz`, 'GET')).body).toEqual({ ok: true, damaged: [] });
    const opened = await openMeeting(server, 'Maria Facilitator');
    const c = await connect(server, opened);
    c.say('Words that must never be a label.');
    await until(() => c.saved && c.record().items.length === 1, 'saved');
    c.socket.emit('y', opened.participantId, new Uint8Array([7, 0, 0]));
    await until(() => c.refusals.length === 1, 'refused');
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(404);
    const res = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer metrics-secret-token' } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^polyphony_updates_applied_total\{instance="test"\} [1-9]/m);
    expect(text).toMatch(/^polyphony_connections\{instance="test"\} 1$/m);
    expect(text).toMatch(/^polyphony_meetings_loaded\{instance="test"\} 1$/m);
    expect(text).toMatch(/^polyphony_refusals_total\{code="malformed",instance="test"\} 1$/m);
    expect(text).toMatch(/^polyphony_flush_seconds_count\{instance="test"\} [1-9]/m);
    for (const secret of [opened.meetingId, opened.participantId, 'Maria', 'label']) expect(text).not.toContain(secret);
  });

  it("a whole meeting's logs hold none of its words, names or secrets", async () => {
    let logged = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logged += chunk.toString();
        done();
      },
    });
    const server = await startServer({ config: { logRequests: true }, log: jsonLog({ instance: 'test' }, sink) });
    const opened = await openMeeting(server, 'Maria Facilitator');
    const fac = await connect(server, opened);
    const annaAdm = await join(server, opened, 'Anna Virtanen', 'daughter', true);
    const anna = await connect(server, annaAdm);
    fac.say('A sentence about sleeping badly.');
    anna.say('Another sentence about the night.');
    await until(() => fac.saved && anna.saved && fac.record().items.length === 2, 'saved');
    await api(`${server.url}/api/meetings/${opened.meetingId}/me`, 'PATCH', { name: 'Anna V.' }, bearer(annaAdm));
    await api(`${server.url}/api/meetings/${opened.meetingId}/export.json`, 'GET', undefined, bearer(annaAdm));
    expect(
      (await fetch(`${server.url}/api/meetings/${opened.meetingId}/export.md`, { headers: bearer(annaAdm) })).status,
    ).toBe(200);
    await api(`${server.url}/api/meetings/${opened.meetingId}/join`, 'POST', {
      joinToken: 'x',
      name: 'Bad Input Name',
    });
    await api(`${server.url}/api/session`, 'POST', { token: annaAdm.personalToken });
    anna.socket.emit('y', annaAdm.participantId, new Uint8Array([0, 9, 0]));
    await until(() => anna.refusals.length === 1, 'refused');
    expect(await fac.request('meeting:end', { next: null })).toEqual({ ok: true });
    await server.stop();
    expect(logged).toContain('"msg":"request"');
    const lines = logged.trim().split('\n');
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
    for (const secret of [
      'sleeping badly',
      'the night',
      'Maria',
      'Anna',
      'daughter',
      'Bad Input Name',
      'junk',
      opened.personalToken,
      annaAdm.personalToken,
      opened.joinToken,
    ]) {
      expect(logged).not.toContain(secret);
    }
  });
});
