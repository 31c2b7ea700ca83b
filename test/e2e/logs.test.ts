// Logs operators can use: the shim daemon writes into containerd's log (through the bundle's `log`
// fifo, which containerd copies into its own output) in logrus text format, like containerd's own
// shims; `containerd --log-level debug` makes containerd pass `-debug`, which turns on our debug
// lines; a failing step logs an error line naming the container id and the step.
// Compared with the reference shim at the format level: both write logrus text lines with
// `time`, `level`, `msg` first, fields sorted by key, and `namespace` / `runtime` fields.
// Deliberate difference: a failed create is logged by our shim as an error line naming the id
// (the reference logs nothing for it; only containerd's cleanup warnings mention it).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  Containerd, REFERENCE, TS_RUNC, TaskService, busyboxImage, e2eSkipReason, runtimeFlags, runtimeSkipReason, sleep, tsShimSkipReason,
  withShim, type RuntimeUnderTest,
} from './harness/index.js';

/** One logrus text line, parsed. */
interface LogLine {
  readonly raw: string;
  /** Keys in the order they appear. */
  readonly keys: string[];
  readonly fields: Record<string, string>;
}

const TOKEN = /([A-Za-z0-9_.-]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)(?:\s|$)/y;

/** Parses `key=value key="quoted value" …`; undefined when the line is not entirely of that form. */
function parseLogrus(raw: string): LogLine | undefined {
  const keys: string[] = [];
  const fields: Record<string, string> = {};
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < raw.length) {
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(raw);
    if (!m) return undefined;
    const value = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
    keys.push(m[1]!);
    fields[m[1]!] = value;
    pos = TOKEN.lastIndex;
  }
  return { raw, keys, fields };
}

/** The top-level lines of containerd's log that a shim of `runtime` wrote. */
function shimLines(cd: Containerd, runtime: string): LogLine[] {
  return cd.logTail(100_000).split('\n').map(parseLogrus)
    .filter((l): l is LogLine => l !== undefined && l.fields.runtime === runtime);
}

/** Asserts the logrus text layout: time (RFC 3339, nine fractional digits), level, msg, then sorted keys. */
function assertLogrusLayout(l: LogLine): void {
  assert.deepEqual(l.keys.slice(0, 3), ['time', 'level', 'msg'], l.raw);
  assert.match(l.fields.time!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/, l.raw);
  assert.ok(['debug', 'info', 'warning', 'error'].includes(l.fields.level!), l.raw);
  const rest = l.keys.slice(3);
  assert.deepEqual(rest, [...rest].sort(), `fields sorted by key: ${l.raw}`);
}

async function waitForLine(cd: Containerd, runtime: string, pred: (l: LogLine) => boolean, what: string): Promise<LogLine> {
  for (let i = 0; i < 100; i++) {
    const found = shimLines(cd, runtime).find(pred);
    if (found) return found;
    await sleep(100);
  }
  throw new Error(`no ${what} line from ${runtime} in containerd's log; tail:\n${cd.logTail(40)}`);
}

const skip = e2eSkipReason() ?? tsShimSkipReason() ?? false;

describe('shim logs in containerd\'s log', { skip }, () => {
  let debugCd: Containerd | undefined;
  let infoCd: Containerd | undefined;
  let image = '';
  let confDir = '';

  before(async () => {
    confDir = mkdtempSync(path.join(os.tmpdir(), 'shim-logs-'));
    debugCd = await Containerd.start({ namespace: 'logs', logLevel: 'debug' });
    image = await debugCd.importImage(busyboxImage());
    infoCd = await Containerd.start({ namespace: 'logs', logLevel: 'info' });
    await infoCd.importImage(busyboxImage());
  }, { timeout: 120_000 });

  after(async () => {
    await debugCd?.stop();
    await infoCd?.stop();
    if (confDir) rmSync(confDir, { recursive: true, force: true });
    // runc leaves the namespace's empty parent cgroups behind; rmdir removes only empty ones.
    for (const c of existsSync('/sys/fs/cgroup') ? readdirSync('/sys/fs/cgroup') : []) {
      try { rmdirSync(path.join('/sys/fs/cgroup', c, 'logs')); } catch { /* absent or in use */ }
    }
  }, { timeout: 120_000 });

  const newId = (name: string): string => `${name}-${randomBytes(3).toString('hex')}`;

  async function runOnce(cd: Containerd, rt: RuntimeUnderTest, id: string): Promise<void> {
    const r = await cd.ctr.run(['run', '--rm', ...runtimeFlags(cd, rt), image, id, 'echo', 'logged']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'logged\n');
  }

  for (const rt of [REFERENCE, TS_RUNC]) {
    const runtime = rt.runtime;
    test(`${rt.label}: logrus text lines with namespace and runtime`, { skip: runtimeSkipReason(rt) ?? false, timeout: 60_000 }, async () => {
      const id = newId('log');
      await runOnce(debugCd!, rt, id);
      const loop = await waitForLine(debugCd!, runtime, (l) => l.fields.msg === 'starting signal loop' && l.fields.namespace === 'logs', 'starting signal loop');
      assertLogrusLayout(loop);
      assert.match(loop.fields.pid ?? '', /^\d+$/);
      for (const l of shimLines(debugCd!, runtime)) assertLogrusLayout(l);
    });
  }

  test('ours: task lines name the namespace and the container id; -debug adds a line per call', { timeout: 60_000 }, async () => {
    const id = newId('dbg');
    await runOnce(debugCd!, TS_RUNC, id);
    const created = await waitForLine(debugCd!, TS_RUNC.runtime, (l) => l.fields.msg === 'task created' && l.fields.id === id, 'task created');
    assert.equal(created.fields.namespace, 'logs');
    assert.equal(created.fields.level, 'info');
    assert.match(created.fields.pid ?? '', /^\d+$/);
    // containerd at debug level passed -debug: one debug line per Task call, with the method.
    for (const method of ['Create', 'Start', 'Wait', 'Delete']) {
      const l = await waitForLine(debugCd!, TS_RUNC.runtime,
        (x) => x.fields.level === 'debug' && x.fields.id === id && x.fields.method === method, `debug ${method}`);
      assertLogrusLayout(l);
      assert.equal(l.fields.namespace, 'logs');
    }
  });

  test('ours without -debug (containerd at info): info lines only', { timeout: 60_000 }, async () => {
    const id = newId('info');
    await runOnce(infoCd!, TS_RUNC, id);
    await waitForLine(infoCd!, TS_RUNC.runtime, (l) => l.fields.msg === 'task created' && l.fields.id === id, 'task created');
    assert.deepEqual(shimLines(infoCd!, TS_RUNC.runtime).filter((l) => l.fields.level === 'debug').map((l) => l.raw), []);
  });

  test('a failing create logs an error line naming the id and the step (the reference logs none)', { timeout: 60_000 }, async () => {
    const bad = path.join(confDir, 'bad-binary.toml');
    writeFileSync(bad, 'binary_name = "/nonexistent/oci-runtime"\n');
    const id = newId('badcreate');
    const r = await debugCd!.ctr.run(['run', '--rm', '--runtime', 'io.containerd.ts.v2', '--runtime-config-path', bad, image, id, 'true']);
    await debugCd!.ctr.run(['containers', 'rm', id]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /\/nonexistent\/oci-runtime/);
    const l = await waitForLine(debugCd!, TS_RUNC.runtime, (x) => x.fields.level === 'error' && x.fields.id === id, 'error');
    assertLogrusLayout(l);
    assert.equal(l.fields.msg, 'create failed');
    assert.equal(l.fields.namespace, 'logs');
    assert.match(l.fields.error ?? '', /\/nonexistent\/oci-runtime/);

    if (runtimeSkipReason(REFERENCE) === undefined) {
      const refId = newId('badcreate-ref');
      const rr = await debugCd!.ctr.run(['run', '--rm', '--runtime', REFERENCE.runtime, '--runc-binary', '/nonexistent/oci-runtime', image, refId, 'true']);
      await debugCd!.ctr.run(['containers', 'rm', refId]);
      assert.notEqual(rr.code, 0);
      await sleep(500);
      const refErrors = shimLines(debugCd!, REFERENCE.runtime).filter((x) => x.fields.level === 'error');
      assert.deepEqual(refErrors.map((x) => x.raw), [], 'the reference shim logs no error line for a failed create');
    }
  });

  test('ours: the shared daemon\'s own lines still reach containerd after the task that started it is gone', { timeout: 60_000 }, async () => {
    // The daemon's stderr is the log fifo of the bundle whose start spawned it; containerd stops
    // reading that fifo when that task is deleted. Its own lines must then go to a live task's fifo.
    const first = newId('first');
    const second = newId('second');
    const flags = runtimeFlags(debugCd!, TS_RUNC);
    await debugCd!.ctr.ok(['run', '-d', ...flags, image, first, 'sleep', '1000']);
    await debugCd!.ctr.ok(['run', '-d', ...flags, image, second, 'sleep', '1000']);
    try {
      await debugCd!.ctr.run(['task', 'rm', '-f', first]);
      await debugCd!.ctr.run(['containers', 'rm', first]);
      // A request for a task this daemon does not have is logged by the daemon's own logger.
      const ghost = newId('ghost');
      await assert.rejects(withShim(debugCd!, 'logs', second, (client) => client.call(TaskService.method.state, { id: ghost })));
      const l = await waitForLine(debugCd!, TS_RUNC.runtime, (x) => x.fields.id === ghost && x.fields.method === 'State', 'daemon line for the unknown task');
      assertLogrusLayout(l);
      assert.equal(l.fields.namespace, 'logs');
      assert.match(l.fields.pid ?? '', /^\d+$/);
    } finally {
      await debugCd!.ctr.run(['task', 'rm', '-f', second]);
      await debugCd!.ctr.run(['containers', 'rm', second]);
      await debugCd!.ctr.run(['task', 'rm', '-f', first]);
      await debugCd!.ctr.run(['containers', 'rm', first]);
    }
  });

  test('a failing exec start logs an error line naming the id, the exec id and the call', { timeout: 60_000 }, async () => {
    const id = newId('badexec');
    await debugCd!.ctr.ok(['run', '-d', ...runtimeFlags(debugCd!, TS_RUNC), image, id, 'sleep', '1000']);
    try {
      const ex = await debugCd!.ctr.run(['task', 'exec', '--exec-id', 'nope', id, '/no/such/binary']);
      assert.notEqual(ex.code, 0);
      const l = await waitForLine(debugCd!, TS_RUNC.runtime,
        (x) => x.fields.level === 'error' && x.fields.id === id && x.fields.exec_id === 'nope', 'exec error');
      assertLogrusLayout(l);
      assert.equal(l.fields.msg, 'Start failed');
      assert.equal(l.fields.method, 'Start');
      assert.match(l.fields.error ?? '', /no such file|not found/i);
    } finally {
      await debugCd!.ctr.run(['task', 'kill', '-s', 'SIGKILL', id]);
      for (let i = 0; i < 100 && (await debugCd!.ctr.taskStatus(id)) === 'RUNNING'; i++) await sleep(50);
      await debugCd!.ctr.run(['task', 'rm', '-f', id]);
      await debugCd!.ctr.run(['containers', 'rm', id]);
    }
  });
});
