/**
 * After a meeting loads, bring the store's rows up to what its meeting document says. Commands
 * write the document first and the rows after it (see commands.ts), so a crash between the two
 * leaves rows behind; this is the one place that catches them up, before anyone is served.
 */
import type { Meeting } from '../meetings/meeting.js';
import type { MeetingPatch, MeetingRecord, ParticipantPatch, ParticipantRecord, Store } from '../store/types.js';

export async function reconcileRows(
  store: Store,
  m: Meeting,
  row: MeetingRecord,
  participants: readonly ParticipantRecord[],
): Promise<void> {
  const meeting: MeetingPatch = {};
  if (row.status !== m.status) meeting.status = m.status;
  if (row.locked !== m.locked) meeting.locked = m.locked;
  if (JSON.stringify(row.facilitators) !== JSON.stringify(m.facilitators)) meeting.facilitators = [...m.facilitators];
  const people: Array<[string, ParticipantPatch]> = [];
  for (const p of participants) {
    const seen = m.people.get(p.id);
    if (!seen || p.erased) continue;
    const patch: ParticipantPatch = {};
    if (seen.name !== p.name) patch.name = seen.name;
    if (seen.relation !== p.relation) patch.relation = seen.relation;
    if (seen.aboutMe !== p.aboutMe) patch.aboutMe = seen.aboutMe;
    if (seen.removed && !p.removed) Object.assign(patch, { removed: true, revoked: true });
    if (Object.keys(patch).length > 0) people.push([p.id, patch]);
  }
  if (Object.keys(meeting).length === 0 && people.length === 0) return;
  await store.transaction((tx) => {
    if (Object.keys(meeting).length > 0) tx.updateMeeting(m.id, meeting);
    for (const [id, patch] of people) tx.updateParticipant(id, patch);
  });
}
