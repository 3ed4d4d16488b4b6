/**
 * The HTTP API: open a meeting, join it, exchange a personal link for a session, the network's
 * series, the record afterwards (exports, calendar, access log), revocation and erasure.
 * Every answer about a meeting the asker may not see is the same 404, whatever the reason.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import * as v from 'valibot';
import { isId, randomId } from '../../shared/ids.js';
import { LIMITS } from '../../shared/limits.js';
import {
  ApiErrorCode,
  ErasureSchema,
  JoinSchema,
  NetworkSchema,
  OpenMeetingSchema,
  PersonSchema,
  PROTOCOL_VERSION,
  ProfileSchema,
  SessionSchema,
  type AccessLogEntry,
  type Admission,
  type ApiError,
  type ErasureResult,
  type MyMeeting,
  type NextMeetingOpened,
  type Revoked,
  type ServiceInfo,
} from '../../shared/protocol.js';
import { participantIn, participantsOf, type Credentials } from '../access.js';
import { hashToken, sameHash, sessionCookie, sessionToken } from '../auth.js';
import type { Config } from '../config.js';
import type { Clock, Log } from '../context.js';
import type { Meetings } from '../meetings/registry.js';
import { exportJson, exportMarkdown, nextMeetingIcs } from '../record/export.js';
import type { AccessAction, MeetingRecord, ParticipantRecord, Store } from '../store/types.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const NO_ACCESS = new HttpError(
  404,
  ApiErrorCode.noAccess,
  'No meeting was found for this link, or the link no longer works.',
);

function parse<T extends v.GenericSchema>(schema: T, body: unknown): v.InferOutput<T> {
  const r = v.safeParse(schema, body ?? {});
  if (!r.success) {
    const issue = r.issues[0];
    const where = issue.path?.map((p) => String(p.key)).join('.') ?? '';
    throw new HttpError(400, ApiErrorCode.invalid, `${where ? `${where}: ` : ''}${issue.message}`);
  }
  return r.output;
}

const creds = (req: Request): Credentials => ({ cookie: req.headers.cookie, authorization: req.headers.authorization });

export interface ApiDeps {
  store: Store;
  meetings: Meetings;
  config: Config;
  clock: Clock;
  log: Log;
  /** Disconnect every connection of a participant at once (revocation, removal). */
  disconnect: (participantId: string) => void;
}

export function apiRouter(deps: ApiDeps): express.Router {
  const { store, meetings, config, clock } = deps;
  const secure = config.publicUrl.startsWith('https:');
  const r = express.Router();
  r.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  r.use(express.json({ limit: LIMITS.httpBody, strict: true }));

  const limiter = (perMinute: number) =>
    rateLimit({
      windowMs: 60_000,
      limit: config.rateLimits ? perMinute : 1_000_000,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      handler: (_req, res) => {
        res.status(429).json({
          error: ApiErrorCode.rateLimited,
          message: 'Too many attempts from here. Wait a minute and try again.',
        } satisfies ApiError);
      },
    });
  const openLimit = limiter(LIMITS.opensPerMinute);
  const joinLimit = limiter(LIMITS.joinsPerMinute);

  /** Add a person (by personal-link hash) to this browser's session, creating the cookie if needed. */
  async function remember(req: Request, res: Response, memberHash: string): Promise<void> {
    const token = sessionToken(req.headers.cookie) ?? randomId();
    await store.addToSession(hashToken(token), memberHash);
    res.setHeader('Set-Cookie', sessionCookie(token, secure));
  }

  function newParticipant(
    meetingId: string,
    input: { name: string; relation: string; aboutMe?: boolean },
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
        joinedAt: clock.now(),
        revoked: false,
      },
    };
  }

  /** The asker's participant record in this meeting, or the one 404. */
  async function me(req: Request): Promise<{ me: ParticipantRecord; meeting: MeetingRecord }> {
    const meetingId = String(req.params.id);
    // Which of this browser's people is asking: a header, or `?as=` on download links (an id, not a secret).
    const as = req.get('x-polyphony-as') ?? (typeof req.query.as === 'string' ? req.query.as : undefined);
    const p = await participantIn(store, meetingId, creds(req), as && isId(as) ? as : undefined);
    const meeting = p ? await store.meeting(meetingId) : undefined;
    if (!p || !meeting || meeting.erased) throw NO_ACCESS;
    return { me: p, meeting };
  }

  const logAccess = (meetingId: string, participantId: string, action: AccessAction, note?: string) =>
    store.logAccess({ meetingId, participantId, action, at: clock.now(), ...(note ? { note } : {}) });

  r.get('/health', (_req, res) => {
    res.json({ ok: true, meetingsLoaded: meetings.size, damaged: meetings.damaged() });
  });

  r.post('/meetings', openLimit, async (req, res) => {
    const input = parse(OpenMeetingSchema, req.body);
    const now = clock.now();
    const meetingId = randomId();
    const joinToken = randomId();
    const networkId = randomId();
    const { record, token } = newParticipant(meetingId, input);
    await store.createMeeting(
      { id: networkId, name: '', firstContactAt: Math.min(input.firstContactAt ?? now, now) },
      {
        id: meetingId,
        networkId,
        previous: null,
        openedAt: now,
        joinHash: hashToken(joinToken),
        status: 'open',
        locked: false,
        facilitators: [record.id],
      },
      [record],
    );
    await remember(req, res, record.tokenHash);
    res.status(201).json({ meetingId, participantId: record.id, personalToken: token, joinToken } satisfies Admission);
  });

  r.post('/meetings/:id/join', joinLimit, async (req, res) => {
    const meetingId = String(req.params.id);
    const input = parse(JoinSchema, req.body);
    const meeting = isId(meetingId) ? await store.meeting(meetingId) : undefined;
    if (!meeting || meeting.erased || !sameHash(meeting.joinHash, hashToken(input.joinToken))) throw NO_ACCESS;
    if (meeting.status !== 'open') throw new HttpError(409, ApiErrorCode.locked, 'This meeting has ended.');
    if (meeting.locked)
      throw new HttpError(409, ApiErrorCode.locked, 'This meeting is closed to new people. Ask someone in it.');
    const { record, token } = newParticipant(meetingId, input);
    // Both writes share one write of db.json. A meeting not in memory learns of its new
    // participant when it next loads; joining alone does not load it.
    await Promise.all([store.addParticipant(record), remember(req, res, record.tokenHash)]);
    meetings.peek(meetingId)?.setPerson(record);
    res.status(201).json({
      meetingId,
      participantId: record.id,
      personalToken: token,
      joinToken: input.joinToken,
    } satisfies Admission);
  });

  r.post('/session', joinLimit, async (req, res) => {
    const { token } = parse(SessionSchema, req.body);
    const records = (await store.participantsByTokenHash(hashToken(token))).filter((p) => !p.revoked);
    const latest = records.sort((a, b) => b.joinedAt - a.joinedAt)[0];
    if (!latest) throw NO_ACCESS;
    await remember(req, res, latest.tokenHash);
    res.json({ meetingId: latest.meetingId, participantId: latest.id });
  });

  r.get('/me', async (req, res) => {
    const list: MyMeeting[] = [];
    for (const p of await participantsOf(store, creds(req))) {
      const m = await store.meeting(p.meetingId);
      if (!m || m.erased) continue;
      const network = await store.network(m.networkId);
      list.push({
        meetingId: m.id,
        participantId: p.id,
        openedAt: m.openedAt,
        status: m.status,
        networkName: network?.name ?? '',
        facilitator: m.facilitators.includes(p.id),
      });
    }
    list.sort((a, b) => b.openedAt - a.openedAt);
    res.json({ meetings: list });
  });

  /** The one person asking, among those the credentials stand for (a shared device holds several). */
  async function person(req: Request): Promise<ParticipantRecord[]> {
    const { participantId } = parse(PersonSchema, req.body);
    const mine = await participantsOf(store, creds(req));
    const hashes = new Set(mine.map((p) => p.tokenHash));
    let hash: string | undefined;
    if (participantId) hash = mine.find((p) => p.id === participantId)?.tokenHash;
    else if (hashes.size === 1) hash = [...hashes][0];
    else if (hashes.size > 1) {
      throw new HttpError(
        400,
        ApiErrorCode.invalid,
        'This device holds several people: say which one (participantId).',
      );
    }
    if (!hash) throw NO_ACCESS;
    return mine.filter((p) => p.tokenHash === hash);
  }

  /** Revoke my personal link (a lost phone): a new one is issued; the old one stops working at once. */
  r.post('/me/revoke', async (req, res) => {
    const records = await person(req);
    const old = records[0]!.tokenHash;
    const token = randomId();
    const hash = hashToken(token);
    for (const p of records) {
      await store.updateParticipant(p.id, { tokenHash: hash });
      await logAccess(p.meetingId, p.id, 'revoked-link');
      deps.disconnect(p.id);
    }
    const session = sessionToken(req.headers.cookie);
    if (session) await store.removeFromSession(hashToken(session), old);
    await remember(req, res, hash);
    res.json({ personalToken: token } satisfies Revoked);
  });

  /** Take a person off this browser ("remove this meeting from this device"). Their link still works. */
  r.post('/me/forget', async (req, res) => {
    const records = await person(req);
    const session = sessionToken(req.headers.cookie);
    if (session) await store.removeFromSession(hashToken(session), records[0]!.tokenHash);
    res.json({ ok: true });
  });

  r.get('/service', (_req, res) => {
    res.json({
      protocol: PROTOCOL_VERSION,
      recordBasis: config.recordBasis,
      keepReason: config.keepReason,
    } satisfies ServiceInfo);
  });

  r.patch('/meetings/:id/me', async (req, res) => {
    const input = parse(ProfileSchema, req.body);
    const { me: p } = await me(req);
    const patch = Object.fromEntries(Object.entries(input).filter(([, val]) => val !== undefined));
    await store.updateParticipant(p.id, patch);
    meetings.peek(p.meetingId)?.setPerson({ ...p, ...patch });
    res.json({ ok: true });
  });

  r.patch('/meetings/:id/network', async (req, res) => {
    const input = parse(NetworkSchema, req.body);
    const { me: p, meeting } = await me(req);
    if (input.firstContactAt !== undefined && !meeting.facilitators.includes(p.id)) {
      throw new HttpError(403, 'not-facilitator', 'Only a facilitator can change the first-contact time.');
    }
    const patch = Object.fromEntries(Object.entries(input).filter(([, val]) => val !== undefined));
    await store.updateNetwork(meeting.networkId, patch);
    for (const m of await store.meetingsOfNetwork(meeting.networkId)) await meetings.refreshContext(m.id);
    res.json({ ok: true });
  });

  /** A facilitator opens the network's next meeting; everyone (not removed, not erased) comes along. */
  r.post('/meetings/:id/next', openLimit, async (req, res) => {
    const { me: p, meeting } = await me(req);
    if (!meeting.facilitators.includes(p.id)) {
      throw new HttpError(403, 'not-facilitator', 'Only a facilitator can open the next meeting.');
    }
    const series = await store.meetingsOfNetwork(meeting.networkId);
    const last = series[series.length - 1]!;
    if (last.id !== meeting.id) throw new HttpError(409, ApiErrorCode.invalid, 'The next meeting is already open.');
    const now = clock.now();
    const meetingId = randomId();
    const joinToken = randomId();
    const people = (await store.participants(meeting.id))
      .filter((x) => !x.removed && !x.erased)
      .map((x) => ({ ...x, id: randomId(), meetingId, joinedAt: now, revoked: x.revoked }));
    const facilitator = people.find((x) => x.tokenHash === p.tokenHash)!;
    await store.createMeeting(
      null,
      {
        id: meetingId,
        networkId: meeting.networkId,
        previous: meeting.id,
        openedAt: now,
        joinHash: hashToken(joinToken),
        status: 'open',
        locked: false,
        facilitators: [facilitator.id],
      },
      people,
    );
    await meetings.refreshContext(meeting.id);
    res.status(201).json({ meetingId, joinToken } satisfies NextMeetingOpened);
  });

  r.get('/meetings/:id/export.json', async (req, res) => {
    const { me: p, meeting } = await me(req);
    const m = await meetings.get(meeting.id);
    if (!m) throw NO_ACCESS;
    await logAccess(meeting.id, p.id, 'exported-json');
    res.attachment(`meeting-${meeting.id}.json`).json(exportJson(meeting.id, m.snapshot(), clock.now()));
  });

  r.get('/meetings/:id/export.md', async (req, res) => {
    const { me: p, meeting } = await me(req);
    const m = await meetings.get(meeting.id);
    if (!m) throw NO_ACCESS;
    await logAccess(meeting.id, p.id, 'exported-markdown');
    const tz = typeof req.query.tz === 'string' && /^[A-Za-z_/+-]{1,40}$/.test(req.query.tz) ? req.query.tz : 'UTC';
    let text: string;
    try {
      text = exportMarkdown(meeting.id, m.snapshot(), tz);
    } catch {
      text = exportMarkdown(meeting.id, m.snapshot(), 'UTC');
    }
    res.attachment(`meeting-${meeting.id}.md`).type('text/markdown; charset=utf-8').send(text);
  });

  r.get('/meetings/:id/next.ics', async (req, res) => {
    const { me: p, meeting } = await me(req);
    const m = await meetings.get(meeting.id);
    const ended = m?.snapshot().events.findLast((e) => e.t === 'ended');
    const ics = ended?.t === 'ended' && ended.next ? nextMeetingIcs(ended.next, config.publicUrl) : null;
    if (!ics) throw new HttpError(404, ApiErrorCode.notFound, 'No date has been agreed for the next meeting.');
    await logAccess(meeting.id, p.id, 'exported-calendar');
    res.attachment('next-meeting.ics').type('text/calendar; charset=utf-8').send(ics);
  });

  r.get('/meetings/:id/access', async (req, res) => {
    const { meeting } = await me(req);
    const log: AccessLogEntry[] = (await store.accessLog(meeting.id)).map((e) => ({
      participantId: e.participantId,
      action: e.action,
      at: e.at,
      ...(e.note ? { note: e.note } : {}),
    }));
    res.json({ log });
  });

  r.post('/meetings/:id/erasure', async (req, res) => {
    const { scope } = parse(ErasureSchema, req.body);
    const { me: p, meeting } = await me(req);
    if (scope === 'record' && !p.aboutMe) {
      throw new HttpError(
        403,
        'not-about-you',
        'Only the person this meeting is about can ask to erase the whole record. You can erase your own words.',
      );
    }
    await logAccess(meeting.id, p.id, 'erasure-requested', scope);
    if (config.recordBasis === 'care-record') {
      await logAccess(meeting.id, p.id, 'erasure-refused', scope);
      res.json({ erased: false, reason: config.keepReason } satisfies ErasureResult);
      return;
    }
    if (scope === 'mine') {
      const m = await meetings.get(meeting.id);
      await store.updateParticipant(p.id, { name: '', relation: '', erased: true });
      await m?.eraseVoice(p.id);
      await logAccess(meeting.id, p.id, 'erased-own-words');
    } else {
      for (const x of await store.participants(meeting.id)) {
        await store.updateParticipant(x.id, { name: '', relation: '', erased: true });
      }
      await store.updateMeeting(meeting.id, { erased: true, status: 'ended' });
      await meetings.eraseRecord(meeting.id);
      await logAccess(meeting.id, p.id, 'erased-record');
    }
    res.json({ erased: true } satisfies ErasureResult);
  });

  r.use((_req, _res, next) => next(new HttpError(404, ApiErrorCode.notFound, 'There is nothing here.')));
  r.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof HttpError) {
      res.status(err.status).json({ error: err.code, message: err.message } satisfies ApiError);
      return;
    }
    const e = err as { type?: string; status?: number };
    if (e.type === 'entity.too.large') {
      res.status(413).json({ error: ApiErrorCode.tooLarge, message: 'The request is too large.' } satisfies ApiError);
      return;
    }
    if (e.type === 'entity.parse.failed' || e.status === 400) {
      res
        .status(400)
        .json({ error: ApiErrorCode.invalid, message: 'The request body is not valid JSON.' } satisfies ApiError);
      return;
    }
    deps.log.error({ err: (err as Error).message }, 'request failed');
    res.status(500).json({
      error: ApiErrorCode.internal,
      message: 'Something went wrong on the server. Nothing you wrote was lost.',
    } satisfies ApiError);
  });
  return r;
}
