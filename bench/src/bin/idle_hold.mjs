import { createRequire } from 'node:module';
const WebSocket = createRequire(import.meta.url)('../../../tests/node/node_modules/ws');
const [url, n] = [process.argv[2], +process.argv[3]];
const socks = [];
let open = 0;
for (let i = 0; i < n; i++) {
  const ws = new WebSocket(url);
  ws.on('open', () => { if (++open === n) console.log('OPEN', n); });
  ws.on('error', e => console.error(e.message));
  socks.push(ws);
  if (i % 200 == 199) await new Promise(r => setTimeout(r, 50));
}
setTimeout(() => { for (const s of socks) s.close(); setTimeout(() => process.exit(0), 1000); }, +(process.argv[4] || 3000));
