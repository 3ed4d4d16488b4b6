/**
 * A tiny hash router. Hash routes keep meeting ids and link secrets out of server logs: the
 * part after `#` never leaves the browser.
 */
import { CODE_PATTERN, isId } from '../../shared/ids.js';

/** What the room shows: the live record, the read-back before closing, or the replay afterwards. */
export type RoomView = 'record' | 'read-back' | 'replay';
const VIEWS: readonly string[] = ['read-back', 'replay'];

export type Route =
  | { name: 'home' }
  | { name: 'share'; meetingId: string }
  | { name: 'join'; meetingId: string; joinToken: string }
  | { name: 'personal'; token: string }
  | { name: 'room'; meetingId: string; view: RoomView }
  | { name: 'missing' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const [first, a, b] = parts;
  if (parts.length === 0) return { name: 'home' };
  if (first === 'share' && parts.length === 2 && isId(a)) return { name: 'share', meetingId: a };
  if (first === 'join' && parts.length === 3 && isId(a) && b && (isId(b) || CODE_PATTERN.test(b)))
    return { name: 'join', meetingId: a, joinToken: b };
  if (first === 'me' && parts.length === 2 && isId(a)) return { name: 'personal', token: a };
  if (first === 'm' && parts.length === 2 && isId(a)) return { name: 'room', meetingId: a, view: 'record' };
  if (first === 'm' && parts.length === 3 && isId(a) && b && VIEWS.includes(b))
    return { name: 'room', meetingId: a, view: b as RoomView };
  return { name: 'missing' };
}

export const paths = {
  home: () => '#/',
  share: (meetingId: string) => `#/share/${meetingId}`,
  room: (meetingId: string, view: RoomView = 'record') =>
    view === 'record' ? `#/m/${meetingId}` : `#/m/${meetingId}/${view}`,
  personal: (token: string) => `#/me/${token}`,
  /** The join page, from a join link's secret or a short code. */
  join: (meetingId: string, secret: string) => `#/join/${meetingId}/${secret}`,
};

export class Router {
  #hash = $state(location.hash);
  readonly route = $derived(parseRoute(this.#hash));

  constructor() {
    addEventListener('hashchange', () => {
      this.#hash = location.hash;
    });
  }

  /** Go to a route. `replace` drops the current entry from history (used to forget link secrets). */
  go(hash: string, { replace = false }: { replace?: boolean } = {}): void {
    if (replace) {
      history.replaceState(history.state, '', hash);
      this.#hash = location.hash;
    } else {
      location.hash = hash;
    }
  }
}
