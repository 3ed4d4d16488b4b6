/**
 * One closed vocabulary of everything the server can refuse or report, on every channel (HTTP,
 * Socket.IO handshake, control acks, data-plane refusals, disconnections). The server sends only
 * these codes (and data); the page owns every sentence a person reads, in their own language.
 */

export const ErrorCode = {
  // ── the request itself ──
  /** The payload failed validation (`field` names where, when it can). */
  invalid: 'invalid',
  /** A size limit was exceeded (see LIMITS). */
  tooLarge: 'too-large',
  /** Too many requests or messages in a short time. */
  rateLimited: 'rate-limited',
  /** The client speaks another protocol version. */
  protocolVersion: 'protocol-version',
  /** The page is not served by this Polyphony server (Origin check). */
  badOrigin: 'bad-origin',

  // ── access ──
  /** No such meeting, or the credentials do not admit to it. Deliberately one code for both. */
  noAccess: 'no-access',
  /** Nothing at this address, or the thing asked about does not exist (e.g. no agreed next meeting). */
  notFound: 'not-found',

  // ── the meeting's state ──
  /** The meeting is closed to new people. */
  locked: 'locked',
  /** The meeting has ended: its record is read-only. */
  meetingEnded: 'meeting-ended',
  /** These words (or the whole record) were erased at someone's request. */
  erased: 'erased',
  /** Not possible in the meeting's present state (e.g. ending a reflection that is not under way). */
  wrongState: 'wrong-state',
  /** The network's next meeting is already open. */
  nextAlreadyOpen: 'next-already-open',

  // ── who may do what ──
  /** Only a facilitator may do this (lock, end, hand over facilitation, remove someone). */
  notFacilitator: 'not-facilitator',
  /** Only a person this meeting is about may do this (ask to erase the whole record). */
  notAboutYou: 'not-about-you',
  /** A facilitator cannot remove themself (they can leave). */
  notYourself: 'not-yourself',
  /** That person is not (or no longer) in this meeting. */
  notInMeeting: 'not-in-meeting',
  /** A shared device holds several people: the request must say which one is acting. */
  whichPerson: 'which-person',

  // ── the record (data plane) ──
  /** A connection tried to write a document that is not its participant's own voice. */
  notYourDocument: 'not-your-document',
  /** An awareness update for a client id this connection does not own. */
  notYourAwareness: 'not-your-awareness',
  /** The message could not be decoded, or breaks the record's rules (e.g. deletes from a voice log). */
  malformed: 'malformed',
  /** The update depends on data the server does not have yet. */
  missingDependencies: 'missing-dependencies',
  /** Unknown document id. */
  unknownDocument: 'unknown-document',

  // ── the service ──
  /** Storage failed; the words are kept in memory and on the device, and the write is retried. */
  storageFailed: 'storage-failed',
  /** The meeting cannot be served right now (damaged storage, shutting down, moving instance). */
  unavailable: 'unavailable',
  /** Something went wrong on the server; nothing was changed. */
  internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

function subset<const K extends keyof typeof ErrorCode>(...keys: K[]): { readonly [P in K]: (typeof ErrorCode)[P] } {
  return Object.fromEntries(keys.map((k) => [k, ErrorCode[k]])) as { readonly [P in K]: (typeof ErrorCode)[P] };
}

/** Why a data-plane message (`y`) was refused. Nothing of a refused message is applied. */
export const Refusal = subset(
  'notYourDocument',
  'meetingEnded',
  'malformed',
  'missingDependencies',
  'tooLarge',
  'rateLimited',
  'notYourAwareness',
  'unknownDocument',
  'storageFailed',
  'invalid',
  'erased',
);
export type RefusalCode = (typeof Refusal)[keyof typeof Refusal];

/** Why a Socket.IO handshake was refused (`connect_error` with `data.code`). */
export const ConnectError = subset('noAccess', 'protocolVersion', 'invalid', 'badOrigin', 'unavailable', 'erased');
export type ConnectErrorCode = (typeof ConnectError)[keyof typeof ConnectError];

/** Why a control request (Socket.IO event with an ack) was refused. */
export const ControlError = subset(
  'invalid',
  'rateLimited',
  'notFacilitator',
  'notYourself',
  'notInMeeting',
  'wrongState',
  'meetingEnded',
  'notFound',
  'storageFailed',
  'unavailable',
  'internal',
);
export type ControlErrorCode = (typeof ControlError)[keyof typeof ControlError];

/** Why an HTTP request was refused (`{error: code, field?}`). */
export const ApiErrorCode = subset(
  'invalid',
  'tooLarge',
  'rateLimited',
  'noAccess',
  'notFound',
  'locked',
  'meetingEnded',
  'erased',
  'nextAlreadyOpen',
  'notFacilitator',
  'notAboutYou',
  'whichPerson',
  'storageFailed',
  'unavailable',
  'internal',
);
export type ApiErrorCodeValue = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];

/**
 * Why the server is about to disconnect someone (`closing` event, sent just before it does), so
 * the page can say so plainly instead of trying to reconnect.
 */
export const CloseReason = {
  /** A facilitator removed this person from the meeting. */
  removed: 'removed',
  /** This person's personal link was replaced (e.g. a lost phone): this device must use the new one. */
  linkRevoked: 'link-revoked',
  /** This person's words were erased at their request. */
  voiceErased: 'voice-erased',
  /** The whole record was erased. */
  recordErased: 'record-erased',
  /** The server is shutting down or handing the meeting to another instance: reconnect. */
  restarting: 'restarting',
} as const;
export type CloseReasonCode = (typeof CloseReason)[keyof typeof CloseReason];
