// The pod lifecycle the CRI test drives on one runtime handler, the way a kubelet would: run a
// host-network pod sandbox, create and start a busybox container that logs to stdout and stderr,
// ExecSync into it, stop it (its TERM trap logs and sets the exit code), run a second container
// that exits by itself, then remove everything. It returns what a user can observe — states, exit
// codes, exec output, log lines — with ids and timestamps left out, so two handlers compare equal.
import path from 'node:path';
import { ContainerState, NamespaceMode, PodSandboxState } from './gen/cri_pb.js';
import type { CriClient, ContainerConfigInit, PodSandboxConfigInit } from './cri-client.js';
import { readCriLog, streamLines, type CriLogLine } from './cri-log.js';

/** Label put on every pod the test creates, so cleanup can find leftovers. */
export const RUN_LABEL = 'containerd-shim-ts.e2e/run';

/** What the scenario needs from its environment. */
export interface ScenarioInput {
  readonly handler: string;
  /** Busybox image reference known to the CRI plugin. */
  readonly image: string;
  /** Host directory for the pod's container logs (PodSandboxConfig.log_directory). */
  readonly logDirectory: string;
  /** Value of {@link RUN_LABEL}, unique per test run. */
  readonly runId: string;
  /** Parent cgroup for the pod, so every cgroup the test causes sits under one removable parent. */
  readonly cgroupParent: string;
}

/** An ExecSync outcome. */
export interface ExecObservation {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/** What the scenario saw; equal for two correct handlers. */
export interface ScenarioObservation {
  readonly sandboxReadyInList: boolean;
  readonly sandboxHandlerInList: string;
  readonly stateAfterStart: string;
  readonly execEnv: ExecObservation;
  readonly execPid1Cmdline: ExecObservation;
  readonly stateAfterStop: string;
  readonly exitCodeAfterStop: number;
  readonly reasonAfterStop: string;
  readonly logStdout: string[];
  readonly logStderr: string[];
  readonly oneshotExitCode: number;
  readonly oneshotReason: string;
  readonly oneshotStdout: string[];
  readonly containersAfterRemove: number;
  readonly sandboxesAfterRemove: number;
}

/** The scenario's observations plus how long each step took (milliseconds). */
export interface ScenarioResult {
  readonly handler: string;
  readonly observation: ScenarioObservation;
  readonly timingsMs: Readonly<Record<string, number>>;
}

/** A scenario step failed; the message names the handler and the step. */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  /**
   * @param handler runtime handler under test
   * @param step the step that failed (e.g. `RunPodSandbox`)
   * @param cause the underlying error
   */
  constructor(readonly handler: string, readonly step: string, override readonly cause: unknown) {
    super(`[handler ${handler}] ${step} failed: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** The main container's script: log to both streams, keep running, on TERM log and exit 7. */
export const MAIN_SCRIPT = 'trap \'echo got-term; exit 7\' TERM; echo hello-stdout; echo hello-stderr >&2; sleep 3600 & wait $!';
/** The one-shot container's script. */
export const ONESHOT_SCRIPT = 'echo one; echo two; exit 5';

function stateName(s: ContainerState): string {
  return ContainerState[s] ?? `state ${String(s)}`;
}

function text(b: Uint8Array): string {
  return Buffer.from(b).toString('utf8');
}

async function poll<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs the whole scenario on one handler; always removes what it created, even on failure. */
export async function runPodScenario(cri: CriClient, input: ScenarioInput): Promise<ScenarioResult> {
  const { handler } = input;
  const timings: Record<string, number> = {};
  let step = 'setup';
  const run = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    step = name;
    const started = performance.now();
    try {
      return await fn();
    } finally {
      timings[name] = Math.round(performance.now() - started);
    }
  };
  const podName = `cri-e2e-${handler}`;
  // Host network: no CNI needed. PID per container (what the kubelet asks for by default).
  const namespaceOptions = { network: NamespaceMode.NODE, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD };
  const sandboxConfig: PodSandboxConfigInit = {
    metadata: { name: podName, uid: `${input.runId}-${handler}`, namespace: 'cri-e2e', attempt: 0 },
    logDirectory: input.logDirectory,
    labels: { [RUN_LABEL]: input.runId, 'containerd-shim-ts.e2e/handler': handler },
    linux: { cgroupParent: input.cgroupParent, securityContext: { namespaceOptions } },
  };
  const containerConfig = (name: string, script: string, logPath: string): ContainerConfigInit => ({
    metadata: { name, attempt: 0 },
    image: { image: input.image },
    command: ['/bin/sh', '-c', script],
    envs: [{ key: 'GREETING', value: 'hello from an env var' }],
    labels: { [RUN_LABEL]: input.runId },
    logPath,
    linux: { securityContext: { namespaceOptions } },
  });

  let podId: string | undefined;
  const containers: string[] = [];
  try {
    podId = await run('RunPodSandbox', () => cri.runPodSandbox(sandboxConfig, handler));
    const sandbox = await run('ListPodSandbox', async () => (await cri.listPodSandbox({ [RUN_LABEL]: input.runId }))
      .find((p) => p.id === podId));

    const mainLog = path.join(input.logDirectory, 'main.log');
    const mainId = await run('CreateContainer', () => cri.createContainer(podId!, containerConfig('main', MAIN_SCRIPT, 'main.log'), sandboxConfig));
    containers.push(mainId);
    await run('StartContainer', () => cri.startContainer(mainId));
    const afterStart = await run('ContainerStatus(running)', () => cri.containerStatus(mainId));
    // Exec only once the script has reached `wait` (both greeting lines are in the log).
    await run('log lines before exec', () => poll('the two greeting lines in main.log', async () => {
      const lines = readCriLog(mainLog);
      return streamLines(lines, 'stdout').includes('hello-stdout') && streamLines(lines, 'stderr').includes('hello-stderr') ? lines : undefined;
    }, 15_000));
    const env = await run('ExecSync(env, exit 3)', () => cri.execSync(mainId, ['/bin/sh', '-c', 'echo "$GREETING"; echo on-stderr >&2; exit 3']));
    const pid1 = await run('ExecSync(cat /proc/1/cmdline)', () => cri.execSync(mainId, ['cat', '/proc/1/cmdline']));
    await run('StopContainer', () => cri.stopContainer(mainId, 10));
    const afterStop = await run('ContainerStatus(exited)', () => poll('main to be EXITED', async () => {
      const s = await cri.containerStatus(mainId);
      return s.state === ContainerState.CONTAINER_EXITED ? s : undefined;
    }, 10_000));
    // The CRI plugin may flush the last record just after the exit event.
    const mainLines: CriLogLine[] = await run('log after stop', () => poll('got-term in main.log', async () => {
      const lines = readCriLog(mainLog);
      return streamLines(lines, 'stdout').includes('got-term') ? lines : undefined;
    }, 5_000).catch(() => readCriLog(mainLog)));

    const oneshotLog = path.join(input.logDirectory, 'oneshot.log');
    const oneshotId = await run('CreateContainer(oneshot)', () => cri.createContainer(podId!, containerConfig('oneshot', ONESHOT_SCRIPT, 'oneshot.log'), sandboxConfig));
    containers.push(oneshotId);
    await run('StartContainer(oneshot)', () => cri.startContainer(oneshotId));
    const oneshot = await run('ContainerStatus(oneshot exited)', () => poll('oneshot to be EXITED', async () => {
      const s = await cri.containerStatus(oneshotId);
      return s.state === ContainerState.CONTAINER_EXITED ? s : undefined;
    }, 15_000));
    const oneshotLines = readCriLog(oneshotLog);

    for (const id of [...containers]) {
      await run('RemoveContainer', () => cri.removeContainer(id));
      containers.splice(containers.indexOf(id), 1);
    }
    const left = await run('ListContainers', () => cri.listContainers(podId));
    await run('StopPodSandbox', () => cri.stopPodSandbox(podId!));
    await run('RemovePodSandbox', () => cri.removePodSandbox(podId!));
    podId = undefined;
    const pods = await run('ListPodSandbox(after remove)', () => cri.listPodSandbox({ [RUN_LABEL]: input.runId, 'containerd-shim-ts.e2e/handler': handler }));

    const exec = (r: { stdout: Uint8Array; stderr: Uint8Array; exitCode: number }): ExecObservation => ({ stdout: text(r.stdout), stderr: text(r.stderr), exitCode: r.exitCode });
    return {
      handler,
      timingsMs: timings,
      observation: {
        sandboxReadyInList: sandbox?.state === PodSandboxState.SANDBOX_READY,
        sandboxHandlerInList: sandbox?.runtimeHandler ?? '(pod not listed)',
        stateAfterStart: stateName(afterStart.state),
        execEnv: exec(env),
        execPid1Cmdline: exec(pid1),
        stateAfterStop: stateName(afterStop.state),
        exitCodeAfterStop: afterStop.exitCode,
        reasonAfterStop: afterStop.reason,
        logStdout: streamLines(mainLines, 'stdout'),
        logStderr: streamLines(mainLines, 'stderr'),
        oneshotExitCode: oneshot.exitCode,
        oneshotReason: oneshot.reason,
        oneshotStdout: streamLines(oneshotLines, 'stdout'),
        containersAfterRemove: left.length,
        sandboxesAfterRemove: pods.length,
      },
    };
  } catch (err) {
    throw new ScenarioError(handler, step, err);
  } finally {
    // Best effort, in kubelet order; errors here must not hide the step that failed.
    for (const id of containers) {
      await cri.stopContainer(id, 0).catch(() => undefined);
      await cri.removeContainer(id).catch(() => undefined);
    }
    if (podId !== undefined) {
      await cri.stopPodSandbox(podId).catch(() => undefined);
      await cri.removePodSandbox(podId).catch(() => undefined);
    }
  }
}

/** Removes every pod (and its containers) carrying the run label; returns how many pods it found. */
export async function removeLabelledPods(cri: CriClient, runId: string): Promise<number> {
  const pods = await cri.listPodSandbox({ [RUN_LABEL]: runId });
  for (const p of pods) {
    for (const c of await cri.listContainers(p.id).catch(() => [])) {
      await cri.stopContainer(c.id, 0).catch(() => undefined);
      await cri.removeContainer(c.id).catch(() => undefined);
    }
    await cri.stopPodSandbox(p.id).catch(() => undefined);
    await cri.removePodSandbox(p.id).catch(() => undefined);
  }
  return pods.length;
}
