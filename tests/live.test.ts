import { describe, expect, it } from 'vitest';
import { connect, converged, joinAs, openMeeting, startServer, until } from './helpers.js';

describe('a live meeting', () => {
  it('two participants converge and see each other', async () => {
    const server = await startServer();
    const opened = await openMeeting(server);
    const fac = await connect(server, opened);
    const anna = await joinAs(server, opened, 'Anna', 'it is about me');
    fac.say('Welcome, everyone.');
    anna.say('Thank you for coming to my home.');
    await until(
      () => converged([fac, anna]) && fac.record().items.length === 2 && anna.record().items.length === 2,
      'convergence',
    );
    expect(anna.record().items.map((i) => i.text)).toEqual(fac.record().items.map((i) => i.text));
    await until(() => fac.here.length === 2 && anna.here.length === 2, 'presence');
    expect(new Set(fac.here)).toEqual(new Set([opened.participantId, anna.me]));
    await until(() => fac.saved && anna.saved, 'saved');
  });
});
