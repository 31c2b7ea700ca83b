// ConsoleIO on a real pty (made with posix_openpt, standing in for the runtime's console socket):
// output reaches the client fifo and ends only after processExited(), resize sets the window
// size, stdin reaches the terminal, and CloseIO hangs the terminal up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, openSync } from 'node:fs';
import { ConsoleIO } from '../../../src/stdio/index.js';
import { getWindowSize, openPty } from '../../../src/sys/tty.js';
import { FifoReader, container, fdCount, makeFifos, openStdinWriter, sleep, within } from './helpers.js';

const options = { containerId: 'c1', namespace: 'test', openTimeoutMs: 5000 };

/** A pty whose slave is the stdio of `sh -c script`; the test keeps only the master. */
function ptyContainer(script: string): { master: number; child: ReturnType<typeof container> } {
  const pty = openPty();
  const slave = openSync(pty.slavePath, constants.O_RDWR | constants.O_NOCTTY);
  const child = container(script, { stdin: slave, stdout: slave, stderr: slave });
  closeSync(slave);
  return { master: pty.master, child };
}

test('pty output reaches the client and EOF follows the recorded exit', async (t) => {
  const f = makeFifos();
  t.after(f.cleanup);
  const before = fdCount();
  const io = await ConsoleIO.create({ stdin: '', stdout: f.stdout, stderr: '', terminal: true }, options);
  t.after(() => io.dispose());
  const { master, child } = ptyContainer('sleep 0.2; printf "hi there"');
  t.after(() => child.child.kill('SIGKILL'));
  io.resize(100, 40);
  const out = new FifoReader(f.stdout);
  await io.attach(master);
  io.resize(100, 40);
  const size = getWindowSize(master);
  assert.deepEqual(size, { columns: 100, rows: 40 });
  await child.exited;
  await sleep(100);
  assert.equal(out.data().toString(), 'hi there');
  assert.equal(await io.waitDrained(50), false, 'no EOF before the exit is recorded');
  io.processExited();
  assert.equal((await within(out.ended, 5000, 'EOF')).toString(), 'hi there');
  assert.equal(await io.waitDrained(1000), true);
  await io.dispose();
  await sleep(50);
  assert.equal(fdCount(), before);
});

test('stdin reaches the terminal; CloseIO after the client closed hangs it up', async (t) => {
  const f = makeFifos();
  t.after(f.cleanup);
  const io = await ConsoleIO.create({ stdin: f.stdin, stdout: f.stdout, stderr: '', terminal: true }, options);
  t.after(() => io.dispose());
  const { master, child } = ptyContainer('stty -echo; read line; echo "got $line"; while printf .; do sleep 0.05; done; exit 9');
  t.after(() => child.child.kill('SIGKILL'));
  const out = new FifoReader(f.stdout);
  await io.attach(master);
  await sleep(200); // let stty run before we type
  const w = openStdinWriter(f.stdin);
  w.write('abc\n');
  await within((async () => {
    while (!out.data().toString().includes('got abc')) await sleep(20);
  })(), 5000, 'echoed line');
  w.end();
  await sleep(100);
  assert.equal(child.child.exitCode, null);
  await io.closeStdin();
  // sh is not a session leader here, so the hang-up shows as EIO/EOF on its tty or SIGHUP.
  const code = await within(child.exited, 5000, 'exit after hang-up');
  assert.equal(code, 9, "its writes failed once the master was closed");
  io.processExited();
  await within(out.ended, 5000, 'EOF');
});

test('file:// and an empty stdout are refused with a terminal', async () => {
  await assert.rejects(ConsoleIO.create({ stdin: '', stdout: 'file:///tmp/x', stderr: '', terminal: true }, options), /not supported with a terminal/);
  await assert.rejects(ConsoleIO.create({ stdin: '', stdout: '', stderr: '', terminal: true }, options), /needs a stdout/);
});
