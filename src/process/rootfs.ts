/**
 * Mounting the task's rootfs (task-api.md §8): every Mount of CreateTaskRequest.rootfs is mounted,
 * in order, onto `<bundle>/rootfs`; `unmountAll` peels every layer off again. Options are turned into
 * mount(2) flags and a data string the way mount(8) and the reference do.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { mount as sysMount, unmount as sysUnmount } from '../sys/index.js';
import { ProcessError } from './errors.js';

/** One entry of CreateTaskRequest.rootfs, without wire types. */
export interface MountSpec {
  readonly type: string;
  readonly source: string;
  readonly target?: string;
  readonly options: readonly string[];
}

// Linux mount(2) flags (uapi/linux/mount.h).
const MS_RDONLY = 0x1;
const MS_NOSUID = 0x2;
const MS_NODEV = 0x4;
const MS_NOEXEC = 0x8;
const MS_SYNCHRONOUS = 0x10;
const MS_REMOUNT = 0x20;
const MS_MANDLOCK = 0x40;
const MS_DIRSYNC = 0x80;
const MS_NOATIME = 0x400;
const MS_NODIRATIME = 0x800;
const MS_BIND = 0x1000;
const MS_REC = 0x4000;
const MS_UNBINDABLE = 0x20000;
const MS_PRIVATE = 0x40000;
const MS_SLAVE = 0x80000;
const MS_SHARED = 0x100000;
const MS_RELATIME = 0x200000;
const MS_STRICTATIME = 0x1000000;

/** Options that set (`clear: false`) or clear (`clear: true`) flags. */
const FLAG_OPTIONS: ReadonlyMap<string, { clear: boolean; flag: number }> = new Map([
  ['async', { clear: true, flag: MS_SYNCHRONOUS }],
  ['atime', { clear: true, flag: MS_NOATIME }],
  ['bind', { clear: false, flag: MS_BIND }],
  ['defaults', { clear: false, flag: 0 }],
  ['dev', { clear: true, flag: MS_NODEV }],
  ['diratime', { clear: true, flag: MS_NODIRATIME }],
  ['dirsync', { clear: false, flag: MS_DIRSYNC }],
  ['exec', { clear: true, flag: MS_NOEXEC }],
  ['mand', { clear: false, flag: MS_MANDLOCK }],
  ['noatime', { clear: false, flag: MS_NOATIME }],
  ['nodev', { clear: false, flag: MS_NODEV }],
  ['nodiratime', { clear: false, flag: MS_NODIRATIME }],
  ['noexec', { clear: false, flag: MS_NOEXEC }],
  ['nomand', { clear: true, flag: MS_MANDLOCK }],
  ['norelatime', { clear: true, flag: MS_RELATIME }],
  ['nostrictatime', { clear: true, flag: MS_STRICTATIME }],
  ['nosuid', { clear: false, flag: MS_NOSUID }],
  ['rbind', { clear: false, flag: MS_BIND | MS_REC }],
  ['relatime', { clear: false, flag: MS_RELATIME }],
  ['remount', { clear: false, flag: MS_REMOUNT }],
  ['ro', { clear: false, flag: MS_RDONLY }],
  ['rw', { clear: true, flag: MS_RDONLY }],
  ['strictatime', { clear: false, flag: MS_STRICTATIME }],
  ['suid', { clear: true, flag: MS_NOSUID }],
  ['sync', { clear: false, flag: MS_SYNCHRONOUS }],
]);

const PROPAGATION_OPTIONS: ReadonlyMap<string, number> = new Map([
  ['private', MS_PRIVATE],
  ['rprivate', MS_PRIVATE | MS_REC],
  ['shared', MS_SHARED],
  ['rshared', MS_SHARED | MS_REC],
  ['slave', MS_SLAVE],
  ['rslave', MS_SLAVE | MS_REC],
  ['unbindable', MS_UNBINDABLE],
  ['runbindable', MS_UNBINDABLE | MS_REC],
]);

/** The mount(2) arguments an option list turns into. */
export interface ParsedMountOptions {
  readonly flags: number;
  readonly propagation: number;
  readonly data: string;
}

/** Splits mount options into flags, propagation flags and the comma-joined data string. */
export function parseMountOptions(options: readonly string[]): ParsedMountOptions {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  for (const option of options) {
    const known = FLAG_OPTIONS.get(option);
    if (known) {
      flags = known.clear ? flags & ~known.flag : flags | known.flag;
      continue;
    }
    const prop = PROPAGATION_OPTIONS.get(option);
    if (prop !== undefined) {
      propagation |= prop;
      continue;
    }
    data.push(option);
  }
  return { flags, propagation, data: data.join(',') };
}

function describe(m: MountSpec): string {
  return `&{${m.type} ${m.source} [${m.options.join(' ')}]}`;
}

function errnoText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Mount data longer than a page minus a margin is refused by the kernel; overlay layer lists get that
 * long. Like the reference, make lowerdirs relative to their common parent and mount from there.
 */
function compactOverlay(data: string): { data: string; cwd: string | undefined } {
  const limit = 4096 - 512;
  if (data.length <= limit) return { data, cwd: undefined };
  const parts = data.split(',');
  const lowerIndex = parts.findIndex((p) => p.startsWith('lowerdir='));
  if (lowerIndex < 0) return { data, cwd: undefined };
  const dirs = parts[lowerIndex]!.slice('lowerdir='.length).split(':');
  let common = path.dirname(dirs[0]!);
  for (const d of dirs) {
    while (common !== '/' && !(d + '/').startsWith(common + '/')) common = path.dirname(common);
  }
  if (common === '/') return { data, cwd: undefined };
  parts[lowerIndex] = 'lowerdir=' + dirs.map((d) => path.relative(common, d)).join(':');
  return { data: parts.join(','), cwd: common };
}

/** Mounts one entry onto `target`. */
export function mountOne(m: MountSpec, target: string): void {
  if (m.type.startsWith('fuse.') || m.type.startsWith('fuse3.')) {
    throw new ProcessError('not-implemented', `failed to mount rootfs component ${describe(m)}: fuse mounts are not supported`);
  }
  if (m.options.includes('loop')) {
    throw new ProcessError('not-implemented', `failed to mount rootfs component ${describe(m)}: loop mounts are not supported`);
  }
  const parsed = parseMountOptions(m.options);
  const { data, cwd } = m.type === 'overlay' ? compactOverlay(parsed.data) : { data: parsed.data, cwd: undefined };
  const previous = process.cwd();
  try {
    if (cwd) process.chdir(cwd);
    sysMount(m.source, target, m.type, parsed.flags, data);
    if (parsed.propagation !== 0) sysMount('', target, '', parsed.propagation, '');
    if ((parsed.flags & MS_BIND) !== 0 && (parsed.flags & MS_RDONLY) !== 0) {
      sysMount('', target, '', parsed.flags | MS_REMOUNT, '');
    }
  } catch (err) {
    throw new ProcessError('unknown', `failed to mount rootfs component ${describe(m)}: ${errnoText(err)}`, { cause: err });
  } finally {
    if (cwd) process.chdir(previous);
  }
}

/** Mounts all entries onto `target`, undoing the ones already mounted when one fails. */
export function mountAll(mounts: readonly MountSpec[], target: string): void {
  try {
    for (const m of mounts) mountOne(m, target);
  } catch (err) {
    unmountAll(target);
    throw err;
  }
}

function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Unmounts every layer at `target` until nothing is mounted there (EINVAL). EBUSY is retried up to
 * 50 times, 50 ms apart. A missing or empty path is nothing to do.
 */
export function unmountAll(target: string): void {
  if (target === '' || !existsSync(target)) return;
  let busyRetries = 0;
  for (;;) {
    try {
      sysUnmount(target, 0);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EINVAL' || code === 'ENOENT') return;
      if (code === 'EBUSY' && busyRetries < 50) {
        busyRetries++;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
        continue;
      }
      throw new ProcessError('unknown', `failed rootfs umount: ${errnoText(err)}`, { cause: err });
    }
  }
}
