/**
 * containerd-shim-ts-v2: argv → one of `start`, `delete`, the daemon, or `-v`.
 * The start path matters for latency (containerd runs it once per container), so the daemon's
 * modules are loaded only by the daemon.
 */
import { readFileSync, writeSync } from 'node:fs';
import { FlagError, parseFlags } from './flags.js';
import { versionText } from './version.js';

function fail(message: string, code = 1): never {
  try {
    writeSync(2, `io.containerd.ts.v2: ${message}\n`);
  } catch {
    // nowhere to report
  }
  process.exit(code);
}

function readStdinFully(): Buffer {
  // stdin is containerd's options Any (a pipe it closes) or /dev/null; readFileSync(0) reads to EOF.
  try {
    return readFileSync(0);
  } catch {
    return Buffer.alloc(0);
  }
}

async function main(argv: readonly string[]): Promise<void> {
  let flags;
  try {
    flags = parseFlags(argv);
  } catch (err) {
    if (err instanceof FlagError) fail(err.message, 2);
    throw err;
  }
  if (flags.version) {
    process.stdout.write(versionText());
    return;
  }
  switch (flags.action) {
    case 'start': {
      readStdinFully();
      const { runStart } = await import('../shim/start-action.js');
      const address = await runStart({
        namespace: flags.namespace,
        id: flags.id,
        containerdAddress: flags.address,
        debug: flags.debug,
        bundle: process.cwd(),
        selfCommand: [process.execPath, ...process.execArgv, process.argv[1]!],
      });
      writeSync(1, address);
      process.exit(0);
      break;
    }
    case 'delete': {
      const { runDelete } = await import('../shim/delete-action.js');
      const { response, warnings } = await runDelete({ id: flags.id, bundle: flags.bundle || process.cwd() });
      if (warnings.length > 0) writeSync(2, warnings.join('\n') + '\n');
      writeSync(1, response);
      process.exit(0);
      break;
    }
    case '': {
      const { runDaemon } = await import('../shim/daemon.js');
      await runDaemon({
        namespace: flags.namespace,
        id: flags.id,
        debug: flags.debug,
        socket: flags.socket,
        ttrpcAddress: process.env['TTRPC_ADDRESS'] ?? '/run/containerd/containerd.sock.ttrpc',
      });
      break;
    }
    default:
      fail(`unknown action ${JSON.stringify(flags.action)}`, 2);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
