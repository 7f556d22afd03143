import { WebSocket } from '/work/main/tests/node/ws-global.mjs';
import { newWebSocketRpcSession } from 'capnweb';
const [url, secs, conc] = [process.argv[2], Number(process.argv[3] ?? 3), Number(process.argv[4] ?? 256)];
const ws = new WebSocket(url);
const api = newWebSocketRpcSession(ws);
let done = 0;
const deadline = performance.now() + secs * 1000;
const t0 = performance.now(); const c0 = process.cpuUsage();
await Promise.all(Array.from({ length: conc }, async (_, w) => {
  let i = w;
  while (performance.now() < deadline) { await api.square(i % 1000); done++; i += conc; }
}));
const el = (performance.now() - t0) / 1000; const c = process.cpuUsage(c0);
console.log(`${url}: ${(done / el).toFixed(0)} calls/s, client cpu ${((c.user + c.system) / 1e6 / el * 100).toFixed(0)}%`);
process.exit(0);
