/**
 * The one writer of meeting state. Every change to a meeting, a network, a participant, a session
 * or the access log — whichever channel asked for it (HTTP, Socket.IO) — goes through here:
 *
 *   handler (parse + authenticate) ──▶ Commands: check the rules once ──▶ meeting document
 *                                                                      ──▶ store transaction
 *                                                                      ──▶ answer (durable)
 *
 * Order of writes, so that a crash at any point leaves nothing that disagrees once the meeting is
 * loaded again (see reconcile.ts):
 * - a change of the meeting's state or of how someone describes themself is written to the
 *   meeting document first, then to the rows; the document is the truth and rows follow it;
 * - what creates someone (join, a person added) or erases them is written to the rows first; the
 *   document follows the rows at load. With several instances those row writes are fenced like
 *   the document's (`transaction(…, { fence })`): an owner that lost the meeting writes neither.
 * Nothing is answered until everything it says is durable ("an ack means saved").
 */
import { randomInt } from 'node:crypto';
import { CODE_LIFETIME_MS, CODE_PATTERN, isId, randomId } from '../../shared/ids.js';
import { ErrorCode, type CloseReasonCode, type ErrorCode as Code } from '../../shared/errors.js';
import type {
  AddPersonInput,
  Admission,
  Opened,
  EndInput,
  ErasureResult,
  FacilitationInput,
  Invitation,
  JoinInput,
  LockInput,
  NextMeetingOpened,
  OpenMeetingInput,
  ProfileInput,
  ReflectInput,
  RemoveInput,
  ResponseCloseInput,
} from '../../shared/protocol.js';
import { CloseReason } from '../../shared/errors.js';
import { hashToken, sameHash } from '../auth.js';
import type { Config } from '../config.js';
import type { Clock, Log } from '../context.js';
import type { Meeting, RecordSnapshot } from '../meetings/meeting.js';
import type { Meetings } from '../meetings/registry.js';
import type { AccessAction, MeetingRecord, ParticipantPatch, ParticipantRecord, Store } from '../store/types.js';

/** A rule said no. `code` is from the shared vocabulary; the page owns the sentence. */
export class CommandError extends Error {
  constructor(
    readonly code: Code,
    readonly field?: string,
  ) {
    super(code);
    this.name = 'CommandError';
  }
}

const fail = (code: Code, field?: string): never => {
  throw new CommandError(code, field);
};

export interface CommandDeps {
  store: Store;
  meetings: Meetings;
  config: Config;
  clock: Clock;
  log: Log;
  /** Tell every connection of a participant why, then disconnect them. */
  disconnect: (participantId: string, reason: CloseReasonCode) => void;
}

/** The browser session a request came with: the hash of its cookie's secret. */
export interface SessionRef {
  hash: string;
}

/** What the transports may call: the commands' public methods (routed to a meeting's owner, see cluster/). */
export type CommandsApi = Omit<{ [K in keyof Commands]: Commands[K] }, 'deps'>;

export class Commands {
  constructor(readonly deps: CommandDeps) {}

  get #store(): Store {
    return this.deps.store;
  }

  #now(): number {
    return this.deps.clock.now();
  }

  // ── the rules, checked once for every channel ───────────────────────────────────────

  /** The meeting, loaded (the authority over it). Erased or unknown: the one "no access". */
  async #meeting(id: string): Promise<Meeting> {
    const m = await this.deps.meetings.get(id);
    return m ?? fail(ErrorCode.noAccess);
  }

  #mustBeOpen(m: Meeting): void {
    if (m.status !== 'open') fail(ErrorCode.meetingEnded);
  }

  #mustFacilitate(m: Meeting, actor: ParticipantRecord): void {
    if (!m.facilitators.includes(actor.id)) fail(ErrorCode.notFacilitator);
  }

  async #present(m: Meeting, id: string): Promise<ParticipantRecord> {
    const p = await this.#store.participant(id);
    if (!p || p.meetingId !== m.id || p.removed || p.erased || m.people.get(id)?.removed) {
      return fail(ErrorCode.notInMeeting);
    }
    return p;
  }

  #newParticipant(
    meetingId: string,
    input: { name: string; relation: string; aboutMe?: boolean },
    extra: Partial<ParticipantRecord> = {},
  ): { record: ParticipantRecord; token: string } {
    const token = randomId();
    return {
      token,
      record: {
        id: randomId(),
        meetingId,
        tokenHash: hashToken(token),
        name: input.name,
        relation: input.relation,
        aboutMe: input.aboutMe ?? false,
        joinedAt: this.#now(),
        revoked: false,
        ...extra,
      },
    };
  }

  /** Whether a join secret admits to this meeting: its join link's, or its short code while fresh. */
  #admits(row: MeetingRecord | undefined, secret: string): row is MeetingRecord {
    if (!row || row.erased) return false;
    if (sameHash(row.joinHash, hashToken(secret))) return true;
    return (
      CODE_PATTERN.test(secret) &&
      row.codeHash !== undefined &&
      sameHash(row.codeHash, hashToken(secret)) &&
      (row.codeUntil ?? 0) > this.#now()
    );
  }

  /** A fresh short code for a new meeting (ten digits; another is drawn if one is in use). */
  async #newCode(): Promise<{ code: string; codeHash: string; codeUntil: number }> {
    for (;;) {
      const code = String(randomInt(0, 1e10)).padStart(10, '0');
      const codeHash = hashToken(code);
      if (!(await this.#store.meetingByCode(codeHash)))
        return { code, codeHash, codeUntil: this.#now() + CODE_LIFETIME_MS };
    }
  }

  // ── opening, joining, links ─────────────────────────────────────────────────────────

  async openMeeting(
    input: Required<Pick<OpenMeetingInput, 'name' | 'relation'>> & OpenMeetingInput,
    session: SessionRef,
  ): Promise<Opened> {
    const now = this.#now();
    const meetingId = randomId();
    const joinToken = randomId();
    const networkId = randomId();
    const { record, token } = this.#newParticipant(meetingId, { name: input.name, relation: input.relation });
    const { code, codeHash, codeUntil } = await this.#newCode();
    await this.#store.transaction((tx) => {
      tx.createMeeting(
        { id: networkId, name: '', firstContactAt: Math.min(input.firstContactAt ?? now, now) },
        {
          id: meetingId,
          networkId,
          previous: null,
          openedAt: now,
          joinHash: hashToken(joinToken),
          codeHash,
          codeUntil,
          status: 'open',
          locked: false,
          facilitators: [record.id],
        },
        [record],
      );
      tx.addToSession(session.hash, record.tokenHash, now);
    });
    return { meetingId, participantId: record.id, personalToken: token, joinToken, code, codeUntil };
  }

  /**
   * Join with the meeting's link. The meeting is loaded first (its document decides whether it is
   * open and unlocked, and a join can never slip past a load in flight), the person is written to
   * the rows, then to the document with "this meeting is about me" as an event everyone sees.
   */
  async join(meetingId: string, input: Required<JoinInput>, session: SessionRef): Promise<Admission> {
    const row = await this.#store.meeting(meetingId);
    if (!this.#admits(row, input.joinToken)) return fail(ErrorCode.noAccess);
    const m = await this.#meeting(meetingId);
    if (m.status !== 'open') fail(ErrorCode.meetingEnded);
    if (m.locked) fail(ErrorCode.locked);
    const { record, token } = this.#newParticipant(meetingId, input);
    await this.#store.transaction(
      (tx) => {
        tx.addParticipant(record);
        tx.addToSession(session.hash, record.tokenHash, this.#now());
      },
      { fence: m.id },
    );
    m.setPerson(record);
    if (record.aboutMe) m.act(record.id, { t: 'about', who: record.id, aboutMe: true });
    await m.flushed();
    const admission = { meetingId, participantId: record.id, personalToken: token };
    // Someone who came in with the short code gets it back, not as a link: the link's secret is
    // kept only as a hash, and a code stops letting people in after CODE_LIFETIME_MS.
    return isId(input.joinToken)
      ? { ...admission, joinToken: input.joinToken }
      : { ...admission, code: input.joinToken, codeUntil: row.codeUntil ?? 0 };
  }

  /**
   * What the join page says before anyone types a name: who opened the meeting and whether it can
   * still be joined. Only with the meeting's join link (else the one "no access").
   */
  async invitation(meetingId: string, joinToken: string): Promise<Invitation> {
    const row = await this.#store.meeting(meetingId);
    if (!this.#admits(row, joinToken)) return fail(ErrorCode.noAccess);
    const m = await this.#meeting(meetingId);
    const first = (await this.#store.participants(meetingId))
      .filter((p) => !p.addedBy)
      .sort((a, b) => a.joinedAt - b.joinedAt)[0];
    const person = first ? m.people.get(first.id) : undefined;
    return {
      openedBy: person && !person.erased ? person.name || person.relation : '',
      openedAt: row.openedAt,
      networkName: (await this.#store.network(row.networkId))?.name ?? '',
      status: m.status,
      locked: m.locked,
      ...(isId(joinToken) ? {} : { codeUntil: row.codeUntil ?? 0 }),
    };
  }

  /** Which meeting a short code read aloud leads to (only while it admits anyone). */
  async resolveCode(code: string): Promise<{ meetingId: string }> {
    const row = await this.#store.meetingByCode(hashToken(code));
    if (!this.#admits(row, code) || row.status !== 'open') return fail(ErrorCode.noAccess);
    return { meetingId: row.id };
  }

  /** Exchange a personal link's secret for this browser's session. */
  async exchangeLink(token: string, session: SessionRef): Promise<{ meetingId: string; participantId: string }> {
    const records = (await this.#store.participantsByTokenHash(hashToken(token))).filter((p) => !p.revoked);
    const live: ParticipantRecord[] = [];
    for (const p of records) {
      const m = await this.#store.meeting(p.meetingId);
      if (m && !m.erased) live.push(p);
    }
    const latest = live.sort((a, b) => b.joinedAt - a.joinedAt)[0] ?? fail(ErrorCode.noAccess);
    await this.#store.transaction((tx) => tx.addToSession(session.hash, latest.tokenHash, this.#now()));
    return { meetingId: latest.meetingId, participantId: latest.id };
  }

  /**
   * A new personal link for one person (a lost phone): every meeting's record of them takes the
   * new hash at once, the old link stops working, and their connections are told and closed.
   */
  async revokeLink(
    records: readonly ParticipantRecord[],
    session: SessionRef | null,
  ): Promise<{ personalToken: string }> {
    const old = records[0]?.tokenHash ?? fail(ErrorCode.noAccess);
    const token = randomId();
    const hash = hashToken(token);
    const now = this.#now();
    await this.#store.transaction((tx) => {
      for (const p of records) {
        tx.updateParticipant(p.id, { tokenHash: hash });
        tx.logAccess({ meetingId: p.meetingId, participantId: p.id, action: 'revoked-link', at: now });
      }
      if (session) {
        tx.removeFromSession(session.hash, old);
        tx.addToSession(session.hash, hash, now);
      }
    });
    for (const p of records) this.deps.disconnect(p.id, CloseReason.linkRevoked);
    return { personalToken: token };
  }

  /** Take a person off this browser ("remove this meeting from this device"); their link still works. */
  async forget(records: readonly ParticipantRecord[], session: SessionRef | null): Promise<void> {
    const hash = records[0]?.tokenHash ?? fail(ErrorCode.noAccess);
    if (session) await this.#store.transaction((tx) => tx.removeFromSession(session.hash, hash));
  }

  // ── describing oneself, the network, the series ────────────────────────────────────

  /**
   * Change how one describes oneself. Only while the meeting is open (an ended record is
   * read-only, SPEC 8); "this meeting is about me" is stated openly, as an event (SPEC 15).
   */
  async updateProfile(actor: ParticipantRecord, input: ProfileInput): Promise<void> {
    const m = await this.#meeting(actor.meetingId);
    this.#mustBeOpen(m);
    const patch: ParticipantPatch = {};
    if (input.name !== undefined) patch.name = input.name;
    if (input.relation !== undefined) patch.relation = input.relation;
    if (input.aboutMe !== undefined) patch.aboutMe = input.aboutMe;
    const current = m.people.get(actor.id);
    const aboutChanged = patch.aboutMe !== undefined && patch.aboutMe !== (current?.aboutMe ?? actor.aboutMe);
    const next = {
      ...actor,
      ...(current ? { name: current.name, relation: current.relation, aboutMe: current.aboutMe } : {}),
      ...patch,
    };
    m.setPerson(next);
    if (aboutChanged) m.act(actor.id, { t: 'about', who: actor.id, aboutMe: next.aboutMe });
    await m.flushed();
    await this.#store.transaction((tx) => tx.updateParticipant(actor.id, patch));
  }

  /** Name the network; facilitators may set the first-contact time. Not from an ended meeting. */
  async updateNetwork(actor: ParticipantRecord, patch: { name?: string; firstContactAt?: number }): Promise<void> {
    const m = await this.#meeting(actor.meetingId);
    this.#mustBeOpen(m);
    if (patch.firstContactAt !== undefined) this.#mustFacilitate(m, actor);
    const row = (await this.#store.meeting(m.id)) ?? fail(ErrorCode.noAccess);
    const clean = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    await this.#store.transaction((tx) => tx.updateNetwork(row.networkId, clean));
    for (const other of await this.#store.meetingsOfNetwork(row.networkId))
      await this.deps.meetings.refreshContext(other.id);
  }

  /** A facilitator opens the network's next meeting; everyone (not removed, not erased) comes along. */
  async openNext(actor: ParticipantRecord): Promise<NextMeetingOpened> {
    const m = await this.#meeting(actor.meetingId);
    this.#mustFacilitate(m, actor);
    const row = (await this.#store.meeting(m.id)) ?? fail(ErrorCode.noAccess);
    const series = await this.#store.meetingsOfNetwork(row.networkId);
    if (series[series.length - 1]?.id !== row.id) fail(ErrorCode.nextAlreadyOpen);
    const now = this.#now();
    const meetingId = randomId();
    const joinToken = randomId();
    const people = (await this.#store.participants(row.id))
      .filter((x) => !x.removed && !x.erased && !m.people.get(x.id)?.removed)
      .map((x) => {
        const seen = m.people.get(x.id);
        // What they said of themselves in this meeting; "about me" is said afresh in each meeting.
        const copy: ParticipantRecord = {
          ...x,
          id: randomId(),
          meetingId,
          joinedAt: now,
          name: seen?.name ?? x.name,
          relation: seen?.relation ?? x.relation,
          aboutMe: false,
        };
        delete copy.addedBy;
        return copy;
      });
    const facilitator = people.find((x) => x.tokenHash === actor.tokenHash) ?? fail(ErrorCode.noAccess);
    const { code, codeHash, codeUntil } = await this.#newCode();
    const next: MeetingRecord = {
      id: meetingId,
      networkId: row.networkId,
      previous: row.id,
      openedAt: now,
      joinHash: hashToken(joinToken),
      codeHash,
      codeUntil,
      status: 'open',
      locked: false,
      facilitators: [facilitator.id],
    };
    await this.#store.transaction((tx) => tx.createMeeting(null, next, people));
    await this.deps.meetings.refreshContext(row.id);
    return { meetingId, joinToken, code, codeUntil };
  }

  /** The record as it stands now, as plain data (exports). */
  async record(actor: ParticipantRecord): Promise<RecordSnapshot> {
    return (await this.#meeting(actor.meetingId)).snapshot();
  }

  /** Note who read or exported the record (never any of its words). */
  async logAccess(actor: ParticipantRecord, action: AccessAction, note?: string): Promise<void> {
    const entry = {
      meetingId: actor.meetingId,
      participantId: actor.id,
      action,
      at: this.#now(),
      ...(note ? { note } : {}),
    };
    await this.#store.transaction((tx) => tx.logAccess(entry));
  }

  // ── the control plane (Socket.IO requests with acks) ────────────────────────────────

  async addPerson(
    actor: ParticipantRecord,
    input: Required<AddPersonInput>,
  ): Promise<{ participantId: string; personalToken: string }> {
    const m = await this.#meeting(actor.meetingId);
    this.#mustBeOpen(m);
    const { record, token } = this.#newParticipant(
      m.id,
      { name: input.name, relation: input.relation },
      { addedBy: actor.id },
    );
    await this.#store.transaction((tx) => tx.addParticipant(record), { fence: m.id });
    m.setPerson(record);
    m.act(actor.id, { t: 'person-added', who: record.id });
    await m.flushed();
    return { participantId: record.id, personalToken: token };
  }

  async reflect(actor: ParticipantRecord, { action }: ReflectInput): Promise<void> {
    const m = await this.#meeting(actor.meetingId);
    this.#mustBeOpen(m);
    if (action === 'start') {
      if (m.phase === 'reflecting') fail(ErrorCode.wrongState);
      m.act(actor.id, { t: 'reflecting-started' }, { phase: 'reflecting' });
    } else {
      if (m.phase !== 'reflecting') fail(ErrorCode.wrongState);
      m.act(actor.id, { t: 'reflecting-ended' }, { phase: 'response' });
    }
    await m.flushed();
  }

  async closeResponse(actor: ParticipantRecord, { responded }: ResponseCloseInput): Promise<void> {
    const m = await this.#meeting(actor.meetingId);
    this.#mustBeOpen(m);
    if (m.phase !== 'response') fail(ErrorCode.wrongState);
    m.act(actor.id, { t: 'response-closed', responded }, { phase: 'open' });
    await m.flushed();
  }

  async lock(actor: ParticipantRecord, { locked }: LockInput): Promise<void> {
    const m = await this.#meeting(actor.meetingId);
    this.#mustBeOpen(m);
    this.#mustFacilitate(m, actor);
    if (m.locked !== locked) m.act(actor.id, { t: locked ? 'locked' : 'unlocked' }, { locked });
    await m.flushed();
    await this.#store.transaction((tx) => tx.updateMeeting(m.id, { locked }));
  }

  async end(actor: ParticipantRecord, { next }: EndInput): Promise<void> {
    const m = await this.#meeting(actor.meetingId);
    this.#mustBeOpen(m);
    this.#mustFacilitate(m, actor);
    const now = this.#now();
    m.act(
      actor.id,
      { t: 'ended', next: next ? { when: '', where: '', who: '', arranger: '', ...next } : null },
      { status: 'ended', ...(m.phase !== 'open' ? { phase: 'open' as const } : {}) },
    );
    await m.flushed();
    await this.#store.transaction((tx) => tx.updateMeeting(m.id, { status: 'ended', endedAt: now }));
  }

  async facilitation(actor: ParticipantRecord, { to, mode }: FacilitationInput): Promise<void> {
    const m = await this.#meeting(actor.meetingId);
    this.#mustBeOpen(m);
    this.#mustFacilitate(m, actor);
    await this.#present(m, to);
    const facilitators = mode === 'hand' ? [to] : [...new Set([...m.facilitators, to])];
    m.act(actor.id, { t: 'facilitation', to, mode }, { facilitators });
    await m.flushed();
    await this.#store.transaction((tx) => tx.updateMeeting(m.id, { facilitators }));
  }

  async remove(actor: ParticipantRecord, { who }: RemoveInput): Promise<void> {
    const m = await this.#meeting(actor.meetingId);
    this.#mustBeOpen(m);
    this.#mustFacilitate(m, actor);
    if (who === actor.id) fail(ErrorCode.notYourself);
    await this.#present(m, who);
    const facilitators = m.facilitators.filter((f) => f !== who);
    m.markPerson(who, { removed: true });
    m.act(actor.id, { t: 'removed', who }, facilitators.length !== m.facilitators.length ? { facilitators } : {});
    await m.flushed();
    await this.#store.transaction((tx) => {
      tx.updateParticipant(who, { revoked: true, removed: true });
      if (facilitators.length !== m.facilitators.length) tx.updateMeeting(m.id, { facilitators });
    });
    this.deps.disconnect(who, CloseReason.removed);
  }

  // ── erasure (SPEC 16) ───────────────────────────────────────────────────────────────

  /**
   * `mine`: the asker's own words go (any time). `record`: only a person the meeting was about —
   * stated openly while it was open — and only once it has ended; their own words go at once, the
   * request is shown to everyone, and the whole record goes when nobody else's words remain in it
   * (each other person agrees by erasing their own). Nobody can remove another person's words.
   * With RECORD_BASIS=care-record nothing is erased: the request and the refusal are logged.
   */
  async erase(actor: ParticipantRecord, scope: 'mine' | 'record'): Promise<ErasureResult> {
    const m = await this.#meeting(actor.meetingId);
    if (scope === 'record' && !m.people.get(actor.id)?.aboutMe) fail(ErrorCode.notAboutYou);
    const now = this.#now();
    const entry = (action: AccessAction, note?: string) => ({
      meetingId: m.id,
      participantId: actor.id,
      action,
      at: now,
      ...(note ? { note } : {}),
    });
    if (this.deps.config.recordBasis === 'care-record') {
      await this.#store.transaction((tx) => {
        tx.logAccess(entry('erasure-requested', scope));
        tx.logAccess(entry('erasure-refused', scope));
      });
      return { erased: false, reason: this.deps.config.keepReason };
    }
    // Only once the meeting has ended: who it is about can no longer change, and everyone has seen it.
    if (scope === 'record' && m.status !== 'ended') fail(ErrorCode.wrongState);
    if (!actor.erased) {
      // Fenced: a stale owner must not mark the row erased while the words stay with the new owner
      // (whose retry would then take the row's word for it and skip the voice).
      await this.#store.transaction(
        (tx) => {
          tx.logAccess(entry('erasure-requested', scope));
          tx.updateParticipant(actor.id, { name: '', relation: '', erased: true });
          tx.logAccess(entry('erased-own-words'));
        },
        { fence: m.id },
      );
      await m.eraseVoice(actor.id);
    }
    if (scope === 'record' && !m.erasureRequest) {
      m.act(actor.id, null, { erasure: { by: actor.id, at: now } });
      await m.flushed();
    }
    const waitingFor = m.erasureRequest ? await this.#othersWithWords(m) : null;
    if (waitingFor && waitingFor.length === 0) {
      await this.#eraseRecord(m, actor, now);
      return { erased: true };
    }
    return waitingFor ? { erased: scope === 'mine', waitingFor } : { erased: true };
  }

  /** People (not erased, not removed) whose words are still in the record. */
  async #othersWithWords(m: Meeting): Promise<string[]> {
    const rows = new Map((await this.#store.participants(m.id)).map((p) => [p.id, p]));
    return [...m.authors()].filter((id) => {
      const p = rows.get(id);
      return p && !p.erased && !p.removed && !m.people.get(id)?.removed;
    });
  }

  /**
   * The whole record goes: rows first (so a crash after this leaves an erased meeting whose log is
   * deleted when anything next looks at it), then the log, with every device told to drop its copy.
   */
  async #eraseRecord(m: Meeting, actor: ParticipantRecord, now: number): Promise<void> {
    const row = (await this.#store.meeting(m.id)) ?? fail(ErrorCode.noAccess);
    const participants = await this.#store.participants(m.id);
    const series = await this.#store.meetingsOfNetwork(row.networkId);
    const lastOfNetwork = series.every((x) => x.id === m.id || x.erased);
    await this.#store.transaction(
      (tx) => {
        for (const p of participants) tx.updateParticipant(p.id, { name: '', relation: '', erased: true });
        tx.updateMeeting(m.id, { erased: true, status: 'ended' });
        // The network's name is part of the record when no other meeting of it remains.
        if (lastOfNetwork) tx.updateNetwork(row.networkId, { name: '' });
        tx.logAccess({ meetingId: m.id, participantId: actor.id, action: 'erased-record', at: now });
      },
      { fence: m.id },
    );
    await this.deps.meetings.eraseRecord(m.id);
    for (const other of series) if (other.id !== m.id) await this.deps.meetings.refreshContext(other.id);
  }
}
