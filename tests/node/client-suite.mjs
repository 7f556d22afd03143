// Interop client suite: drives a server implementing the TestTarget interface (test-api.mjs)
// with the official capnweb client.
// Usage: node client-suite.mjs <ws-url> <http-url>
//   e.g. node client-suite.mjs ws://127.0.0.1:1234/ http://127.0.0.1:1234/
import { WebSocket } from './ws-global.mjs';
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { RpcTarget, RpcStub, newWebSocketRpcSession, newHttpBatchRpcSession } from 'capnweb';
import { describe } from './describe.mjs';

const [wsUrl, httpUrl] = process.argv.slice(2);
if (!wsUrl || !httpUrl) {
  process.stderr.write('usage: node client-suite.mjs <ws-url> <http-url>\n');
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Session helpers. Every socket we open is remembered so that the process can always exit.

const sockets = [];
const mainStubs = [];

function openSession(localMain) {
  const ws = new WebSocket(wsUrl);
  sockets.push(ws);
  const stub = localMain === undefined
    ? newWebSocketRpcSession(ws)
    : newWebSocketRpcSession(ws, localMain);
  mainStubs.push(stub);
  return stub;
}

after(() => {
  for (const stub of mainStubs) {
    try { stub[Symbol.dispose](); } catch { /* already disposed */ }
  }
  for (const ws of sockets) {
    try { ws.terminate(); } catch { /* already closed */ }
  }
});

// The shared session most tests use.
const stub = openSession();

const FIB10 = [0, 1, 1, 2, 3, 5, 8, 13, 21, 34];

// RpcPromise is a callable proxy, which assert.rejects() would take for a function: give it a
// real Promise instead.
function settle(p) {
  return (async () => await p)();
}

// Same, for a call that may also throw synchronously (e.g. on a disposed stub).
function settleCall(fn) {
  return (async () => await fn())();
}

// Deep comparison that is exact about types (uses the canonical `describe`), plus a class check.
function assertSameValue(actual, expected, label = '') {
  assert.deepStrictEqual(describe(actual), describe(expected), label);
  if (expected !== null && typeof expected === 'object') {
    const expProto = Object.getPrototypeOf(expected);
    const actProto = Object.getPrototypeOf(actual);
    if (expProto === Uint8Array.prototype) {
      // Node's capnweb decodes plain bytes as a Buffer, which is a Uint8Array.
      assert.ok(actual instanceof Uint8Array, `${label}: expected a Uint8Array`);
    } else {
      assert.equal(actProto, expProto, `${label}: wrong class ${actual?.constructor?.name}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Basic methods

test('square', async () => {
  assert.equal(await stub.square(3), 9);
  assert.equal(await stub.square(-4), 16);
  assert.equal(await stub.square(1.5), 2.25);
});

test('add', async () => {
  assert.equal(await stub.add(2, 3), 5);
  assert.equal(await stub.add(-1.5, 0.25), -1.25);
  assert.equal(await stub.add('foo', 'bar'), 'foobar');
});

test('echo', async () => {
  assert.equal(await stub.echo('hello'), 'hello');
  assert.deepStrictEqual(await stub.echo({ a: [1, 2, { b: 'c' }] }), { a: [1, 2, { b: 'c' }] });
});

test('callSquare with the main stub as self', async () => {
  assert.deepStrictEqual(await stub.callSquare(stub, 3), { result: 9 });
});

test('a pipelined path into a promise held in a result gets the number', async () => {
  // `.result` is a promise not yet settled when the path is followed.
  assert.equal(await stub.square(stub.callSquare(stub, 2).result), 16);
  assert.equal(await stub.square(stub.callSquare(stub, stub.callSquare(stub, 3).result).result), 6561);
});

test('callFunction with a local function', async () => {
  assert.deepStrictEqual(await stub.callFunction((i) => i * 3, 5), { result: 15 });
});

test('throwError rejects with RangeError("test error")', async () => {
  await assert.rejects(settle(stub.throwError()), (err) => {
    assert.ok(err instanceof RangeError, `not a RangeError: ${err}`);
    assert.equal(err.name, 'RangeError');
    assert.equal(err.message, 'test error');
    return true;
  });
  // The session still works after a thrown error.
  assert.equal(await stub.square(2), 4);
});

test('makeCounter, increment, value', async () => {
  const counter = await stub.makeCounter(4);
  try {
    assert.ok(counter instanceof RpcStub);
    assert.equal(await counter.value, 4);
    assert.equal(await counter.increment(), 5);
    assert.equal(await counter.increment(10), 15);
    assert.equal(await counter.value, 15);
  } finally {
    counter[Symbol.dispose]();
  }
});

test('incrementCounter with explicit amount and with the default', async () => {
  const counter = await stub.makeCounter(0);
  try {
    assert.equal(await stub.incrementCounter(counter, 5), 5);
    assert.equal(await stub.incrementCounter(counter), 6);
    assert.equal(await counter.value, 6);
  } finally {
    counter[Symbol.dispose]();
  }
});

test('generateFibonacci', async () => {
  assert.deepStrictEqual(await stub.generateFibonacci(10), FIB10);
  assert.deepStrictEqual(await stub.generateFibonacci(1), [0]);
  assert.deepStrictEqual(await stub.generateFibonacci(0), []);
});

test('returnNull / returnUndefined / returnNumber', async () => {
  assert.equal(await stub.returnNull(), null);
  assert.equal(await stub.returnUndefined(), undefined);
  assert.equal(await stub.returnNumber(42), 42);
  assert.equal(await stub.returnNumber(-0.5), -0.5);
});

test('calling an undeclared method rejects and the session keeps working', async () => {
  await assert.rejects(settle(stub.noSuchMethod()));
  await assert.rejects(settle(stub.noSuchMethod(1, 2, 3)));
  assert.equal(await stub.square(7), 49);
});

// ---------------------------------------------------------------------------------------------
// Every special value through echo

function errorWith(ctor, message, props) {
  return Object.assign(new ctor(message), props);
}

const ECHO_VALUES = [
  ['undefined', undefined],
  ['null', null],
  ['true', true],
  ['false', false],
  ['zero', 0],
  ['-1.5', -1.5],
  ['1e300', 1e300],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['NaN', NaN],
  ['max safe integer', Number.MAX_SAFE_INTEGER],
  ['empty string', ''],
  ['unicode string', 'héllo wörld 日本語 😀👍🏽 \u2028'],
  ['string with newline and quotes', 'line 1\nline 2\t"quoted" \\ back'],
  ['string with a lone high surrogate', 'a\ud800b'],
  ['string with a lone low surrogate', '\udc00'],
  ['string with a reversed pair', '\udc00\ud800 \ud83d\ude00'],
  ['lone surrogates in an array and an object', ['\ud83d', { v: 'x\udfff' }]],
  ['empty array', []],
  ['nested arrays', [[1, [2, [3]]]]],
  ['array ["date", 1]', ['date', 1]],
  ['array ["bigint", "1"]', ['bigint', '1']],
  ['array ["undefined"]', ['undefined']],
  ['array of specials', [undefined, null, NaN, 1n, new Date(5), ['error', 'x', 'y']]],
  ['object with nested arrays', { a: [1, [2, 3]], b: { c: [[]] }, d: ['bigint', '7'] }],
  ['object with undefined member', { u: undefined, n: null }],
  ['bigint small', 5n],
  ['bigint negative', -12345678901234567890n],
  ['bigint 2**200', 2n ** 200n],
  ['Date', new Date(Date.UTC(2024, 1, 29, 12, 0, 0, 123))],
  ['Date epoch', new Date(0)],
  ['Date negative', new Date(-1e12)],
  ['invalid Date', new Date(NaN)],
  ['Uint8Array empty', new Uint8Array(0)],
  ['Uint8Array', new Uint8Array([0, 1, 2, 127, 128, 254, 255])],
  ['Int16Array', new Int16Array([-32768, -1, 0, 1, 32767])],
  ['Float64Array', new Float64Array([0, -0, Math.PI, -1e300, Infinity, NaN])],
  ['BigInt64Array', new BigInt64Array([-(2n ** 63n), 1n])],
  ['ArrayBuffer', new Uint8Array([9, 8, 7]).buffer],
  ['DataView', new DataView(new Uint8Array([0xca, 0xfe, 0xba, 0xbe]).buffer)],
  ['Error', new Error('an error value')],
  ['TypeError', new TypeError('a type error')],
  ['RangeError', new RangeError('a range error')],
  ['Error with code', errorWith(Error, 'has code', { code: 42 })],
  ['URL', new URL('https://example.com/a/b?c=d#e')],
  ['Headers', new Headers({ 'Content-Type': 'application/json', 'X-Thing': 'v' })],
  ['big nested object', {
    users: [
      { id: 1, name: 'Ada', tags: ['admin', 'date'], joined: new Date(0), balance: 10n ** 20n, avatar: new Uint8Array([1, 2]) },
      { id: 2, name: 'Bob', tags: [], joined: new Date(NaN), balance: -1n, last: undefined },
    ],
    meta: { total: 2, next: null, ratio: 0.5, inf: -Infinity, flags: { a: true, b: false } },
    lastError: errorWith(RangeError, 'oops', { code: 42, detail: { n: 1 } }),
    links: [new URL('http://a.test/x'), ['url', 'not-a-url']],
    matrix: Array.from({ length: 20 }, (_, i) => Array.from({ length: 20 }, (_, j) => i * j)),
  }],
];

test('echo round-trips special values', async (t) => {
  for (const [name, value] of ECHO_VALUES) {
    await t.test(`echo ${name}`, async () => {
      const result = await stub.echo(value);
      assertSameValue(result, value, name);
    });
  }
});

test('echo of an Error value resolves (does not reject) and keeps the class', async () => {
  const result = await stub.echo(new RangeError('value, not thrown'));
  assert.ok(result instanceof RangeError);
  assert.equal(result.message, 'value, not thrown');
  const withCode = await stub.echo(errorWith(Error, 'coded', { code: 42 }));
  assert.ok(withCode instanceof Error);
  assert.equal(withCode.code, 42);
});

test('echo of typed arrays keeps their classes', async () => {
  assert.ok((await stub.echo(new Int16Array([1, -2]))) instanceof Int16Array);
  assert.ok((await stub.echo(new Float64Array([1.5]))) instanceof Float64Array);
  assert.ok((await stub.echo(new Uint8Array([1]).buffer)) instanceof ArrayBuffer);
  assert.ok((await stub.echo(new DataView(new ArrayBuffer(2)))) instanceof DataView);
  assert.deepStrictEqual([...(await stub.echo(new Int16Array([1, -2])))], [1, -2]);
});

// ---------------------------------------------------------------------------------------------
// Pipelining

test('pipelining: makeCounter(5).increment(3) without awaiting the counter', async () => {
  assert.equal(await stub.makeCounter(5).increment(3), 8);
});

test('pipelining: property of a pipelined result (makeCounter(7).value)', async () => {
  assert.equal(await stub.makeCounter(7).value, 7);
});

test('pipelining: a promise passed as an argument (square(returnNumber(4)))', async () => {
  assert.equal(await stub.square(stub.returnNumber(4)), 16);
  assert.equal(await stub.add(stub.square(2), stub.square(3)), 13);
});

test('pipelining: a pipelined counter passed as an argument', async () => {
  const counter = stub.makeCounter(10);
  assert.equal(await stub.incrementCounter(counter, 5), 15);
  assert.equal(await counter.value, 15);
  counter[Symbol.dispose]();
});

// ---------------------------------------------------------------------------------------------
// Callbacks both ways

class LocalSquarer extends RpcTarget {
  calls = 0;
  square(i) {
    this.calls++;
    return i * i;
  }
}

test('callback: server calls a client function (callFunction)', async () => {
  let seen = [];
  const fn = (i) => { seen.push(i); return i * 3; };
  assert.deepStrictEqual(await stub.callFunction(fn, 7), { result: 21 });
  assert.deepStrictEqual(seen, [7]);
  const asyncFn = async (i) => `v${i}`;
  assert.deepStrictEqual(await stub.callFunction(asyncFn, 2), { result: 'v2' });
});

test('callback: server calls a client RpcTarget (callSquare with a local target)', async () => {
  const local = new LocalSquarer();
  assert.deepStrictEqual(await stub.callSquare(local, 6), { result: 36 });
  assert.equal(local.calls, 1);
  assert.deepStrictEqual(await stub.callSquare(local, -2), { result: 4 });
  assert.equal(local.calls, 2);
});

test('callback: client function that throws propagates the error back', async () => {
  const fn = () => { throw new TypeError('from client'); };
  await assert.rejects(settle(stub.callFunction(fn, 1)), (err) => {
    assert.equal(err.name, 'TypeError');
    assert.equal(err.message, 'from client');
    return true;
  });
});

// ---------------------------------------------------------------------------------------------
// map()

test('map: generateFibonacci(6).map(i => stub.square(i))', async () => {
  const squares = await stub.generateFibonacci(6).map((i) => stub.square(i));
  assert.deepStrictEqual(squares, [0, 1, 1, 4, 9, 25]);
});

test('map: with a captured pipelined counter', async () => {
  const c = stub.makeCounter(0);
  const results = await stub.generateFibonacci(5).map((i) => c.increment(i));
  assert.deepStrictEqual(results, [0, 1, 2, 4, 7]);
  assert.equal(await c.value, 7);
  c[Symbol.dispose]();
});

test('map: over null gives null', async () => {
  assert.equal(await stub.returnNull().map((x) => stub.square(x)), null);
});

test('map: building objects from results', async () => {
  const out = await stub.generateFibonacci(4).map((i) => ({ n: i, sq: stub.square(i) }));
  assert.deepStrictEqual(out, [{ n: 0, sq: 0 }, { n: 1, sq: 1 }, { n: 1, sq: 1 }, { n: 2, sq: 4 }]);
});

// ---------------------------------------------------------------------------------------------
// HTTP batch

test('HTTP batch: several calls incl. pipelining queued before any await', async () => {
  const batch = newHttpBatchRpcSession(httpUrl);
  const pSquare = batch.square(5);
  const pCounter = batch.makeCounter(3).increment(2);
  const pAdd = batch.add(20, 22);
  const pFib = batch.generateFibonacci(10);
  const pPipe = batch.square(batch.returnNumber(6));
  const pEcho = batch.echo({ d: new Date(7), b: 9n, bytes: new Uint8Array([3]) });
  const results = await Promise.all([pSquare, pCounter, pAdd, pFib, pPipe, pEcho]);
  assert.deepStrictEqual(results.slice(0, 5), [25, 5, 42, FIB10, 36]);
  assertSameValue(results[5], { d: new Date(7), b: 9n, bytes: new Uint8Array([3]) }, 'batch echo');
});

test('HTTP batch: a second session, with an error and map', async () => {
  const batch = newHttpBatchRpcSession(httpUrl);
  const pErr = batch.throwError();
  const pMap = batch.generateFibonacci(5).map((i) => batch.square(i));
  const pNull = batch.returnNull();
  const pCounterValue = batch.makeCounter(11).value;
  const [err, mapped, nul, value] = await Promise.all([
    pErr.then(() => null, (e) => e), pMap, pNull, pCounterValue,
  ]);
  assert.ok(err instanceof RangeError);
  assert.equal(err.message, 'test error');
  assert.deepStrictEqual(mapped, [0, 1, 1, 4, 9]);
  assert.equal(nul, null);
  assert.equal(value, 11);
});

// ---------------------------------------------------------------------------------------------
// Load on one connection

test('5000 concurrent square calls on one WebSocket', async () => {
  const N = 5000;
  const promises = [];
  for (let i = 0; i < N; i++) promises.push(stub.square(i));
  const results = await Promise.all(promises);
  assert.equal(results.length, N);
  for (let i = 0; i < N; i++) {
    if (results[i] !== i * i) assert.fail(`square(${i}) returned ${results[i]}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Disposal

test('disposal: disposing a counter stub leaves the session usable', async () => {
  const counter = await stub.makeCounter(1);
  const other = await stub.makeCounter(100);
  assert.equal(await counter.increment(), 2);
  counter[Symbol.dispose]();
  await assert.rejects(settleCall(() => counter.increment()));
  assert.equal(await other.increment(), 101);
  assert.equal(await stub.square(12), 144);
  other[Symbol.dispose]();
});

test('disposal: disposing the main stub ends the session', async () => {
  const s = openSession();
  const counter = await s.makeCounter(1);
  assert.equal(await s.square(3), 9);
  s[Symbol.dispose]();
  await assert.rejects(settleCall(() => s.square(2)));
  await assert.rejects(settleCall(() => counter.increment()));
  // The shared session is unaffected.
  assert.equal(await stub.square(5), 25);
});

// ---------------------------------------------------------------------------------------------
// Two clients at once

test('two WebSocket sessions have independent state', async () => {
  const a = openSession();
  const b = openSession();
  const ca = a.makeCounter(0);
  const cb = b.makeCounter(1000);
  const results = [];
  for (let i = 1; i <= 5; i++) {
    results.push(await ca.increment(i));
    results.push(await cb.increment(-i));
  }
  assert.deepStrictEqual(results, [1, 999, 3, 997, 6, 994, 10, 990, 15, 985]);
  assert.deepStrictEqual(await Promise.all([ca.value, cb.value]), [15, 985]);
  // Interleaved, concurrent increments on both.
  const concurrent = await Promise.all([ca.increment(), cb.increment(), ca.increment(), cb.increment()]);
  assert.deepStrictEqual(concurrent, [16, 986, 17, 987]);
  a[Symbol.dispose]();
  b[Symbol.dispose]();
});
