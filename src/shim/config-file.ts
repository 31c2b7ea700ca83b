/**
 * The shim's runtime configuration file, a small TOML document. containerd's CRI plugin names it
 * through `runtimeoptions.v1.Options.config_path` (from the runtime entry's ConfigPath), the way
 * gVisor's shim reads its runsc.toml; `ctr --runtime-config-path` does the same.
 *
 * Keys (all optional):
 *   binary_name = "runsc"             # runtime executable (name on PATH or absolute path)
 *   root = "/run/containerd/runsc"   # runtime state root; the namespace is appended
 *   runtime_args = ["--network=none"] # extra global arguments for every runtime command
 *   systemd_cgroup = false
 *   no_pivot_root = false
 *   no_new_keyring = false
 *   criu_path = ""
 *   io_uid = 0
 *   io_gid = 0
 *   grouping = "namespace"            # host-level (default file only): task | pod | namespace
 *   idle_exit_seconds = 10            # how long a shared daemon lingers with no task
 *   command_timeout_seconds = 0       # kill a runtime command (create, start, kill…) after this; 0 = no limit
 *   [runsc_config]                    # gVisor's style: each key becomes --key=value
 *   network = "none"
 *
 * Only the TOML this needs is parsed: comments, bare keys, tables, strings, integers, booleans
 * and arrays of those. Anything else is a clear error naming the line.
 */
import { readFileSync } from 'node:fs';

export type TomlValue = string | number | boolean | TomlValue[];
export type TomlTable = { [key: string]: TomlValue | TomlTable };

export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
}

function parseString(text: string, at: { i: number }, line: number): string {
  const quote = text[at.i];
  at.i++;
  let out = '';
  while (at.i < text.length) {
    const ch = text[at.i]!;
    if (ch === quote) {
      at.i++;
      return out;
    }
    if (quote === '"' && ch === '\\') {
      const next = text[at.i + 1];
      const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' };
      if (next === undefined || !(next in escapes)) throw new ConfigFileError(`line ${line}: unsupported escape`);
      out += escapes[next];
      at.i += 2;
      continue;
    }
    out += ch;
    at.i++;
  }
  throw new ConfigFileError(`line ${line}: unterminated string`);
}

function skipSpace(text: string, at: { i: number }): void {
  while (at.i < text.length && /[ \t\r\n]/.test(text[at.i]!)) at.i++;
}

function parseValue(text: string, at: { i: number }, line: number): TomlValue {
  skipSpace(text, at);
  const ch = text[at.i];
  if (ch === '"' || ch === "'") return parseString(text, at, line);
  if (ch === '[') {
    at.i++;
    const items: TomlValue[] = [];
    for (;;) {
      skipSpace(text, at);
      if (text[at.i] === ']') {
        at.i++;
        return items;
      }
      items.push(parseValue(text, at, line));
      skipSpace(text, at);
      if (text[at.i] === ',') at.i++;
      else if (text[at.i] !== ']') throw new ConfigFileError(`line ${line}: expected , or ] in array`);
    }
  }
  const m = /^(true|false|[+-]?\d[\d_]*)/.exec(text.slice(at.i));
  if (!m) throw new ConfigFileError(`line ${line}: unsupported value`);
  at.i += m[0].length;
  if (m[0] === 'true') return true;
  if (m[0] === 'false') return false;
  return Number(m[0].replace(/_/g, ''));
}

/** Parses the supported TOML subset. Arrays may span lines. */
export function parseToml(source: string): TomlTable {
  const root: TomlTable = {};
  let table = root;
  const lines = source.split('\n');
  for (let n = 0; n < lines.length; n++) {
    let raw = lines[n]!;
    // Join continuation lines of a multi-line array.
    while ((raw.match(/\[/g)?.length ?? 0) > (raw.match(/\]/g)?.length ?? 0) && n + 1 < lines.length && /=/.test(raw)) {
      n++;
      raw += '\n' + lines[n]!;
    }
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[([A-Za-z0-9_.-]+)\]\s*(#.*)?$/.exec(line.trimEnd());
    if (header) {
      table = root;
      for (const part of header[1]!.split('.')) {
        const existing = table[part];
        if (existing === undefined) table[part] = {};
        else if (typeof existing !== 'object' || Array.isArray(existing)) throw new ConfigFileError(`line ${n + 1}: ${part} is not a table`);
        table = table[part] as TomlTable;
      }
      continue;
    }
    const kv = /^([A-Za-z0-9_-]+|"[^"]*")\s*=\s*/.exec(line);
    if (!kv) throw new ConfigFileError(`line ${n + 1}: expected key = value`);
    const key = kv[1]!.startsWith('"') ? kv[1]!.slice(1, -1) : kv[1]!;
    const at = { i: kv[0].length };
    const value = parseValue(line, at, n + 1);
    const rest = line.slice(at.i).trim();
    if (rest !== '' && !rest.startsWith('#')) throw new ConfigFileError(`line ${n + 1}: unexpected ${JSON.stringify(rest)}`);
    table[key] = value;
  }
  return root;
}

/** The shim's settings as the config file gives them. */
export interface ShimConfig {
  binaryName?: string;
  root?: string;
  runtimeArgs: string[];
  systemdCgroup?: boolean;
  noPivotRoot?: boolean;
  noNewKeyring?: boolean;
  criuPath?: string;
  ioUid?: number;
  ioGid?: number;
  /** Which containers share a daemon: one per task, per pod (group annotations), or per namespace. */
  grouping?: Grouping;
  /** Seconds a shared daemon stays up with no task, so the next container reuses it. */
  idleExitSeconds?: number;
  /** Seconds after which a hung runtime command is killed and its verb fails (0 or unset: no limit, like the reference). */
  commandTimeoutSeconds?: number;
}

export type Grouping = 'task' | 'pod' | 'namespace';

function expect<T>(table: TomlTable, key: string, type: 'string' | 'boolean' | 'number'): T | undefined {
  const value = table[key];
  if (value === undefined) return undefined;
  if (typeof value !== type) throw new ConfigFileError(`${key} must be a ${type}`);
  return value as T;
}

/** Validates a parsed document into ShimConfig. Unknown top-level keys are errors (typos should not pass silently). */
export function shimConfigFromToml(doc: TomlTable): ShimConfig {
  const known = new Set(['binary_name', 'root', 'runtime_args', 'systemd_cgroup', 'no_pivot_root', 'no_new_keyring', 'criu_path', 'io_uid', 'io_gid', 'grouping', 'idle_exit_seconds', 'command_timeout_seconds', 'runsc_config', 'runtime_config']);
  for (const key of Object.keys(doc)) if (!known.has(key)) throw new ConfigFileError(`unknown key ${key}`);
  const args = doc['runtime_args'] ?? [];
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) throw new ConfigFileError('runtime_args must be an array of strings');
  const runtimeArgs = [...(args as string[])];
  for (const tableName of ['runsc_config', 'runtime_config']) {
    const flags = doc[tableName];
    if (flags === undefined) continue;
    if (typeof flags !== 'object' || Array.isArray(flags)) throw new ConfigFileError(`${tableName} must be a table`);
    for (const [k, v] of Object.entries(flags)) {
      if (typeof v === 'object') throw new ConfigFileError(`${tableName}.${k} must be a scalar`);
      runtimeArgs.push(`--${k}=${String(v)}`);
    }
  }
  const config: ShimConfig = { runtimeArgs };
  const set = <K extends keyof ShimConfig>(k: K, v: ShimConfig[K] | undefined): void => {
    if (v !== undefined) config[k] = v;
  };
  set('binaryName', expect<string>(doc, 'binary_name', 'string'));
  set('root', expect<string>(doc, 'root', 'string'));
  set('systemdCgroup', expect<boolean>(doc, 'systemd_cgroup', 'boolean'));
  set('noPivotRoot', expect<boolean>(doc, 'no_pivot_root', 'boolean'));
  set('noNewKeyring', expect<boolean>(doc, 'no_new_keyring', 'boolean'));
  set('criuPath', expect<string>(doc, 'criu_path', 'string'));
  set('ioUid', expect<number>(doc, 'io_uid', 'number'));
  set('ioGid', expect<number>(doc, 'io_gid', 'number'));
  const grouping = expect<string>(doc, 'grouping', 'string');
  if (grouping !== undefined) {
    if (grouping !== 'task' && grouping !== 'pod' && grouping !== 'namespace') throw new ConfigFileError(`grouping must be task, pod or namespace, not ${grouping}`);
    config.grouping = grouping;
  }
  const idle = expect<number>(doc, 'idle_exit_seconds', 'number');
  if (idle !== undefined) {
    if (!Number.isInteger(idle) || idle < 0 || idle > 86400) throw new ConfigFileError('idle_exit_seconds must be an integer from 0 to 86400');
    config.idleExitSeconds = idle;
  }
  const commandTimeout = expect<number>(doc, 'command_timeout_seconds', 'number');
  if (commandTimeout !== undefined) {
    if (!Number.isInteger(commandTimeout) || commandTimeout < 0 || commandTimeout > 86400) throw new ConfigFileError('command_timeout_seconds must be an integer from 0 to 86400');
    config.commandTimeoutSeconds = commandTimeout;
  }
  return config;
}

/** Reads and validates a config file; errors name the file. */
export function loadShimConfig(file: string): ShimConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigFileError(`read runtime config ${file}: ${(err as Error).message}`);
  }
  try {
    return shimConfigFromToml(parseToml(text));
  } catch (err) {
    throw new ConfigFileError(`runtime config ${file}: ${(err as Error).message}`);
  }
}

/** Where the shim looks when containerd names no config file. */
export const DEFAULT_CONFIG_PATH = '/etc/containerd-shim-ts/config.toml';

/** The host-level settings (grouping, idle exit) from the default config file; defaults when absent or unreadable. */
export function loadHostConfig(env: NodeJS.ProcessEnv = process.env): { grouping: Grouping; idleExitSeconds: number } {
  const file = env['CONTAINERD_SHIM_TS_CONFIG'] || DEFAULT_CONFIG_PATH;
  let config: ShimConfig | undefined;
  try {
    config = loadShimConfig(file);
  } catch {
    config = undefined;
  }
  return { grouping: config?.grouping ?? 'namespace', idleExitSeconds: config?.idleExitSeconds ?? 10 };
}
