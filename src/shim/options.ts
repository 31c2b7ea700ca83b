/**
 * Turns the runtime options containerd sends (CreateTaskRequest.options, also on `start`'s stdin)
 * into the settings the process layer runs with. Three shapes arrive in practice:
 *  - nothing (ctr with a non-runc runtime name): the default config file, else `runc` on PATH;
 *  - `containerd.runc.v1.Options` (runc-style runtime entries, `ctr --runc-binary`);
 *  - `runtimeoptions.v1.Options` {config_path} (CRI's TypeUrl/ConfigPath, `ctr --runtime-config-path`).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import type { Any } from '@bufbuild/protobuf/wkt';
import { OptionsSchema as RuncOptionsSchema } from '../api/containerd/runc/v1/options_pb.js';
import { OptionsSchema as RuntimeOptionsSchema } from '../api/containerd/runtimeoptions/v1/api_pb.js';
import { typeNameFromUrl } from '../api/typeurl.js';
import { invalidArgument, type RuntimeSettings } from '../process/index.js';
import { ConfigFileError, DEFAULT_CONFIG_PATH, loadShimConfig, type ShimConfig } from './config-file.js';

export const RUNC_OPTIONS_URL = 'containerd.runc.v1.Options';
export const RUNTIME_OPTIONS_URL = 'runtimeoptions.v1.Options';

/** Strips the optional `type.googleapis.com/` prefix some clients add. */
export const bareTypeUrl = typeNameFromUrl;

/** The config file used when containerd names none: $CONTAINERD_SHIM_TS_CONFIG, else the default path if present. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env['CONTAINERD_SHIM_TS_CONFIG'];
  if (fromEnv) return fromEnv;
  return existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined;
}

function fromConfigFile(file: string): ShimConfig {
  try {
    return loadShimConfig(file);
  } catch (err) {
    if (err instanceof ConfigFileError) throw invalidArgument(err.message, err);
    throw err;
  }
}

/** Decodes the options Any into a ShimConfig (not yet resolved against defaults). */
export function decodeRuntimeOptions(options: Any | undefined): ShimConfig {
  const url = options ? bareTypeUrl(options.typeUrl) : '';
  if (!options || url === '') {
    const file = defaultConfigPath();
    return file ? fromConfigFile(file) : { runtimeArgs: [] };
  }
  if (url === RUNC_OPTIONS_URL) {
    let o;
    try {
      o = fromBinary(RuncOptionsSchema, options.value);
    } catch (err) {
      throw invalidArgument(`decode ${url}: ${(err as Error).message}`, err);
    }
    const config: ShimConfig = { runtimeArgs: [] };
    if (o.binaryName) config.binaryName = o.binaryName;
    if (o.root) config.root = o.root;
    if (o.systemdCgroup) config.systemdCgroup = true;
    if (o.noPivotRoot) config.noPivotRoot = true;
    if (o.noNewKeyring) config.noNewKeyring = true;
    if (o.criuPath) config.criuPath = o.criuPath;
    if (o.ioUid) config.ioUid = o.ioUid;
    if (o.ioGid) config.ioGid = o.ioGid;
    // The runc Options message has no field for extra runtime flags; a config file may add them.
    const file = defaultConfigPath();
    if (file) {
      const fileConfig = fromConfigFile(file);
      if (!o.binaryName || o.binaryName === fileConfig.binaryName) config.runtimeArgs = fileConfig.runtimeArgs;
    }
    return config;
  }
  if (url === RUNTIME_OPTIONS_URL) {
    let o;
    try {
      o = fromBinary(RuntimeOptionsSchema, options.value);
    } catch (err) {
      throw invalidArgument(`decode ${url}: ${(err as Error).message}`, err);
    }
    const file = o.configPath || defaultConfigPath();
    return file ? fromConfigFile(file) : { runtimeArgs: [] };
  }
  throw invalidArgument(`type with url ${options.typeUrl}: not found`);
}

/**
 * Whether a daemon runs runc from a sealed in-memory copy (runtime/sealed-binary.ts). The copy
 * costs the binary's size in shmem (≈ 8.4 MiB) once per daemon and saves every runc create and
 * exec the copy runc would make of itself: worth it for a daemon every task of a namespace
 * shares, not for one daemon per pod or task. CONTAINERD_SHIM_TS_SEALED_RUNC=1 or 0 decides
 * either way.
 */
export function sealedRuncWanted(sharedDaemon: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  const forced = env['CONTAINERD_SHIM_TS_SEALED_RUNC'];
  if (forced === '1') return true;
  if (forced === '0') return false;
  return sharedDaemon;
}

/** Resolves a ShimConfig into the settings for one container of `namespace` in `bundle`. */
export function resolveSettings(config: ShimConfig, namespace: string, bundle: string, options: { readonly sealedCopy?: boolean } = {}): RuntimeSettings {
  const binary = config.binaryName || 'runc';
  const rootBase = config.root || path.join('/run/containerd', path.basename(binary));
  return {
    config: {
      binary,
      root: path.join(rootBase, namespace),
      log: path.join(bundle, 'log.json'),
      logFormat: 'json',
      ...(config.systemdCgroup ? { systemdCgroup: true } : {}),
      ...(config.criuPath ? { criu: config.criuPath } : {}),
      extraGlobalArgs: config.runtimeArgs,
      ...(config.commandTimeoutSeconds ? { commandTimeoutMs: config.commandTimeoutSeconds * 1000 } : {}),
      ...(options.sealedCopy ? { sealedCopy: true } : {}),
    },
    noPivotRoot: config.noPivotRoot ?? false,
    noNewKeyring: config.noNewKeyring ?? false,
    ioUid: config.ioUid ?? 0,
    ioGid: config.ioGid ?? 0,
    criuWorkPath: '',
  };
}
