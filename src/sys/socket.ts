/**
 * Unix-socket calls Node's `net` lacks: receiving file descriptors (SCM_RIGHTS, how a runtime
 * hands over a pty master through `--console-socket`) and reading the peer's credentials
 * (SO_PEERCRED, for the ttrpc server's same-user check).
 *
 * The fd arguments are raw descriptors of sockets libuv owns (`socket._handle.fd`). libuv reads a
 * connected socket as soon as it can, and its read drops ancillary data, so a socket whose fd we
 * want must come from a server created with `pauseOnConnect: true`.
 */
import { endianness } from 'node:os';
import { koffi, lastErrno, libc, type NativeFunction } from './libc.js';
import { SysError } from './errors.js';

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const SCM_RIGHTS = 1;
const MSG_CTRUNC = 0x8;
const MSG_DONTWAIT = 0x40;
const MSG_CMSG_CLOEXEC = 0x40000000;
const EAGAIN = 11;
const EINTR = 4;

/** Room for this many descriptors in one message (runtimes send one). */
const MAX_FDS = 8;
const DATA_BYTES = 4096;
/** CMSG_SPACE(MAX_FDS * 4) on LP64: 16-byte header + data rounded up to 8. */
const CONTROL_BYTES = 16 + Math.ceil((MAX_FDS * 4) / 8) * 8;
const MSGHDR_BYTES = 56;
const IOVEC_BYTES = 16;

let fns: { recvmsg: NativeFunction; sendmsg: NativeFunction; getsockopt: NativeFunction; close: NativeFunction } | undefined;

function bindings(): NonNullable<typeof fns> {
  if (!fns) {
    if (koffi().sizeof('void *') !== 8) throw new Error('sys/socket: only 64-bit Linux is supported');
    fns = {
      recvmsg: libc().func('long recvmsg(int sockfd, void *msg, int flags)'),
      sendmsg: libc().func('long sendmsg(int sockfd, void *msg, int flags)'),
      getsockopt: libc().func('int getsockopt(int sockfd, int level, int optname, void *optval, _Inout_ uint32_t *optlen)'),
      close: libc().func('int close(int fd)'),
    };
  }
  return fns;
}

/** What one `recvmsg` returned: the payload bytes and the descriptors that came with them. */
export interface ReceivedMessage {
  /** Regular bytes of the message (runc sends the pty's name, e.g. `/dev/ptmx`). */
  readonly data: Buffer;
  /** Descriptors received (close-on-exec set); the caller owns them. */
  readonly fds: number[];
  /** The kernel truncated the control data (more fds than room); extra fds were discarded by it. */
  readonly truncated: boolean;
}

/**
 * One non-blocking `recvmsg(fd, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)` on a unix stream socket.
 * Returns `undefined` when nothing is queued yet (EAGAIN); a message with empty `data` and no fds
 * means the peer closed the connection.
 */
export function receiveMessage(fd: number): ReceivedMessage | undefined {
  const k = koffi();
  const { recvmsg } = bindings();
  const block = k.alloc('uint8_t', MSGHDR_BYTES + IOVEC_BYTES + DATA_BYTES + CONTROL_BYTES) as unknown;
  try {
    const base = k.address(block);
    const iovAt = MSGHDR_BYTES;
    const dataAt = iovAt + IOVEC_BYTES;
    const controlAt = dataAt + DATA_BYTES;
    const mem = Buffer.from(k.view(block, MSGHDR_BYTES + IOVEC_BYTES + DATA_BYTES + CONTROL_BYTES));
    mem.fill(0);
    const le = endianness() === 'LE';
    const put64 = (at: number, v: bigint): void => void (le ? mem.writeBigUInt64LE(v, at) : mem.writeBigUInt64BE(v, at));
    const get64 = (at: number): bigint => (le ? mem.readBigUInt64LE(at) : mem.readBigUInt64BE(at));
    const get32 = (at: number): number => (le ? mem.readInt32LE(at) : mem.readInt32BE(at));
    // struct iovec { void *iov_base; size_t iov_len; }
    put64(iovAt, base + BigInt(dataAt));
    put64(iovAt + 8, BigInt(DATA_BYTES));
    // struct msghdr: name(0) namelen(8) iov(16) iovlen(24) control(32) controllen(40) flags(48)
    put64(16, base + BigInt(iovAt));
    put64(24, 1n);
    put64(32, base + BigInt(controlAt));
    put64(40, BigInt(CONTROL_BYTES));
    let n: number;
    for (;;) {
      n = Number(recvmsg(fd, block, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) as number | bigint);
      if (n >= 0) break;
      const errno = lastErrno();
      if (errno === EINTR) continue;
      if (errno === EAGAIN) return undefined;
      throw new SysError('recvmsg', errno, `fd ${fd}`);
    }
    const flags = get32(48);
    const controlLen = Number(get64(40));
    const fds: number[] = [];
    // Walk the cmsghdr list: { size_t cmsg_len; int cmsg_level; int cmsg_type; data… }, 8-aligned.
    let at = 0;
    while (at + 16 <= controlLen) {
      const len = Number(get64(controlAt + at));
      if (len < 16) break;
      const level = get32(controlAt + at + 8);
      const type = get32(controlAt + at + 12);
      if (level === SOL_SOCKET && type === SCM_RIGHTS) {
        for (let off = 16; off + 4 <= len; off += 4) fds.push(get32(controlAt + at + off));
      }
      at += Math.ceil(len / 8) * 8;
    }
    const data = Buffer.from(mem.subarray(dataAt, dataAt + n));
    return { data, fds, truncated: (flags & MSG_CTRUNC) !== 0 };
  } finally {
    k.free(block);
  }
}

/**
 * `sendmsg` of `data` (at least one byte) with `fds` attached as SCM_RIGHTS, on a connected unix
 * socket; what a runtime does with `--console-socket`. Returns the bytes sent.
 */
export function sendMessage(fd: number, data: Buffer, fds: readonly number[]): number {
  if (data.length === 0 || data.length > DATA_BYTES) throw new RangeError('sendMessage: data must be 1…4096 bytes');
  if (fds.length > MAX_FDS) throw new RangeError(`sendMessage: at most ${MAX_FDS} fds`);
  const k = koffi();
  const total = MSGHDR_BYTES + IOVEC_BYTES + DATA_BYTES + CONTROL_BYTES;
  const block = k.alloc('uint8_t', total) as unknown;
  try {
    const base = k.address(block);
    const mem = Buffer.from(k.view(block, total));
    mem.fill(0);
    const le = endianness() === 'LE';
    const put64 = (at: number, v: bigint): void => void (le ? mem.writeBigUInt64LE(v, at) : mem.writeBigUInt64BE(v, at));
    const put32 = (at: number, v: number): void => void (le ? mem.writeInt32LE(v, at) : mem.writeInt32BE(v, at));
    const iovAt = MSGHDR_BYTES;
    const dataAt = iovAt + IOVEC_BYTES;
    const controlAt = dataAt + DATA_BYTES;
    data.copy(mem, dataAt);
    put64(iovAt, base + BigInt(dataAt));
    put64(iovAt + 8, BigInt(data.length));
    put64(16, base + BigInt(iovAt));
    put64(24, 1n);
    if (fds.length > 0) {
      const len = 16 + fds.length * 4;
      put64(controlAt, BigInt(len));
      put32(controlAt + 8, SOL_SOCKET);
      put32(controlAt + 12, SCM_RIGHTS);
      fds.forEach((f, i) => put32(controlAt + 16 + i * 4, f));
      put64(32, base + BigInt(controlAt));
      put64(40, BigInt(Math.ceil(len / 8) * 8));
    }
    for (;;) {
      const n = Number(bindings().sendmsg(fd, block, 0) as number | bigint);
      if (n >= 0) return n;
      const errno = lastErrno();
      if (errno !== EINTR) throw new SysError('sendmsg', errno, `fd ${fd}`);
    }
  } finally {
    k.free(block);
  }
}

/** Credentials of the process on the other end of a connected unix socket. */
export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/** `getsockopt(fd, SOL_SOCKET, SO_PEERCRED)`: who connected (as of connect time). */
export function peerCredentials(fd: number): PeerCredentials {
  const { getsockopt } = bindings();
  const buf = Buffer.alloc(12);
  const len = [12];
  const rc = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, buf, len) as number;
  if (rc !== 0) throw new SysError('getsockopt', lastErrno(), `SO_PEERCRED fd ${fd}`);
  const le = endianness() === 'LE';
  return le
    ? { pid: buf.readInt32LE(0), uid: buf.readUInt32LE(4), gid: buf.readUInt32LE(8) }
    : { pid: buf.readInt32BE(0), uid: buf.readUInt32BE(4), gid: buf.readUInt32BE(8) };
}

/** close(2) for descriptors that came from native calls (Node's fs.closeSync works too). */
export function closeFd(fd: number): void {
  if ((bindings().close(fd) as number) !== 0) throw new SysError('close', lastErrno(), `fd ${fd}`);
}
