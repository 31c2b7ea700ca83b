// `node dist/test/e2e/harness/demo.js [--reference] [--oci runc|crun|runsc] [command…]`
// Starts a private containerd in a temp dir, imports the locally built busybox image, runs one
// container through containerd-shim-ts-v2 (or the reference shim with --reference), prints what
// the container printed, and removes everything — also on Ctrl-C. Used by scripts/demo.sh.
import { Containerd } from './containerd.js';
import { busyboxImage } from './oci-image.js';
import { REFERENCE, runtimeFlags, type OciRuntime, type RuntimeUnderTest } from './runtimes.js';

function parseArgs(argv: readonly string[]): { rt: RuntimeUnderTest; command: string[] } {
  let reference = false;
  let oci: OciRuntime = 'runc';
  const rest = [...argv];
  while (rest[0]?.startsWith('--')) {
    const flag = rest.shift()!;
    if (flag === '--reference') reference = true;
    else if (flag === '--oci') oci = rest.shift() as OciRuntime;
    else if (flag === '--') break;
    else throw new Error(`unknown flag ${flag}`);
  }
  const rt: RuntimeUnderTest = reference ? REFERENCE
    : { label: `ts.v2/${oci}`, runtime: 'io.containerd.ts.v2', oci, reference: false };
  return { rt, command: rest.length > 0 ? rest : ['echo', 'hello from containerd-shim-ts'] };
}

async function main(): Promise<number> {
  const { rt, command } = parseArgs(process.argv.slice(2));
  const say = (s: string): void => { process.stderr.write(`demo: ${s}\n`); };
  const image = busyboxImage();
  say(`busybox image ${image.name} (${image.path})`);
  const cd = await Containerd.start({ namespace: 'demo' });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= cd.stop());
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => { say(`${sig}: cleaning up`); void stop().then(() => process.exit(130)); });
  }
  try {
    say(`private containerd pid ${String(cd.pid)} on ${cd.address}`);
    await cd.importImage(image);
    const args = ['run', '--rm', ...runtimeFlags(cd, rt), image.name, 'demo', ...command];
    say(`ctr -n demo ${args.join(' ')}`);
    const r = await cd.ctr.run(args, { timeoutMs: 60_000 });
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    if (r.code !== 0) {
      say(`ctr exited ${String(r.code)}${r.timedOut ? ' (timed out)' : ''}; containerd log tail:\n${cd.logTail(30)}`);
    }
    return r.code ?? 1;
  } finally {
    await stop();
    say('cleaned up');
  }
}

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`demo: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
