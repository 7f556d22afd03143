// Streams and blobs between the official TypeScript client and a server: ReadableStream and
// WritableStream both ways, Blob both ways, and a stream large enough for flow control.
// Usage: node stream-suite.mjs <ws-url> [<http-url>, unused]
import { WebSocket } from './ws-global.mjs';
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { newWebSocketRpcSession } from 'capnweb';

const [wsUrl] = process.argv.slice(2);
const ws = new WebSocket(wsUrl);
const api = newWebSocketRpcSession(ws);
after(() => {
  try { api[Symbol.dispose](); } catch { /* already disposed */ }
  try { ws.terminate(); } catch { /* already closed */ }
});

function streamOf(chunks) {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]);
      else controller.close();
    },
  });
}

async function readAll(stream) {
  const out = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
}

test('a ReadableStream argument is read by the server', async () => {
  const got = await api.readStream(streamOf([1, 'two', { three: [3] }, new Uint8Array([4, 5])]));
  assert.deepEqual(got.slice(0, 3), [1, 'two', { three: [3] }]);
  assert.ok(got[3] instanceof Uint8Array);
  assert.deepEqual(Array.from(got[3]), [4, 5]);
});

test('a ReadableStream result is read by the client', async () => {
  const stream = await api.makeStream(5);
  assert.ok(stream instanceof ReadableStream);
  assert.deepEqual(await readAll(stream), [0, 1, 2, 3, 4]);
});

test('the server writes into a WritableStream the client passed', async () => {
  const got = [];
  const sink = new WritableStream({ write(chunk) { got.push(chunk); } });
  await api.writeTo(sink, 4);
  assert.deepEqual(got, [0, 1, 2, 3]);
});

test('a Blob argument reaches the server whole', async () => {
  const info = await api.blobInfo(new Blob(['héllo ', 'wörld'], { type: 'text/plain' }));
  assert.deepEqual(info, ['text/plain', 13, 'héllo wörld']);
});

test('a Blob result reaches the client whole', async () => {
  const blob = await api.makeBlob('abc', 'text/x-test');
  assert.ok(blob instanceof Blob);
  assert.equal(blob.type, 'text/x-test');
  assert.equal(await blob.text(), 'abc');
});

test('a large stream goes through flow control both ways', async () => {
  const chunk = new Uint8Array(16 * 1024).fill(9);
  const chunks = Array.from({ length: 256 }, () => chunk); // 4 MiB
  const got = await api.readStream(streamOf(chunks));
  assert.equal(got.length, 256);
  assert.equal(got.reduce((n, c) => n + c.length, 0), 4 * 1024 * 1024);
  const many = await readAll(await api.makeStream(20000));
  assert.equal(many.length, 20000);
  assert.equal(many[19999], 19999);
});

test('a failing ReadableStream reaches the server as an error', async () => {
  let sent = false;
  const failing = new ReadableStream({
    pull(controller) {
      if (!sent) { sent = true; controller.enqueue(1); }
      else controller.error(new RangeError('source broke'));
    },
  });
  await assert.rejects(async () => await api.readStream(failing), (e) => {
    assert.equal(e.name, 'RangeError');
    assert.equal(e.message, 'source broke');
    return true;
  });
  assert.equal(await api.square(3), 9, 'the session goes on');
});

test('echo returns a ReadableStream and a Blob it was given', async () => {
  const back = await api.echo(streamOf(['a', 'b', 'c']));
  assert.ok(back instanceof ReadableStream);
  assert.deepEqual(await readAll(back), ['a', 'b', 'c']);
  const blob = await api.echo(new Blob(['xyz'], { type: 'text/x' }));
  assert.ok(blob instanceof Blob);
  assert.equal(blob.type, 'text/x');
  assert.equal(await blob.text(), 'xyz');
});
