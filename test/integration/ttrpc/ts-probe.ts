// Our implementation of the probe service the Go fixture also serves (ttrpc.probe.v1.Probe), so
// the same Go client can be pointed at either server and their answers compared.
import { StringValueSchema } from '@bufbuild/protobuf/wkt';
import { Code, TtrpcError, type TtrpcServer } from '../../../src/ttrpc/index.js';

export const PROBE_SERVICE = 'ttrpc.probe.v1.Probe';

/** Registers Ping, Echo, Fail, Plain and Sleep with the Go fixture's semantics. */
export function registerProbe(server: TtrpcServer): TtrpcServer {
  server.registerMethod(PROBE_SERVICE, 'Ping', StringValueSchema, StringValueSchema, (req) => req);
  server.registerMethod(PROBE_SERVICE, 'Echo', StringValueSchema, StringValueSchema, (req, ctx) => ({
    value: JSON.stringify({
      value: req.value,
      metadata: ctx.metadata.toRecord(),
      timeoutMs: ctx.deadline === undefined ? 0 : ctx.deadline - Date.now(),
    }),
  }));
  server.registerMethod(PROBE_SERVICE, 'Fail', StringValueSchema, StringValueSchema, (req) => {
    const i = req.value.indexOf(':');
    const code = Number(i < 0 ? req.value : req.value.slice(0, i)) as Code;
    throw new TtrpcError(code, i < 0 ? '' : req.value.slice(i + 1));
  });
  server.registerMethod(PROBE_SERVICE, 'Plain', StringValueSchema, StringValueSchema, (req) => {
    throw new Error(req.value);
  });
  server.registerMethod(PROBE_SERVICE, 'Sleep', StringValueSchema, StringValueSchema, async (req, ctx) => {
    ctx.signal.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, Number(req.value));
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(t);
        reject(ctx.signal.reason);
      });
    });
    return req;
  });
  return server;
}
