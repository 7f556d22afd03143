// Checks that only a server with typed parameters can pass: what a Rust `#[rpc_interface]`
// server answers a TypeScript caller that passes the wrong types or leaves arguments out.
// Usage: node typed-server-suite.mjs <ws-url> [<http-url>, unused]
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

test('a string where a number is declared is a TypeError naming method and argument', async () => {
  await assert.rejects(async () => await api.square('x'), (e) => {
    assert.equal(e.name, 'TypeError');
    assert.equal(e.message, 'square: argument `i`: invalid type: string "x", expected f64');
    return true;
  });
});

test('a missing required argument is a TypeError naming it', async () => {
  await assert.rejects(async () => await api.makeCounter(), (e) => {
    assert.equal(e.name, 'TypeError');
    assert.equal(e.message, 'makeCounter: missing argument `i`');
    return true;
  });
});

test('a wrong argument to a capability method is refused too', async () => {
  const counter = api.makeCounter(1);
  await assert.rejects(async () => await counter.increment('lots'), (e) => e.name === 'TypeError'
    && e.message.startsWith('increment: argument `amount`'));
  assert.equal(await counter.increment(), 2, 'an omitted trailing Option reaches None');
  counter[Symbol.dispose]();
});

test('an object where a capability is declared is refused', async () => {
  await assert.rejects(async () => await api.incrementCounter({ increment: 1 }, 1), (e) => e.name === 'TypeError'
    && e.message.startsWith('incrementCounter: argument `counter`'));
});

test('a typed application error arrives with its message, fields and kind', async () => {
  await assert.rejects(async () => await api.withdraw(50), (e) => {
    // The npm client rebuilds only JavaScript's own classes: any other name is a plain Error.
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'Error');
    assert.equal(e.message, 'insufficient funds: 50 requested, 10 available');
    assert.equal(e.kind, 'InsufficientFunds');
    assert.equal(e.balance, 10);
    assert.equal(e.requested, 50);
    return true;
  });
  await assert.rejects(async () => await api.withdraw(-1), (e) => e.kind === 'NotPositive'
    && e.message === 'the amount must be positive' && !('balance' in e));
  // A Rust `message` field is the Error's own message.
  await assert.rejects(async () => await api.withdraw(2.5), (e) => {
    assert.equal(e.kind, 'NotWhole');
    assert.equal(e.message, '2.5 is not a whole amount');
    assert.deepEqual(Object.keys(e).sort(), ['kind']);
    return true;
  });
  assert.equal(await api.withdraw(4), 6);
});

test('the server keeps serving after bad calls', async () => {
  assert.equal(await api.square(12), 144);
});
