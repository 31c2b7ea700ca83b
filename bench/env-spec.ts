// `NAME=value,NAME2=value2` on a bench command line → an environment for our shims.

export function parseEnvSpec(spec: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const part of spec.split(',').filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`not NAME=value: ${JSON.stringify(part)}`);
    env[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return env;
}
