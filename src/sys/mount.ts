/**
 * mount(2) and umount2(2), for the task's rootfs (overlay, bind) and for the crun hybrid-cgroup
 * namespace. Node has neither; spawning mount(8) per layer would cost a process each.
 */
import { lastErrno, libc, type NativeFunction } from './libc.js';
import { SysError } from './errors.js';

/** mount(2) flags (linux/mount.h) the shim uses. */
export const MountFlags = {
  MS_RDONLY: 0x1,
  MS_NOSUID: 0x2,
  MS_NODEV: 0x4,
  MS_NOEXEC: 0x8,
  MS_REMOUNT: 0x20,
  MS_BIND: 0x1000,
  MS_REC: 0x4000,
  MS_PRIVATE: 0x40000,
  MS_SLAVE: 0x80000,
  MS_SHARED: 0x100000,
} as const;

/** umount2(2) flags. */
export const UnmountFlags = {
  MNT_FORCE: 0x1,
  MNT_DETACH: 0x2,
  MNT_EXPIRE: 0x4,
  UMOUNT_NOFOLLOW: 0x8,
} as const;

let fns: { mount: NativeFunction; umount2: NativeFunction } | undefined;

function bindings(): NonNullable<typeof fns> {
  fns ??= {
    mount: libc().func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2: libc().func('int umount2(const char *target, int flags)'),
  };
  return fns;
}

/**
 * `mount(source, target, type, flags, data)`. Empty `source`, `type` or `data` are passed as NULL
 * (what remounts and propagation changes expect). Throws SysError with the errno.
 */
export function mount(source: string, target: string, type: string, flags: number, data: string): void {
  if (!target) throw new SysError('mount', 22, 'empty target');
  const rc = bindings().mount(source || null, target, type || null, flags, data || null) as number;
  if (rc !== 0) throw new SysError('mount', lastErrno(), `${source || '(none)'} on ${target}${type ? ` type ${type}` : ''}`);
}

/** `umount2(target, flags)`. EINVAL means "not a mount point"; callers loop on it to peel layers. */
export function unmount(target: string, flags = 0): void {
  const rc = bindings().umount2(target, flags) as number;
  if (rc !== 0) throw new SysError('umount2', lastErrno(), target);
}
