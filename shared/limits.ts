/** Every limit the server enforces, in one place (documented in the README). */
export const LIMITS = {
  /** Longest text of one contribution, in characters. */
  textChars: 5000,
  /** Longest name or relation, in characters. */
  nameChars: 80,
  /** Largest single Yjs sync or awareness message, in bytes (after base64 decoding). */
  messageBytes: 256 * 1024,
  /** Largest voice document, in bytes of its encoded state. */
  documentBytes: 8 * 1024 * 1024,
  /** Largest awareness state of one connection, in bytes of JSON. */
  awarenessBytes: 512,
  /** Socket.IO packet size (maxHttpBufferSize), in bytes. */
  packetBytes: 512 * 1024,
  /** HTTP JSON body size. */
  httpBody: '16kb',
  /** Sync/awareness messages per connection per second (burst allowed up to the same number). */
  messagesPerSecond: 200,
  /** Meetings opened per address per minute. */
  opensPerMinute: 20,
  /** Joins and link exchanges attempted per address per minute. */
  joinsPerMinute: 60,
} as const;
