/**
 * Writes the JavaScript of one message type's codec: `d` (decode), `s` (size) and `w` (write),
 * straight-line code over the type's fields in the manner of protobuf-es's own compiled closures,
 * but with no reader, writer, context or chunk objects per call. The source is made only from the
 * descriptor (field numbers, types, names quoted with JSON.stringify), never from data.
 *
 * Contract of the generated functions (registry `R` holds every compiled type by index):
 * - `d(cur, end, depth, m)` reads fields until `end` into `m` (a new zero message when undefined,
 *   shaped as protobuf-es's `create()` makes it) and returns it.
 * - `s(m, L)` returns the encoded size of `m` (message or init shape) and pushes onto `L` the
 *   lengths `w` will need, in the order `w` takes them.
 * - `w(m, o)` writes `m` at `o.pos`.
 * Each calls `H()` (hand over) on anything that is not the plain case; proto-codec.ts then asks
 * protobuf-es. What "plain" means per field kind is spelled out where each piece is written.
 */
import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { varintSize, writeVarint } from './wire.js';

// Field presence (google.protobuf.FeatureSet.FieldPresence).
const IMPLICIT = 2;
// Wire types.
const VARINT = 0;
const BIT64 = 1;
const LENGTH_DELIMITED = 2;
const BIT32 = 5;

/** Names the generated code calls; proto-codec.ts passes these helpers in under these names. */
export const HELPER_NAMES = [
  'H',
  'rv32',
  'vs32',
  'wv32',
  'rtag',
  'dend',
  'rstr',
  'wstr',
  'rbytes',
  'wbytes',
  'rbool',
  'fixedAt',
  'checkLong',
  'lsize',
  'wlong',
  'rlong',
  'wfix64',
  'rfix64',
  'blen',
  'zz32',
] as const;

interface ScalarShape {
  readonly wireType: number;
  /** An expression true when `v` must be written under implicit presence (protobuf-es's test). */
  nonZero(v: string): string;
  /** Statements that hand over unless `v` is the plain JS type, then add its size (no tag) to `acc`. */
  size(v: string, acc: string): string;
  /** Statements writing `v` (no tag) to `o`. */
  write(v: string): string;
  /** An expression reading one value, bounded by `end`. */
  read(end: string): string;
}

const F32_MAX = '3.4028234663852886e38';

function scalarShape(type: ScalarType, enumZero?: number): ScalarShape {
  const int32 = (v: string): string => `if (typeof ${v} !== "number" || (${v} | 0) !== ${v}) H();`;
  const uint32 = (v: string): string => `if (typeof ${v} !== "number" || !(${v} >= 0 && ${v} <= 4294967295) || ${v} !== Math.floor(${v})) H();`;
  // protobuf-es compares loosely, so 0, 0n and "0" are all zero for integer fields.
  const looseNonZero = (v: string): string => `${v} != 0`;
  const long = (kind: number) => ({
    wireType: VARINT,
    nonZero: looseNonZero,
    size: (v: string, acc: string) => `checkLong(${v}, ${kind}); ${acc} += lsize(${v}, ${kind});`,
    write: (v: string) => `wlong(o, ${v}, ${kind});`,
    read: (end: string) => `rlong(c, ${end}, ${kind})`,
  });
  switch (type) {
    case ScalarType.STRING:
      return {
        wireType: LENGTH_DELIMITED,
        nonZero: (v) => `${v} !== ""`,
        size: (v, acc) => `if (typeof ${v} !== "string") H(); { const n = blen(${v}); L.push(n); ${acc} += vs32(n) + n; }`,
        write: (v) => `wstr(o, ${v}, o.lengths[o.next++]);`,
        read: (end) => `rstr(c, ${end})`,
      };
    case ScalarType.BYTES:
      return {
        wireType: LENGTH_DELIMITED,
        nonZero: (v) => `!(${v} instanceof Uint8Array && ${v}.byteLength === 0)`,
        size: (v, acc) => `if (!(${v} instanceof Uint8Array)) H(); ${acc} += vs32(${v}.byteLength) + ${v}.byteLength;`,
        write: (v) => `wbytes(o, ${v});`,
        read: (end) => `rbytes(c, ${end})`,
      };
    case ScalarType.BOOL:
      return {
        wireType: VARINT,
        nonZero: (v) => `${v} !== false`,
        size: (v, acc) => `if (typeof ${v} !== "boolean") H(); ${acc} += 1;`,
        write: (v) => `o.buf[o.pos++] = ${v} ? 1 : 0;`,
        read: (end) => `rbool(c, ${end})`,
      };
    case ScalarType.INT32:
      return {
        wireType: VARINT,
        nonZero: enumZero === undefined ? looseNonZero : (v) => `${v} !== ${enumZero}`,
        size: (v, acc) => `${int32(v)} ${acc} += vs32(${v});`,
        write: (v) => `wv32(o, ${v});`,
        read: (end) => `(rv32(c, ${end}) | 0)`,
      };
    case ScalarType.UINT32:
      return {
        wireType: VARINT,
        nonZero: looseNonZero,
        size: (v, acc) => `${uint32(v)} ${acc} += vs32(${v});`,
        write: (v) => `wv32(o, ${v});`,
        read: (end) => `rv32(c, ${end})`,
      };
    case ScalarType.SINT32:
      return {
        wireType: VARINT,
        nonZero: looseNonZero,
        size: (v, acc) => `${int32(v)} ${acc} += vs32(((${v} << 1) ^ (${v} >> 31)) >>> 0);`,
        write: (v) => `wv32(o, ((${v} << 1) ^ (${v} >> 31)) >>> 0);`,
        read: (end) => `zz32(rv32(c, ${end}))`,
      };
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32: {
      const [check, method] = type === ScalarType.FIXED32 ? [uint32, 'UInt32LE'] : [int32, 'Int32LE'];
      return {
        wireType: BIT32,
        nonZero: looseNonZero,
        size: (v, acc) => `${check(v)} ${acc} += 4;`,
        write: (v) => `o.buf.write${method}(${v}, o.pos); o.pos += 4;`,
        read: (end) => `c.buf.read${method}(fixedAt(c, ${end}, 4))`,
      };
    }
    case ScalarType.FLOAT:
      return {
        wireType: BIT32,
        // Object.is tells -0 from 0, as protobuf-es does.
        nonZero: (v) => `!Object.is(${v}, 0)`,
        size: (v, acc) => `if (typeof ${v} !== "number" || (Number.isFinite(${v}) && Math.abs(${v}) > ${F32_MAX})) H(); ${acc} += 4;`,
        write: (v) => `o.buf.writeFloatLE(${v}, o.pos); o.pos += 4;`,
        read: (end) => `c.buf.readFloatLE(fixedAt(c, ${end}, 4))`,
      };
    case ScalarType.DOUBLE:
      return {
        wireType: BIT64,
        nonZero: (v) => `!Object.is(${v}, 0)`,
        size: (v, acc) => `if (typeof ${v} !== "number") H(); ${acc} += 8;`,
        write: (v) => `o.buf.writeDoubleLE(${v}, o.pos); o.pos += 8;`,
        read: (end) => `c.buf.readDoubleLE(fixedAt(c, ${end}, 8))`,
      };
    case ScalarType.INT64:
      return long(0);
    case ScalarType.UINT64:
      return long(1);
    case ScalarType.SINT64:
      return long(2);
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64: {
      const unsigned = type === ScalarType.FIXED64;
      return {
        wireType: BIT64,
        nonZero: looseNonZero,
        size: (v, acc) => `checkLong(${v}, ${unsigned ? 1 : 0}); ${acc} += 8;`,
        write: (v) => `wfix64(o, ${v}, ${unsigned});`,
        read: (end) => `rfix64(c, ${end}, ${unsigned})`,
      };
    }
  }
}

/** A tag's bytes, known when the code is written. */
function tagBytes(number: number, wireType: number): number[] {
  const buf = Buffer.alloc(5);
  return [...buf.subarray(0, writeVarint(buf, 0, ((number << 3) | wireType) >>> 0))];
}

function writeTag(number: number, wireType: number): string {
  return tagBytes(number, wireType)
    .map((b) => `o.buf[o.pos++] = ${b};`)
    .join(' ');
}

function tagSize(number: number, wireType: number): number {
  return varintSize(((number << 3) | wireType) >>> 0);
}

/** The zero value protobuf-es's `create()` gives an implicit-presence field, as source. */
function zeroLiteral(field: DescField & { fieldKind: 'scalar' | 'enum' }): string {
  if (field.fieldKind === 'enum') return String(field.enum.values[0]!.number);
  switch (field.scalar) {
    case ScalarType.STRING:
      return '""';
    case ScalarType.BOOL:
      return 'false';
    case ScalarType.BYTES:
      return 'new Uint8Array(0)';
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return '0n';
    default:
      return '0';
  }
}

/** The generated source of one type: an object literal `{ d, s, w }`. */
export function generateCodec(desc: DescMessage, indexOf: (d: DescMessage) => number): string {
  const fields = [...desc.fields].sort((a, b) => a.number - b.number);
  const typeName = JSON.stringify(desc.typeName);

  // The zero message, member by member in declaration order as create() lays it out: implicit
  // scalars get their zero, lists a new array; message and explicit-presence fields stay absent.
  const zero = [`"$typeName": ${typeName}`];
  for (const field of desc.fields) {
    if (field.fieldKind === 'list') zero.push(`${JSON.stringify(field.localName)}: []`);
    else if ((field.fieldKind === 'scalar' || field.fieldKind === 'enum') && field.presence === IMPLICIT) zero.push(`${JSON.stringify(field.localName)}: ${zeroLiteral(field)}`);
  }

  const cases: string[] = [];
  const sizes: string[] = [];
  const writes: string[] = [];
  for (const field of fields) {
    const key = `m[${JSON.stringify(field.localName)}]`;
    const no = field.number;
    switch (field.fieldKind) {
      case 'scalar':
      case 'enum': {
        const shape = field.fieldKind === 'enum' ? scalarShape(ScalarType.INT32, field.enum.values[0]!.number) : scalarShape(field.scalar);
        const tag = tagSize(no, shape.wireType);
        cases.push(`case ${((no << 3) | shape.wireType) >>> 0}: ${key} = ${shape.read('end')}; break;`);
        if (field.presence === IMPLICIT) {
          // Unset in an init shape means zero; in a message an unset implicit field is malformed, and protobuf-es's to refuse.
          sizes.push(`v = ${key}; if (v === undefined) { if (isMsg) H(); } else if (${shape.nonZero('v')}) { ${shape.size('v', 's')} s += ${tag}; }`);
          writes.push(`v = ${key}; if (v !== undefined && ${shape.nonZero('v')}) { ${writeTag(no, shape.wireType)} ${shape.write('v')} }`);
        } else {
          sizes.push(`v = ${key}; if (v !== undefined) { if (v === null) H(); ${shape.size('v', 's')} s += ${tag}; }`);
          writes.push(`v = ${key}; if (v !== undefined) { ${writeTag(no, shape.wireType)} ${shape.write('v')} }`);
        }
        break;
      }
      case 'message': {
        const child = `R[${indexOf(field.message)}]`;
        cases.push(`case ${(no << 3) | LENGTH_DELIMITED}: { const e = dend(c, end); ${key} = ${child}.d(c, e, depth + 1, ${key}); break; }`);
        sizes.push(
          `v = ${key}; if (v !== undefined) { if (typeof v !== "object" || v === null) H(); const k = L.length; L.push(0); const n = ${child}.s(v, L); L[k] = n; s += ${tagSize(no, LENGTH_DELIMITED)} + vs32(n) + n; }`,
        );
        writes.push(`v = ${key}; if (v !== undefined) { ${writeTag(no, LENGTH_DELIMITED)} wv32(o, o.lengths[o.next++]); ${child}.w(v, o); }`);
        break;
      }
      case 'list': {
        const listCheck = `v = ${key}; if (v === undefined) { if (isMsg) H(); v = EMPTY; } else if (!Array.isArray(v)) H();`;
        if (field.listKind === 'message') {
          const child = `R[${indexOf(field.message)}]`;
          cases.push(`case ${(no << 3) | LENGTH_DELIMITED}: { const e = dend(c, end); ${key}.push(${child}.d(c, e, depth + 1, undefined)); break; }`);
          sizes.push(
            `${listCheck} for (let i = 0; i < v.length; i++) { const x = v[i]; if (typeof x !== "object" || x === null) H(); const k = L.length; L.push(0); const n = ${child}.s(x, L); L[k] = n; s += ${tagSize(no, LENGTH_DELIMITED)} + vs32(n) + n; }`,
          );
          writes.push(`v = ${key}; if (v !== undefined) for (let i = 0; i < v.length; i++) { ${writeTag(no, LENGTH_DELIMITED)} wv32(o, o.lengths[o.next++]); ${child}.w(v[i], o); }`);
          break;
        }
        const shape = field.listKind === 'enum' ? scalarShape(ScalarType.INT32) : scalarShape(field.scalar);
        const packable = shape.wireType !== LENGTH_DELIMITED;
        // Either encoding is read, whichever the sender chose, as protobuf-es does.
        cases.push(`case ${((no << 3) | shape.wireType) >>> 0}: ${key}.push(${shape.read('end')}); break;`);
        if (packable) cases.push(`case ${(no << 3) | LENGTH_DELIMITED}: { const e = dend(c, end); const a = ${key}; while (c.pos < e) a.push(${shape.read('e')}); break; }`);
        if (field.packed && packable) {
          sizes.push(
            `${listCheck} if (v.length > 0) { const k = L.length; L.push(0); let n = 0; for (let i = 0; i < v.length; i++) { const x = v[i]; ${shape.size('x', 'n')} } L[k] = n; s += ${tagSize(no, LENGTH_DELIMITED)} + vs32(n) + n; }`,
          );
          writes.push(`v = ${key}; if (v !== undefined && v.length > 0) { ${writeTag(no, LENGTH_DELIMITED)} wv32(o, o.lengths[o.next++]); for (let i = 0; i < v.length; i++) { const x = v[i]; ${shape.write('x')} } }`);
        } else {
          sizes.push(`${listCheck} for (let i = 0; i < v.length; i++) { const x = v[i]; ${shape.size('x', 's')} s += ${tagSize(no, shape.wireType)}; }`);
          writes.push(`v = ${key}; if (v !== undefined) for (let i = 0; i < v.length; i++) { const x = v[i]; ${writeTag(no, shape.wireType)} ${shape.write('x')} }`);
        }
        break;
      }
      case 'map':
        throw new Error(`${desc.typeName}.${field.name}: map fields are not compiled`);
    }
  }

  return `({
d(c, end, depth, m) {
  if (depth > MAX_DEPTH) H();
  if (m === undefined) m = { ${zero.join(', ')} };
  while (c.pos < end) {
    switch (rtag(c, end)) {
      ${cases.join('\n      ')}
      default: H(); // unknown fields (protobuf-es keeps them in $unknown), wire types that do not match
    }
  }
  return m;
},
s(m, L) {
  const tn = m.$typeName;
  const isMsg = tn !== undefined;
  if (isMsg && tn !== ${typeName}) H();
  const u = m.$unknown;
  if (u !== undefined && (!Array.isArray(u) || u.length > 0)) H();
  let s = 0;
  let v;
  ${sizes.join('\n  ')}
  return s;
},
w(m, o) {
  let v;
  ${writes.join('\n  ')}
},
})`;
}
