// Wire-format oracle for differential testing against the Rust implementation.
// Usage: node golden.mjs   (JSON Lines on stdin, one JSON line out per input line)
//   {"op":"parse","wire":"<string>"} -> {"ok":true,"desc":<describe>,"reserialized":"<string>"}
//                                     | {"ok":false,"error":"<name>: <message>"}
//   {"op":"corpus"}                  -> {"corpus":[{"name":..,"wire":..,"desc":..}, ...]}
import './ws-global.mjs';
import readline from 'node:readline';
import { serialize, deserialize } from 'capnweb';
import { describe } from './describe.mjs';

function errorWithProps(ctor, message, props, options) {
  const e = options ? new ctor(message, options) : new ctor(message);
  Object.assign(e, props);
  return e;
}

function typedFromBytes(Ctor, bytes) {
  return new Ctor(new Uint8Array(bytes).buffer);
}

function buildCorpus() {
  const bytes0to255 = new Uint8Array(256);
  for (let i = 0; i < 256; i++) bytes0to255[i] = i;
  const shared = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]).buffer;

  let deep = 'bottom';
  for (let i = 0; i < 30; i++) deep = i % 2 ? [deep] : { d: deep };

  const headersMulti = new Headers();
  headersMulti.append('X-B', '2');
  headersMulti.append('x-a', '1');
  headersMulti.append('X-A', 'again');
  headersMulti.append('Set-Cookie', 'a=1');
  headersMulti.append('Set-Cookie', 'b=2');

  return [
    // primitives
    ['null', null],
    ['undefined', undefined],
    ['true', true],
    ['false', false],
    ['zero', 0],
    ['negative zero', -0],
    ['one', 1],
    ['negative int', -42],
    ['int32 max', 2147483647],
    ['max safe integer', Number.MAX_SAFE_INTEGER],
    ['2**53+1 (rounds to 2**53)', 2 ** 53 + 1],
    ['float', 3.14159],
    ['negative float', -1.5],
    ['0.1+0.2', 0.1 + 0.2],
    ['1e21', 1e21],
    ['1e-7', 1e-7],
    ['1e300', 1e300],
    ['max value', Number.MAX_VALUE],
    ['min positive subnormal', Number.MIN_VALUE],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['NaN', NaN],
    ['empty string', ''],
    ['ascii string', 'hello world'],
    ['unicode string', 'héllo wörld ÷ Ω 日本語'],
    ['emoji string', '😀 👍🏽 👨‍👩‍👧'],
    ['control chars', '\u0000\u0001\b\t\n\f\r\u001f\u007f'],
    ['quotes and backslash', 'say "hi" \\ \'there\' /'],
    ['line/paragraph separators', 'a\u2028b\u2029c'],
    ['string that looks like a tag', 'bigint'],
    // arrays
    ['empty array', []],
    ['array of numbers', [1, 2, 3]],
    ['nested arrays', [[1, [2, [3]]]]],
    ['array of empty array', [[]]],
    ['array with tag-like strings', ['date', 1]],
    ['array ["bigint","1"]', ['bigint', '1']],
    ['array ["undefined"]', ['undefined']],
    ['array ["error","x","y"]', ['error', 'x', 'y']],
    ['array ["inf"]', ['inf']],
    ['array of mixed', [null, undefined, true, 'x', 1.5, NaN, -Infinity, 5n]],
    ['sparse array', [1, , 3]],
    // objects
    ['empty object', {}],
    ['simple object', { a: 1, b: 'two', c: null }],
    ['object key order', { z: 1, a: 2, m: 3 }],
    ['object numeric-looking keys', { b: 1, a: 2, 10: 3, 2: 4, '-1': 5, '01': 6, '1.5': 7 }],
    ['object with undefined value', { a: undefined, b: 1 }],
    ['object with empty and odd keys', { '': 1, ' ': 2, 'with"quote': 3, 'ключ': 4, '😀': 5 }],
    ['nested object', { a: { b: { c: { d: [1, { e: 'f' }] } } } }],
    ['object with array of tag-like values', { x: ['date', 5], y: [['bigint', '1']] }],
    // bigint
    ['bigint 0', 0n],
    ['bigint -5', -5n],
    ['bigint 2**64', 2n ** 64n],
    ['bigint -(2**63)', -(2n ** 63n)],
    ['bigint 10**300', 10n ** 300n],
    // dates
    ['date valid', new Date(Date.UTC(2024, 0, 15, 12, 34, 56, 789))],
    ['date epoch 0', new Date(0)],
    ['date negative', new Date(-123456789000)],
    ['date max', new Date(8.64e15)],
    ['date invalid', new Date(NaN)],
    // bytes
    ['bytes empty', new Uint8Array(0)],
    ['bytes hello', new TextEncoder().encode('hello')],
    ['bytes 0..255', bytes0to255],
    ['bytes 1 byte (padding)', new Uint8Array([0xff])],
    ['bytes 2 bytes (padding)', new Uint8Array([0xfb, 0xff])],
    ['bytes subarray view', new Uint8Array(shared, 3, 5)],
    ['bytes node Buffer', Buffer.from([1, 2, 3, 250])],
    ['Int8Array', new Int8Array([-128, -1, 0, 1, 127])],
    ['Uint8ClampedArray', new Uint8ClampedArray([0, 128, 255])],
    ['Int16Array', new Int16Array([-32768, -1, 0, 1, 32767])],
    ['Uint16Array', new Uint16Array([0, 1, 0xbeef, 65535])],
    ['Int32Array', new Int32Array([-2147483648, -1, 0, 1, 2147483647])],
    ['Uint32Array', new Uint32Array([0, 1, 0xdeadbeef])],
    ['BigInt64Array', new BigInt64Array([-(2n ** 63n), -1n, 0n, 2n ** 63n - 1n])],
    ['BigUint64Array', new BigUint64Array([0n, 1n, 2n ** 64n - 1n])],
    ['Float32Array', new Float32Array([0, -0, 1.5, -2.25, Infinity, NaN])],
    ['Float64Array', new Float64Array([0, -0, Math.PI, -1e300, -Infinity, NaN])],
    ['Int16Array empty', new Int16Array(0)],
    ['Int16Array view with offset', new Int16Array(shared, 4, 3)],
    ['Float64Array from bytes', typedFromBytes(Float64Array, [1, 2, 3, 4, 5, 6, 7, 8])],
    ['ArrayBuffer', new Uint8Array([9, 8, 7, 6, 5]).buffer],
    ['ArrayBuffer empty', new ArrayBuffer(0)],
    ['DataView', new DataView(new Uint8Array([0xca, 0xfe, 0xba, 0xbe]).buffer)],
    ['DataView with offset', new DataView(shared, 2, 6)],
    // errors
    ['Error', new Error('plain error')],
    ['Error empty message', new Error()],
    ['TypeError', new TypeError('bad type')],
    ['RangeError', new RangeError('test error')],
    ['SyntaxError', new SyntaxError('bad syntax')],
    ['EvalError', new EvalError('bad eval')],
    ['ReferenceError', new ReferenceError('bad ref')],
    ['URIError', new URIError('bad uri')],
    ['AggregateError', new AggregateError([new Error('inner 1'), new TypeError('inner 2')], 'many errors')],
    ['Error with code', errorWithProps(Error, 'with code', { code: 42 })],
    ['Error with nested props', errorWithProps(TypeError, 'with props', { code: 'E_BAD', details: { list: [1, 'two', null], when: new Date(5) } })],
    ['Error with cause', new Error('outer', { cause: new RangeError('inner') })],
    ['Error with non-error cause', new Error('outer', { cause: { reason: 'x', n: 1n } })],
    ['Error with cause and props', errorWithProps(Error, 'outer', { code: 7 }, { cause: 'because' })],
    ['Error with custom name', errorWithProps(Error, 'custom', { name: 'MyError' })],
    ['Error unicode message', new Error('fehler ✗ 😀\nline 2')],
    // URL / Headers
    ['URL', new URL('https://example.com/path/to?x=1&y=%20#frag')],
    ['URL normalized', new URL('HTTP://Example.COM:80/a/../b')],
    ['URL unicode', new URL('https://例え.jp/パス?q=✓')],
    ['Headers empty', new Headers()],
    ['Headers', new Headers({ 'Content-Type': 'text/plain', 'X-Custom': 'v' })],
    ['Headers multi', headersMulti],
    // combinations
    ['object with specials', {
      n: null, u: undefined, b: true, i: 1, f: -0.5, inf: Infinity, nan: NaN, s: 'str',
      big: 123n, d: new Date(1000), bytes: new Uint8Array([1, 2]), arr: [1, [2]],
      err: new TypeError('te'), url: new URL('http://a.test/'), h: new Headers({ a: 'b' }),
    }],
    ['array of specials', [new Date(0), -7n, new Uint8Array([255]), new Int16Array([-2]), new Error('e'), [undefined], { k: ['bigint', 'x'] }]],
    ['big nested object', {
      users: [
        { id: 1, name: 'Ada', tags: ['admin', 'date'], joined: new Date(0), balance: 10n ** 20n },
        { id: 2, name: 'Bob', tags: [], joined: new Date(NaN), balance: -1n, avatar: new Uint8Array([0, 1, 2]) },
      ],
      meta: { total: 2, next: null, ratio: 0.5, flags: { a: true, b: false } },
      lastError: errorWithProps(RangeError, 'oops', { code: 42 }),
    }],
    ['deep nesting (30 levels)', deep],
  ];
}

function errorString(err) {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return `Error: ${String(err)}`;
}

function handle(line) {
  let req;
  try {
    req = JSON.parse(line);
  } catch (err) {
    return { ok: false, error: `BadRequest: ${errorString(err)}` };
  }
  if (req?.op === 'parse') {
    if (typeof req.wire !== 'string') return { ok: false, error: 'BadRequest: "wire" must be a string' };
    let value;
    try {
      value = deserialize(req.wire);
    } catch (err) {
      return { ok: false, error: errorString(err) };
    }
    let reserialized;
    try {
      reserialized = serialize(value);
    } catch (err) {
      reserialized = null;
      return { ok: true, desc: describe(value), reserialized, reserializeError: errorString(err) };
    }
    return { ok: true, desc: describe(value), reserialized };
  }
  if (req?.op === 'corpus') {
    const corpus = [];
    for (const [name, value] of buildCorpus()) {
      const wire = serialize(value);
      const desc = describe(value);
      const entry = { name, wire, desc };
      // Where the wire cannot carry the value exactly (e.g. -0 becomes 0), also give the
      // description of what the reference decodes from `wire`.
      const decoded = describe(deserialize(wire));
      if (JSON.stringify(decoded) !== JSON.stringify(desc)) entry.decoded = decoded;
      corpus.push(entry);
    }
    return { corpus };
  }
  return { ok: false, error: `BadRequest: unknown op ${JSON.stringify(req?.op)}` };
}

// A reader that stops early (e.g. `| head`) is not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (line.trim() === '') continue;
  process.stdout.write(JSON.stringify(handle(line)) + '\n');
}
