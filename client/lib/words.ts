/** Interface words that depend on the record: plain, short, the same for everyone. */
import type { MeetingEvent, NetworkInfo, NextMeeting, Stance } from '../../shared/record.js';
import { dayAndTime, duration } from './time.js';

export const STANCES: ReadonlyArray<{ value: Stance; label: string }> = [
  { value: 'agree', label: 'Agree' },
  { value: 'disagree', label: 'Disagree' },
  { value: 'unsure', label: 'Unsure' },
  { value: 'unstated', label: 'Not stated' },
];

export function stanceLabel(stance: Stance): string {
  return STANCES.find((s) => s.value === stance)?.label ?? stance;
}

/** One quiet line for a meeting event. `name` gives a person's display name. */
export function describeEvent(ev: MeetingEvent, name: (id: string) => string): string {
  const by = name(ev.by);
  switch (ev.t) {
    case 'locked':
      return `${by} closed the meeting to new people.`;
    case 'unlocked':
      return `${by} opened the meeting to new people again.`;
    case 'ended':
      return `${by} ended the meeting. The record can still be read.`;
    case 'facilitation':
      return ev.mode === 'hand'
        ? `${by} handed facilitation to ${name(ev.to)}.`
        : `${by} now shares facilitation with ${name(ev.to)}.`;
    case 'removed':
      return `${by} removed ${name(ev.who)} from the meeting. Their words stay in the record.`;
    case 'person-added':
      return `${by} added ${name(ev.who)}, who has no device here. Others can write down their words for them.`;
    case 'reflecting-started':
      return `${by} started a reflecting conversation.`;
    case 'reflecting-ended':
      return `${by} ended the reflecting conversation. Now it is the network's turn to respond.`;
    case 'response-closed':
      return ev.responded
        ? `The network has responded (${by} noted it).`
        : `The network chose not to respond now (${by} noted it).`;
    case 'about':
      return ev.aboutMe ? `${by} said this meeting is about them.` : `${by} said this meeting is not about them.`;
  }
}

/** A local date and time as agreed in the room (`YYYY-MM-DDTHH:MM`), in the reader's own words. */
export function agreedTime(when: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(when);
  if (!m) return when;
  const [, y, mo, d, h, mi] = m.map(Number) as [number, number, number, number, number, number];
  return dayAndTime(new Date(y, mo - 1, d, h, mi).getTime());
}

export function describeNext(next: NextMeeting | null): string {
  if (!next) return 'No next meeting is planned for now.';
  if (!next.agreed)
    return next.arranger
      ? `The next meeting is not agreed yet. ${next.arranger} will arrange it.`
      : 'The next meeting is not agreed yet.';
  const parts = [
    next.when && `when: ${agreedTime(next.when)}`,
    next.where && `where: ${next.where}`,
    next.who && `who: ${next.who}`,
  ].filter(Boolean);
  return `Next meeting agreed${parts.length ? ` — ${parts.join('; ')}` : ''}.`;
}

/** What someone did with the record, for the access log. */
export function describeAccess(action: string): string {
  switch (action) {
    case 'opened-record':
      return 'opened the record';
    case 'exported-json':
      return 'downloaded the record (JSON file)';
    case 'exported-markdown':
      return 'downloaded the record (text file)';
    case 'exported-calendar':
      return 'added the next meeting to a calendar';
    case 'revoked-link':
      return 'got a new personal link (the old one stopped working)';
    case 'erasure-requested':
      return 'asked for words to be erased';
    case 'erasure-refused':
      return 'was told the record must be kept';
    case 'erased-own-words':
      return 'erased their own words';
    case 'erased-record':
      return 'erased the whole record';
    default:
      return action.replace(/-/g, ' ');
  }
}

/**
 * First contact to first meeting, against the aim of meeting within 24 hours. Neutral words when
 * it took longer: the record states it, it does not judge.
 */
export function firstMeetingWords(network: NetworkInfo): string {
  const gap = network.firstMeetingAt - network.firstContactAt;
  if (gap <= 0) return 'The time of first contact has not been noted yet.';
  const within = gap <= 24 * 3600 * 1000;
  return within
    ? `First meeting ${duration(gap)} after first contact — within the 24-hour aim.`
    : `First meeting ${duration(gap)} after first contact. The aim is to meet within 24 hours.`;
}
