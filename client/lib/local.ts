/**
 * What this device remembers about a meeting, in localStorage. Private browsing can refuse
 * storage: then nothing is remembered and nothing breaks.
 *
 * Secrets kept here: the meeting's join link (to invite someone later), one's own personal link
 * (to show it again), and the personal links of people this device added who have no device of
 * their own (so they can confirm their words here, or later on their own phone).
 */
import { isId } from '../../shared/ids.js';

export interface LocalMeeting {
  joinToken?: string;
  personalToken?: string;
  participantId?: string;
  /** People added on this device: participant id → personal token. */
  added?: Record<string, string>;
}

export interface Draft {
  text: string;
  re?: string;
  view?: 'answer' | 'different';
  proposal?: boolean;
  forPerson?: string;
}

const PREFIX = 'polyphony:';

function read<T>(key: string): T | null {
  try {
    const raw = localStorage.getItem(PREFIX + key);
    return raw ? (JSON.parse(raw) as T) : null;
  } catch {
    return null;
  }
}

function write(key: string, value: unknown): void {
  try {
    if (value === null) localStorage.removeItem(PREFIX + key);
    else localStorage.setItem(PREFIX + key, JSON.stringify(value));
  } catch {
    // Storage full or refused: the draft stays on screen, nothing else depends on it.
  }
}

export function localMeeting(meetingId: string): LocalMeeting {
  const m = read<LocalMeeting>(`meeting:${meetingId}`) ?? {};
  const clean: LocalMeeting = {};
  if (isId(m.joinToken)) clean.joinToken = m.joinToken;
  if (isId(m.personalToken)) clean.personalToken = m.personalToken;
  if (isId(m.participantId)) clean.participantId = m.participantId;
  if (m.added && typeof m.added === 'object') {
    clean.added = Object.fromEntries(Object.entries(m.added).filter(([k, val]) => isId(k) && isId(val)));
  }
  return clean;
}

export function rememberMeeting(meetingId: string, patch: LocalMeeting): void {
  const current = localMeeting(meetingId);
  write(`meeting:${meetingId}`, { ...current, ...patch, added: { ...current.added, ...patch.added } });
}

export function loadDraft(meetingId: string): Draft {
  const d = read<Draft>(`draft:${meetingId}`);
  return d && typeof d.text === 'string' ? d : { text: '' };
}

export function saveDraft(meetingId: string, draft: Draft): void {
  const empty = !draft.text && !draft.re && !draft.proposal && !draft.forPerson;
  write(`draft:${meetingId}`, empty ? null : draft);
}
