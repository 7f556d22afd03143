// Canonical, language-neutral description of a value decoded from the Cap'n Web wire format.
// Shared by golden.mjs and client-suite.mjs; the Rust side implements the same format.
const NATIVE_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const TYPED_ARRAY_KINDS = new Map([
  [Int8Array.prototype, ['Int8Array', 1]],
  [Uint8ClampedArray.prototype, ['Uint8ClampedArray', 1]],
  [Int16Array.prototype, ['Int16Array', 2]],
  [Uint16Array.prototype, ['Uint16Array', 2]],
  [Int32Array.prototype, ['Int32Array', 4]],
  [Uint32Array.prototype, ['Uint32Array', 4]],
  [BigInt64Array.prototype, ['BigInt64Array', 8]],
  [BigUint64Array.prototype, ['BigUint64Array', 8]],
  [Float32Array.prototype, ['Float32Array', 4]],
  [Float64Array.prototype, ['Float64Array', 8]],
  [DataView.prototype, ['DataView', 1]],
]);

function hexOf(bytes, elementSize = 1) {
  let out = '';
  if (elementSize > 1 && !NATIVE_LITTLE_ENDIAN) {
    // The wire is little-endian: emit each element's bytes reversed on big-endian hosts.
    for (let i = 0; i < bytes.length; i += elementSize) {
      for (let j = elementSize - 1; j >= 0; j--) out += bytes[i + j].toString(16).padStart(2, '0');
    }
    return out;
  }
  for (let i = 0; i < bytes.length; i++) out += bytes[i].toString(16).padStart(2, '0');
  return out;
}

function describeNumber(n) {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (Object.is(n, -0)) return '-0';
  return String(n);
}

export function describe(v) {
  if (v === null) return { t: 'null' };
  switch (typeof v) {
    case 'undefined': return { t: 'undefined' };
    case 'boolean': return { t: 'bool', v };
    case 'number': return { t: 'number', v: describeNumber(v) };
    case 'string': return { t: 'string', v };
    case 'bigint': return { t: 'bigint', v: v.toString() };
    case 'object': break;
    default: return { t: 'other', v: String(v) };
  }
  if (v instanceof Date) {
    const time = v.getTime();
    return { t: 'date', v: Number.isNaN(time) ? null : time };
  }
  // Uint8Array and Node's Buffer (which deserialize() produces for plain bytes).
  if (v instanceof Uint8Array) {
    return { t: 'bytes', kind: null, hex: hexOf(v) };
  }
  if (v instanceof ArrayBuffer) {
    return { t: 'bytes', kind: 'ArrayBuffer', hex: hexOf(new Uint8Array(v)) };
  }
  if (ArrayBuffer.isView(v)) {
    const [kind, size] = TYPED_ARRAY_KINDS.get(Object.getPrototypeOf(v)) ?? [v.constructor?.name ?? 'unknown', 1];
    return { t: 'bytes', kind, hex: hexOf(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), size) };
  }
  if (v instanceof Error) {
    const props = {};
    for (const key of Object.keys(v)) {
      if (key === 'name' || key === 'message' || key === 'stack') continue;
      props[key] = describe(v[key]);
    }
    if ('cause' in v && !Object.hasOwn(props, 'cause')) props.cause = describe(v.cause);
    if (v instanceof AggregateError && !Object.hasOwn(props, 'errors')) props.errors = describe(v.errors);
    return { t: 'error', name: v.name, message: v.message, props };
  }
  if (Array.isArray(v)) {
    const out = [];
    for (let i = 0; i < v.length; i++) out.push(describe(v[i]));
    return { t: 'array', v: out };
  }
  if (v instanceof URL) return { t: 'url', v: v.href };
  if (v instanceof Headers) return { t: 'headers', v: [...v] };
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) {
    return { t: 'object', v: Object.keys(v).map((k) => [k, describe(v[k])]) };
  }
  return { t: 'other', v: String(v) };
}
