/**
 * Go `flag`-style command line of a containerd shim (shim-binary.md §3.1): `-name value`,
 * `--name value`, `-name=value`; booleans as `-debug` or `-debug=true`. Parsing stops at the first
 * non-flag word (the action) or `--`. Unknown flags are ignored rather than fatal, so newer
 * containerd versions that pass more flags still work.
 */

export interface ShimFlags {
  namespace: string;
  id: string;
  address: string;
  publishBinary: string;
  bundle: string;
  socket: string;
  debug: boolean;
  version: boolean;
  info: boolean;
  /** The action word: `start`, `delete`, or "" for the daemon. */
  action: string;
  /** Flags we did not recognise (reported in debug logs). */
  unknown: string[];
}

const VALUE_FLAGS: Readonly<Record<string, keyof ShimFlags>> = {
  namespace: 'namespace',
  id: 'id',
  address: 'address',
  'publish-binary': 'publishBinary',
  bundle: 'bundle',
  socket: 'socket',
  'debug-socket': 'unknown',
};
const BOOL_FLAGS: Readonly<Record<string, keyof ShimFlags>> = { debug: 'debug', v: 'version', info: 'info' };

export class FlagError extends Error {
  override readonly name = 'FlagError';
}

export function parseFlags(argv: readonly string[]): ShimFlags {
  const flags: ShimFlags = {
    namespace: '',
    id: '',
    address: '',
    publishBinary: 'containerd',
    bundle: '',
    socket: '',
    debug: false,
    version: false,
    info: false,
    action: '',
    unknown: [],
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    const boolKey = BOOL_FLAGS[name];
    if (boolKey) {
      if (inline !== undefined && !['true', 'false', '1', '0', 't', 'f', 'TRUE', 'FALSE', 'True', 'False'].includes(inline)) {
        throw new FlagError(`invalid boolean value ${JSON.stringify(inline)} for -${name}`);
      }
      (flags[boolKey] as boolean) = inline === undefined || ['true', '1', 't', 'TRUE', 'True'].includes(inline);
      continue;
    }
    const valueKey = VALUE_FLAGS[name];
    const value = inline ?? argv[++i];
    if (value === undefined) throw new FlagError(`flag needs an argument: -${name}`);
    if (!valueKey || valueKey === 'unknown') {
      flags.unknown.push(name);
      continue;
    }
    (flags[valueKey] as string) = value;
  }
  flags.action = argv[i] ?? '';
  return flags;
}
