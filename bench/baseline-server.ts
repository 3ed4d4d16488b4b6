/**
 * The baseline: a plain y-websocket server (@y/websocket-server 0.1.1, its `setupWSConnection`
 * unchanged, no persistence) in its own process. Every room name is one shared document.
 * PORT and HOST come from the environment; SIGTERM stops it.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { setupWSConnection } from '@y/websocket-server/utils';

const port = Number(process.env.PORT ?? 1234);
const host = process.env.HOST ?? '127.0.0.1';

const http = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('okay');
});
const wss = new WebSocketServer({ noServer: true });
wss.on('connection', setupWSConnection);
http.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});
http.listen(port, host, () => {
  process.stdout.write(`baseline y-websocket server on http://${host}:${port}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    for (const ws of wss.clients) ws.terminate();
    http.close();
    process.exit(0);
  });
}
