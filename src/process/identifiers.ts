/**
 * containerd's identifier rule (identifiers.Validate): 1–76 characters, alphanumeric runs joined by
 * single '.', '_' or '-'. Task ids, exec ids and namespaces that reach the shim should already obey it;
 * we check again because ids become file names (bundle paths, pid files, runtime state dirs).
 */
const IDENTIFIER = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;
export const MAX_IDENTIFIER_LENGTH = 76;

/** Returns a reason string when `id` is not a valid containerd identifier, else undefined. */
export function identifierProblem(id: string): string | undefined {
  if (id.length === 0) return 'identifier must not be empty';
  if (id.length > MAX_IDENTIFIER_LENGTH) {
    return `identifier ${JSON.stringify(id.slice(0, 32) + '…')} greater than maximum length (${MAX_IDENTIFIER_LENGTH} characters)`;
  }
  if (!IDENTIFIER.test(id)) return `identifier ${JSON.stringify(id)} must match ${IDENTIFIER.source}`;
  return undefined;
}
