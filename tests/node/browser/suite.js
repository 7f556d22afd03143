// The official TypeScript client (npm `capnweb`, its browser build) in a real browser, against
// our Rust server: WebSocket and HTTP batch sessions, pipelining, callbacks, map, errors,
// special values, blobs and streams. Each check prints `ok - ...` or `not ok - ...`; `# done`
// ends the run. Served by the `wasm_page` example (the interop interface at /rpc).
import { newHttpBatchRpcSession, newWebSocketRpcSession, RpcTarget } from '/node_modules/capnweb/dist/index.js';

const out = document.getElementById('out');
const lines = [];
const show = () => { out.textContent = lines.join('\n'); };

async function check(name, body) {
  try {
    await body();
    lines.push(`ok - ${name}`);
  } catch (e) {
    lines.push(`not ok - ${name}: ${e && e.stack || e}`);
  }
  show();
}

function assert(ok, what) {
  if (!ok) throw new Error(`assertion failed: ${what}`);
}

const ws = `ws://${location.host}/rpc`;
const http = `http://${location.host}/rpc`;
const api = newWebSocketRpcSession(ws);

await check('a call', async () => {
  assert(await api.square(12) === 144, 'square(12)');
});

await check('pipelining through a capability', async () => {
  const counter = api.makeCounter(10);
  assert(await counter.increment(5) === 15, 'increment');
  assert(await counter.value === 15, 'value property');
});

await check('a promise inside a result', async () => {
  const r = await api.callSquare(api, 4);
  assert(await r.result === 16, 'result');
});

await check('the server calls back into the page', async () => {
  const r = await api.callFunction((x) => x * 3, 14);
  assert(r.result === 42, 'callback');
});

await check('map runs on the server', async () => {
  const squares = await api.generateFibonacci(6).map((x) => api.square(x));
  assert(squares.join(',') === '0,1,1,4,9,25', squares.join(','));
});

await check('errors keep their class', async () => {
  try {
    await api.throwError();
    throw new Error('no error');
  } catch (e) {
    assert(e instanceof RangeError && e.message === 'test error', String(e));
  }
});

await check('a typed application error arrives with its fields and kind', async () => {
  try {
    await api.withdraw(50);
    throw new Error('no error');
  } catch (e) {
    assert(e.kind === 'InsufficientFunds' && e.balance === 10 && e.requested === 50, String(e));
  }
});

await check('special values round-trip', async () => {
  const date = new Date(1700000000000);
  const bytes = new Uint8Array([1, 2, 255]);
  const echoed = await api.echo([date, bytes, 123n, undefined, null, Infinity, -0.5, 'x\u00e9']);
  assert(echoed[0] instanceof Date && echoed[0].getTime() === date.getTime(), 'date');
  assert(echoed[1] instanceof Uint8Array && echoed[1].join() === '1,2,255', 'bytes');
  assert(echoed[2] === 123n, 'bigint');
  assert(echoed[3] === undefined && echoed[4] === null, 'undefined and null');
  assert(echoed[5] === Infinity && echoed[6] === -0.5 && echoed[7] === 'x\u00e9', 'numbers, text');
});

await check('a Blob goes to the server and one comes back', async () => {
  const [type, size, text] = await api.blobInfo(new Blob(['hello'], { type: 'text/plain' }));
  assert(type === 'text/plain' && size === 5 && text === 'hello', `${type} ${size} ${text}`);
  const blob = await api.makeBlob('made', 'text/x-test');
  assert(blob instanceof Blob && blob.type === 'text/x-test' && await blob.text() === 'made', 'made');
});

await check('streams both ways', async () => {
  const mine = new ReadableStream({
    start(c) { for (const v of [1, 2, 3]) c.enqueue(v); c.close(); },
  });
  const read = await api.readStream(mine);
  assert(read.join(',') === '1,2,3', read.join(','));
  const theirs = await api.makeStream(4);
  const got = [];
  for await (const v of theirs) got.push(v);
  assert(got.join(',') === '0,1,2,3', got.join(','));
});

await check('a local object passed to the server is called back', async () => {
  class Doubler extends RpcTarget {
    square(x) { return x * 2; }
  }
  const r = await api.callSquare(new Doubler(), 21);
  assert(await r.result === 42, 'our square');
});

await check('an HTTP batch (over fetch, with CORS) pipelines', async () => {
  const batch = newHttpBatchRpcSession(http);
  const counter = batch.makeCounter(1);
  const [a, b] = await Promise.all([batch.square(batch.square(2)), counter.increment(2)]);
  assert(a === 16 && b === 3, `${a} ${b}`);
});

api[Symbol.dispose]();
lines.push('# done');
show();
