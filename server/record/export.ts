/**
 * Exports of a meeting's record: JSON (complete, documented in the README, for another system to
 * import) and Markdown (readable). Both mark whose words are whose. Everything is built by the same
 * fold every device uses (`buildRecord`), so an export says exactly what the screen says.
 */
import { createEvents, type EventAttributes } from 'ics';
import {
  buildRecord,
  displayName,
  type ItemView,
  type MeetingEvent,
  type NextMeeting,
  type Person,
  type PositionView,
} from '../../shared/record.js';
import type { RecordSnapshot } from '../meetings/meeting.js';
import { catalog as ar } from '../../shared/i18n/ar.js';
import { en } from '../../shared/i18n/en.js';
import { catalog as fi } from '../../shared/i18n/fi.js';
import { catalog as sv } from '../../shared/i18n/sv.js';
import { localeOf, type Lang } from '../../shared/i18n/languages.js';
import { fmt } from '../../shared/i18n/text.js';
import type { Catalog } from '../../shared/i18n/en.js';

/** Every language's catalog: the server writes the text file and the calendar file in the reader's. */
const CATALOGS: Record<Lang, Catalog> = { en, fi, sv, ar };

export const EXPORT_FORMAT = 'polyphony-record';
export const EXPORT_VERSION = 1;

export interface ExportedItem {
  ref: string;
  /** Its place in the record's one sequence of items and events (shared with `events[].pos`). */
  pos: number;
  /** Whose words these are (participant id). */
  speaker: string;
  /** Who wrote them down (participant id): the speaker, or a scribe for them. */
  writtenBy: string;
  kind: ItemView['kind'];
  text: string;
  versions: ItemView['versions'];
  withdrawn: ItemView['withdrawn'];
  /** Server time of arrival (ms since epoch) and the writer's device time. */
  at: number | null;
  writtenAt: number;
  /** What this answers, and how ('answer' or 'different' view). */
  answers: string | null;
  /** The item this interprets (SPEC 18): shown with it, never instead of it. */
  interprets: string | null;
  view: ItemView['view'];
  scribed: ItemView['scribed'];
  segment: ItemView['segment'];
  positions: PositionView[];
  decision: ItemView['decision'];
}

export interface ExportedRecord {
  format: typeof EXPORT_FORMAT;
  version: typeof EXPORT_VERSION;
  exportedAt: number;
  meeting: {
    id: string;
    openedAt: number;
    status: 'open' | 'ended';
    network: RecordSnapshot['state']['network'];
    previous: string | null;
    next: string | null;
  };
  people: Array<{ id: string } & Person>;
  /** Every contribution, answer and proposal, in the order the server received them (by `pos`). */
  items: ExportedItem[];
  /**
   * Facilitation, reflecting conversations and the end, in order. `pos` places them among items
   * (one sequence: an event at pos p happened after every item with a lower pos and before every
   * item with a higher one); `seq` is the server's count of received entries of every kind
   * (confirmations, positions, amendments… too) when it happened.
   */
  events: Array<MeetingEvent & { pos: number }>;
  nextMeeting: NextMeeting | null;
}

function flatten(items: readonly ItemView[]): ItemView[] {
  const out: ItemView[] = [];
  const walk = (list: readonly ItemView[]) => {
    for (const i of list) {
      out.push(i);
      walk(i.interpretations);
      walk(i.answers);
    }
  };
  walk(items);
  return out.sort((a, b) => a.pos - b.pos);
}

function nextMeetingOf(events: readonly MeetingEvent[]): NextMeeting | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.t === 'ended') return e.next;
  }
  return null;
}

export function exportJson(meetingId: string, snap: RecordSnapshot, now: number): ExportedRecord {
  const record = buildRecord({ order: snap.order, events: snap.events }, snap.voices);
  return {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    exportedAt: now,
    meeting: {
      id: meetingId,
      openedAt: snap.state.openedAt,
      status: snap.state.status,
      network: snap.state.network,
      previous: snap.state.previous,
      next: snap.state.next,
    },
    people: [...snap.people].map(([id, p]) => ({ id, ...p })),
    items: flatten(record.items).map((i) => ({
      ref: i.ref,
      pos: i.pos,
      speaker: i.speaker,
      writtenBy: i.voice,
      kind: i.kind,
      text: i.text,
      versions: i.versions,
      withdrawn: i.withdrawn,
      at: i.at,
      writtenAt: i.writtenAt,
      answers: i.re,
      interprets: i.interprets,
      view: i.view,
      scribed: i.scribed,
      segment: i.segment,
      positions: i.positions,
      decision: i.decision,
    })),
    events: [...snap.events]
      .map((e) => ({ ...e, pos: record.eventPos.get(e.id) ?? Number.MAX_SAFE_INTEGER }))
      .sort((a, b) => a.pos - b.pos),
    nextMeeting: nextMeetingOf(snap.events),
  };
}

/**
 * Text from people, made inert for Markdown and HTML renderers alike: HTML is escaped, inline
 * syntax is escaped, and every line stays inside its list item (continuation lines are indented
 * with `indent`, and a line cannot start a list, heading, quote or code block of its own).
 */
export function inert(text: string, indent = ''): string {
  return text.replace(/\r\n?/g, '\n').split('\n').map(inertLine).join(`  \n${indent}`);
}

function inertLine(line: string): string {
  return line
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_{}[\]()#+!|~])/g, '\\$1')
    .replace(/^(\s*)([-=])/, '$1\\$2')
    .replace(/^(\s*)(\d+)([.)])/, '$1$2\\$3')
    .replace(/^\s+/, (m) => '\u00a0'.repeat(m.length));
}

/** A name or other one-line text: line breaks become spaces. */
function inertName(text: string): string {
  return inertLine(text.replace(/[\r\n]+/g, ' '));
}

/**
 * The record as a Markdown text file, in the reader's language (the catalog's `file` and `events`
 * sentences: the same words the page uses). People's own words are never translated.
 */
export function exportMarkdown(meetingId: string, snap: RecordSnapshot, timeZone = 'UTC', lang: Lang = 'en'): string {
  const t = CATALOGS[lang];
  const f = t.file;
  const record = buildRecord({ order: snap.order, events: snap.events }, snap.voices);
  const dates = new Intl.DateTimeFormat(localeOf(lang), { dateStyle: 'medium', timeStyle: 'short', timeZone });
  const time = (ms: number | null) => (ms === null ? f.notReceived : dates.format(ms));
  const who = (id: string) => {
    const p = snap.people.get(id);
    const name = inertName(displayName(p, t.person));
    const relation = p?.relation && p.name ? ` (${inertName(p.relation)})` : '';
    return `${name}${relation}${p?.removed ? ` ${f.removed}` : ''}`;
  };
  const lines: string[] = [];
  lines.push(`# ${f.title}`);
  lines.push('');
  const net = snap.state.network;
  if (net?.name) lines.push(`${fmt(f.network, { name: inertName(net.name) })}  `);
  lines.push(`${fmt(f.opened, { time: time(snap.state.openedAt) })}  `);
  lines.push(`${snap.state.status === 'ended' ? f.statusEnded : f.statusOpen}  `);
  lines.push(fmt(f.meetingId, { id: meetingId }));
  lines.push('');
  const next = nextMeetingOf(snap.events);
  lines.push(`## ${f.next}`);
  lines.push('');
  if (!next) lines.push(f.notDiscussed);
  else if (next.agreed) {
    const when = next.when ? inertName(next.when.replace('T', ' ')) : f.timeNotSet;
    lines.push(
      `${next.where ? fmt(f.agreedWhere, { when, where: inertName(next.where) }) : fmt(f.agreed, { when })}  `,
    );
    if (next.who) lines.push(fmt(f.who, { who: inertName(next.who) }));
  } else
    lines.push(`${f.notAgreed}${next.arranger ? ` ${fmt(f.willArrange, { name: inertName(next.arranger) })}` : ''}`);
  lines.push('');
  lines.push(`## ${f.people}`);
  lines.push('');
  for (const [id, p] of snap.people) {
    const notes = [p.aboutMe ? f.aboutThem : '', p.addedBy ? fmt(f.addedBy, { name: who(p.addedBy) }) : '']
      .filter(Boolean)
      .join('; ');
    lines.push(`- ${who(id)}${notes ? ` — ${notes}` : ''}`);
  }
  lines.push('');
  lines.push(`## ${f.record}`);
  lines.push('');
  lines.push(f.intro);
  lines.push('');

  const item = (i: ItemView, depth: number) => {
    const pad = '  '.repeat(depth);
    const label = i.interprets
      ? f.interpretationOf
      : i.kind === 'proposal'
        ? f.proposalBy
        : i.view === 'different'
          ? f.differentFrom
          : i.re
            ? f.answerFrom
            : '';
    const by = i.scribed
      ? ` — ${fmt(i.interprets ? f.interpretedBy : f.writtenBy, { name: who(i.voice) })}, ${f.scribed[i.scribed.status]}`
      : '';
    const seg = i.segment ? ` [${i.segment.kind === 'reflecting' ? f.duringReflecting : f.responseToReflection}]` : '';
    const head = `${label ? `${label} ` : ''}**${who(i.speaker)}**, ${time(i.at)}${by}${seg}`;
    const body = i.withdrawn
      ? `~~${inert(i.text, `${pad}  `)}~~ (${fmt(f.takenBack, { time: time(i.withdrawn.at) })})`
      : inert(i.text, `${pad}  `);
    lines.push(`${pad}- ${head}:  `);
    lines.push(`${pad}  ${body}`);
    if (i.versions.length > 1) {
      lines.push(`${pad}  - ${f.earlier}`);
      for (const v of i.versions.slice(0, -1)) {
        lines.push(`${pad}    - "${inert(v.text, `${pad}      `)}" (${who(v.by)}, ${time(v.at)})`);
      }
    }
    if (i.kind === 'proposal') {
      const decided = i.decision?.outcome === 'decided';
      const note = i.decision?.text ? `: ${inert(i.decision.text, `${pad}    `)}` : '';
      lines.push(`${pad}  - ${decided ? f.decided : f.notDecided}${note}`);
      for (const p of i.positions) {
        const mark = p.confirmed ? '' : ` (${fmt(f.positionUnconfirmed, { name: who(p.writer) })})`;
        const stance = fmt(f.position, { person: who(p.person), stance: f.stances[p.stance] });
        lines.push(`${pad}  - ${stance}${p.text ? `: "${inert(p.text, `${pad}    `)}"` : ''}${mark}`);
      }
    }
    for (const x of i.interpretations) item(x, depth + 1);
    for (const a of i.answers) item(a, depth + 1);
  };
  const event = (e: MeetingEvent) => {
    const ev = t.events;
    const by = who(e.by);
    const text = ((): string => {
      switch (e.t) {
        case 'locked':
          return fmt(ev.locked, { by });
        case 'unlocked':
          return fmt(ev.unlocked, { by });
        case 'ended':
          return fmt(ev.ended, { by });
        case 'facilitation':
          return fmt(e.mode === 'hand' ? ev.hand : ev.share, { by, to: who(e.to) });
        case 'removed':
          return fmt(ev.removed, { by, who: who(e.who) });
        case 'person-added':
          return fmt(ev.added, { by, who: who(e.who) });
        case 'reflecting-started':
          return fmt(ev.reflectingStarted, { by });
        case 'reflecting-ended':
          return fmt(ev.reflectingEnded, { by });
        case 'response-closed':
          return fmt(e.responded ? ev.responded : ev.notResponded, { by });
        case 'about':
          return fmt(e.aboutMe ? ev.aboutSaid : ev.aboutUnsaid, { by });
      }
    })();
    lines.push(`- *${time(e.at)}: ${text}*`);
  };
  for (const entry of record.timeline) {
    if (entry.kind === 'item') item(entry.item, 0);
    else event(entry.event);
  }
  lines.push('');
  return lines.join('\n');
}

/** A calendar file for the next meeting. Holds no health details: only "Network meeting". */
export function nextMeetingIcs(next: NextMeeting, url: string, lang: Lang = 'en'): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(next.when);
  if (!next.agreed || !m) return null;
  const [, y, mo, d, h, mi] = m.map(Number) as [number, number, number, number, number, number];
  const event: EventAttributes = {
    title: CATALOGS[lang].file.calendarTitle,
    start: [y, mo, d, h, mi],
    startInputType: 'local',
    startOutputType: 'local',
    duration: { hours: 1, minutes: 30 },
    ...(next.where ? { location: next.where } : {}),
    url,
    productId: 'polyphony',
  };
  const { error, value } = createEvents([event]);
  if (error || !value) return null;
  return value;
}
