/** The HTTP API: open a meeting, join it, exchange a personal link for a session, health. */
import express, { type NextFunction, type Request, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import * as v from 'valibot';
import { isId, randomId } from '../../shared/ids.js';
import { LIMITS } from '../../shared/limits.js';
import {
  ApiErrorCode,
  JoinSchema,
  OpenMeetingSchema,
  ProfileSchema,
  SessionSchema,
  type Admission,
  type ApiError,
  type MyMeeting,
} from '../../shared/protocol.js';
import { hashToken, sameHash, sessionCookie, sessionToken } from '../auth.js';
import type { Config } from '../config.js';
import type { Clock, Log } from '../context.js';
import type { Meetings } from '../meetings/registry.js';
import type { ParticipantRecord, Store } from '../store/types.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const NO_ACCESS = new HttpError(404, ApiErrorCode.noAccess, 'No meeting was found for this link, or the link no longer works.');

function parse<T extends v.GenericSchema>(schema: T, body: unknown): v.InferOutput<T> {
  const r = v.safeParse(schema, body ?? {});
  if (!r.success) {
    const issue = r.issues[0];
    const where = issue.path?.map((p) => String(p.key)).join('.') ?? '';
    throw new HttpError(400, ApiErrorCode.invalid, `${where ? `${where}: ` : ''}${issue.message}`);
  }
  return r.output;
}

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
  r.use(express.json({ limit: LIMITS.httpBody, strict: true }));
  r.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });

  const limiter = (perMinute: number) =>
    rateLimit({
      windowMs: 60_000,
      limit: config.rateLimits ? perMinute : 1_000_000,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      handler: (_req, res) => {
        res.status(429).json({ error: ApiErrorCode.rateLimited, message: 'Too many attempts from here. Wait a minute and try again.' } satisfies ApiError);
      },
    });
  const openLimit = limiter(LIMITS.opensPerMinute);
  const joinLimit = limiter(LIMITS.joinsPerMinute);

  /** Add a participant to this browser's session (creating the session cookie if needed). */
  async function remember(req: Request, res: Response, participantId: string): Promise<void> {
    let token = sessionToken(req.headers.cookie);
    if (!token) token = randomId();
    await store.addToSession(hashToken(token), participantId);
    res.setHeader('Set-Cookie', sessionCookie(token, secure));
  }

  function newParticipant(meetingId: string, input: { name: string; relation: string; aboutMe?: boolean }): {
    record: ParticipantRecord;
    token: string;
  } {
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

  r.get('/health', (_req, res) => {
    res.json({ ok: true, meetingsLoaded: meetings.size, damaged: meetings.damaged().length });
  });

  r.post('/meetings', openLimit, async (req, res) => {
    const input = parse(OpenMeetingSchema, req.body);
    const now = clock.now();
    const meetingId = randomId();
    const joinToken = randomId();
    const { record, token } = newParticipant(meetingId, input);
    await store.createMeeting(
      { id: randomId(), firstContactAt: now },
      {
        id: meetingId,
        networkId: '',
        openedAt: now,
        joinHash: hashToken(joinToken),
        status: 'open',
        locked: false,
        facilitators: [record.id],
      },
      record,
    );
    await remember(req, res, record.id);
    res.status(201).json({ meetingId, participantId: record.id, personalToken: token, joinToken } satisfies Admission);
  });

  r.post('/meetings/:id/join', joinLimit, async (req, res) => {
    const meetingId = String(req.params.id);
    const input = parse(JoinSchema, req.body);
    const meeting = isId(meetingId) ? await store.meeting(meetingId) : undefined;
    if (!meeting || !sameHash(meeting.joinHash, hashToken(input.joinToken))) throw NO_ACCESS;
    if (meeting.status !== 'open') throw new HttpError(409, ApiErrorCode.locked, 'This meeting has ended.');
    if (meeting.locked) throw new HttpError(409, ApiErrorCode.locked, 'This meeting is closed to new people.');
    const { record, token } = newParticipant(meetingId, input);
    await store.addParticipant(record);
    (await meetings.get(meetingId))?.setPerson(record);
    await remember(req, res, record.id);
    res.status(201).json({ meetingId, participantId: record.id, personalToken: token, joinToken: input.joinToken } satisfies Admission);
  });

  r.post('/session', joinLimit, async (req, res) => {
    const { token } = parse(SessionSchema, req.body);
    const p = await store.participantByTokenHash(hashToken(token));
    if (!p || p.revoked) throw NO_ACCESS;
    await remember(req, res, p.id);
    res.json({ meetingId: p.meetingId, participantId: p.id });
  });

  r.get('/me', async (req, res) => {
    const token = sessionToken(req.headers.cookie);
    const session = token ? await store.session(hashToken(token)) : undefined;
    const list: MyMeeting[] = [];
    for (const pid of session?.participants ?? []) {
      const p = await store.participant(pid);
      const m = p && !p.revoked ? await store.meeting(p.meetingId) : undefined;
      if (p && m) list.push({ meetingId: m.id, participantId: p.id, openedAt: m.openedAt, status: m.status });
    }
    list.sort((a, b) => b.openedAt - a.openedAt);
    res.json({ meetings: list });
  });

  r.patch('/meetings/:id/me', async (req, res) => {
    const meetingId = String(req.params.id);
    const input = parse(ProfileSchema, req.body);
    const token = sessionToken(req.headers.cookie);
    const session = token ? await store.session(hashToken(token)) : undefined;
    let me: ParticipantRecord | undefined;
    for (const pid of session?.participants ?? []) {
      const p = await store.participant(pid);
      if (p && p.meetingId === meetingId && !p.revoked) me = p;
    }
    if (!me) throw NO_ACCESS;
    const patch = Object.fromEntries(Object.entries(input).filter(([, val]) => val !== undefined));
    await store.updateParticipant(me.id, patch);
    (await meetings.get(meetingId))?.setPerson({ ...me, ...patch });
    res.json({ ok: true });
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
      res.status(400).json({ error: ApiErrorCode.invalid, message: 'The request body is not valid JSON.' } satisfies ApiError);
      return;
    }
    deps.log.error({ err: (err as Error).message }, 'request failed');
    res.status(500).json({ error: ApiErrorCode.internal, message: 'Something went wrong on the server. Nothing you wrote was lost.' } satisfies ApiError);
  });
  return r;
}
