/**
 * Recognising a runtime by what `<binary> --version` prints — never by its file name, since
 * `binary_name` is often a wrapper script or a renamed copy.
 */
import type { RuntimeKind, RuntimeVersion } from './types.js';

const FIRST_LINE = /^(runc|crun|runsc) version (\S+)/;

/** Parses `--version` output; undefined when it is none of runc, crun or runsc. */
export function parseVersion(output: string): RuntimeVersion | undefined {
  const lines = output.split('\n').map((l) => l.trim());
  const m = FIRST_LINE.exec(lines[0] ?? '');
  if (!m) return undefined;
  const field = (name: string): string | undefined => {
    const line = lines.find((l) => l.startsWith(`${name}: `));
    return line ? line.slice(name.length + 2) : undefined;
  };
  const commit = field('commit');
  const spec = field('spec');
  return { kind: m[1] as RuntimeKind, version: m[2]!, ...(commit ? { commit } : {}), ...(spec ? { spec } : {}), raw: output };
}
