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

const STANCE: Record<PositionView['stance'], string> = {
  agree: 'agrees',
  disagree: 'disagrees',
  unsure: 'is unsure',
  unstated: 'has not stated a position',
};

export function exportMarkdown(meetingId: string, snap: RecordSnapshot, timeZone = 'UTC'): string {
  const record = buildRecord({ order: snap.order, events: snap.events }, snap.voices);
  const fmt = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone });
  const time = (ms: number | null) => (ms === null ? 'not yet received' : fmt.format(ms));
  const who = (id: string) => {
    const p = snap.people.get(id);
    const name = inertName(displayName(p));
    const relation = p?.relation && p.name ? ` (${inertName(p.relation)})` : '';
    return `${name}${relation}${p?.removed ? ' [removed from the meeting]' : ''}`;
  };
  const lines: string[] = [];
  lines.push(`# Meeting record`);
  lines.push('');
  const net = snap.state.network;
  if (net?.name) lines.push(`Network: ${inertName(net.name)}  `);
  lines.push(`Opened: ${time(snap.state.openedAt)}  `);
  lines.push(`Status: ${snap.state.status === 'ended' ? 'ended (read-only)' : 'open'}  `);
  lines.push(`Meeting id: ${meetingId}`);
  lines.push('');
  const next = nextMeetingOf(snap.events);
  lines.push('## Next meeting');
  lines.push('');
  if (!next) lines.push('Not discussed yet.');
  else if (next.agreed) {
    lines.push(
      `Agreed: ${next.when ? inertName(next.when.replace('T', ' ')) : 'time not set'}${next.where ? `, ${inertName(next.where)}` : ''}.  `,
    );
    if (next.who) lines.push(`Who: ${inertName(next.who)}`);
  } else lines.push(`Not agreed yet.${next.arranger ? ` ${inertName(next.arranger)} will arrange it.` : ''}`);
  lines.push('');
  lines.push('## People');
  lines.push('');
  for (const [id, p] of snap.people) {
    const notes = [p.aboutMe ? 'this meeting is about them' : '', p.addedBy ? `added by ${who(p.addedBy)}` : '']
      .filter(Boolean)
      .join('; ');
    lines.push(`- ${who(id)}${notes ? ` — ${notes}` : ''}`);
  }
  lines.push('');
  lines.push('## Record');
  lines.push('');
  lines.push(
    'Every contribution is shown the same way, in the order the server received it. Whose words are whose is written on each.',
  );
  lines.push('');

  const item = (i: ItemView, depth: number) => {
    const pad = '  '.repeat(depth);
    const label = i.interprets
      ? 'Interpretation of the words of'
      : i.kind === 'proposal'
        ? 'Proposal by'
        : i.view === 'different'
          ? 'A different view from'
          : i.re
            ? 'Answer from'
            : '';
    const by = i.scribed
      ? ` — ${i.interprets ? 'interpreted' : 'written'} by ${who(i.voice)}, ${i.scribed.status === 'unconfirmed' ? 'not yet confirmed' : i.scribed.status}`
      : '';
    const seg = i.segment
      ? ` [${i.segment.kind === 'reflecting' ? 'during a reflecting conversation' : 'response to a reflection'}]`
      : '';
    const head = `${label ? `${label} ` : ''}**${who(i.speaker)}**, ${time(i.at)}${by}${seg}`;
    const body = i.withdrawn
      ? `~~${inert(i.text, `${pad}  `)}~~ (taken back ${time(i.withdrawn.at)})`
      : inert(i.text, `${pad}  `);
    lines.push(`${pad}- ${head}:  `);
    lines.push(`${pad}  ${body}`);
    if (i.versions.length > 1) {
      lines.push(`${pad}  - Earlier words:`);
      for (const v of i.versions.slice(0, -1)) {
        lines.push(`${pad}    - "${inert(v.text, `${pad}      `)}" (${who(v.by)}, ${time(v.at)})`);
      }
    }
    if (i.kind === 'proposal') {
      const decided = i.decision?.outcome === 'decided';
      const note = i.decision?.text ? `: ${inert(i.decision.text, `${pad}    `)}` : '';
      lines.push(`${pad}  - ${decided ? 'Decided' : 'Not decided yet'}${note}`);
      for (const p of i.positions) {
        const mark = p.confirmed ? '' : ` (written by ${who(p.writer)}, not yet confirmed)`;
        lines.push(
          `${pad}  - ${who(p.person)} ${STANCE[p.stance]}${p.text ? `: "${inert(p.text, `${pad}    `)}"` : ''}${mark}`,
        );
      }
    }
    for (const t of i.interpretations) item(t, depth + 1);
    for (const a of i.answers) item(a, depth + 1);
  };
  const event = (e: MeetingEvent) => {
    const text: Record<MeetingEvent['t'], () => string> = {
      locked: () => 'closed the meeting to new people',
      unlocked: () => 'opened the meeting to new people again',
      ended: () => 'ended the meeting',
      facilitation: () =>
        e.t === 'facilitation'
          ? `${e.mode === 'hand' ? 'handed facilitation to' : 'shared facilitation with'} ${who(e.to)}`
          : '',
      removed: () => (e.t === 'removed' ? `removed ${who(e.who)} from the meeting (their words stay)` : ''),
      'person-added': () => (e.t === 'person-added' ? `added ${who(e.who)}, who has no device here` : ''),
      'reflecting-started': () => 'started a reflecting conversation',
      'reflecting-ended': () => "ended the reflecting conversation; the network's response is open",
      'response-closed': () =>
        e.t === 'response-closed' && e.responded
          ? 'closed the response to the reflection'
          : 'noted the network chose not to respond',
      about: () =>
        e.t === 'about' && e.aboutMe ? 'said this meeting is about them' : 'said this meeting is not about them',
    };
    lines.push(`- *${time(e.at)}: ${who(e.by)} ${text[e.t]()}.*`);
  };
  for (const entry of record.timeline) {
    if (entry.kind === 'item') item(entry.item, 0);
    else event(entry.event);
  }
  lines.push('');
  return lines.join('\n');
}

/** A calendar file for the next meeting. Holds no health details: only "Network meeting". */
export function nextMeetingIcs(next: NextMeeting, url: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(next.when);
  if (!next.agreed || !m) return null;
  const [, y, mo, d, h, mi] = m.map(Number) as [number, number, number, number, number, number];
  const event: EventAttributes = {
    title: 'Network meeting',
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
