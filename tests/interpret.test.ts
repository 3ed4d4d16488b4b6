/**
 * Interpreters (SPEC 18): an interpreter joins as their own participant and adds interpretations
 * of someone's words, shown with the original, attributed to them, confirmed by the speaker.
 */
import { describe, expect, it } from 'vitest';
import { buildRecord, type OrderMark } from '../shared/record.js';
import type { Admission } from '../shared/protocol.js';
import { api, connect, join, openMeeting, startServer, until } from './helpers.js';

const A = 'A'.repeat(22);
const I = 'I'.repeat(22);

describe('[S18] interpretations', () => {
  it('the fold shows an interpretation with the original, for its speaker, unconfirmed until confirmed', () => {
    const voices = new Map<string, unknown[]>([
      [A, [{ t: 'say', id: 'original1', text: 'En saa nukuttua.', at: 1 }]],
      [I, [{ t: 'say', id: 'interp001', text: 'I cannot sleep.', at: 2, interprets: `${A}/original1`, for: A }]],
    ]);
    const order: OrderMark[] = [
      { v: A, id: 'original1', at: 10 },
      { v: I, id: 'interp001', at: 11 },
    ];
    let r = buildRecord({ order, events: [] }, voices);
    expect(r.items.map((i) => i.text)).toEqual(['En saa nukuttua.']);
    const [interp] = r.items[0]!.interpretations;
    expect(interp).toMatchObject({ text: 'I cannot sleep.', speaker: A, voice: I, interprets: `${A}/original1` });
    expect(interp!.scribed?.status).toBe('unconfirmed');
    // Nobody but the speaker confirms it: not its writer.
    voices.get(I)!.push({ t: 'confirm', id: 'confirm02', of: `${I}/interp001`, at: 4 });
    order.push({ v: I, id: 'confirm02', at: 12 });
    r = buildRecord({ order, events: [] }, voices);
    expect(r.items[0]!.interpretations[0]!.scribed?.status).toBe('unconfirmed');
    voices.get(A)!.push({ t: 'confirm', id: 'confirm01', of: `${I}/interp001`, at: 3 });
    order.push({ v: A, id: 'confirm01', at: 13 });
    r = buildRecord({ order, events: [] }, voices);
    expect(r.items[0]!.interpretations[0]!.scribed?.status).toBe('confirmed');
  });

  it('through the server: the speaker sees it on their own device and can correct it; the exports say "interpreted by"', async () => {
    const server = await startServer();
    const opened = await openMeeting(server, 'Maria');
    const ainoAdm = await join(server, opened, 'Aino');
    const interpreterAdm = await join(server, opened, 'Leila', 'interpreter');
    const aino = await connect(server, ainoAdm);
    const leila = await connect(server, interpreterAdm);
    const id = aino.say('Haluan kotiin.');
    const ref = `${aino.me}/${id}`;
    await until(() => leila.record().byRef.has(ref), 'original arrives');
    const t = leila.interpret(ref, aino.me!, 'I want to go home.');
    await until(() => aino.record().byRef.get(ref)?.interpretations.length === 1, 'interpretation arrives');
    aino.correct(`${leila.me}/${t}`, 'I want to go home now.');
    await until(() => leila.record().byRef.get(ref)?.interpretations[0]?.scribed?.status === 'corrected', 'corrected');
    await until(() => aino.saved && leila.saved, 'saved');
    expect(aino.record().items.map((i) => i.text)).toEqual(['Haluan kotiin.']);
    const bearer = (a: Admission) => ({ authorization: `Bearer ${a.personalToken}` });
    const json = await api<{
      items: Array<{ text: string; interprets: string | null; speaker: string; writtenBy: string }>;
    }>(`${server.url}/api/meetings/${opened.meetingId}/export.json`, 'GET', undefined, bearer(ainoAdm));
    expect(json.body.items).toEqual([
      expect.objectContaining({ text: 'Haluan kotiin.', interprets: null }),
      expect.objectContaining({
        text: 'I want to go home now.',
        interprets: ref,
        speaker: aino.me,
        writtenBy: leila.me,
      }),
    ]);
    const md = await (
      await fetch(`${server.url}/api/meetings/${opened.meetingId}/export.md`, { headers: bearer(ainoAdm) })
    ).text();
    expect(md).toMatch(
      /Interpretation of the words of \*\*Aino\*\*.*interpreted by Leila \(interpreter\), corrected:\s+I want to go home now\./,
    );
  });
});
