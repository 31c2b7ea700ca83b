// Builds OCI image archives locally (no registry, no network) and imports them into a containerd:
// a busybox image made from the host's busybox-static, cached under os.tmpdir() by content hash.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeTar, type TarEntry } from './tar.js';

/** Bumped whenever the archive layout changes, so stale cached tarballs are not reused. */
const BUILDER_VERSION = 1;

/** Where busybox-static installs its binary on Debian. */
export const BUSYBOX_PATH = '/bin/busybox';

/** The image config fields the tests care about (OCI image-spec `config`). */
export interface ImageRunConfig {
  readonly env?: readonly string[];
  readonly cmd?: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly workingDir?: string;
}

/** A built image archive on disk. */
export interface ImageArchive {
  /** Reference containerd stores the image under (the `io.containerd.image.name` annotation). */
  readonly name: string;
  /** Path of the OCI archive tarball. */
  readonly path: string;
  /** Digest of the image manifest (`sha256:…`). */
  readonly manifestDigest: string;
}

function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

function goArch(): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', ia32: '386' };
  return map[process.arch] ?? process.arch;
}

/**
 * Assembles an OCI image archive (oci-layout, index.json, blobs) with a single uncompressed layer
 * holding `entries`. Deterministic: the same inputs give the same bytes and digests.
 */
export function buildOciArchive(name: string, entries: readonly TarEntry[], run: ImageRunConfig = {}): { archive: Buffer; manifestDigest: string } {
  const layer = writeTar(entries);
  const layerDigest = `sha256:${sha256(layer)}`;
  const config = Buffer.from(JSON.stringify({
    architecture: goArch(),
    os: 'linux',
    config: {
      Env: run.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      ...(run.cmd ? { Cmd: run.cmd } : { Cmd: ['sh'] }),
      ...(run.entrypoint ? { Entrypoint: run.entrypoint } : {}),
      ...(run.workingDir ? { WorkingDir: run.workingDir } : {}),
    },
    // An uncompressed layer's diff id is its own digest.
    rootfs: { type: 'layers', diff_ids: [layerDigest] },
    history: [{ created_by: 'containerd-shim-ts test harness' }],
  }));
  const configDigest = `sha256:${sha256(config)}`;
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
  }));
  const manifestDigest = `sha256:${sha256(manifest)}`;
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: manifestDigest,
      size: manifest.length,
      platform: { architecture: goArch(), os: 'linux' },
      annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.split(':').pop() ?? 'latest' },
    }],
  }));
  const blob = (digest: string, data: Buffer): TarEntry => ({ type: 'file', name: `blobs/sha256/${digest.slice(7)}`, data });
  const archive = writeTar([
    { type: 'file', name: 'oci-layout', data: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })) },
    { type: 'file', name: 'index.json', data: index },
    { type: 'dir', name: 'blobs' },
    { type: 'dir', name: 'blobs/sha256' },
    blob(layerDigest, layer),
    blob(configDigest, config),
    blob(manifestDigest, manifest),
  ]);
  return { archive, manifestDigest };
}

/** Applet paths busybox was built with (`bin/sh`, `usr/bin/env`, …), relative to `/`. */
function busyboxApplets(busybox: string): string[] {
  const r = spawnSync(busybox, ['--list-full'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${busybox} --list-full failed: ${r.stderr}`);
  return r.stdout.split('\n').map((s) => s.trim()).filter((s) => s !== '' && s !== 'bin/busybox');
}

/** The files of a minimal busybox root filesystem: the binary, applet symlinks, /etc basics. */
export function busyboxRootfsEntries(busybox = BUSYBOX_PATH): TarEntry[] {
  const bin = readFileSync(busybox);
  const applets = busyboxApplets(busybox);
  const dirs = new Set<string>(['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'etc', 'root', 'var', 'proc', 'sys', 'dev', 'run']);
  for (const a of applets) {
    const parts = a.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const entries: TarEntry[] = [...dirs].sort().map((d) => ({ type: 'dir', name: d }));
  entries.push({ type: 'dir', name: 'tmp', mode: 0o1777 });
  entries.push({ type: 'file', name: 'bin/busybox', data: bin, mode: 0o755 });
  for (const a of applets.sort()) entries.push({ type: 'symlink', name: a, target: '/bin/busybox' });
  entries.push({ type: 'file', name: 'etc/passwd', data: Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n') });
  entries.push({ type: 'file', name: 'etc/group', data: Buffer.from('root:x:0:\nnogroup:x:65534:\n') });
  return entries;
}

/** Options for {@link busyboxImage}. */
export interface BusyboxImageOptions {
  /** Image reference (default `docker.io/library/busybox:shim-ts-e2e`). */
  readonly name?: string;
  /** Image config (default: PATH env, `sh` as Cmd). */
  readonly run?: ImageRunConfig;
  /** busybox binary to package (default the busybox-static one). */
  readonly busybox?: string;
}

/**
 * Returns the busybox image archive, building it into os.tmpdir() on first use. The file name holds
 * a hash of everything that goes into it, so a changed busybox or option builds a new one.
 */
export function busyboxImage(options: BusyboxImageOptions = {}): ImageArchive {
  const busybox = options.busybox ?? BUSYBOX_PATH;
  const name = options.name ?? 'docker.io/library/busybox:shim-ts-e2e';
  if (!existsSync(busybox)) throw new Error(`${busybox} is missing (install busybox-static)`);
  const key = sha256(JSON.stringify({ v: BUILDER_VERSION, name, run: options.run ?? null, arch: goArch(), bin: sha256(readFileSync(busybox)) }));
  const file = path.join(os.tmpdir(), `containerd-shim-ts-image-${key.slice(0, 24)}.tar`);
  const meta = `${file}.json`;
  if (existsSync(file) && existsSync(meta)) {
    const m = JSON.parse(readFileSync(meta, 'utf8')) as { manifestDigest: string };
    return { name, path: file, manifestDigest: m.manifestDigest };
  }
  const { archive, manifestDigest } = buildOciArchive(name, busyboxRootfsEntries(busybox), options.run);
  // Write then rename: a concurrent or interrupted build never leaves a half archive under the name.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, archive);
  writeFileSync(`${meta}.${process.pid}.tmp`, JSON.stringify({ manifestDigest }));
  renameSync(`${meta}.${process.pid}.tmp`, meta);
  renameSync(tmp, file);
  return { name, path: file, manifestDigest };
}
