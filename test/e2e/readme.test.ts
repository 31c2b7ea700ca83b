// The README's promises, checked: its demo command works on a fresh clone and leaves nothing
// behind, CI runs exactly its test command, `npm run install-shim` does what it says (into a temp
// prefix, never /usr/local), and its TypeScript example (and docs/runtime-client.md's) compiles
// against the package's exports — the README's one also runs against real runc.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SHARED_GROUP_KEY, socketPath, warmMarkerPath } from '../../src/shim/address.js';
import { bundleUnavailable, createBusyboxBundle } from '../fixtures/bundle.js';
import { e2eSkipReason, mountsUnder, pidsWithArgument, repoRoot, runCommand, tsShimSkipReason } from './harness/index.js';

const root = repoRoot();
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

/** The fenced code blocks of a markdown text, with their info string. */
function codeBlocks(markdown: string): { lang: string; body: string; section: string }[] {
  const out: { lang: string; body: string; section: string }[] = [];
  let section = '';
  let open: { lang: string; lines: string[] } | undefined;
  for (const line of markdown.split('\n')) {
    if (open) {
      if (line.startsWith('```')) {
        out.push({ lang: open.lang, body: open.lines.join('\n') + '\n', section });
        open = undefined;
      } else open.lines.push(line);
      continue;
    }
    const fence = /^```(\S*)/.exec(line);
    if (fence) open = { lang: fence[1]!, lines: [] };
    else if (line.startsWith('## ')) section = line.slice(3).trim();
  }
  return out;
}

/** The one-line shell command of the README's block that mentions `script`. */
function readmeCommand(script: string): string {
  const blocks = codeBlocks(readme).filter((b) => b.lang === 'sh' && b.body.includes(script));
  assert.equal(blocks.length, 1, `one README block runs ${script}`);
  const lines = blocks[0]!.body.split('\n').map((l) => l.trim()).filter(Boolean);
  assert.equal(lines.length, 1, `the ${script} block is one command`);
  return lines[0]!;
}

/** The commands a bash script runs, without comments, blank lines, `set -…` and the initial `cd`. */
function scriptCommands(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !/^set -/.test(l) && !/^cd "\$\(dirname "\$0"\)/.test(l));
}

describe('README', () => {
  test('.ci/run runs exactly the README\'s test command', () => {
    const command = readmeCommand('scripts/test.sh');
    assert.equal(command, 'bash scripts/test.sh');
    assert.deepEqual(scriptCommands(path.join(root, '.ci', 'run')), [command]);
    assert.equal(readmeCommand('scripts/demo.sh'), 'bash scripts/demo.sh');
  });

  test('every local link resolves and every docs/*.md is linked', () => {
    const links = [...readme.matchAll(/\]\(([^)#\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^[a-z]+:/.test(l));
    for (const link of links) assert.ok(existsSync(path.join(root, link)), `README links ${link}, which does not exist`);
    for (const doc of readdirSync(path.join(root, 'docs')).filter((n) => n.endsWith('.md'))) {
      assert.ok(links.includes(`docs/${doc}`), `README does not link docs/${doc}`);
    }
  });

  test('the CRI snippet and the RuntimeClass agree on the handler name', () => {
    const toml = codeBlocks(readme).find((b) => b.lang === 'toml' && b.body.includes('io.containerd.grpc.v1.cri'));
    const yaml = codeBlocks(readme).find((b) => b.lang === 'yaml' && b.body.includes('RuntimeClass'));
    assert.ok(toml && yaml);
    const handler = /containerd\.runtimes\.([A-Za-z0-9_-]+)\]/.exec(toml.body)?.[1];
    assert.equal(/handler:\s*(\S+)/.exec(yaml.body)?.[1], handler);
    assert.match(toml.body, /runtime_type = "io\.containerd\.ts\.v2"/);
    assert.match(toml.body, /TypeUrl = /);
    assert.match(toml.body, /ConfigPath = /);
  });
});

describe('npm run install-shim', { skip: tsShimSkipReason() ?? false }, () => {
  let prefix = '';
  before(() => { prefix = mkdtempSync(path.join(os.tmpdir(), 'shim-install-')); });
  after(() => { if (prefix) rmSync(prefix, { recursive: true, force: true }); });
  const install = (...args: string[]) =>
    spawnSync(process.execPath, [path.join(root, 'scripts', 'install-shim.mjs'), ...args], { encoding: 'utf8' });

  test('links the shim into <prefix>/bin and prints the README\'s containerd snippet', () => {
    const r = install('--prefix', prefix);
    assert.equal(r.status, 0, r.stderr);
    const target = path.join(prefix, 'bin', 'containerd-shim-ts-v2');
    assert.ok(lstatSync(target).isSymbolicLink());
    assert.equal(readlinkSync(target), path.join(root, 'bin', 'containerd-shim-ts-v2'));
    assert.match(r.stdout, new RegExp(`installed ${target.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} -> `));
    const toml = codeBlocks(readme).find((b) => b.lang === 'toml' && b.body.includes('io.containerd.grpc.v1.cri'))!;
    for (const line of toml.body.split('\n').filter((l) => l.startsWith('[plugins') || /^\s+\w+ = /.test(l))) {
      assert.ok(r.stdout.includes(line), `install-shim prints ${JSON.stringify(line)}`);
    }
    // Installing again replaces the link; the installed binary answers -v.
    const again = install(`--prefix=${prefix}`);
    assert.equal(again.status, 0, again.stderr);
    const v = spawnSync(target, ['-v'], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    assert.match(v.stdout, /^containerd-shim-ts-v2:\n/);
    assert.match(v.stdout, new RegExp(`\\n  Version:  ${pkg.version.replace(/\./g, '\\.')}\\n`));
    assert.match(v.stdout, /\n  Revision: \S+\n/);
    assert.match(v.stdout, /\n  Node:     v\d+\.\d+\.\d+\n/);
    assert.match(v.stdout, new RegExp(`\\n  Platform: ${process.platform}/${process.arch}\\n`));
    assert.ok(r.stdout.includes(v.stdout.trimEnd()), 'install-shim prints the version it installed');
  });

  test('refuses to replace a file that is not a link, and unknown arguments', () => {
    const other = mkdtempSync(path.join(os.tmpdir(), 'shim-install-'));
    try {
      mkdirSync(path.join(other, 'bin'));
      writeFileSync(path.join(other, 'bin', 'containerd-shim-ts-v2'), 'not ours');
      const r = install('--prefix', other);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /not a symlink/);
      assert.equal(readFileSync(path.join(other, 'bin', 'containerd-shim-ts-v2'), 'utf8'), 'not ours');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
    const bad = install('--prefx', '/x');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown argument --prefx/);
  });
});

describe('the TypeScript examples', { skip: tsShimSkipReason() ?? false }, () => {
  // Inside the checkout (under dist/), so `containerd-shim-ts/runtime` resolves through the
  // package's own `exports`, exactly as it would for a user of the package.
  const dir = path.join(root, 'dist', `readme-example-${randomBytes(4).toString('hex')}`);
  after(() => rmSync(dir, { recursive: true, force: true }));

  const example = (markdown: string, section: string): string => {
    const block = codeBlocks(markdown).find((b) => b.lang === 'ts' && b.section === section);
    assert.ok(block, `a ts block under "## ${section}"`);
    return block.body;
  };

  test('the README\'s and docs/runtime-client.md\'s examples type-check against the package exports', { timeout: 120_000 }, async () => {
    mkdirSync(dir, { recursive: true });
    const readmeExample = example(readme, 'Using the runtime client from TypeScript');
    const docsExample = example(readFileSync(path.join(root, 'docs', 'runtime-client.md'), 'utf8'), 'Example');
    // Both use the same import and the same calls.
    for (const call of ['ProcessMonitor.get()', 'new OciRuntime(', 'runc.create(', 'monitor.waitForExit(', 'runc.exec(', 'runc.kill(', 'runc.delete(']) {
      assert.ok(readmeExample.includes(call) && docsExample.includes(call), `both examples use ${call}`);
    }
    assert.match(readmeExample, /from 'containerd-shim-ts\/runtime'/);
    writeFileSync(path.join(dir, 'readme-example.ts'), readmeExample);
    writeFileSync(path.join(dir, 'docs-example.ts'), docsExample);
    writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true,
        types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')], outDir: dir, rootDir: dir,
      },
      files: ['readme-example.ts', 'docs-example.ts'],
    }));
    const tsc = await runCommand([process.execPath, path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { timeoutMs: 110_000 });
    assert.equal(tsc.code, 0, `tsc: ${tsc.stdout.toString()}${tsc.stderr.toString()}`);
    assert.ok(existsSync(path.join(dir, 'readme-example.js')));
  });

  test('the README\'s example runs against real runc', { timeout: 60_000, skip: bundleUnavailable() ?? false }, async () => {
    assert.ok(existsSync(path.join(dir, 'readme-example.js')), 'compiled by the previous test');
    const bundle = createBusyboxBundle({ args: ['sleep', '60'] });
    const state = mkdtempSync(path.join(os.tmpdir(), 'shim-readme-runc-'));
    try {
      const r = await runCommand([process.execPath, path.join(dir, 'readme-example.js'), bundle.dir, state], { timeoutMs: 50_000 });
      assert.equal(r.code, 0, `example: ${r.stderr.toString()}`);
      assert.deepEqual(r.stdout.toString().split('\n'), ['running', '3', '137', '']);
      assert.deepEqual(readdirSync(state), [], 'runc state removed by the example\'s delete');
    } finally {
      spawnSync('runc', ['--root', state, 'delete', '--force', 'demo'], { stdio: 'ignore' });
      rmSync(state, { recursive: true, force: true });
      bundle.remove();
    }
  });
});

/** Why the fresh-clone demo cannot run here, or undefined. */
function demoSkipReason(): string | undefined {
  const e2e = e2eSkipReason();
  if (e2e) return e2e;
  if (!existsSync(path.join(root, '.git'))) return 'not a git checkout (the test clones its HEAD)';
  if (spawnSync('git', ['-C', root, 'rev-parse', 'HEAD'], { stdio: 'ignore' }).status !== 0) return 'git cannot read HEAD';
  if (spawnSync('npm', ['--version'], { stdio: 'ignore' }).status !== 0) return 'npm is not on PATH';
  return undefined;
}

describe('bash scripts/demo.sh on a fresh clone', { skip: demoSkipReason() ?? false }, () => {
  let work = '';
  let address: string | undefined;
  before(() => { work = mkdtempSync(path.join(os.tmpdir(), 'shim-readme-')); });
  after(() => {
    if (!work) return;
    // Only if the demo failed to clean up: end what carries its containerd's address.
    if (address) for (const pid of pidsWithArgument(address)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    rmSync(work, { recursive: true, force: true });
  });

  test('prints the container\'s output and leaves nothing behind', { timeout: 300_000 }, async (t) => {
    const clone = path.join(work, 'clone');
    const tmp = path.join(work, 'tmp');
    mkdirSync(tmp);
    const git = await runCommand(['git', 'clone', '-q', root, clone], { timeoutMs: 60_000 });
    assert.equal(git.code, 0, git.stderr.toString());
    const started = Date.now();
    // TMPDIR: the demo's containerd directory and image cache go where the test can check them.
    // npm ci takes the packages from the local npm cache (the suite's own npm ci filled it).
    const r = await runCommand(['bash', readmeCommand('scripts/demo.sh').split(' ')[1]!], {
      cwd: clone, timeoutMs: 280_000, env: { ...process.env, TMPDIR: tmp, npm_config_prefer_offline: 'true' },
    });
    const seconds = (Date.now() - started) / 1000;
    t.diagnostic(`demo on a fresh clone took ${seconds.toFixed(1)} s (npm ci, build, run)`);
    const stdout = r.stdout.toString();
    const stderr = r.stderr.toString();
    assert.equal(r.code, 0, `demo failed:\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`);
    assert.ok(stdout.split('\n').includes('hello from containerd-shim-ts'), stdout.slice(-2000));
    assert.match(stderr, /demo: cleaned up/);

    const m = /private containerd pid (\d+) on (\S+)/.exec(stderr);
    assert.ok(m, stderr);
    const pid = Number(m[1]);
    address = m[2]!;
    const dir = path.dirname(address);
    assert.ok(dir.startsWith(tmp + path.sep), `the demo's containerd lived under TMPDIR (${dir})`);
    // containerd, shims and containers are gone.
    assert.throws(() => process.kill(pid, 0), 'containerd still running');
    assert.deepEqual(pidsWithArgument(address), [], 'processes still carry the demo containerd\'s address');
    assert.deepEqual(pidsWithArgument(dir), []);
    // No mounts, no temp dirs (the locally built image is cached on purpose), no sockets.
    assert.deepEqual(mountsUnder(tmp), []);
    const left = readdirSync(tmp).filter((n) => !/^containerd-shim-ts-image-[0-9a-f]+\.tar(\.json)?$/.test(n));
    assert.deepEqual(left, [], 'the demo left temp files');
    for (const key of [SHARED_GROUP_KEY, 'demo']) {
      const s = socketPath(address, 'demo', key);
      assert.ok(!existsSync(s) && !existsSync(warmMarkerPath(s)), `shim socket ${s} left behind`);
    }
    address = undefined;
  });
});
