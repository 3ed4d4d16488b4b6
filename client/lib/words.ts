/** Interface words that depend on the record: plain, short, the same for everyone. */
import type { MeetingEvent, NetworkInfo, NextMeeting, Stance } from '../../shared/record.js';
import { i18n, fmt } from '../i18n/index.svelte.js';
import type { Vars } from '../../shared/i18n/text.js';
import { dayAndTime, duration } from './time.js';

export const STANCE_VALUES: readonly Stance[] = ['agree', 'disagree', 'unsure', 'unstated'];

/** The stances with their labels in the interface language. */
export function stances(): ReadonlyArray<{ value: Stance; label: string }> {
  return STANCE_VALUES.map((value) => ({ value, label: stanceLabel(value) }));
}

export function stanceLabel(stance: Stance): string {
  return i18n.t.stances[stance];
}

/** One quiet line for a meeting event, with its names apart (so a page can isolate them). */
export function eventSentence(ev: MeetingEvent, name: (id: string) => string): { text: string; vars: Vars } {
  const e = i18n.t.events;
  const by = name(ev.by);
  switch (ev.t) {
    case 'locked':
      return { text: e.locked, vars: { by } };
    case 'unlocked':
      return { text: e.unlocked, vars: { by } };
    case 'ended':
      return { text: e.ended, vars: { by } };
    case 'facilitation':
      return { text: ev.mode === 'hand' ? e.hand : e.share, vars: { by, to: name(ev.to) } };
    case 'removed':
      return { text: e.removed, vars: { by, who: name(ev.who) } };
    case 'person-added':
      return { text: e.added, vars: { by, who: name(ev.who) } };
    case 'reflecting-started':
      return { text: e.reflectingStarted, vars: { by } };
    case 'reflecting-ended':
      return { text: e.reflectingEnded, vars: { by } };
    case 'response-closed':
      return { text: ev.responded ? e.responded : e.notResponded, vars: { by } };
    case 'about':
      return { text: ev.aboutMe ? e.aboutSaid : e.aboutUnsaid, vars: { by } };
  }
}

/** One quiet line for a meeting event, as plain text. */
export function describeEvent(ev: MeetingEvent, name: (id: string) => string): string {
  const s = eventSentence(ev, name);
  return fmt(s.text, s.vars);
}

/** A local date and time as agreed in the room (`YYYY-MM-DDTHH:MM`), in the reader's own words. */
export function agreedTime(when: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(when);
  if (!m) return when;
  const [, y, mo, d, h, mi] = m.map(Number) as [number, number, number, number, number, number];
  return dayAndTime(new Date(y, mo - 1, d, h, mi).getTime());
}

export function describeNext(next: NextMeeting | null): string {
  const n = i18n.t.next;
  if (!next) return n.none;
  // People's words inside the sentence keep their own direction (Unicode isolates: a <bdi> in text).
  const own = (text: string) => `\u2068${text}\u2069`;
  if (!next.agreed) return next.arranger ? fmt(n.notAgreedBy, { name: own(next.arranger) }) : n.notAgreed;
  const parts = [
    next.when && fmt(n.when, { when: agreedTime(next.when) }),
    next.where && fmt(n.where, { where: own(next.where) }),
    next.who && fmt(n.who, { who: own(next.who) }),
  ].filter((x): x is string => Boolean(x));
  return parts.length ? fmt(n.agreedWith, { parts: parts.join(n.separator) }) : n.agreed;
}

/** What someone did with the record, for the access log. */
export function describeAccess(action: string): string {
  const a = i18n.t.access as Record<string, string>;
  return (Object.hasOwn(a, action) ? a[action] : undefined) ?? i18n.t.access.other;
}

/**
 * First contact to first meeting, against the aim of meeting within 24 hours. Neutral words when
 * it took longer: the record states it, it does not judge.
 */
export function firstMeetingWords(network: NetworkInfo): string {
  const f = i18n.t.firstMeeting;
  const gap = network.firstMeetingAt - network.firstContactAt;
  if (gap <= 0) return f.notNoted;
  return fmt(gap <= 24 * 3600 * 1000 ? f.within : f.over, { time: duration(gap) });
}
