// The interop test interface, mirroring `Counter` and `TestTarget` from capnweb's own
// __tests__/test-util.ts (which is not shipped in the npm package).
import './ws-global.mjs';
import { RpcStub, RpcTarget } from 'capnweb';

export class Counter extends RpcTarget {
  #i;

  constructor(i = 0) {
    super();
    this.#i = i;
  }

  increment(amount = 1) {
    this.#i += amount;
    return this.#i;
  }

  get value() {
    return this.#i;
  }
}

// Distinct function so it can be found in a stack trace (as in the reference).
function throwErrorImpl() {
  throw new RangeError('test error');
}

export class TestTarget extends RpcTarget {
  square(i) {
    return i * i;
  }

  add(a, b) {
    return a + b;
  }

  echo(value) {
    return value;
  }

  // `self` is a stub; the result holds the (pipelined) promise of the call back into it.
  callSquare(self, i) {
    return { result: self.square(i) };
  }

  async callFunction(func, i) {
    return { result: await func(i) };
  }

  throwError() {
    throwErrorImpl();
  }

  makeCounter(i) {
    return new Counter(i);
  }

  incrementCounter(counter, i = 1) {
    return counter.increment(i);
  }

  // What a `Request` holds, read on this side.
  async requestInfo(req) {
    return { url: req.url, method: req.method, body: await req.text() };
  }

  // Increments `counter` by each of the first `n` Fibonacci numbers, through a map on a
  // promise of this object: the calls reach `counter` with promise arguments settled later,
  // in order, and their answers are the running sums.
  incrementByFibonacci(counter, n) {
    return new RpcStub(this).generateFibonacci(n).map((x) => counter.increment(x));
  }

  generateFibonacci(length) {
    const result = [0, 1];
    if (length <= result.length) return result.slice(0, length);
    while (result.length < length) {
      result.push(result[result.length - 1] + result[result.length - 2]);
    }
    return result;
  }

  returnNull() {
    return null;
  }

  returnUndefined() {
    return undefined;
  }

  returnNumber(i) {
    return i;
  }

  // Beyond the reference's TestTarget: streams and blobs.

  async readStream(stream) {
    const out = [];
    for await (const chunk of stream) out.push(chunk);
    return out;
  }

  makeStream(n) {
    let i = 0;
    return new ReadableStream({
      pull(controller) {
        if (i < n) controller.enqueue(i++);
        else controller.close();
      },
    });
  }

  // Reads one chunk of `stream`, then cancels it with `new Error(reason)`.
  async cancelStream(stream, reason) {
    const reader = stream.getReader();
    const first = await reader.read();
    await reader.cancel(new Error(reason));
    return first.value;
  }

  // An endless stream that records why its reader cancelled it (see `lastCancelReason`).
  makeCancellableStream() {
    let i = 0;
    return new ReadableStream({
      pull: (controller) => controller.enqueue(i++),
      cancel: (reason) => {
        this.cancelReason = reason instanceof Error ? reason.message : String(reason);
      },
    });
  }

  lastCancelReason() {
    return this.cancelReason ?? null;
  }

  // Calls `increment(1)` on each counter the stream carries.
  async incrementEach(stream) {
    const sums = [];
    for await (const counter of stream) sums.push(await counter.increment(1));
    return sums;
  }

  // A stream of `n` new counters, starting at 0, 10, 20, ...
  makeCounterStream(n) {
    let i = 0;
    return new ReadableStream({
      pull(controller) {
        if (i < n) controller.enqueue(new Counter(10 * i++));
        else controller.close();
      },
    });
  }

  async writeTo(sink, n) {
    const writer = sink.getWriter();
    for (let i = 0; i < n; i++) await writer.write(i);
    await writer.close();
  }

  async blobInfo(blob) {
    return [blob.type, blob.size, await blob.text()];
  }

  makeBlob(text, type) {
    return new Blob([text], { type });
  }

  // A typed application error, thrown both ways a TypeScript server would: its own error
  // class (which travels with its name), and a plain Error tagged with a `kind` property.
  withdraw(amount) {
    if (!(amount > 0)) {
      throw Object.assign(new Error('the amount must be positive'), { kind: 'NotPositive' });
    }
    if (amount > BALANCE) throw new InsufficientFunds(BALANCE, amount);
    // The Rust variant's `message` field is read from the message.
    if (!Number.isInteger(amount)) {
      throw Object.assign(new Error(`${amount} is not a whole amount`), { kind: 'NotWhole' });
    }
    return BALANCE - amount;
  }
}

const BALANCE = 10;

class InsufficientFunds extends Error {
  constructor(balance, requested) {
    super(`insufficient funds: ${requested} requested, ${balance} available`);
    this.name = 'InsufficientFunds';
    this.balance = balance;
    this.requested = requested;
  }
}
