// A TypeScript front end typed against our Rust server, by the declarations that
// `#[rpc_interface(typescript)]` generates (`generated/interop.ts`). tsc --strict checks it;
// then it runs against the server:
//   node --import ./ws-global.mjs typed/out/client.js <ws-url> <http-url>
// (Node 20 has no global WebSocket: ws-global.mjs lends it the `ws` package's.)
import { newHttpBatchRpcSession, newWebSocketRpcSession } from 'capnweb';
import type { Counter, Pending, TestTarget } from './generated/interop.js';

// Node's own types are not needed for two names.
declare const process: { argv: string[]; exit(code: number): never };

const [wsUrl, httpUrl] = process.argv.slice(2);

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`failed: ${what}`);
  console.log(`ok - ${what}`);
}

const api = newWebSocketRpcSession<TestTarget>(wsUrl);

const nine: number = await api.square(3);
check(nine === 9, 'a typed call');

// Pipelining: the counter is used before it arrives.
const counter = api.makeCounter(10);
const eleven: number = await counter.increment();
check(eleven === 11, 'an optional trailing parameter left out, pipelined');
const value: number = await counter.value;
check(value === 11, 'a readonly property');
check((await api.incrementCounter(counter, 5)) === 16, 'a capability as an argument');

const fib: number[] = await api.generateFibonacci(6);
check(fib.join(',') === '0,1,1,2,3,5', 'an array result');

const maybe: number | null = await api.returnNull();
check(maybe === null, 'an Option result is null');

const pending: Pending = await api.callSquare(api, 4);
check((await pending.result) === 16, 'a promise inside a result');

const [type, size, text] = await api.blobInfo(new Blob(['hey'], { type: 'text/plain' }));
check(type === 'text/plain' && size === 3 && text === 'hey', 'a tuple result, a Blob argument');

const doubled = await api.callFunction((x: unknown) => Number(x) * 2, 21);
check(doubled.result === 42, 'a callback');

try {
  await api.withdraw(50);
  check(false, 'withdraw(50) fails');
} catch (e: any) {
  check(e.kind === 'InsufficientFunds' && e.balance === 10, 'a typed application error');
}

const batch = newHttpBatchRpcSession<TestTarget>(httpUrl);
const [a, b] = await Promise.all([batch.square(5), batch.makeCounter(1).increment(2)]);
check(a === 25 && b === 3, 'an HTTP batch, pipelined');

// What the types must refuse. Never called: tsc must find an error on each marked line, or the
// `@ts-expect-error` itself fails the build.
function misuse(api: TestTarget, counter: Counter) {
  // @ts-expect-error: a string where a number is declared
  api.square('x');
  // @ts-expect-error: no such method
  api.squareRoot(4);
  // @ts-expect-error: a missing required argument
  api.square();
  // @ts-expect-error: a property is read-only
  counter.value = 3;
  // @ts-expect-error: a wrong type in a pipelined call on a stub
  newWebSocketRpcSession<TestTarget>(wsUrl).makeCounter(1).increment('two');
}
void misuse;

api[Symbol.dispose]();
console.log('# done');
process.exit(0);
