// The TypeScript client side of the benchmarks (bench/): the same workloads as the Rust
// client, against a server implementing the interop interface. Prints one JSON object.
// Usage: node bench-client.mjs <ws-url> <http-url> <seconds> [no-chains]
// `no-chains` (against the raw echoes, which only answer pulls) skips the pipelined chains.
import { WebSocket } from './ws-global.mjs';
import { newWebSocketRpcSession, newHttpBatchRpcSession } from 'capnweb';

const [wsUrl, httpUrl, secsArg, mode] = process.argv.slice(2);
const secs = Number(secsArg ?? '2');

async function rate(concurrency, seconds, call) {
  const measure = async (ms) => {
    let done = 0;
    const deadline = performance.now() + ms;
    const start = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
      let i = w;
      while (performance.now() < deadline) {
        await call(i % 1000);
        done++;
        i += concurrency;
      }
    }));
    return done / ((performance.now() - start) / 1000);
  };
  await measure(300);
  // The median of 3 runs sharing the time, as the Rust side measures.
  const rates = [];
  for (let r = 0; r < 3; r++) rates.push(await measure(seconds * 1000 / 3));
  rates.sort((a, b) => a - b);
  return rates[1];
}

async function latency(n, call) {
  for (let i = 0; i < 200; i++) await call(i);
  const times = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await call(i % 1000);
    times.push((performance.now() - start) * 1000);
  }
  times.sort((a, b) => a - b);
  return [times[Math.floor(n / 2)], times[Math.floor(n * 99 / 100)]];
}

const ws = new WebSocket(wsUrl);
const api = newWebSocketRpcSession(ws);
const square = (i) => api.square(i);

const c1 = await rate(1, secs, square);
const c16 = await rate(16, secs, square);
const c256 = await rate(256, secs, square);
const [p50, p99] = await latency(3000, square);

const batch = (await rate(1, secs, async () => {
  const b = newHttpBatchRpcSession(httpUrl);
  const calls = [];
  for (let i = 0; i < 1000; i++) calls.push(b.square(i));
  await Promise.all(calls);
})) * 1000;

const chain = mode === 'no-chains' ? null : await rate(1, secs, async () => {
  const counter = api.makeCounter(0);
  const calls = [];
  for (let i = 0; i < 100; i++) calls.push(counter.increment());
  await Promise.all(calls);
  counter[Symbol.dispose]();
});

console.log(JSON.stringify({
  calls_per_sec_c1: c1, calls_per_sec_c16: c16, calls_per_sec_c256: c256,
  latency_p50_us: p50, latency_p99_us: p99,
  batch_calls_per_sec: batch, pipelined_chains_per_sec: chain,
}));
api[Symbol.dispose]();
ws.close();
process.exit(0);
