/**
 * The HTTP API: parse, authenticate, call the commands layer, answer. Nothing here writes state
 * itself. Every answer about a meeting the asker may not see is the same 404, whatever the reason.
 * Errors are codes from shared/errors.ts (`{error, field?}`); the page owns every sentence.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import * as v from 'valibot';
import { isId, randomId } from '../../shared/ids.js';
import { LIMITS } from '../../shared/limits.js';
import { ErrorCode, type ApiErrorCodeValue } from '../../shared/errors.js';
import {
  PROTOCOL_VERSION,
  type AccessLogEntry,
  type ApiError,
  type MyMeeting,
  type ServiceInfo,
} from '../../shared/protocol.js';
import { ROUTES, type AnswerOf, type RouteName } from '../../shared/routes.js';
import { participantIn, participantsOf, type Credentials } from '../access.js';
import { hashToken, sessionCookie, sessionToken } from '../auth.js';
import { CommandError, type CommandsApi, type SessionRef } from '../commands/commands.js';
import type { Config } from '../config.js';
import type { Clock, Log } from '../context.js';
import type { Meetings } from '../meetings/registry.js';
import { exportJson, exportMarkdown, nextMeetingIcs } from '../record/export.js';
import { isLang, type Lang } from '../../shared/i18n/languages.js';
import type { MeetingRecord, ParticipantRecord, Store } from '../store/types.js';

/** HTTP status for each code. */
const STATUS: Record<ApiErrorCodeValue, number> = {
  invalid: 400,
  'too-large': 413,
  'rate-limited': 429,
  'no-access': 404,
  'not-found': 404,
  locked: 409,
  'meeting-ended': 409,
  erased: 410,
  'wrong-state': 409,
  'next-already-open': 409,
  'not-facilitator': 403,
  'not-about-you': 403,
  'which-person': 400,
  'storage-failed': 503,
  unavailable: 503,
  internal: 500,
};

export class HttpError extends Error {
  constructor(
    readonly code: ApiErrorCodeValue,
    readonly field?: string,
  ) {
    super(code);
  }
}

const NO_ACCESS = new HttpError(ErrorCode.noAccess);

/** The reader's language for a file the server writes (`?lang=`, one the page offers), else English. */
const langOf = (req: Request): Lang => (isLang(req.query.lang) ? req.query.lang : 'en');

function parse<T extends v.GenericSchema>(schema: T, body: unknown): v.InferOutput<T> {
  const r = v.safeParse(schema, body ?? {});
  if (!r.success) {
    const issue = r.issues[0];
    const field = issue.path?.map((p) => String(p.key)).join('.') ?? '';
    throw new HttpError(ErrorCode.invalid, field || undefined);
  }
  return r.output;
}

const creds = (req: Request): Credentials => ({ cookie: req.headers.cookie, authorization: req.headers.authorization });

export interface ApiDeps {
  store: Store;
  meetings: Meetings;
  commands: CommandsApi;
  config: Config;
  clock: Clock;
  log: Log;
}

export function apiRouter(deps: ApiDeps): express.Router {
  const { store, meetings, commands, config, clock } = deps;
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
        res.status(429).json({ error: ErrorCode.rateLimited } satisfies ApiError);
      },
    });
  const openLimit = limiter(LIMITS.opensPerMinute);
  const joinLimit = limiter(LIMITS.joinsPerMinute);

  /**
   * This browser's session (a new one when it has none). Its cookie is (re)sent only with a
   * successful answer: `remember` after the command succeeded.
   */
  function session(req: Request): SessionRef & { token: string } {
    const token = sessionToken(req.headers.cookie) ?? randomId();
    return { hash: hashToken(token), token };
  }
  const remember = <T>(res: Response, s: { token: string }, answer: T): T => {
    res.setHeader('Set-Cookie', sessionCookie(s.token, secure));
    return answer;
  };
  const existingSession = (req: Request): SessionRef | null => {
    const token = sessionToken(req.headers.cookie);
    return token ? { hash: hashToken(token) } : null;
  };

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

  /** A route from the shared table: its body parsed with the table's schema, its answer typed. */
  function on<N extends RouteName>(
    name: N,
    ...handlers: [
      ...express.RequestHandler[],
      (req: Request, res: Response, body: unknown) => Promise<AnswerOf<N> | undefined>,
    ]
  ): void {
    const { method, path, body } = ROUTES[name];
    const last = handlers.pop() as (req: Request, res: Response, body: unknown) => Promise<AnswerOf<N> | undefined>;
    const middle = handlers as express.RequestHandler[];
    const handle = async (req: Request, res: Response) => {
      const input: unknown = body ? parse(body, req.body) : undefined;
      const answer = await last(req, res, input);
      if (answer !== undefined && !res.headersSent) res.json(answer);
    };
    if (method === 'GET') r.get(path, ...middle, handle);
    else if (method === 'POST') r.post(path, ...middle, handle);
    else r.patch(path, ...middle, handle);
  }

  r.get('/health', (_req, res) => {
    res.json({ ok: true, meetingsLoaded: meetings.size, damaged: meetings.damaged() });
  });

  on('openMeeting', openLimit, async (req, res, body) => {
    const input = body as v.InferOutput<typeof ROUTES.openMeeting.body>;
    const s = session(req);
    const admission = await commands.openMeeting(input, s);
    res.status(201);
    return remember(res, s, admission);
  });

  on('join', joinLimit, async (req, res, body) => {
    const meetingId = String(req.params.id);
    if (!isId(meetingId)) throw NO_ACCESS;
    const input = body as v.InferOutput<typeof ROUTES.join.body>;
    const s = session(req);
    const admission = await commands.join(meetingId, input, s);
    res.status(201);
    return remember(res, s, admission);
  });

  on('invitation', joinLimit, async (req, _res, body) => {
    const meetingId = String(req.params.id);
    if (!isId(meetingId)) throw NO_ACCESS;
    const { joinToken } = body as v.InferOutput<typeof ROUTES.invitation.body>;
    return commands.invitation(meetingId, joinToken);
  });

  // Short codes: per address (the join limit), and for everyone on this instance, so that guessing
  // from many addresses at once is hopeless too: past 300 unknown codes in a minute, none is looked up.
  let codeMisses = { minute: 0, count: 0 };
  on('code', joinLimit, async (_req, _res, body) => {
    const minute = Math.floor(clock.now() / 60_000);
    if (codeMisses.minute !== minute) codeMisses = { minute, count: 0 };
    if (codeMisses.count >= 300) throw new HttpError(ErrorCode.rateLimited);
    const { code } = body as v.InferOutput<typeof ROUTES.code.body>;
    try {
      return await commands.resolveCode(code);
    } catch (e) {
      codeMisses.count++;
      throw e;
    }
  });

  on('session', joinLimit, async (req, res, body) => {
    const { token } = body as v.InferOutput<typeof ROUTES.session.body>;
    const s = session(req);
    return remember(res, s, await commands.exchangeLink(token, s));
  });

  on('me', async (req) => {
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
    return { meetings: list };
  });

  /** The one person asking, among those the credentials stand for (a shared device holds several). */
  async function person(req: Request, body: unknown): Promise<ParticipantRecord[]> {
    const { participantId } = body as v.InferOutput<typeof ROUTES.revoke.body>;
    const mine = await participantsOf(store, creds(req));
    const hashes = new Set(mine.map((p) => p.tokenHash));
    let hash: string | undefined;
    if (participantId) hash = mine.find((p) => p.id === participantId)?.tokenHash;
    else if (hashes.size === 1) hash = [...hashes][0];
    else if (hashes.size > 1) throw new HttpError(ErrorCode.whichPerson, 'participantId');
    if (!hash) throw NO_ACCESS;
    return mine.filter((p) => p.tokenHash === hash);
  }

  /** Revoke my personal link (a lost phone): a new one is issued; the old one stops working at once. */
  on('revoke', async (req, res, body) => {
    const records = await person(req, body);
    const s = session(req);
    return remember(res, s, await commands.revokeLink(records, s));
  });

  on('forget', async (req, _res, body) => {
    await commands.forget(await person(req, body), existingSession(req));
    return { ok: true as const };
  });

  on(
    'service',
    async () =>
      ({
        protocol: PROTOCOL_VERSION,
        recordBasis: config.recordBasis,
        keepReason: config.keepReason,
      }) satisfies ServiceInfo,
  );

  on('profile', async (req, _res, body) => {
    const { me: p } = await me(req);
    await commands.updateProfile(p, body as v.InferOutput<typeof ROUTES.profile.body>);
    return { ok: true as const };
  });

  on('network', async (req, _res, body) => {
    const { me: p } = await me(req);
    await commands.updateNetwork(p, body as v.InferOutput<typeof ROUTES.network.body>);
    return { ok: true as const };
  });

  on('next', openLimit, async (req, res) => {
    const { me: p } = await me(req);
    const opened = await commands.openNext(p);
    res.status(201);
    return opened;
  });

  r.get('/meetings/:id/export.json', async (req, res) => {
    const { me: p, meeting } = await me(req);
    const record = await commands.record(p);
    await commands.logAccess(p, 'exported-json');
    res.attachment(`meeting-${meeting.id}.json`).json(exportJson(meeting.id, record, clock.now()));
  });

  r.get('/meetings/:id/export.md', async (req, res) => {
    const { me: p, meeting } = await me(req);
    const record = await commands.record(p);
    await commands.logAccess(p, 'exported-markdown');
    const tz = typeof req.query.tz === 'string' && /^[A-Za-z_/+-]{1,40}$/.test(req.query.tz) ? req.query.tz : 'UTC';
    let text: string;
    try {
      text = exportMarkdown(meeting.id, record, tz, langOf(req));
    } catch {
      text = exportMarkdown(meeting.id, record, 'UTC', langOf(req));
    }
    res.attachment(`meeting-${meeting.id}.md`).type('text/markdown; charset=utf-8').send(text);
  });

  r.get('/meetings/:id/next.ics', async (req, res) => {
    const { me: p } = await me(req);
    const ended = (await commands.record(p)).events.findLast((e) => e.t === 'ended');
    const ics = ended?.t === 'ended' && ended.next ? nextMeetingIcs(ended.next, config.publicUrl, langOf(req)) : null;
    if (!ics) throw new HttpError(ErrorCode.notFound);
    await commands.logAccess(p, 'exported-calendar');
    res.attachment('next-meeting.ics').type('text/calendar; charset=utf-8').send(ics);
  });

  on('access', async (req) => {
    const { meeting } = await me(req);
    const log: AccessLogEntry[] = (await store.accessLog(meeting.id)).map((e) => ({
      participantId: e.participantId,
      action: e.action,
      at: e.at,
      ...(e.note ? { note: e.note } : {}),
    }));
    return { log };
  });

  on('erasure', async (req, _res, body) => {
    const { scope } = body as v.InferOutput<typeof ROUTES.erasure.body>;
    const { me: p } = await me(req);
    return commands.erase(p, scope);
  });

  r.use((_req, _res, next) => next(new HttpError(ErrorCode.notFound)));
  r.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof HttpError || err instanceof CommandError) {
      const code = (err.code in STATUS ? err.code : ErrorCode.internal) as ApiErrorCodeValue;
      res.status(STATUS[code]).json({ error: code, ...(err.field ? { field: err.field } : {}) } satisfies ApiError);
      return;
    }
    const e = err as { type?: string; status?: number };
    if (e.type === 'entity.too.large') {
      res.status(413).json({ error: ErrorCode.tooLarge } satisfies ApiError);
      return;
    }
    if (e.type === 'entity.parse.failed' || e.status === 400) {
      res.status(400).json({ error: ErrorCode.invalid } satisfies ApiError);
      return;
    }
    deps.log.error({ err: (err as Error).message }, 'request failed');
    res.status(500).json({ error: ErrorCode.internal } satisfies ApiError);
  });
  return r;
}
