// Proof of wire compatibility: our proto/ files, and the descriptors embedded in the generated
// code, match containerd's own definitions (Debian's -dev packages) field by field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFileRegistry, type DescFile, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema, type FileDescriptorSet } from '@bufbuild/protobuf/wkt';
import { create } from '@bufbuild/protobuf';
import { apiFiles } from '../../../src/api/typeurl.js';
import { compareFiles, type AllowedDifferences } from './compare-descriptors.js';
import { compileDescriptorSets, FILE_PAIRS, stripGogoOptions } from './descriptor-sets.js';

/**
 * Deliberate differences from containerd, each with its reason. Empty: every message,
 * field, enum and method of containerd's files is reproduced exactly.
 */
const ALLOWED: AllowedDifferences = {};

const sets = compileDescriptorSets();
const skip = sets.ok ? false : sets.skip;

function file(registry: FileRegistry, name: string): DescFile {
  const f = registry.getFile(name);
  assert.ok(f, `${name} missing from the compiled set`);
  return f;
}

test('our proto files match containerd field by field', { skip }, () => {
  assert.ok(sets.ok);
  const problems: string[] = [];
  for (const pair of FILE_PAIRS) {
    problems.push(...compareFiles(file(sets.oursRegistry, pair.ours), file(sets.theirsRegistry, pair.theirs), ALLOWED));
  }
  assert.deepEqual(problems, []);
});

test('every proto file of ours is compared', { skip }, () => {
  assert.ok(sets.ok);
  const ourFiles = sets.ours.file.map((f) => f.name).filter((n) => !n.startsWith('google/'));
  assert.deepEqual(ourFiles.sort(), FILE_PAIRS.map((p) => p.ours).sort());
});

test('the descriptors embedded in the generated code match containerd too', { skip }, () => {
  assert.ok(sets.ok);
  // The generated modules carry their own serialized descriptors; rebuild a registry from
  // exactly those so that what the shim encodes with is what gets checked.
  const generated = createFileRegistry(
    create(FileDescriptorSetSchema, { file: [...collectWithDeps(apiFiles)].map((f) => f.proto) }),
  );
  const problems: string[] = [];
  for (const pair of FILE_PAIRS) {
    problems.push(...compareFiles(file(generated, pair.ours), file(sets.theirsRegistry, pair.theirs), ALLOWED));
  }
  assert.deepEqual(problems, []);
});

test('the comparison notices a wrong field number, type, name or missing field', { skip }, () => {
  assert.ok(sets.ok);
  // Mutate a copy of our compiled set and expect the comparison to complain each time.
  const mutations: Array<[string, (set: FileDescriptorSet) => void, RegExp]> = [
    ['number', (s) => { fieldOf(s, 'containerd/events/task.proto', 'TaskExit', 'pid').number = 33; }, /field 3 pid exists only in containerd/],
    ['type', (s) => { fieldOf(s, 'containerd/events/task.proto', 'TaskExit', 'pid').type = 5; }, /field 3 type/],
    ['name', (s) => { fieldOf(s, 'containerd/events/task.proto', 'TaskExit', 'pid').name = 'pidx'; }, /field 3 name/],
    ['missing', (s) => {
      const m = s.file.find((f) => f.name === 'containerd/events/task.proto')!.messageType.find((x) => x.name === 'TaskExit')!;
      m.field = m.field.filter((f) => f.name !== 'exited_at');
    }, /field 5 exited_at exists only in containerd/],
  ];
  for (const [what, mutate, expected] of mutations) {
    const copy = structuredClone(sets.ours);
    mutate(copy);
    const problems = compareFiles(file(createFileRegistry(copy), 'containerd/events/task.proto'), file(sets.theirsRegistry, 'github.com/containerd/containerd/api/events/task.proto'));
    assert.ok(problems.some((p) => expected.test(p)), `${what}: ${JSON.stringify(problems)}`);
  }
});

test('without gogo.proto (options stripped) containerd compiles to the same wire shapes', { skip }, () => {
  const stripped = compileDescriptorSets(true);
  assert.ok(stripped.ok);
  const problems: string[] = [];
  for (const pair of FILE_PAIRS) {
    problems.push(...compareFiles(file(sets.ok ? sets.oursRegistry : stripped.oursRegistry, pair.ours), file(stripped.theirsRegistry, pair.theirs), ALLOWED));
  }
  assert.deepEqual(problems, []);
  const text = stripGogoOptions('import weak "gogoproto/gogo.proto";\noption (gogoproto.sizer_all) = true;\nmessage M {\n  string a = 1 [(gogoproto.nullable) = false];\n}\n');
  assert.ok(!text.includes('gogo'), text);
  assert.match(text, /string a = 1;/);
});

function fieldOf(set: FileDescriptorSet, fileName: string, message: string, field: string) {
  const f = set.file.find((x) => x.name === fileName)?.messageType.find((m) => m.name === message)?.field.find((x) => x.name === field);
  assert.ok(f, `${fileName} ${message}.${field}`);
  return f;
}

function collectWithDeps(files: readonly DescFile[], seen = new Set<DescFile>()): Set<DescFile> {
  for (const f of files) {
    if (seen.has(f)) continue;
    collectWithDeps(f.dependencies, seen);
    seen.add(f);
  }
  return seen;
}
