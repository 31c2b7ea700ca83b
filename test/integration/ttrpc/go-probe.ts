// Builds the Go ttrpc probe (fixtures/probe/main.go) against Debian's Go ttrpc sources, offline in
// GOPATH mode, caching the binary under os.tmpdir() keyed by a hash of the source and Go version.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where Debian's golang-*-dev packages put Go sources (overridable for other hosts). */
const SYSTEM_GOPATH = process.env['TTRPC_GO_GOPATH'] ?? '/usr/share/gocode';

/** The fixture's source, found from the compiled file (dist/test/...) or the source tree. */
export function probeSource(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const rel = path.join('test', 'integration', 'ttrpc', 'fixtures', 'probe', 'main.go');
  for (const root of [path.resolve(here, '..', '..', '..', '..'), path.resolve(here, '..', '..', '..')]) {
    const p = path.join(root, rel);
    if (existsSync(p)) return p;
  }
  throw new Error(`probe source ${rel} not found`);
}

/** The built probe binary, or a reason why it cannot be built here. */
export function buildGoProbe(): { binary: string } | { skip: string } {
  const version = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) return { skip: 'the Go toolchain (`go`) is not installed (Debian: golang-go)' };
  if (!existsSync(path.join(SYSTEM_GOPATH, 'src', 'github.com', 'containerd', 'ttrpc', 'server.go'))) {
    return { skip: `Go ttrpc sources missing under ${SYSTEM_GOPATH} (Debian: golang-github-containerd-ttrpc-dev)` };
  }
  const src = probeSource();
  const hash = createHash('sha256').update(readFileSync(src)).update(version.stdout).update(SYSTEM_GOPATH).digest('hex').slice(0, 16);
  const cache = path.join(os.tmpdir(), `ttrpc-go-probe-${hash}`);
  const binary = path.join(cache, 'probe');
  if (existsSync(binary)) return { binary };
  const work = path.join(cache, `build-${process.pid}`);
  const pkg = path.join(work, 'src', 'probe');
  mkdirSync(pkg, { recursive: true });
  copyFileSync(src, path.join(pkg, 'main.go'));
  const out = path.join(work, 'probe');
  const build = spawnSync('go', ['build', '-o', out, '.'], {
    cwd: pkg,
    encoding: 'utf8',
    env: {
      ...process.env,
      GO111MODULE: 'off',
      GOPATH: `${work}${path.delimiter}${SYSTEM_GOPATH}`,
      GOCACHE: path.join(os.tmpdir(), 'ttrpc-go-probe-gocache'),
      GOFLAGS: '',
      GOPROXY: 'off',
    },
  });
  if (build.status !== 0) {
    rmSync(work, { recursive: true, force: true });
    throw new Error(`go build of the ttrpc probe failed:\n${build.stderr}`);
  }
  renameSync(out, binary);
  rmSync(work, { recursive: true, force: true });
  return { binary };
}

/** Starts `probe server` on a socket; resolves once it listens. */
export async function startGoServer(binary: string, socket: string): Promise<ChildProcess> {
  const child = spawn(binary, ['server', '-socket', socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`go probe server exited with ${code}`)));
  });
  return child;
}

/** Stops a child we started and waits for it to exit. */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  await exited;
}

/** One call for `probe client`. */
export interface GoCall {
  id: number;
  method: string;
  value?: string;
  service?: string;
  metadata?: [string, string][];
  timeoutMs?: number;
}

/** One result line of `probe client`. */
export interface GoResult {
  id: number;
  ok: boolean;
  value?: string;
  code: number;
  message?: string;
}

/** Runs the Go client: all calls concurrently over one connection; results by id. */
export async function runGoClient(binary: string, socket: string, calls: GoCall[]): Promise<Map<number, GoResult>> {
  const child = spawn(binary, ['client', '-socket', socket], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.stdin!.end(calls.map((c) => JSON.stringify(c)).join('\n') + '\n');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await done;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`go probe client exited with ${code}: ${stderr}`);
  const results = new Map<number, GoResult>();
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const r = JSON.parse(line) as GoResult;
    results.set(r.id, r);
  }
  return results;
}
