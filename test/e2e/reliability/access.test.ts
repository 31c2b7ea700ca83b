// Access: the shim socket is reachable only by its owner (mode 0600, and a peer of another uid is
// refused by the peer-credential check even when the mode would let it in), the files the shim
// creates are not world-writable, and no argument ever goes through a shell.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, linkSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  e2eSkipReason, repoRoot, runCommand, runtimeFlags, runtimeSkipReason, TS_RUNC, REFERENCE, useContainerd,
} from '../harness/index.js';
import { encodeRequestFrame } from '../../../src/ttrpc/index.js';
import { toBinary, create } from '@bufbuild/protobuf';
import { StateRequestSchema } from '../../../src/api/containerd/task/v2/shim_pb.js';
import { warmMarkerPath } from '../../../src/shim/address.js';
import { taskStateDir, treeSnapshot } from './probe.js';
import { report } from './load.js';

const tag = randomBytes(3).toString('hex');

/** A client that connects to `socket`, sends `frameHex` and reports what happened, as JSON. */
const CLIENT = `
const net = require('node:net');
const [socket, frameHex] = process.argv.slice(1);
const out = { uid: process.getuid(), connected: false, error: null, replyBytes: 0, closedByPeer: false };
const c = net.connect(socket);
const done = () => { console.log(JSON.stringify(out)); process.exit(0); };
setTimeout(() => { c.destroy(); done(); }, 3000);
c.on('connect', () => { out.connected = true; c.write(Buffer.from(frameHex, 'hex')); });
c.on('data', (b) => { out.replyBytes += b.length; });
c.on('error', (e) => { out.error = e.code || String(e); done(); });
c.on('close', () => { out.closedByPeer = out.connected; done(); });
`;

interface ClientResult { uid: number; connected: boolean; error: string | null; replyBytes: number; closedByPeer: boolean }

async function clientAs(user: 'root' | 'nobody', socket: string, id: string): Promise<ClientResult> {
  const frame = encodeRequestFrame(1, 'containerd.task.v2.Task', 'State', {
    payload: toBinary(StateRequestSchema, create(StateRequestSchema, { id })), timeoutNano: 0, metadata: undefined,
  });
  const node = process.execPath;
  const argv = user === 'root' ? [node, '-e', CLIENT, socket, frame.toString('hex')]
    : ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', node, '-e', CLIENT, socket, frame.toString('hex')];
  const r = await runCommand(argv, { timeoutMs: 15_000, cwd: '/' });
  assert.equal(r.code, 0, `client as ${user}: ${r.stderr.toString()}`);
  return JSON.parse(r.stdout.toString()) as ClientResult;
}

describe('access', () => {
  describe('socket and files', { skip: e2eSkipReason() ?? false }, () => {
    const ctx = useContainerd();

    for (const rt of [REFERENCE, TS_RUNC]) {
      test(`${rt.label}: socket 0600, other uids refused, nothing world-writable`, { skip: runtimeSkipReason(rt) ?? false, timeout: 90_000 }, async (t) => {
        const id = `access-${rt.reference ? 'ref' : 'ts'}-${tag}`;
        const r = await ctx.cd.ctr.run(['run', '-d', ...runtimeFlags(ctx.cd, rt), ctx.image, id, 'sleep', '100000']);
        assert.equal(r.code, 0, r.err);
        try {
          const bundle = path.join(taskStateDir(ctx.cd, ctx.cd.namespace), id);
          const socket = readFileSync(path.join(bundle, 'address'), 'utf8').trim().replace(/^unix:\/\//, '');
          const st = statSync(socket);
          const mode = (st.mode & 0o777).toString(8);
          const root = await clientAs('root', socket, id);
          const nobody = await clientAs('nobody', socket, id);
          // Defence in depth: even if the mode let another uid in, the peer-credential check refuses it.
          // The socket directory is closed to other users too, so the probe goes through a hard link
          // in a traversable temp dir, with the socket inode opened to everyone for the moment.
          const linkDir = mkdtempSync(path.join(os.tmpdir(), 'shim-access-'));
          let nobodyOpen: ClientResult;
          try {
            chmodSync(linkDir, 0o755);
            const link = path.join(linkDir, 'sock');
            linkSync(socket, link);
            chmodSync(socket, 0o666);
            nobodyOpen = await clientAs('nobody', link, id);
          } finally {
            chmodSync(socket, 0o600);
            rmSync(linkDir, { recursive: true, force: true });
          }
          // Everything the shim (and the runtime it drives) created for this task, except the rootfs.
          const scanned: Record<string, string> = {};
          const scan = (dir: string, prefix: string): void => {
            for (const [k, v] of treeSnapshot(dir)) if (!k.startsWith('rootfs')) scanned[`${prefix}/${k}`] = v;
          };
          scan(bundle, 'bundle');
          scan(path.join(ctx.cd.dir, 'runtime-root', rt.reference ? 'ref-runc' : 'ts-runc'), 'runtime-root');
          scanned.socket = `s ${mode}`;
          if (existsSync(warmMarkerPath(socket))) scanned.warm = `f ${(lstatSync(warmMarkerPath(socket)).mode & 0o7777).toString(8)}`;
          const worldWritable = Object.entries(scanned)
            .filter(([, v]) => !v.startsWith('l ') && (Number.parseInt(v.split(' ')[1]!, 8) & 0o002) !== 0)
            // containerd creates the `log` fifo itself (not the shim); reported, not ours to fix.
            .filter(([k]) => k !== 'bundle/log');
          const o = { runtime: rt.label, mode, owner: st.uid, root, nobody, nobodyWithOpenMode: nobodyOpen, worldWritable, scanned: Object.keys(scanned).length };
          t.diagnostic(JSON.stringify(o));
          report('access', o);
          assert.ok(root.replyBytes > 0, 'the owner gets an answer');
          if (rt.reference) return; // the reference's answers are recorded, ours are asserted
          assert.equal(mode, '600');
          assert.equal(st.uid, 0);
          assert.equal(nobody.connected, false, 'nobody cannot connect to a 0600 socket');
          assert.equal(nobody.error, 'EACCES');
          assert.equal(nobodyOpen.connected, true, 'with the mode opened, the kernel lets nobody connect');
          assert.equal(nobodyOpen.replyBytes, 0, 'but the shim answers nothing');
          assert.ok(nobodyOpen.closedByPeer || ['EPIPE', 'ECONNRESET'].includes(nobodyOpen.error ?? ''), `and closes the connection: ${JSON.stringify(nobodyOpen)}`);
          assert.deepEqual(worldWritable, [], 'world-writable files');
        } finally {
          await ctx.cd.ctr.run(['task', 'rm', '-f', id], { timeoutMs: 30_000 });
          await ctx.cd.ctr.run(['containers', 'rm', id]);
        }
      });
    }
  });

  test('no argument goes through a shell (src/)', () => {
    const src = path.join(repoRoot(), 'src');
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const n of readdirSync(d)) {
        const full = path.join(d, n);
        if (statSync(full).isDirectory()) walk(full);
        else if (n.endsWith('.ts')) files.push(full);
      }
    };
    walk(src);
    assert.ok(files.length > 20, 'the sources were found');
    const findings: string[] = [];
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      const rel = path.relative(src, f);
      const lines = text.split('\n');
      lines.forEach((line, i) => {
        const code = line.replace(/\/\/.*$/, '');
        if (/shell\s*:\s*(true|['"`])/.test(code)) findings.push(`${rel}:${i + 1}: shell option: ${line.trim()}`);
        if (/['"`]\/bin\/(ba)?sh['"`]|['"`]sh['"`]\s*,\s*\[?\s*['"`]-c['"`]|\bsh -c\b/.test(code)) findings.push(`${rel}:${i + 1}: shell command: ${line.trim()}`);
      });
      // exec/execSync of child_process run their command line through /bin/sh.
      for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*['"](node:)?child_process['"]/g)) {
        const names = m[1]!.split(',').map((s) => s.trim().split(/\s+as\s+/)[0]);
        for (const bad of ['exec', 'execSync']) if (names.includes(bad)) findings.push(`${rel}: imports ${bad} from child_process`);
      }
      if (/child_process['"]\)?\s*\.\s*exec(Sync)?\s*\(|\bcp\.exec(Sync)?\s*\(/.test(text)) findings.push(`${rel}: child_process exec call`);
    }
    assert.deepEqual(findings, []);
  });
});
