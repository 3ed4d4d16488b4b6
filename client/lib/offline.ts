/**
 * The app itself on this device, so the page opens without a connection: the service worker
 * (`/sw.js`, network first) keeps a copy of every file of the app it fetches. Files this page
 * loaded before the worker took charge are fetched once more through it, so they are kept too.
 * Never any record data: that lives in IndexedDB, by the person's choice (see MeetingConnection).
 */
export async function keepAppOnThisDevice(): Promise<void> {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return;
  try {
    await navigator.serviceWorker.register('/sw.js', { scope: '/' });
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise<void>((resolve) =>
        navigator.serviceWorker.addEventListener('controllerchange', () => resolve(), { once: true }),
      );
    }
    const here = location.origin;
    const urls = new Set<string>([`${here}/`]);
    for (const e of performance.getEntriesByType('resource')) {
      const url = new URL(e.name);
      if (url.origin !== here || url.pathname.startsWith('/api/') || url.pathname.startsWith('/socket.io/')) continue;
      urls.add(url.origin + url.pathname);
    }
    await Promise.all([...urls].map((u) => fetch(u, { credentials: 'same-origin' }).catch(() => undefined)));
    document.documentElement.dataset.offline = 'ready';
  } catch {
    // No service worker (private browsing, an old browser): the page simply needs a connection to open.
  }
}
