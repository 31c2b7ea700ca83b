/**
 * Protobuf encoding and decoding of the messages a ttrpc call carries: generated per message
 * type, with protobuf-es as the reference and the fallback.
 *
 * protobuf-es 2 compiles its codecs to closures, but every call still builds a reader or a writer,
 * a read context, a `[field, wireType]` pair per tag and a list of chunks joined at the end. On a
 * server answering one call at a time that is a good part of a request's own time when caches are
 * cold (docs/benchmarks.md, round 10). Here each type gets straight-line code (proto-codegen.ts):
 * a message is sized first and written into one buffer of exactly that size, and read with a
 * plain cursor into an object shaped as protobuf-es's `create()` shapes it.
 *
 * Only the common shapes are compiled: proto3 messages whose fields are scalars, open enums,
 * messages (not the unboxed wrappers or Struct) and repeated fields of those — every message of
 * the task API, its events and the runtime options but UpdateTaskRequest (a map). Anything else
 * goes to protobuf-es whole. The compiled code also hands an input over to protobuf-es the moment
 * it is not the plain case: unknown fields, a wire type that does not match the field, a field
 * running past its message, a value of the wrong JavaScript type, `$unknown` to write. protobuf-es
 * then gives the result or the error it always gives, so for messages protobuf-es makes and plain
 * init objects the answer is protobuf-es's, only sooner (test/unit/ttrpc/proto-codec.test.ts
 * holds both to that over random, mutated and truncated input).
 */
import { create, fromBinary, toBinary, type DescField, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { isWrapperDesc } from '@bufbuild/protobuf/wkt';
import { generateCodec, HELPER_NAMES } from './proto-codegen.js';
import * as wire from './proto-wire.js';

// Field presence (google.protobuf.FeatureSet.FieldPresence) and google.protobuf.Edition.EDITION_PROTO3.
const EXPLICIT = 1;
const IMPLICIT = 2;
const EDITION_PROTO3 = 999;
/** protobuf-es's default read recursion limit; deeper input is left to it. */
const MAX_DEPTH = 100;

interface Fields {
  [name: string]: unknown;
}

/** One compiled type, as generated: decode, size, write. */
interface CompiledCodec {
  d(cur: wire.Cursor, end: number, depth: number, m: Fields | undefined): Fields;
  s(m: Fields, lengths: number[]): number;
  w(m: Fields, out: wire.Out): void;
}

// --- which types are compiled -------------------------------------------------------------------

const compilableCache = new WeakMap<DescMessage, boolean>();

function compilable(desc: DescMessage, visiting?: Set<DescMessage>): boolean {
  if (generationFailed) return false;
  const known = compilableCache.get(desc);
  if (known !== undefined) return known;
  visiting ??= new Set();
  if (visiting.has(desc)) return true; // a cycle: decided by the fields outside it
  visiting.add(desc);
  let ok = desc.file.edition === EDITION_PROTO3;
  for (const field of desc.fields) {
    if (!ok) break;
    ok = fieldCompilable(field, visiting);
  }
  visiting.delete(desc);
  if (visiting.size === 0 || !ok) compilableCache.set(desc, ok);
  return ok;
}

function fieldCompilable(field: DescField, visiting: Set<DescMessage>): boolean {
  if (field.oneof !== undefined) return false;
  switch (field.fieldKind) {
    case 'map':
      return false;
    case 'scalar':
      return (field.presence === IMPLICIT || field.presence === EXPLICIT) && !field.longAsString;
    case 'enum':
      return (field.presence === IMPLICIT || field.presence === EXPLICIT) && field.enum.open;
    case 'message':
      // protobuf-es keeps wrapper fields unboxed (a scalar) and Struct fields as JSON objects.
      return !field.delimitedEncoding && !isWrapperDesc(field.message) && field.message.typeName !== 'google.protobuf.Struct' && compilable(field.message, visiting);
    case 'list':
      if (field.listKind === 'message') return !field.delimitedEncoding && field.message.typeName !== 'google.protobuf.Struct' && compilable(field.message, visiting);
      if (field.listKind === 'enum') return field.enum.open;
      return !field.longAsString;
  }
}

// --- compiling ----------------------------------------------------------------------------------

/** The helpers by the names the generated code uses (proto-codegen.ts, HELPER_NAMES). */
const helpers: Record<(typeof HELPER_NAMES)[number], unknown> = {
  H: wire.handOver,
  rv32: wire.readVarint32,
  vs32: wire.varint32Size,
  wv32: wire.writeVarint32,
  rtag: wire.readTag,
  dend: wire.delimitedEnd,
  rstr: wire.readString,
  wstr: wire.writeString,
  rbytes: wire.readBytes,
  wbytes: wire.writeBytes,
  rbool: wire.readBool,
  fixedAt: wire.fixedAt,
  checkLong: wire.checkLong,
  lsize: wire.longVarintSize,
  wlong: wire.writeLongVarint,
  rlong: wire.readLongVarint,
  wfix64: wire.writeFixed64,
  rfix64: wire.readFixed64,
  blen: (s: string): number => Buffer.byteLength(s, 'utf8'),
  zz32: wire.unzigzag32,
};

/** Every compiled type, by the index the generated code refers to it with. */
const registry: CompiledCodec[] = [];
const indexOfType = new WeakMap<DescMessage, number>();

/**
 * Set when code could not be generated at all (a process run with
 * `--disallow-code-generation-from-strings`, or a bug): everything then goes to protobuf-es.
 */
let generationFailed = false;

/** The codec of `desc`, generating it (and the types it contains) on first use; undefined when none can be made. */
function codecOf(desc: DescMessage): CompiledCodec | undefined {
  const known = indexOfType.get(desc);
  if (known !== undefined) return registry[known];
  // Types are given their index before their code is made, so recursive types refer to themselves.
  const pending: DescMessage[] = [];
  const indexOf = (d: DescMessage): number => {
    let i = indexOfType.get(d);
    if (i === undefined) {
      i = registry.length;
      registry.push(undefined as unknown as CompiledCodec);
      indexOfType.set(d, i);
      pending.push(d);
    }
    return i;
  };
  indexOf(desc);
  try {
    while (pending.length > 0) {
      const d = pending.shift()!;
      const source = generateCodec(d, indexOf);
      // The source is made from the descriptor alone (proto-codegen.ts); nothing of any input is in it.
      const factory = new Function('h', 'R', 'EMPTY', 'MAX_DEPTH', `const { ${HELPER_NAMES.join(', ')} } = h;\nreturn ${source};`) as (
        h: typeof helpers,
        r: CompiledCodec[],
        empty: readonly unknown[],
        maxDepth: number,
      ) => CompiledCodec;
      registry[indexOfType.get(d)!] = factory(helpers, registry, Object.freeze([]), MAX_DEPTH);
    }
  } catch {
    generationFailed = true;
    return undefined;
  }
  return registry[indexOfType.get(desc)!];
}

/** The codec each schema is encoded and decoded with, `null` for protobuf-es: one lookup per call. */
const codecs = new WeakMap<DescMessage, CompiledCodec | null>();

function codecFor(schema: DescMessage): CompiledCodec | undefined {
  let codec = codecs.get(schema);
  if (codec === undefined) {
    codec = (compilable(schema) ? codecOf(schema) : undefined) ?? null;
    codecs.set(schema, codec);
  }
  return codec ?? undefined;
}

// --- entry points -------------------------------------------------------------------------------

/** How often compiled code handed an input over to protobuf-es (diagnostics, and tests that the compiled path runs). */
export const handOvers = { encode: 0, decode: 0 };

/** The serialized form of `value` (a message or an init shape of one): the bytes `toBinary(schema, create(schema, value))` gives. */
export function encodeMessage<D extends DescMessage>(schema: D, value: MessageInitShape<D> | MessageShape<D>): Uint8Array {
  const codec = typeof value === 'object' && value !== null ? codecFor(schema) : undefined;
  if (codec !== undefined) {
    try {
      const lengths: number[] = [];
      const size = codec.s(value as unknown as Fields, lengths);
      const out: wire.Out = { buf: Buffer.allocUnsafe(size), pos: 0, lengths, next: 0 };
      codec.w(value as unknown as Fields, out);
      return out.buf;
    } catch {
      // Whatever the compiled code could not take, or refused, protobuf-es decides.
      handOvers.encode++;
    }
  }
  return toBinary(schema, create(schema, value as MessageInitShape<D>));
}

/** The message in `bytes`: equal to what `fromBinary(schema, bytes)` gives, or its error. */
export function decodeMessage<D extends DescMessage>(schema: D, bytes: Uint8Array): MessageShape<D> {
  const codec = codecFor(schema);
  if (codec !== undefined) {
    try {
      const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return codec.d({ buf, src: bytes, pos: 0 }, bytes.length, 1, undefined) as unknown as MessageShape<D>;
    } catch {
      // As above.
      handOvers.decode++;
    }
  }
  return fromBinary(schema, bytes);
}

/** Whether `schema` takes the compiled path (diagnostics and tests). */
export function isCompiled(schema: DescMessage): boolean {
  return compilable(schema);
}
