/**
 * Sealed in-memory copies of runtime binaries, so runc's `init` need not make its own.
 *
 * Every `runc create` and `runc exec` starts `runc init` from /proc/self/exe. To keep a container
 * from writing through that link into the host's runc (CVE-2019-5736), `runc init` first checks
 * whether it runs from a fully sealed memfd; if not, it makes a private read-only copy (runc
 * 1.1: a bind mount of itself, remounted read-only, opened, unmounted) and executes itself again,
 * with the dynamic loader and its constructor running twice. runc accepts a sealed memfd as safe
 * by design (nothing can write to it), so starting runc from one skips all that: 1–2 ms per
 * `runc exec` alone on this kind of host, more under load (docs/benchmarks.md, round 5).
 *
 * Only ELF files are copied: a script run as /proc/self/fd/N hands its interpreter a path that
 * close-on-exec has already closed, so scripts (wrappers around runc) run from disk.
 *
 * The copy is made once per binary in the background (kernel-side copy, no user-space buffer) and
 * used only while the file on disk is still the one copied (device, inode, size, mtime, ctime are
 * compared on every use), so an upgraded runc is picked up at once: the old copy is dropped and
 * the file itself runs until the new copy is sealed. Cost: one fd and the binary's size in shmem
 * per daemon (≈ 8.4 MiB for runc 1.1.5), for as long as the daemon lives.
 */
import { closeSync, fstatSync, statSync, type Stats } from 'node:fs';
import { copyFile, open } from 'node:fs/promises';
import path from 'node:path';
import { addSeals, getSeals, IMMUTABLE_SEALS, memfdCreate } from '../sys/index.js';

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

async function isElf(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(ELF_MAGIC.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return bytesRead === head.length && head.equals(ELF_MAGIC);
  } finally {
    await handle.close();
  }
}

interface Identity {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

function identityOf(st: Stats): Identity {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

function sameIdentity(a: Identity, b: Identity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

interface Entry {
  readonly identity: Identity;
  /** The sealed memfd, once the copy is complete. */
  fd: number | undefined;
  /** The copy in progress. */
  building: Promise<void> | undefined;
  /** Copying this identity failed once: do not try again until the file changes. */
  failed: boolean;
}

/** The sealed copies one process keeps, by absolute source path. */
export class SealedCopies {
  private readonly entries = new Map<string, Entry>();

  /**
   * What to execute for the absolute path `file`: `/proc/self/fd/N` of its sealed copy when one is
   * ready and `file` is unchanged since it was copied; otherwise `file` itself (and a copy is
   * started in the background, unless copying this very file failed before).
   */
  executableFor(file: string): string {
    if (!path.isAbsolute(file)) return file;
    let current: Identity;
    try {
      current = identityOf(statSync(file));
    } catch {
      return file; // gone or unreadable: let the spawn fail on the real path, with its real error
    }
    const entry = this.entries.get(file);
    if (entry && sameIdentity(entry.identity, current)) {
      return entry.fd !== undefined ? `/proc/self/fd/${entry.fd}` : file;
    }
    if (entry) this.drop(file, entry);
    this.startCopy(file, current);
    return file;
  }

  /** Resolves when no copy is in progress (tests, and callers that want the copy before a burst). */
  async settled(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => e.building));
  }

  /** Stops using the copy of `file` (e.g. after executing it failed) until the file changes. */
  forget(file: string): void {
    const entry = this.entries.get(file);
    if (!entry) return;
    if (entry.fd !== undefined) closeSync(entry.fd);
    entry.fd = undefined;
    entry.failed = true;
  }

  /** Closes every copy. */
  close(): void {
    for (const [file, entry] of this.entries) this.drop(file, entry);
  }

  private drop(file: string, entry: Entry): void {
    this.entries.delete(file);
    // A copy still being written closes its own fd when it finds itself no longer registered.
    if (entry.fd !== undefined) closeSync(entry.fd);
    entry.fd = undefined;
  }

  private startCopy(file: string, identity: Identity): void {
    const entry: Entry = { identity, fd: undefined, building: undefined, failed: false };
    this.entries.set(file, entry);
    entry.building = this.copy(file, identity).then(
      (fd) => {
        entry.building = undefined;
        if (this.entries.get(file) === entry && !entry.failed) entry.fd = fd;
        else closeSync(fd);
      },
      () => {
        entry.building = undefined;
        entry.failed = true;
      },
    );
  }

  /** A sealed memfd holding exactly the bytes of `file` as `identity` describes it. */
  private async copy(file: string, identity: Identity): Promise<number> {
    // Only programs the kernel loads itself: a script's interpreter would be handed the path
    // /proc/self/fd/N, which close-on-exec has closed by then (a wrapper script around runc).
    if (!(await isElf(file))) throw new Error(`${file} is not an ELF executable`);
    const fd = memfdCreate(path.basename(file));
    try {
      // Through the fd's /proc link libuv opens the memfd itself and copies in the kernel.
      await copyFile(file, `/proc/self/fd/${fd}`);
      const after = identityOf(statSync(file));
      if (!sameIdentity(after, identity)) throw new Error(`${file} changed while it was copied`);
      if (fstatSync(fd).size !== identity.size) throw new Error(`copy of ${file} is incomplete`);
      addSeals(fd, IMMUTABLE_SEALS);
      if ((getSeals(fd) & IMMUTABLE_SEALS) !== IMMUTABLE_SEALS) throw new Error(`copy of ${file} could not be sealed`);
      return fd;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }
}

/** The process-wide copies (what OciRuntime uses when `sealedCopy` is on). */
export const sealedCopies = new SealedCopies();
