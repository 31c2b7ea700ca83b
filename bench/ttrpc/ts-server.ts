// The TypeScript side of the ttrpc benchmark: our TtrpcServer serving the probe service on the
// socket given as argv[2]; prints "ready" once listening and exits on SIGTERM.
import { TtrpcServer } from '../../src/ttrpc/index.js';
import { registerProbe } from '../../test/integration/ttrpc/ts-probe.js';

const socket = process.argv[2];
if (!socket) {
  console.error('usage: ts-server.js <socket>');
  process.exit(2);
}
const server = registerProbe(new TtrpcServer());
await server.listen(socket);
console.log('ready');
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
