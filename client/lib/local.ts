/**
 * What this device remembers about a meeting, in localStorage. Private browsing can refuse
 * storage: then nothing is remembered and nothing breaks.
 *
 * Secrets kept here: the meeting's join link (to invite someone later), one's own personal link
 * (to show it again), and the personal links of people this device added who have no device of
 * their own (so they can confirm their words here, or later on their own phone).
 */
import { isId, CODE_PATTERN } from '../../shared/ids.js';

export interface LocalMeeting {
  joinToken?: string;
  /** The short code to read aloud (on the device that opened the meeting, or came in with it), and until when it works. */
  code?: string;
  codeUntil?: number;
  personalToken?: string;
  participantId?: string;
  /** People added on this device: participant id → personal token. */
  added?: Record<string, string>;
  /** Keep a copy of the meeting on this device (IndexedDB), so words survive being offline. */
  keepCopy?: boolean;
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
  if (typeof m.code === 'string' && CODE_PATTERN.test(m.code)) clean.code = m.code;
  if (typeof m.codeUntil === 'number' && Number.isFinite(m.codeUntil)) clean.codeUntil = m.codeUntil;
  if (isId(m.personalToken)) clean.personalToken = m.personalToken;
  if (isId(m.participantId)) clean.participantId = m.participantId;
  if (typeof m.keepCopy === 'boolean') clean.keepCopy = m.keepCopy;
  if (m.added && typeof m.added === 'object') {
    clean.added = Object.fromEntries(Object.entries(m.added).filter(([k, val]) => isId(k) && isId(val)));
  }
  return clean;
}

/** Whether the short code this device holds for a meeting still lets people in. */
export function codeWorks(m: LocalMeeting): boolean {
  return m.code !== undefined && (m.codeUntil === undefined || m.codeUntil > Date.now());
}

export function rememberMeeting(meetingId: string, patch: LocalMeeting): void {
  const current = localMeeting(meetingId);
  write(`meeting:${meetingId}`, { ...current, ...patch, added: { ...current.added, ...patch.added } });
}

/** Whether this device keeps a copy of the meeting: the person's choice, else the device's. */
export function keepsCopy(meetingId: string): boolean {
  return localMeeting(meetingId).keepCopy ?? !deviceShared();
}

/**
 * Forget a meeting on this device: its links, its draft, and (for the home page's list) that it
 * was here at all. The copy of the record itself is cleared by the connection (`clearLocal`).
 */
export function forgetMeeting(meetingId: string): void {
  write(`meeting:${meetingId}`, null);
  write(`draft:${meetingId}`, null);
  const hidden = new Set(hiddenMeetings());
  hidden.add(meetingId);
  write('hidden', [...hidden]);
}

/** Meetings removed from this device by the person: not listed on its home page. */
export function hiddenMeetings(): string[] {
  const h = read<unknown>('hidden');
  return Array.isArray(h) ? h.filter((x): x is string => isId(x)) : [];
}

/** Show a meeting on this device again (the person opened it here once more). */
export function unhideMeeting(meetingId: string): void {
  const hidden = hiddenMeetings();
  if (hidden.includes(meetingId))
    write(
      'hidden',
      hidden.filter((x) => x !== meetingId),
    );
}

/**
 * A new personal link replaces the old one: in the given meetings, and in every meeting this
 * device remembers with the old link.
 */
export function replaceToken(oldToken: string, newToken: string, meetingIds: readonly string[]): void {
  const ids = new Set(meetingIds);
  try {
    for (const key of Object.keys(localStorage)) {
      const id = key.startsWith(`${PREFIX}meeting:`) ? key.slice(`${PREFIX}meeting:`.length) : '';
      if (isId(id) && localMeeting(id).personalToken === oldToken) ids.add(id);
    }
  } catch {
    // Storage refused: only the given meetings.
  }
  for (const id of ids) rememberMeeting(id, { personalToken: newToken });
}

/** "This is a shared or borrowed phone": this device keeps no copies, and people leave no trace. */
export function deviceShared(): boolean {
  return read<{ shared?: boolean }>('device')?.shared === true;
}

export function setDeviceShared(shared: boolean): void {
  write('device', { shared });
}

export function loadDraft(meetingId: string): Draft {
  const d = read<Draft>(`draft:${meetingId}`);
  return d && typeof d.text === 'string' ? d : { text: '' };
}

export function saveDraft(meetingId: string, draft: Draft): void {
  const empty = !draft.text && !draft.re && !draft.proposal && !draft.forPerson;
  write(`draft:${meetingId}`, empty ? null : draft);
}

/**
 * Another tab of this browser changed the meeting's draft (typed, or sent it and emptied the box):
 * `apply` gets the draft as it is now, so two tabs of one person never keep words already sent.
 */
export function onDraftChange(meetingId: string, apply: (draft: Draft) => void): () => void {
  const key = `${PREFIX}draft:${meetingId}`;
  const listener = (e: StorageEvent) => {
    if (e.key !== key && e.key !== null) return;
    apply(loadDraft(meetingId));
  };
  window.addEventListener('storage', listener);
  return () => window.removeEventListener('storage', listener);
}
