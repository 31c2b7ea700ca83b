/**
 * posix_spawn(3): starting a program without fork(2)ing the whole Node process.
 *
 * libuv starts children with fork(), whose cost grows with the parent's resident memory (page
 * tables are copied, and the event loop waits for the child's exec): measured 2–5 ms for a 48 MiB
 * Node and 14–25 ms for an 88 MiB one, per spawn, on a loaded 2-core host. glibc's posix_spawn
 * uses clone(CLONE_VM | CLONE_VFORK), which copies nothing; the caller waits only until the exec.
 * The child is ours to reap (libuv does not know it): see runtime/monitor.ts.
 */
import { libc } from './libc.js';
import { SysError } from './errors.js';

/** What the child gets as fds 0, 1 and 2 (each dup2()ed, so close-on-exec does not matter). */
export interface SpawnStdio {
  readonly stdin: number;
  readonly stdout: number;
  readonly stderr: number;
}

/** One program to start. */
export interface SpawnRequest {
  /** Absolute path of the executable (no $PATH search). */
  readonly file: string;
  /** argv, argv[0] included. */
  readonly argv: readonly string[];
  /** `NAME=value` strings. */
  readonly env: readonly string[];
  readonly stdio: SpawnStdio;
  /**
   * More fds for the child, as its fds 3, 4, … in this order (dup2()ed after the stdio). None may
   * be below 3 + their count unless it already is its own target: the dup2s would overwrite it.
   */
  readonly inheritFds?: readonly number[];
  /** Working directory of the child (default: ours). */
  readonly cwd?: string;
}

interface SpawnFns {
  spawn: (pid: Int32Array, path: string, actions: Buffer, attr: Buffer, argv: (string | null)[], envp: (string | null)[]) => number;
  faInit: (actions: Buffer) => number;
  faDestroy: (actions: Buffer) => number;
  faDup2: (actions: Buffer, fd: number, newFd: number) => number;
  faChdir: (actions: Buffer, dir: string) => number;
  attrInit: (attr: Buffer) => number;
  attrDestroy: (attr: Buffer) => number;
  attrSetFlags: (attr: Buffer, flags: number) => number;
  attrSetSigMask: (attr: Buffer, set: Buffer) => number;
  attrSetSigDefault: (attr: Buffer, set: Buffer) => number;
  sigEmpty: (set: Buffer) => number;
  sigFill: (set: Buffer) => number;
}

/** posix_spawnattr flags (glibc). */
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
/** Opaque glibc structs, sized generously (x86_64: file actions 80, attr 336, sigset 128 bytes). */
const STRUCT_BYTES = 512;

let fns: SpawnFns | undefined;

function native(): SpawnFns {
  if (fns) return fns;
  const lib = libc();
  fns = {
    spawn: lib.func('int posix_spawn(_Out_ int *pid, const char *path, void *actions, void *attr, const char **argv, const char **envp)') as SpawnFns['spawn'],
    faInit: lib.func('int posix_spawn_file_actions_init(void *actions)') as SpawnFns['faInit'],
    faDestroy: lib.func('int posix_spawn_file_actions_destroy(void *actions)') as SpawnFns['faDestroy'],
    faDup2: lib.func('int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)') as SpawnFns['faDup2'],
    faChdir: lib.func('int posix_spawn_file_actions_addchdir_np(void *actions, const char *dir)') as SpawnFns['faChdir'],
    attrInit: lib.func('int posix_spawnattr_init(void *attr)') as SpawnFns['attrInit'],
    attrDestroy: lib.func('int posix_spawnattr_destroy(void *attr)') as SpawnFns['attrDestroy'],
    attrSetFlags: lib.func('int posix_spawnattr_setflags(void *attr, short flags)') as SpawnFns['attrSetFlags'],
    attrSetSigMask: lib.func('int posix_spawnattr_setsigmask(void *attr, void *set)') as SpawnFns['attrSetSigMask'],
    attrSetSigDefault: lib.func('int posix_spawnattr_setsigdefault(void *attr, void *set)') as SpawnFns['attrSetSigDefault'],
    sigEmpty: lib.func('int sigemptyset(void *set)') as SpawnFns['sigEmpty'],
    sigFill: lib.func('int sigfillset(void *set)') as SpawnFns['sigFill'],
  };
  return fns;
}

// posix_spawn* return the error number instead of setting errno.
function check(call: string, rc: number, subject?: string): void {
  if (rc !== 0) throw new SysError(call, rc, subject);
}

/**
 * Starts `req.file` and returns its pid. The child starts with every signal at its default
 * disposition and none blocked (Node ignores SIGPIPE, and an ignored signal survives exec), which is
 * what libuv does for its children. Throws SysError (e.g. code ENOENT, EACCES) when the program
 * could not be executed; then no child exists.
 */
export function posixSpawn(req: SpawnRequest): number {
  const f = native();
  const actions = Buffer.alloc(STRUCT_BYTES);
  const attr = Buffer.alloc(STRUCT_BYTES);
  const set = Buffer.alloc(STRUCT_BYTES);
  check('posix_spawn_file_actions_init', f.faInit(actions));
  try {
    check('posix_spawnattr_init', f.attrInit(attr));
    try {
      const { stdin, stdout, stderr } = req.stdio;
      check('posix_spawn_file_actions_adddup2', f.faDup2(actions, stdin, 0));
      check('posix_spawn_file_actions_adddup2', f.faDup2(actions, stdout, 1));
      check('posix_spawn_file_actions_adddup2', f.faDup2(actions, stderr, 2));
      const extra = req.inheritFds ?? [];
      extra.forEach((fd, i) => {
        if (fd < 3 + extra.length && fd !== 3 + i) throw new SysError('posix_spawn_file_actions_adddup2', 22, `fd ${fd} would be overwritten before it is passed on`);
        // glibc clears close-on-exec when fd is already its own target.
        check('posix_spawn_file_actions_adddup2', f.faDup2(actions, fd, 3 + i));
      });
      if (req.cwd !== undefined) check('posix_spawn_file_actions_addchdir_np', f.faChdir(actions, req.cwd), req.cwd);
      check('posix_spawnattr_setflags', f.attrSetFlags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK));
      f.sigEmpty(set);
      check('posix_spawnattr_setsigmask', f.attrSetSigMask(attr, set));
      f.sigFill(set);
      check('posix_spawnattr_setsigdefault', f.attrSetSigDefault(attr, set));
      const pid = new Int32Array(1);
      check('posix_spawn', f.spawn(pid, req.file, actions, attr, [...req.argv, null], [...req.env, null]), req.file);
      return pid[0]!;
    } finally {
      f.attrDestroy(attr);
    }
  } finally {
    f.faDestroy(actions);
  }
}
