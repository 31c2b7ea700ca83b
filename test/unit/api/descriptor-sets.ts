/**
 * Test helper: compiles containerd's own .proto files (as Debian ships them in the -dev
 * packages) and ours with the buf CLI into FileDescriptorSets, for the conformance and
 * round-trip tests. buf takes a fraction of a second per set, so nothing is cached.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFileRegistry, fromBinary, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema, type FileDescriptorSet } from '@bufbuild/protobuf/wkt';

/** The repository root: the nearest directory upwards holding this project's package.json. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'containerd-shim-ts') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root');
    dir = up;
  }
}

/** Where one of our files' counterpart lives, as an import path under Go's source tree. */
export interface FilePair {
  /** Our file, relative to proto/. */
  ours: string;
  /** containerd's file, as its imports name it (github.com/...). */
  theirs: string;
}

/** Each of our .proto files and the containerd file it must match on the wire. */
export const FILE_PAIRS: readonly FilePair[] = [
  { ours: 'containerd/types/mount.proto', theirs: 'github.com/containerd/containerd/api/types/mount.proto' },
  { ours: 'containerd/types/task/task.proto', theirs: 'github.com/containerd/containerd/api/types/task/task.proto' },
  { ours: 'containerd/task/v2/shim.proto', theirs: 'github.com/containerd/containerd/runtime/v2/task/shim.proto' },
  { ours: 'containerd/events/task.proto', theirs: 'github.com/containerd/containerd/api/events/task.proto' },
  {
    ours: 'containerd/services/ttrpc/events/v1/events.proto',
    theirs: 'github.com/containerd/containerd/api/services/ttrpc/events/v1/events.proto',
  },
  { ours: 'containerd/runc/v1/options.proto', theirs: 'github.com/containerd/containerd/runtime/v2/runc/options/oci.proto' },
  { ours: 'containerd/runtimeoptions/v1/api.proto', theirs: 'github.com/containerd/containerd/pkg/runtimeoptions/v1/api.proto' },
  { ours: 'containerd/cgroups/v1/metrics.proto', theirs: 'github.com/containerd/cgroups/stats/v1/metrics.proto' },
  { ours: 'containerd/cgroups/v2/metrics.proto', theirs: 'github.com/containerd/cgroups/v2/stats/metrics.proto' },
];

/** Files containerd's protos import that carry only Go code-generation options. */
const OPTION_ONLY_IMPORTS = ['github.com/containerd/containerd/protobuf/plugin/fieldpath.proto'];
const GOGO_IMPORT = 'gogoproto/gogo.proto';
const GOGO_FILE = 'github.com/gogo/protobuf/gogoproto/gogo.proto';

/** Debian packages whose files the comparison reads, with one file each to find their root. */
const PACKAGES: ReadonlyArray<{ pkg: string; probe: string }> = [
  { pkg: 'golang-github-containerd-containerd-dev', probe: 'github.com/containerd/containerd/runtime/v2/task/shim.proto' },
  { pkg: 'golang-github-containerd-cgroups-dev', probe: 'github.com/containerd/cgroups/stats/v1/metrics.proto' },
];
const GOGO_PACKAGE = { pkg: 'golang-github-gogo-protobuf-dev', probe: GOGO_FILE };

/** The Go source root (…/src) holding `probe`, found through dpkg's file list; undefined if absent. */
function packageRoot(pkg: string, probe: string): string | undefined {
  const listed = spawnSync('dpkg-query', ['-L', pkg], { encoding: 'utf8' });
  if (listed.status !== 0) return undefined;
  const hit = listed.stdout.split('\n').find((line) => line.endsWith('/' + probe));
  if (!hit || !existsSync(hit)) return undefined;
  return hit.slice(0, hit.length - probe.length - 1);
}

/**
 * Removes gogoproto options, for hosts without gogo.proto. They only steer Go code
 * generation (names, nullability), never the wire format, so the comparison is unaffected.
 */
export function stripGogoOptions(text: string): string {
  return text
    .replace(/^\s*import\s+(weak\s+)?"[^"]*gogo\.proto";\s*$/gm, '')
    .replace(/^\s*option\s+\(gogoproto\.[^;]*;\s*$/gm, '')
    .replace(/\s*\[\s*\(gogoproto\.[^\]]*\]/g, '');
}

function buf(args: string[]): void {
  const bin = path.join(repoRoot(), 'node_modules', '.bin', 'buf');
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`cannot run buf: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`buf ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
}

function readSet(file: string): FileDescriptorSet {
  return fromBinary(FileDescriptorSetSchema, readFileSync(file));
}

/** The compiled descriptor sets, or why they could not be made on this host. */
export type DescriptorSets =
  | { ok: true; ours: FileDescriptorSet; theirs: FileDescriptorSet; oursRegistry: FileRegistry; theirsRegistry: FileRegistry }
  | { ok: false; skip: string };

/**
 * Compiles both sets. `forceStrip` compiles containerd's files with their gogoproto options
 * removed even when gogo.proto is installed (to test that fallback).
 */
export function compileDescriptorSets(forceStrip = false): DescriptorSets {
  const roots = new Map<string, string>();
  for (const { pkg, probe } of PACKAGES) {
    const root = packageRoot(pkg, probe);
    if (!root) return { ok: false, skip: `Debian package ${pkg} is not installed or dpkg-query is unavailable (scripts/setup-host.sh installs it)` };
    roots.set(pkg, root);
  }
  const gogoRoot = forceStrip ? undefined : packageRoot(GOGO_PACKAGE.pkg, GOGO_PACKAGE.probe);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'shim-ts-descriptors-'));
  try {
    const ws = path.join(tmp, 'theirs');
    const sources = [...FILE_PAIRS.map((p) => p.theirs), ...OPTION_ONLY_IMPORTS];
    for (const rel of sources) {
      const pkg = rel.startsWith('github.com/containerd/cgroups/') ? PACKAGES[1]!.pkg : PACKAGES[0]!.pkg;
      let text = readFileSync(path.join(roots.get(pkg)!, rel), 'utf8');
      // runtimeoptions imports gogo.proto by its full Go path, the others by the short one;
      // one copy under the short path avoids defining every extension twice.
      text = text.replaceAll(`"${GOGO_FILE}"`, `"${GOGO_IMPORT}"`);
      if (!gogoRoot) text = stripGogoOptions(text);
      mkdirSync(path.dirname(path.join(ws, rel)), { recursive: true });
      writeFileSync(path.join(ws, rel), text);
    }
    if (gogoRoot) {
      mkdirSync(path.join(ws, 'gogoproto'), { recursive: true });
      copyFileSync(path.join(gogoRoot, GOGO_FILE), path.join(ws, GOGO_IMPORT));
    }
    writeFileSync(path.join(ws, 'buf.yaml'), 'version: v2\n');
    const theirsOut = path.join(tmp, 'theirs.binpb');
    const oursOut = path.join(tmp, 'ours.binpb');
    buf(['build', ws, '-o', theirsOut]);
    buf(['build', repoRoot(), '-o', oursOut]);
    const ours = readSet(oursOut);
    const theirs = readSet(theirsOut);
    return { ok: true, ours, theirs, oursRegistry: createFileRegistry(ours), theirsRegistry: createFileRegistry(theirs) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
