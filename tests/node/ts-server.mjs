// Reference (TypeScript capnweb) server for interop tests.
// Usage: node ts-server.mjs [--port N] [--host 127.0.0.1]
// Prints `LISTENING <port>` on stdout once ready. Serves a NEW TestTarget per connection:
// WebSocket upgrades and HTTP batch POSTs, both on path `/`.
import './ws-global.mjs';
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { newWebSocketRpcSession, nodeHttpBatchRpcResponse } from 'capnweb';
import { TestTarget } from './test-api.mjs';

function argValue(name, dflt) {
  const i = process.argv.indexOf(name);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(name + '='));
  return eq ? eq.slice(name.length + 1) : dflt;
}

const port = Number(argValue('--port', '0'));
const host = argValue('--host', '127.0.0.1');

function pathOf(req) {
  return new URL(req.url ?? '/', 'http://localhost').pathname;
}

const server = http.createServer((req, res) => {
  if (pathOf(req) !== '/') {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
    return;
  }
  nodeHttpBatchRpcResponse(req, res, new TestTarget()).catch((err) => {
    process.stderr.write(`ts-server: batch error: ${err?.stack ?? err}\n`);
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(err));
  });
});

const wss = new WebSocketServer({ server, path: '/' });
wss.on('connection', (ws) => {
  newWebSocketRpcSession(ws, new TestTarget());
});
wss.on('error', (err) => {
  process.stderr.write(`ts-server: websocket server error: ${err?.stack ?? err}\n`);
});

server.listen(port, host, () => {
  const addr = server.address();
  process.stdout.write(`LISTENING ${addr.port}\n`);
});

let stopping = false;
function shutdown() {
  if (stopping) return;
  stopping = true;
  for (const client of wss.clients) client.terminate();
  wss.close();
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
