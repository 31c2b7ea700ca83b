// Hostile input on a live shim's ttrpc socket, sent with our TtrpcClient (and raw frames) to our
// daemon and to the reference shim: bad frames, oversize messages, hostile ids, bundles outside the
// state dir, malformed or huge process specs, unknown option types, bad stdio URIs. Each answer's
// code is compared with the reference's; where the reference answers Unknown (or crashes), ours
// must answer InvalidArgument. Afterwards both shims still serve, and no file outside where it
// belongs was touched.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { AnySchema } from '@bufbuild/protobuf/wkt';
import {
  e2eSkipReason, REFERENCE, runtimeFlags, runtimeSkipReason, TS_RUNC, useContainerd, type RuntimeUnderTest,
} from '../harness/index.js';
import { Task, StateRequestSchema } from '../../../src/api/containerd/task/v2/shim_pb.js';
import { Code, codeName, encodeFrame, HEADER_LENGTH, MessageType, readHeader, TtrpcClient, TtrpcError, decodeResponse } from '../../../src/ttrpc/index.js';
import { taskStateDir, treeDiff, treeSnapshot } from './probe.js';
import { report } from './load.js';

const tag = randomBytes(3).toString('hex');
const NS = 'e2e';
const META = { metadata: [['containerd-namespace-ttrpc', NS]] as [string, string][], timeoutMs: 20_000 };

/** What one hostile request got: a code name, or `ok`. */
type Answer = string;

interface Case {
  readonly name: string;
  /** Sends the request through `client`; `ctx` gives the anchor task id, bundle dirs and sandbox. */
  readonly send: (client: TtrpcClient, c: CaseContext) => Promise<unknown>;
}

interface CaseContext {
  readonly anchor: string;
  /** A directory outside containerd's state dir the requests point at. */
  readonly sandbox: string;
  /** containerd's bundle dir for this namespace (where real bundles live). */
  readonly bundles: string;
  readonly label: string;
}

const anyOf = (typeUrl: string, value: Uint8Array | string): ReturnType<typeof create<typeof AnySchema>> =>
  create(AnySchema, { typeUrl, value: typeof value === 'string' ? Buffer.from(value) : value });
const spec = (o: unknown): ReturnType<typeof anyOf> => anyOf('types.containerd.io/opencontainers/runtime-spec/1/Process', JSON.stringify(o));
const goodProcess = { args: ['true'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } };

const createIn = (bundleOf: (c: CaseContext, id: string) => string, id: string, extra: Record<string, unknown> = {}) =>
  (client: TtrpcClient, c: CaseContext): Promise<unknown> => {
    const bundle = bundleOf(c, id);
    return client.call(Task.method.create, { id, bundle, ...extra }, META);
  };
const inSandbox = (c: CaseContext): string => path.join(c.sandbox, NS, 'b');

const CASES: readonly Case[] = [
  { name: 'create: id with /', send: createIn(inSandbox, 'a/b') },
  { name: 'create: id ..', send: createIn(inSandbox, '..') },
  { name: 'create: id ../../etc', send: createIn(inSandbox, '../../etc') },
  { name: 'create: id with NUL', send: createIn(inSandbox, 'a\u0000b') },
  { name: 'create: id of 1000 characters', send: createIn(inSandbox, 'x'.repeat(1000)) },
  { name: 'create: empty id', send: createIn(inSandbox, '') },
  { name: 'create: bundle outside the state dir', send: createIn((c, id) => path.join(c.sandbox, NS, id), `outside-${tag}`) },
  { name: 'create: relative bundle', send: createIn((_c, id) => `${NS}/${id}`, `rel-${tag}`) },
  { name: 'create: bundle with ..', send: createIn((c, id) => `${c.bundles}/../${NS}/${id}`, `dots-${tag}`) },
  { name: 'create: unknown runtime options type', send: createIn((c, id) => path.join(c.bundles, id), `opts-${tag}`, { options: anyOf('example.com/not.a.Type', 'x') }) },
  { name: 'create: bad stdio URI', send: createIn((c, id) => path.join(c.bundles, id), `stdio-${tag}`, { stdout: 'weird-scheme://nowhere' }) },
  { name: 'exec: id with /', send: (cl, c) => cl.call(Task.method.exec, { id: c.anchor, execId: 'a/b', spec: spec(goodProcess) }, META) },
  { name: 'exec: id of 1000 characters', send: (cl, c) => cl.call(Task.method.exec, { id: c.anchor, execId: 'e'.repeat(1000), spec: spec(goodProcess) }, META) },
  { name: 'exec: spec is not JSON', send: (cl, c) => cl.call(Task.method.exec, { id: c.anchor, execId: `nj-${tag}`, spec: anyOf('types.containerd.io/opencontainers/runtime-spec/1/Process', '{not json') }, META) },
  { name: 'exec: spec missing', send: (cl, c) => cl.call(Task.method.exec, { id: c.anchor, execId: `ns-${tag}` }, META) },
  { name: 'exec: spec args of the wrong type', send: (cl, c) => cl.call(Task.method.exec, { id: c.anchor, execId: `wt-${tag}`, spec: spec({ ...goodProcess, args: 'true' }) }, META) },
  {
    name: 'exec: huge spec (3 MiB of args) then start',
    send: async (cl, c) => {
      const execId = `huge-${tag}`;
      await cl.call(Task.method.exec, { id: c.anchor, execId, spec: spec({ ...goodProcess, args: ['true', ...Array.from({ length: 3 * 1024 }, () => 'a'.repeat(1023))] }) }, META);
      try {
        return await cl.call(Task.method.start, { id: c.anchor, execId }, META);
      } finally {
        await cl.call(Task.method.delete, { id: c.anchor, execId }, META).catch(() => undefined);
      }
    },
  },
  {
    name: 'exec: bad stdio URI then start',
    send: async (cl, c) => {
      const execId = `bio-${tag}`;
      await cl.call(Task.method.exec, { id: c.anchor, execId, stdout: 'weird-scheme://nowhere', spec: spec(goodProcess) }, META);
      try {
        return await cl.call(Task.method.start, { id: c.anchor, execId }, META);
      } finally {
        await cl.call(Task.method.delete, { id: c.anchor, execId }, META).catch(() => undefined);
      }
    },
  },
  { name: 'state: id ../x', send: (cl) => cl.call(Task.method.state, { id: '../x' }, META) },
  { name: 'kill: unknown id with NUL', send: (cl) => cl.call(Task.method.kill, { id: 'a\u0000b', signal: 9 }, META) },
  { name: 'unknown method', send: (cl) => cl.callRaw('containerd.task.v2.Task', 'NoSuchMethod', new Uint8Array(), META) },
  { name: 'unknown service', send: (cl) => cl.callRaw('no.such.Service', 'State', new Uint8Array(), META) },
  { name: 'request that is not protobuf', send: (cl) => cl.callRaw('containerd.task.v2.Task', 'State', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), META) },
];

/**
 * Where ours deliberately answers differently from a sane reference answer (docs/reliability.md):
 * containerd's identifier rule applies to exec ids too (the reference accepts any string, which
 * becomes a file name), and a bundle path that is not absolute and normalised is invalid input,
 * not a missing file.
 */
const IMPROVEMENTS: Readonly<Record<string, { reference: string; ours: string }>> = {
  'exec: id with /': { reference: 'ok', ours: 'InvalidArgument' },
  'exec: id of 1000 characters': { reference: 'ok', ours: 'InvalidArgument' },
  'create: relative bundle': { reference: 'NotFound', ours: 'InvalidArgument' },
  'create: bundle with ..': { reference: 'NotFound', ours: 'InvalidArgument' },
};

/** Sends raw bytes on a fresh connection and collects what comes back until close or `ms`. */
function raw(socket: string, bytes: Buffer, ms = 2_000): Promise<{ reply: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const conn = net.connect(socket);
    const chunks: Buffer[] = [];
    let closed = false;
    const done = (): void => { clearTimeout(timer); conn.destroy(); resolve({ reply: Buffer.concat(chunks), closed }); };
    const timer = setTimeout(done, ms);
    conn.on('data', (b) => chunks.push(b));
    conn.on('error', () => { closed = true; done(); });
    conn.on('close', () => { closed = true; done(); });
    conn.on('connect', () => conn.write(bytes));
  });
}

/** The status code of the first response frame in `reply`, or `none`. */
function replyCode(reply: Buffer): string {
  if (reply.length < HEADER_LENGTH) return 'none';
  const h = readHeader(reply);
  if (h.type !== MessageType.Response || reply.length < HEADER_LENGTH + h.length) return 'none';
  const r = decodeResponse(reply.subarray(HEADER_LENGTH, HEADER_LENGTH + h.length));
  return codeName(r.code ?? Code.OK);
}

const FRAME_CASES: readonly { name: string; bytes: () => Buffer }[] = [
  { name: 'random bytes', bytes: () => randomBytes(4096) },
  { name: 'truncated frame (header says 100, 10 sent)', bytes: () => encodeFrame(1, MessageType.Request, randomBytes(100)).subarray(0, HEADER_LENGTH + 10) },
  { name: 'oversize message (5 MiB)', bytes: () => encodeFrame(3, MessageType.Request, Buffer.alloc(5 << 20, 0x41)) },
  { name: 'header claiming 4 GiB', bytes: () => { const b = Buffer.alloc(HEADER_LENGTH); b.writeUInt32BE(0xffffffff, 0); b.writeUInt32BE(5, 4); b[8] = MessageType.Request; return b; } },
  { name: 'even stream id', bytes: () => encodeFrame(2, MessageType.Request, Buffer.alloc(0)) },
  { name: 'response frame sent to the server', bytes: () => encodeFrame(1, MessageType.Response, Buffer.alloc(0)) },
];

describe('hostile input on the shim socket', { skip: e2eSkipReason() ?? false }, () => {
  const ctx = useContainerd({ namespace: NS });
  let sandbox = '';
  const answers: Record<string, Record<string, Answer>> = {};
  const frames: Record<string, Record<string, string>> = {};
  before(() => {
    sandbox = mkdtempSync(path.join(os.tmpdir(), 'shim-hostile-'));
    mkdirSync(path.join(sandbox, NS, 'b'), { recursive: true });
  });
  after(() => { if (sandbox) rmSync(sandbox, { recursive: true, force: true }); });

  const anchors: string[] = [];
  const probeShim = async (rt: RuntimeUnderTest): Promise<{ socket: string; anchor: string }> => {
    const anchor = `hostile-${rt.reference ? 'ref' : 'ts'}-${tag}-${anchors.length}`;
    anchors.push(anchor);
    const r = await ctx.cd.ctr.run(['run', '-d', ...runtimeFlags(ctx.cd, rt), ctx.image, anchor, 'sleep', '100000']);
    assert.equal(r.code, 0, r.err);
    const address = readFileSync(path.join(taskStateDir(ctx.cd, NS), anchor, 'address'), 'utf8').trim();
    return { socket: address.replace(/^unix:\/\//, ''), anchor };
  };
  const alive = async (socket: string): Promise<boolean> => {
    try {
      const c = await TtrpcClient.connect(socket, { timeoutMs: 2_000 });
      c.close();
      return true;
    } catch {
      return false;
    }
  };
  after(async () => {
    for (const a of anchors) {
      await ctx.cd.ctr.run(['task', 'rm', '-f', a], { timeoutMs: 30_000 });
      await ctx.cd.ctr.run(['containers', 'rm', a]);
    }
  });

  for (const rt of [REFERENCE, TS_RUNC]) {
    test(`${rt.label}: every hostile request answered, shim still serving, nothing touched`, {
      skip: runtimeSkipReason(rt) ?? false, timeout: 180_000,
    }, async (t) => {
      let shim = await probeShim(rt);
      const first = shim;
      const bundles = taskStateDir(ctx.cd, NS);
      // Bundles some cases point at inside the state dir (empty: no config.json, so nothing can run).
      for (const id of [`opts-${tag}`, `stdio-${tag}`]) mkdirSync(path.join(bundles, id), { recursive: true });
      mkdirSync(path.join(sandbox, NS, `outside-${tag}`), { recursive: true });
      const watched = [sandbox, path.join(ctx.cd.dir, 'runtime-root'), '/etc/containerd-shim-ts'];
      const before = watched.map((d) => treeSnapshot(d, { mtime: true }));
      const stateBefore = new Set(treeSnapshot(bundles).keys());
      const mine: Record<string, Answer> = {};
      let crashes = 0;
      // After each request: if the shim no longer accepts connections it crashed; the reference
      // gets a fresh shim (a new anchor task) so the remaining cases still say something.
      const afterCase = async (name: string): Promise<void> => {
        if (await alive(shim.socket)) return;
        mine[name] = `crash (answered ${mine[name]})`;
        crashes++;
        shim = await probeShim(rt);
      };
      // A shim can also die a moment after the check above said it was up (the reference panics in
      // a goroutine after some replies): a refused connect is then the previous case's crash.
      const connect = async (previous: string | undefined): Promise<TtrpcClient> => {
        try {
          return await TtrpcClient.connect(shim.socket, { timeoutMs: 20_000 });
        } catch (err) {
          if (previous === undefined || await alive(shim.socket)) throw err;
          if (!mine[previous]!.startsWith('crash')) {
            mine[previous] = `crash (answered ${mine[previous]})`;
            crashes++;
          }
          shim = await probeShim(rt);
          return TtrpcClient.connect(shim.socket, { timeoutMs: 20_000 });
        }
      };
      let previous: string | undefined;
      for (const c of CASES) {
        const client = await connect(previous);
        previous = c.name;
        try {
          await c.send(client, { anchor: shim.anchor, sandbox, bundles, label: rt.label });
          mine[c.name] = 'ok';
        } catch (err) {
          mine[c.name] = err instanceof TtrpcError ? codeName(err.code) : `thrown: ${(err as Error).message}`;
        } finally {
          client.close();
        }
        await afterCase(c.name);
      }
      const frameAnswers: Record<string, string> = {};
      for (const f of FRAME_CASES) {
        const r = await raw(shim.socket, f.bytes());
        frameAnswers[f.name] = `${replyCode(r.reply)}${r.closed ? ', closed' : ', open'}`;
        if (!(await alive(shim.socket))) {
          frameAnswers[f.name] += ', crash';
          crashes++;
          shim = await probeShim(rt);
        }
      }
      answers[rt.label] = mine;
      frames[rt.label] = frameAnswers;
      t.diagnostic(JSON.stringify({ crashes, answers: mine, frames: frameAnswers }));
      report('hostile', { runtime: rt.label, crashes, answers: mine, frames: frameAnswers });

      // Still serving: a fresh connection gets the anchor's state.
      const client = await TtrpcClient.connect(shim.socket, { timeoutMs: 10_000 });
      try {
        const s = await client.call(Task.method.state, create(StateRequestSchema, { id: shim.anchor }), META);
        assert.equal(s.id, shim.anchor);
      } finally {
        client.close();
      }
      assert.equal(await ctx.cd.ctr.taskStatus(shim.anchor), 'RUNNING', 'the anchor task survived');
      const touched = watched.map((d, i) => treeDiff(before[i]!, treeSnapshot(d, { mtime: true }))).flat()
        .filter((l) => !anchors.some((a) => l.includes(a)));
      const newState = [...treeSnapshot(bundles).keys()].filter((k) => !stateBefore.has(k) && !anchors.some((a) => k.startsWith(a)));
      for (const id of [`opts-${tag}`, `stdio-${tag}`]) rmSync(path.join(bundles, id), { recursive: true, force: true });
      if (rt.reference) {
        t.diagnostic(`reference touched: ${JSON.stringify(touched)}; wrote into refused bundles: ${JSON.stringify(newState)}`);
        return;
      }
      assert.equal(crashes, 0, 'our daemon never stopped serving');
      assert.equal(shim.anchor, first.anchor);
      assert.deepEqual(touched, [], 'files touched outside where they belong');
      assert.deepEqual(newState, [], 'files our shim wrote into refused bundles');
    });
  }

  test('ours answers like the reference, or InvalidArgument where the reference answers Unknown', {
    skip: runtimeSkipReason(TS_RUNC) ?? runtimeSkipReason(REFERENCE) ?? false,
  }, () => {
    const ref = answers[REFERENCE.label];
    const mine = answers[TS_RUNC.label];
    assert.ok(ref && mine, 'both shims were probed');
    const wrong: string[] = [];
    for (const c of CASES) {
      const r = ref[c.name]!;
      const m = mine[c.name]!;
      const improvement = IMPROVEMENTS[c.name];
      if (improvement) {
        // A documented, deliberate difference: both sides must still answer exactly as recorded.
        if (r !== improvement.reference || m !== improvement.ours) wrong.push(`${c.name}: ours ${m}, reference ${r}; documented ${JSON.stringify(improvement)}`);
        continue;
      }
      // Where the reference fails sanely, agree; where it crashes or says Unknown (a runtime or
      // file error after it accepted the input; Unavailable: it dropped the connection mid-call) ours
      // refuses the input itself.
      const want = r === 'Unknown' || r === 'Unavailable' || r.startsWith('crash') ? 'InvalidArgument' : r;
      if (m !== want) wrong.push(`${c.name}: ours ${m}, reference ${r}, want ${want}`);
    }
    assert.deepEqual(wrong, []);
  });
});
