/**
 * The wire protocol, defined once and used by both sides.
 *
 * One Socket.IO connection per participant per meeting, every packet one MessagePack frame
 * (`socket.io-msgpack-parser`, see `parser` in wire.ts), carries:
 * - the data plane: standard Yjs sync and awareness messages (y-protocols framing, exactly as the
 *   y-websocket protocol) for every document of the meeting, each tagged with its document id, in
 *   the `y` event as bytes (one WebSocket frame per message);
 * - the control plane: presence, "saved" acknowledgements, refusals.
 *
 * HTTP (JSON) opens meetings, joins them and exchanges personal links for a session cookie.
 */
import * as v from 'valibot';
import { CODE_PATTERN, ID_PATTERN } from './ids.js';
import { LIMITS } from './limits.js';
import type { ApiErrorCodeValue, CloseReasonCode, ControlErrorCode, RefusalCode } from './errors.js';
import type { DocTag, WireBytes as Bytes } from './wire.js';

/** Names and relations are one line of the person's own words: no line breaks or control characters. */
const NO_CONTROL = /^[^\p{Cc}]*$/u;
const Name = v.pipe(v.string(), v.trim(), v.maxLength(LIMITS.nameChars), v.regex(NO_CONTROL, 'A name is one line.'));

/**
 * 2: MessagePack packets, bytes instead of base64, `saved` in `welcome`, the greeting in one `batch`.
 * 3: documents named by number on the data plane (`welcome.docs`, `voice`).
 * 4: the server's `y` carries one or more (document, message) pairs, flat; `batch` is gone.
 */
export const PROTOCOL_VERSION = 4;

/** y-protocols message types carried in the `y` event (first varUint of the message). */
export const Y_MESSAGE = { sync: 0, awareness: 1 } as const;

export {
  ApiErrorCode,
  CloseReason,
  ConnectError,
  ControlError,
  ErrorCode,
  Refusal,
  type ApiErrorCodeValue,
  type CloseReasonCode,
  type ConnectErrorCode,
  type ControlErrorCode,
  type RefusalCode,
} from './errors.js';

export interface Refused {
  doc: string;
  code: RefusalCode;
}

/** Storage health of the meeting as the server sees it. */
export type StorageStatus = 'ok' | 'failing';

export interface Welcome {
  protocol: number;
  meetingId: string;
  participantId: string;
  /**
   * Every document of the meeting, each at the index of its number: `docs[0]` is `meeting`,
   * `docs[n]` the voice of the person numbered n ('' for a number that names none). When the
   * handshake said what it `have`s, the server sends the state of every document not listed, in
   * the `y` that follows.
   */
  docs: string[];
  /** Everything of your own voice up to this (encoded) state vector is durably stored (as `saved`). */
  saved?: Bytes;
}

export interface ServerToClientEvents {
  /** Sent once after connecting: who this connection is, as the server knows it. */
  welcome: (w: Welcome) => void;
  /**
   * One or more y-protocols messages, as flat (document, message) pairs — `y(doc, message, doc,
   * message, …)`, each document by number (see `DocTag`) — in one frame: an update and the order
   * marks it caused, or a whole greeting. Apply them in order.
   */
  y: (...pairs: Array<DocTag | Bytes>) => void;
  /** Someone new joined: number `n` names their voice `id` from now on (sent before any message of it). */
  voice: (n: number, id: string) => void;
  /** Everything of `doc` up to this (encoded) state vector is durably stored. Sent to its owner. */
  saved: (doc: string, stateVector: Bytes) => void;
  /** Participant ids connected right now. */
  presence: (here: string[]) => void;
  /** Something this connection sent was refused; nothing of it was applied. */
  refused: (r: Refused) => void;
  storage: (status: StorageStatus) => void;
  /** A voice document (or, with `meeting`, the whole record) was erased: drop every local copy. */
  erased: (doc: string) => void;
  /** Sent just before the server disconnects this connection on purpose: why. */
  closing: (reason: CloseReasonCode) => void;
}

/** Every request on the control plane is answered by an ack of this shape. */
export type AckResult<T extends object = object> = ({ ok: true } & T) | { ok: false; error: ControlErrorCode };
export type Ack<T extends object = object> = (result: AckResult<T>) => void;

/** The result type of a control event's ack. */
export type AckOf<E extends keyof ClientToServerEvents> =
  Parameters<ClientToServerEvents[E]> extends [unknown, Ack<infer T>] ? AckResult<T> : never;

export interface ClientToServerEvents {
  y: (doc: DocTag, message: Bytes) => void;
  /** Add a person who has no device of their own (a scribe or a shared device writes for them). */
  'person:add': (input: AddPersonInput, ack: Ack<{ participantId: string; personalToken: string }>) => void;
  /** Start or end a reflecting conversation. Anyone may; there is no role to gate it. */
  reflect: (input: ReflectInput, ack: Ack) => void;
  /** Close the network's response to a reflection — or record that the network chose not to respond. */
  'response:close': (input: ResponseCloseInput, ack: Ack) => void;
  /** Facilitator: lock or unlock the meeting to new joiners. */
  'meeting:lock': (input: LockInput, ack: Ack) => void;
  /** Facilitator: end the meeting (its record becomes read-only), with what was agreed about the next one. */
  'meeting:end': (input: EndInput, ack: Ack) => void;
  /** Facilitator: hand facilitation to, or share it with, another participant. */
  facilitation: (input: FacilitationInput, ack: Ack) => void;
  /** Facilitator: remove someone who should not be there. Their words stay, marked. */
  'participant:remove': (input: RemoveInput, ack: Ack) => void;
}

const Pid = v.pipe(v.string(), v.regex(ID_PATTERN));
const Short = v.pipe(v.string(), v.trim(), v.maxLength(200), v.regex(NO_CONTROL, 'One line, please.'));
export const AddPersonSchema = v.strictObject({
  name: v.pipe(
    v.string(),
    v.trim(),
    v.minLength(1),
    v.maxLength(LIMITS.nameChars),
    v.regex(NO_CONTROL, 'A name is one line.'),
  ),
  relation: v.optional(Name, ''),
});
export type AddPersonInput = v.InferInput<typeof AddPersonSchema>;
export const ReflectSchema = v.strictObject({ action: v.picklist(['start', 'end']) });
export type ReflectInput = v.InferInput<typeof ReflectSchema>;
export const ResponseCloseSchema = v.strictObject({ responded: v.boolean() });
export type ResponseCloseInput = v.InferInput<typeof ResponseCloseSchema>;
export const LockSchema = v.strictObject({ locked: v.boolean() });
export type LockInput = v.InferInput<typeof LockSchema>;
export const NextMeetingSchema = v.strictObject({
  agreed: v.boolean(),
  /** Local date and time as agreed in the room, `YYYY-MM-DDTHH:MM`, or empty. */
  when: v.optional(v.union([v.literal(''), v.pipe(v.string(), v.regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/))]), ''),
  where: v.optional(Short, ''),
  who: v.optional(Short, ''),
  arranger: v.optional(Short, ''),
});
export const EndSchema = v.strictObject({ next: v.nullable(NextMeetingSchema) });
export type EndInput = v.InferInput<typeof EndSchema>;
export const FacilitationSchema = v.strictObject({ to: Pid, mode: v.picklist(['hand', 'share']) });
export type FacilitationInput = v.InferInput<typeof FacilitationSchema>;
export const RemoveSchema = v.strictObject({ who: Pid });
export type RemoveInput = v.InferInput<typeof RemoveSchema>;

/** Socket.IO handshake `auth` payload. The token may instead come from the session cookie. */
export const HandshakeSchema = v.strictObject({
  protocol: v.number(),
  meetingId: v.pipe(v.string(), v.regex(ID_PATTERN)),
  /** A personal token, for clients that are not browsers (scripts, benchmarks). */
  token: v.optional(v.pipe(v.string(), v.regex(ID_PATTERN))),
  /**
   * Which of the people this browser's session holds to connect as (a shared device may hold
   * several); the most recent one when omitted.
   */
  participantId: v.optional(v.pipe(v.string(), v.regex(ID_PATTERN))),
  /**
   * The documents this device already holds something of. When given, the server sends the whole
   * state of every other document of the meeting right after `welcome` (in one `y`), so a
   * newcomer is synced without asking: it asks (sync step 1) only for the documents it listed.
   */
  have: v.optional(
    v.pipe(v.array(v.union([v.literal('meeting'), v.pipe(v.string(), v.regex(ID_PATTERN))])), v.maxLength(5000)),
  ),
});
export type Handshake = v.InferOutput<typeof HandshakeSchema>;

/** POST /api/meetings */
export const OpenMeetingSchema = v.strictObject({
  name: v.optional(Name, ''),
  relation: v.optional(Name, ''),
  /** When the network first made contact, if before now (ms since epoch). */
  firstContactAt: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
});
export type OpenMeetingInput = v.InferInput<typeof OpenMeetingSchema>;

/** POST /api/meetings/:id/join */
/** A join link's secret, or the meeting's short code (while it admits anyone). */
const JoinSecret = v.pipe(
  v.string(),
  v.check((s) => ID_PATTERN.test(s) || CODE_PATTERN.test(s)),
);

export const JoinSchema = v.strictObject({
  joinToken: JoinSecret,
  name: v.optional(Name, ''),
  relation: v.optional(Name, ''),
  aboutMe: v.optional(v.boolean(), false),
});
export type JoinInput = v.InferInput<typeof JoinSchema>;

/** POST /api/meetings/:id/invitation — what the join page says before anyone types a name. */
export const InvitationSchema = v.strictObject({
  joinToken: JoinSecret,
});

/** POST /api/codes — which meeting a short code read aloud leads to. */
export const CodeSchema = v.strictObject({
  code: v.pipe(v.string(), v.regex(CODE_PATTERN)),
});

/** What a join link leads to: who opened the meeting, and whether it can still be joined. */
export interface Invitation {
  /** How the person who opened the meeting describes themself now ('' when erased or unnamed). */
  openedBy: string;
  openedAt: number;
  networkName: string;
  status: 'open' | 'ended';
  locked: boolean;
  /** Asked with the short code: until when it lets people in (ms). */
  codeUntil?: number;
}

/** POST /api/session — exchange a personal link's secret for a session cookie. */
export const SessionSchema = v.strictObject({
  token: v.pipe(v.string(), v.regex(ID_PATTERN)),
});

/** PATCH /api/meetings/:id/me — change one's own name or relation. */
export const ProfileSchema = v.strictObject({
  name: v.optional(Name),
  relation: v.optional(Name),
  aboutMe: v.optional(v.boolean()),
});
export type ProfileInput = v.InferInput<typeof ProfileSchema>;

/** What joining answers. Links carry their secret in the URL fragment. */
export interface Admission {
  meetingId: string;
  participantId: string;
  /** Secret of this person's personal link: `/#/me/<personalToken>`. */
  personalToken: string;
  /**
   * Secret of the meeting's join link: `/#/join/<meetingId>/<joinToken>`, to invite others with.
   * Absent for someone who came in with the short code (the server keeps only the link's hash).
   */
  joinToken?: string;
  /** The short code, for someone who came in with it, and until when it lets people in (ms). */
  code?: string;
  codeUntil?: number;
}

/** What opening a meeting answers: the join link and the short code to read aloud, to the opener only. */
export interface Opened extends Admission {
  joinToken: string;
  code: string;
  codeUntil: number;
}

export interface MyMeeting {
  meetingId: string;
  participantId: string;
  openedAt: number;
  status: 'open' | 'ended';
  networkName: string;
  /** Facilitators can open the network's next meeting. */
  facilitator: boolean;
}

/** PATCH /api/meetings/:id/network — name the network; a facilitator may set the first-contact time. */
export const NetworkSchema = v.strictObject({
  name: v.optional(v.pipe(v.string(), v.trim(), v.maxLength(LIMITS.nameChars))),
  firstContactAt: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
});

/** POST /api/meetings/:id/erasure */
export const ErasureSchema = v.strictObject({
  /** `mine`: my own words; `record`: the whole record (only the person the meeting is about). */
  scope: v.picklist(['mine', 'record']),
});
export interface ErasureResult {
  /** `mine`: the asker's words were erased; `record`: the whole record is gone. */
  erased: boolean;
  /**
   * For `record` (SPEC 16): the whole record goes once everyone else whose words are in it has
   * agreed by erasing their own; until then, who has not (participant ids), for everyone to see.
   */
  waitingFor?: string[];
  /** With RECORD_BASIS=care-record: nothing was erased; why the record is kept, to show the person. */
  reason?: string;
}

/** What POST /api/meetings/:id/next answers: the network's next meeting, with the same people. */
export interface NextMeetingOpened {
  meetingId: string;
  joinToken: string;
  /** The new meeting's short code (ten digits), and until when it lets people in. */
  code: string;
  codeUntil: number;
}

/** POST /api/me/revoke answers the new personal link's secret; the old one stops working at once. */
export interface Revoked {
  personalToken: string;
}

export interface AccessLogEntry {
  participantId: string;
  action: string;
  at: number;
  /** For erasure requests: which kind (`mine` or `record`). */
  note?: string;
}

/** POST /api/me/revoke and /api/me/forget: which of the session's people (needed when it holds several). */
export const PersonSchema = v.strictObject({
  participantId: v.optional(v.pipe(v.string(), v.regex(ID_PATTERN))),
});

/** GET /api/service: how this service keeps records, for the page to explain. */
export interface ServiceInfo {
  protocol: number;
  recordBasis: 'consent' | 'care-record';
  keepReason: string;
}

/** Error body of every failed HTTP request: a code (the page owns the sentence), and for `invalid`, where. */
export interface ApiError {
  error: ApiErrorCodeValue;
  /** For `invalid`: the path of the first field that failed (`name`, `next.when`…). */
  field?: string;
}

export function joinPath(meetingId: string, joinToken: string): string {
  return `/#/join/${meetingId}/${joinToken}`;
}
export function personalPath(personalToken: string): string {
  return `/#/me/${personalToken}`;
}
