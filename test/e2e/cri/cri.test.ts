// CRI end-to-end: containerd's CRI plugin runs the same pod scenario on the reference shim
// (handler `runc`, io.containerd.runc.v2) and on ours (handler `ts`, io.containerd.ts.v2), and
// what a kubelet would observe must be the same. See docs/cri.md.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { after, before, describe, test, type TestContext } from 'node:test';
import { podLogDir } from './cri-config.js';
import { BUSYBOX_REF, CriUnavailable, missingPrerequisite, shimBundlePath, startCriEnv, type CriEnv } from './cri-env.js';
import { runPodScenario, ScenarioError, type ScenarioResult } from './pod-scenario.js';

/** containerd log lines worth showing when a handler fails. */
function relevantLog(env: CriEnv, handler: string): string {
  const lines = env.containerd.logTail(600).split('\n')
    .filter((l) => /level=(error|warning|fatal)/.test(l) || l.includes(`runtime=io.containerd.${handler}`))
    .filter((l) => !/cni|devmapper|aufs|btrfs|zfs|tracing/i.test(l));
  return lines.slice(-15).join('\n');
}

describe('CRI: pod lifecycle through containerd\'s CRI plugin, reference shim vs ours', { timeout: 300_000 }, () => {
  let env: CriEnv | undefined;
  let skipReason = missingPrerequisite();
  const results = new Map<string, ScenarioResult>();
  const failures = new Map<string, string>();

  before(async () => {
    if (skipReason !== undefined) return;
    try {
      env = await startCriEnv();
    } catch (err) {
      if (err instanceof CriUnavailable) skipReason = err.message;
      else throw err;
    }
  });

  after(async () => {
    await env?.stop();
  });

  const scenario = async (t: TestContext, handler: string): Promise<ScenarioResult> => {
    const e = env!;
    const logDirectory = podLogDir(e.containerd.dir, handler);
    mkdirSync(logDirectory, { recursive: true });
    const result = await runPodScenario(e.cri, { handler, image: BUSYBOX_REF, logDirectory, runId: e.runId, cgroupParent: e.cgroupParent });
    t.diagnostic(`${handler} step timings (ms): ${JSON.stringify(result.timingsMs)}`);
    results.set(handler, result);
    return result;
  };

  test('handler runc (containerd-shim-runc-v2, the reference) runs pod, container, exec, logs, stop, remove', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    for (const n of env!.notes) t.diagnostic(`host adaptation: ${n}`);
    let r: ScenarioResult;
    try {
      r = await scenario(t, 'runc');
    } catch (err) {
      // If the reference shim cannot even start a pod sandbox, the host cannot run CRI pods: say why, skip the rest.
      if (err instanceof ScenarioError && err.step === 'RunPodSandbox') {
        skipReason = `host limitation: the reference runc handler cannot run a pod sandbox here: ${err.message}\n${relevantLog(env!, 'runc')}`;
        return t.skip(skipReason);
      }
      throw new Error(`${(err as Error).message}\n--- containerd log ---\n${relevantLog(env!, 'runc')}`, { cause: err });
    }
    const o = r.observation;
    // Pin the reference behaviour, so the comparison below compares against something known-good.
    assert.equal(o.sandboxReadyInList, true);
    assert.equal(o.sandboxHandlerInList, 'runc');
    assert.equal(o.stateAfterStart, 'CONTAINER_RUNNING');
    assert.deepEqual(o.execEnv, { stdout: 'hello from an env var\n', stderr: 'on-stderr\n', exitCode: 3 });
    assert.equal(o.execPid1Cmdline.exitCode, 0);
    assert.match(o.execPid1Cmdline.stdout, /^\/bin\/sh\0-c\0trap /, 'exec runs in the container\'s pid namespace');
    assert.equal(o.stateAfterStop, 'CONTAINER_EXITED');
    assert.equal(o.exitCodeAfterStop, 7, 'StopContainer delivers SIGTERM, which the script traps');
    assert.deepEqual(o.logStdout, ['hello-stdout', 'got-term']);
    assert.deepEqual(o.logStderr, ['hello-stderr']);
    assert.equal(o.oneshotExitCode, 5);
    assert.deepEqual(o.oneshotStdout, ['one', 'two']);
    assert.equal(o.containersAfterRemove, 0);
    assert.equal(o.sandboxesAfterRemove, 0);
  });

  test('handler ts (containerd-shim-ts-v2, ours) runs the same scenario', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    if (!existsSync(shimBundlePath())) {
      failures.set('ts', 'shim not built');
      assert.fail(`our shim is not built (${shimBundlePath()} is missing): run \`npm run build\` first`);
    }
    try {
      await scenario(t, 'ts');
    } catch (err) {
      failures.set('ts', (err as Error).message);
      throw new Error(`${(err as Error).message}\n--- containerd log ---\n${relevantLog(env!, 'ts')}`, { cause: err });
    }
  });

  test('ts and runc are indistinguishable to a CRI client (exit codes, exec output, log lines)', (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    const runc = results.get('runc');
    const ts = results.get('ts');
    if (runc === undefined) return t.skip('the runc scenario did not complete; nothing to compare against');
    if (ts === undefined) return t.skip(`the ts scenario did not complete (${failures.get('ts') ?? 'see above'}); nothing to compare`);
    const { sandboxHandlerInList: handlerTs, ...restTs } = ts.observation;
    const { sandboxHandlerInList: handlerRunc, ...restRunc } = runc.observation;
    assert.equal(handlerTs, 'ts');
    assert.equal(handlerRunc, 'runc');
    assert.deepEqual(restTs, restRunc);
  });
});
