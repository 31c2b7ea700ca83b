/**
 * Test helper: lists every wire-relevant difference between two compiled .proto files.
 * Compared: package and syntax; per message (nested ones too) every field's number, name,
 * label, type, referenced type name, effective packedness and presence, oneof membership
 * and proto3 `optional`; map entries; enum values; service methods and their input/output types.
 * Not compared: comments, Go/gogo options, json names (they never reach the wire).
 */
import type { DescEnum, DescField, DescFile, DescMessage, DescService } from '@bufbuild/protobuf';

/** Differences that are deliberate, keyed by `<full message name>.<field name>` (or a message name). */
export type AllowedDifferences = Readonly<Record<string, string>>;

function allMessages(messages: readonly DescMessage[]): DescMessage[] {
  return messages.flatMap((m) => [m, ...allMessages(m.nestedMessages)]);
}

function allEnums(file: DescFile): DescEnum[] {
  return [...file.enums, ...allMessages(file.messages).flatMap((m) => m.nestedEnums)];
}

function fieldFacts(f: DescField): Record<string, unknown> {
  return {
    name: f.proto.name,
    label: f.proto.label,
    type: f.proto.type,
    typeName: f.proto.typeName,
    packed: f.fieldKind === 'list' ? f.packed : null,
    presence: f.presence,
    oneof: f.oneof?.name ?? null,
    proto3Optional: f.proto.proto3Optional,
  };
}

function compareMessage(ours: DescMessage, theirs: DescMessage, allowed: AllowedDifferences, out: string[]): void {
  const name = ours.typeName;
  if (Boolean(ours.proto.options?.mapEntry) !== Boolean(theirs.proto.options?.mapEntry)) out.push(`${name}: map_entry differs`);
  const theirFields = new Map(theirs.fields.map((f) => [f.number, f]));
  const ourFields = new Map(ours.fields.map((f) => [f.number, f]));
  for (const f of ours.fields) {
    const t = theirFields.get(f.number);
    if (!t) {
      if (!allowed[`${name}.${f.name}`]) out.push(`${name}: field ${f.number} ${f.name} exists only in ours`);
      continue;
    }
    const a = fieldFacts(f);
    const b = fieldFacts(t);
    for (const key of Object.keys(a)) {
      if (a[key] !== b[key]) out.push(`${name}: field ${f.number} ${key}: ours ${String(a[key])}, containerd ${String(b[key])}`);
    }
  }
  for (const t of theirs.fields) {
    if (!ourFields.has(t.number) && !allowed[`${name}.${t.name}`]) {
      out.push(`${name}: field ${t.number} ${t.name} exists only in containerd`);
    }
  }
}

function compareEnum(ours: DescEnum, theirs: DescEnum, out: string[]): void {
  const describe = (e: DescEnum) => e.values.map((v) => `${v.name}=${v.number}`).join(',');
  if (describe(ours) !== describe(theirs)) out.push(`${ours.typeName}: values ours [${describe(ours)}], containerd [${describe(theirs)}]`);
}

function compareService(ours: DescService, theirs: DescService, out: string[]): void {
  const describe = (s: DescService) =>
    new Map(s.methods.map((m) => [m.name, `${m.name}(${m.input.typeName}) returns ${m.output.typeName}, ${m.methodKind}`]));
  const a = describe(ours);
  const b = describe(theirs);
  for (const name of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(name) !== b.get(name)) {
      out.push(`${ours.typeName}: method ${name}: ours ${a.get(name) ?? 'missing'}, containerd ${b.get(name) ?? 'missing'}`);
    }
  }
}

function pairUp<T extends { typeName: string }>(
  kind: string,
  ours: readonly T[],
  theirs: readonly T[],
  allowed: AllowedDifferences,
  out: string[],
  compare: (a: T, b: T) => void,
): void {
  const theirByName = new Map(theirs.map((x) => [x.typeName, x]));
  const ourNames = new Set(ours.map((x) => x.typeName));
  for (const o of ours) {
    const t = theirByName.get(o.typeName);
    if (t) compare(o, t);
    else if (!allowed[o.typeName]) out.push(`${kind} ${o.typeName} exists only in ours`);
  }
  for (const t of theirs) if (!ourNames.has(t.typeName) && !allowed[t.typeName]) out.push(`${kind} ${t.typeName} exists only in containerd`);
}

/** Every wire-relevant difference between our file and containerd's, as readable lines. */
export function compareFiles(ours: DescFile, theirs: DescFile, allowed: AllowedDifferences = {}): string[] {
  const out: string[] = [];
  if (ours.proto.package !== theirs.proto.package) out.push(`${ours.name}: package ${ours.proto.package} vs ${theirs.proto.package}`);
  if (ours.edition !== theirs.edition) out.push(`${ours.name}: syntax/edition ${ours.edition} vs ${theirs.edition}`);
  pairUp('message', allMessages(ours.messages), allMessages(theirs.messages), allowed, out, (a, b) => compareMessage(a, b, allowed, out));
  pairUp('enum', allEnums(ours), allEnums(theirs), allowed, out, (a, b) => compareEnum(a, b, out));
  pairUp('service', ours.services, theirs.services, allowed, out, (a, b) => compareService(a, b, out));
  return out;
}
